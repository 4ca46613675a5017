"""Coordinates to the nearest city of the gazetteer: how a location message becomes a city-level region.

A Telegram location or venue carries coordinates, often of a dead drop. They are not ours to keep: npswatch
keeps only the city of its gazetteer the point falls in (within `MAX_KM`), by GeoNames id and a name the
gazetteer reads back as that city, so the city can be written into the post's text and counted like any other place named
there. The coordinates themselves are dropped by the caller.

The cities' coordinates come from `pipelines/data/city_points.tsv.gz` (written by `tools/build_city_points.py`);
the cities within `MAX_KM` are found with a k-d tree (scipy) over points on the unit sphere, so distances are great-circle
distances whatever the latitude. GeoNames lists a big city's districts as places of their own (Ramenki in
Moscow), so the nearest point is not always the city. A city's reach grows with the square root of its
population (about 20 km for Moscow, 8 km for Almaty, 1 km for a town of 30,000): of the cities whose
reach covers the point, the most populous wins (Moscow over its district, the city over a suburb inside
it); when none covers it, the smallest distance / reach.

>>> near = CityPoints.default()
>>> c = near.nearest(43.2567, 76.9286)   # a point in Almaty
>>> (c.name, c.country, c.geonameid, round(c.km))
('Almaty', 'KZ', 1526384, 1)
>>> near.nearest(42.87, 74.60).name, near.nearest(55.70, 37.50).name
('Bishkek', 'Moscow')
>>> near.nearest(0.0, -140.0) is None     # the middle of the Pacific: no city within MAX_KM
True
>>> near.nearest(91.0, 0.0)
Traceback (most recent call last):
...
ValueError: latitude 91.0 is outside -90..90
"""
from __future__ import annotations

import functools
import gzip
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

__all__ = ["CityPoints", "NearCity", "MAX_KM"]

DATA_FILE = "city_points.tsv.gz"
DATA_FORMAT = "npswatch-city-points 1"
MAX_KM = 50.0  # farther than this from every known city: no region (a place in the steppe is no city's)
EARTH_KM = 6371.0
_REACH_KM_PER_SQRT_PEOPLE = 0.006  # reach = max(1 km, this * sqrt(population))


@dataclass(frozen=True)
class NearCity:
    geonameid: int
    name: str  # a spelling the gazetteer reads as this city
    country: str  # ISO 3166-1 alpha-2
    km: float  # great-circle distance from the given point


def _unit(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    la, lo = np.radians(lat), np.radians(lon)
    return np.column_stack((np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)))


class CityPoints:
    """The gazetteer's cities with their coordinates. `CityPoints.default()` loads the packaged table once."""

    def __init__(self, rows: list[tuple[int, float, float, int, str]]) -> None:
        from scipy.spatial import cKDTree

        from .regions import Gazetteer

        g = Gazetteer.default()
        cities = {gid: (n, cc) for level, gid, n, cc in map(g.place, range(len(g._places))) if level == "city"}
        rows = [r for r in rows if r[0] in cities]  # (geonameid, lat, lon, population, name)
        self._ids = [r[0] for r in rows]
        self._names = [r[4] for r in rows]
        self._by_id = {r[0]: i for i, r in enumerate(rows)}
        self._english = {gid: n for gid, (n, _cc) in cities.items()}
        self._countries = [cities[r[0]][1] for r in rows]
        self._people = np.array([r[3] for r in rows], dtype=float)
        self._reach = np.maximum(1.0, _REACH_KM_PER_SQRT_PEOPLE * np.sqrt(self._people))
        pts = _unit(np.array([r[1] for r in rows], dtype=float), np.array([r[2] for r in rows], dtype=float))
        self._tree = cKDTree(pts)

    @classmethod
    def from_file(cls, path: str | Path | None = None) -> "CityPoints":
        """The table written by tools/build_city_points.py (default: the packaged one)."""
        source = Path(path) if path else resources.files("npswatch.pipelines") / "data" / DATA_FILE
        header, *lines = gzip.decompress(source.read_bytes()).decode("utf-8").splitlines() or [""]
        if not header.startswith("#" + DATA_FORMAT):
            raise ValueError(f"{DATA_FILE}: not a {DATA_FORMAT} file (regenerate with tools/build_city_points.py)")
        split = (line.split("\t") for line in lines)
        return cls([(int(g), float(la), float(lo), int(p), name) for g, la, lo, p, name in split])

    @classmethod
    @functools.cache
    def default(cls) -> "CityPoints":
        """The packaged table, loaded on first use and shared."""
        return cls.from_file()

    def __len__(self) -> int:
        return len(self._ids)

    def name_of(self, geonameid: int) -> str | None:
        """The spelling the gazetteer reads back as this city (to write it into a text), or None."""
        i = self._by_id.get(geonameid)
        return None if i is None else self._names[i]

    def english(self, geonameid: int) -> str | None:
        """The city's English GeoNames name (the `name` of the extractor's `regions`)."""
        return self._english.get(geonameid)

    def nearest(self, lat: float, lon: float, max_km: float = MAX_KM) -> NearCity | None:
        """The city nearest to (lat, lon) within `max_km`, else None. ValueError for impossible coordinates."""
        lat, lon = float(lat), float(lon)
        if not math.isfinite(lat) or not -90 <= lat <= 90:
            raise ValueError(f"latitude {lat} is outside -90..90")
        if not math.isfinite(lon) or not -180 <= lon <= 180:
            raise ValueError(f"longitude {lon} is outside -180..180")
        point = _unit(np.array([lat]), np.array([lon]))[0]
        idx = np.array(self._tree.query_ball_point(point, 2 * math.sin(min(max_km / EARTH_KM, math.pi) / 2)), dtype=int)
        if not len(idx):
            return None
        chord = np.linalg.norm(self._tree.data[idx] - point, axis=1)
        km = 2 * EARTH_KM * np.arcsin(np.minimum(1.0, chord / 2))
        covering = km <= self._reach[idx]
        if covering.any():
            best = int(np.argmax(np.where(covering, self._people[idx], -1.0)))
        else:
            best = int(np.argmin(km / self._reach[idx]))
        i = int(idx[best])
        return NearCity(self._ids[i], self._names[i], self._countries[i], float(km[best]))
