"""Where the gazetteer's cities are: GeoNames id -> (latitude, longitude), from the packaged
`data/city_coords.tsv.gz` (written by tools/build_city_coords.py from the gazetteer's own GeoNames source).

>>> city_coordinates()[1526384]  # Almaty
(43.2525, 76.9115)
"""
from __future__ import annotations

import gzip
from functools import lru_cache
from importlib import resources

FORMAT = "npswatch-city-coords 1"


@lru_cache(maxsize=1)
def city_coordinates() -> dict[int, tuple[float, float]]:
    """Every gazetteer city's (latitude, longitude) by GeoNames id (read once per process)."""
    raw = gzip.decompress((resources.files("npswatch.pipelines") / "data" / "city_coords.tsv.gz").read_bytes())
    lines = raw.decode("utf-8").splitlines()
    if not lines or not lines[0].startswith("#" + FORMAT):
        raise ValueError("pipelines/data/city_coords.tsv.gz: unknown format (rerun tools/build_city_coords.py)")
    out = {}
    for line in lines[1:]:
        gid, lat, lon = line.split("\t")
        out[int(gid)] = (float(lat), float(lon))
    return out
