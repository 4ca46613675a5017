"""The activity map as SVG: cities with activity, sized by distinct ads, on an offline base map of the focus
countries (Central Asia, Russia, Eastern Europe, the Caucasus, China).

The boundaries are Natural Earth's 1:50m admin-0 countries (public domain), vendored as TopoJSON from the npm
package world-atlas 2.0.2 in `data/world-atlas/` (its README says where it comes from). They are decoded and
projected here, in Python, with an Albers equal-area conic projection centred on the focus countries; points
closer than half a pixel are merged, so the base map costs about 100 kB of SVG. Nothing is fetched at run time
and the SVG needs no script: hovering a city shows its `<title>`. Colours are SVG presentation attributes, not
`style`, so the map obeys a Content-Security-Policy without 'unsafe-inline'.

>>> x, y = AlbersConic().project(np.array([85.0, 76.9]), np.array([47.0, 43.25]))  # the centre; Almaty
>>> [round(float(v), 4) for v in (*x, *y)]  # west and south of the centre: x < 0, y < 0 (Earth radii)
[0.0, -0.1004, 0.0, -0.062]
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from html import escape
from importlib import resources
from pathlib import Path
from typing import Iterable

import numpy as np

# ISO 3166 alpha-2 of the focus countries (drawn in colour; the map is framed on them)
CENTRAL_ASIA = ("KZ", "KG", "UZ", "TJ", "TM")
CAUCASUS = ("GE", "AM", "AZ")
EASTERN_EUROPE = ("BY", "UA", "MD", "PL", "LT", "LV", "EE", "RO", "BG", "HU", "SK", "CZ")
FOCUS = CENTRAL_ASIA + ("RU",) + EASTERN_EUROPE + CAUCASUS + ("CN",)
# what a map can be framed on: every focus country, or one part of them
FRAMES = {"all": FOCUS, "central_asia": CENTRAL_ASIA, "europe": EASTERN_EUROPE + CAUCASUS + ("BY",),
          "caucasus": CAUCASUS, "china": ("CN",)}
WIDTH = 960  # SVG user units; the page scales it
MAX_ASPECT = 0.9  # height / width at most
COLOURS = {"focus": "#e3e8ef", "other": "#fbfbf9", "border": "#9aa5b1", "sea": "#d9e6f2", "city": "#c0392b"}
BOUNDARIES = "countries-50m.json"


@dataclass(frozen=True)
class AlbersConic:
    """Albers equal-area conic projection on the sphere (Snyder, Map Projections: A Working Manual, p. 100)."""

    lon0: float = 85.0
    lat0: float = 47.0
    lat1: float = 35.0
    lat2: float = 65.0

    def project(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) in Earth radii, y up. `lon` may be unwrapped (beyond +-180): it is taken relative to lon0."""
        p1, p2, p0 = (math.radians(v) for v in (self.lat1, self.lat2, self.lat0))
        n = (math.sin(p1) + math.sin(p2)) / 2
        c = math.cos(p1) ** 2 + 2 * n * math.sin(p1)
        rho0 = math.sqrt(c - 2 * n * math.sin(p0)) / n
        lam = np.radians((np.asarray(lon, dtype=float) - self.lon0 + 180.0) % 360.0 - 180.0)
        rho = np.sqrt(c - 2 * n * np.sin(np.radians(np.asarray(lat, dtype=float)))) / n
        theta = n * lam
        return rho * np.sin(theta), rho0 - rho * np.cos(theta)


@dataclass(frozen=True)
class BaseMap:
    """The projected countries, ready to draw: SVG path data per country, and the projection into the frame."""

    width: float
    height: float
    paths: tuple[tuple[str, str, bool], ...]  # (ISO alpha-2 or "", name, focus) -> path data, same order
    data: tuple[str, ...]
    scale: float
    x0: float
    y0: float
    projection: AlbersConic

    def to_frame(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        """Longitude and latitude to SVG coordinates of this map (y down)."""
        x, y = self.projection.project(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
        return (x - self.x0) * self.scale, (self.y0 - y) * self.scale


def _topology():
    text = (resources.files("npswatch.reports") / "data" / "world-atlas" / BOUNDARIES).read_text(encoding="utf-8")
    return json.loads(text)


def _arcs(topo: dict) -> list[np.ndarray]:
    """The topology's arcs as (n, 2) arrays of longitude, latitude (delta-decoded, transformed)."""
    sx, sy = topo["transform"]["scale"]
    tx, ty = topo["transform"]["translate"]
    out = []
    for arc in topo["arcs"]:
        a = np.cumsum(np.asarray(arc, dtype=np.float64), axis=0)
        a[:, 0] = a[:, 0] * sx + tx
        a[:, 1] = a[:, 1] * sy + ty
        out.append(a)
    return out


def _ring(arcs: list[np.ndarray], indexes: list[int]) -> np.ndarray:
    """A closed ring from arc indexes (~i: arc i reversed); each arc after the first starts where the last ended."""
    parts = []
    for k, i in enumerate(indexes):
        a = arcs[i] if i >= 0 else arcs[~i][::-1]
        parts.append(a if k == 0 else a[1:])
    return np.concatenate(parts)


def _polygons(geometry: dict) -> list[list[list[int]]]:
    if geometry.get("type") == "Polygon":
        return [geometry["arcs"]]
    if geometry.get("type") == "MultiPolygon":
        return geometry["arcs"]
    return []


def _alpha2(numeric: str | None) -> str:
    import pycountry

    if not numeric:
        return ""
    c = pycountry.countries.get(numeric=str(numeric).zfill(3))
    return c.alpha_2 if c else ""


def _unwrap(lon: np.ndarray, lon0: float) -> np.ndarray:
    """A ring's longitudes made continuous around the projection's centre (no jump across its antimeridian)."""
    rel = (lon - lon0 + 180.0) % 360.0 - 180.0
    rel = np.degrees(np.unwrap(np.radians(rel)))
    mid = (rel.min() + rel.max()) / 2
    return lon0 + rel - 360.0 * round(mid / 360.0)


def _path(x: np.ndarray, y: np.ndarray, step: float) -> str:
    """SVG path data of a closed ring on a grid of `step` units (a point in the same cell as the last one is
    dropped), in relative moves; "" for a ring smaller than two cells."""
    qx, qy = np.round(x / step).astype(np.int64), np.round(y / step).astype(np.int64)
    if qx.max() - qx.min() < 2 and qy.max() - qy.min() < 2:
        return ""
    keep = np.r_[True, (qx[1:] != qx[:-1]) | (qy[1:] != qy[:-1])]
    qx, qy = qx[keep], qy[keep]
    if len(qx) < 3:
        return ""
    dx, dy = np.diff(qx), np.diff(qy)
    f = (lambda v: str(v)) if step == 1 else (lambda v: f"{v * step:.4g}")
    return f"M{f(qx[0])},{f(qy[0])}l" + " ".join(f"{f(a)},{f(b)}" for a, b in zip(dx.tolist(), dy.tolist())) + "z"


@lru_cache(maxsize=1)
def _projected() -> tuple:
    """Every country of the northern Old World and Alaska (the rest can never be in a frame) projected:
    ((alpha2, name, [(x, y) of each ring in Earth radii]), ...). Read once per process."""
    proj = AlbersConic()
    topo = _topology()
    arcs = _arcs(topo)
    countries = []
    for g in topo["objects"]["countries"]["geometries"]:
        rings = []
        for poly in _polygons(g):
            for ring in poly:
                pts = _ring(arcs, ring)
                lon, lat = pts[:, 0], pts[:, 1]
                if lat.max() < 0 or (lon.min() > -150 and lon.max() < -25):  # southern, or the Americas
                    continue
                rings.append(proj.project(_unwrap(lon, proj.lon0), lat))
        if rings:
            countries.append((_alpha2(g.get("id")), g.get("properties", {}).get("name", ""), rings))
    return proj, tuple(countries)


@lru_cache(maxsize=8)
def base_map(width: float = WIDTH, frame: str = "all", pad: float = 0.02, step: float = 1.0) -> BaseMap:
    """The base map framed on the countries of `frame` (a key of FRAMES; `pad`: margin, as a share of the
    width), `width` units wide. The focus countries are tinted; others reaching into the frame are drawn grey."""
    if frame not in FRAMES:  # "auto" is resolved by activity_svg
        raise ValueError(f"frame must be one of {', '.join(FRAMES)}, not {frame!r}")
    proj, countries = _projected()
    chosen = [rings for cc, _, rings in countries if cc in FRAMES[frame]]
    xs = np.concatenate([x for rings in chosen for x, _ in rings])
    ys = np.concatenate([y for rings in chosen for _, y in rings])
    span_x, span_y = float(xs.max() - xs.min()), float(ys.max() - ys.min())
    x0, y1 = float(xs.min()), float(ys.max())
    if span_y > MAX_ASPECT * span_x:  # a tall frame (the Caucasus) is widened, centred, to fit a page
        x0 -= (span_y / MAX_ASPECT - span_x) / 2
        span_x = span_y / MAX_ASPECT
    x0, y1 = x0 - pad * span_x, y1 + pad * span_x
    scale = width / (span_x * (1 + 2 * pad))
    height = (span_y + 2 * pad * span_x) * scale
    keys, data = [], []
    for cc, name, rings in countries:
        parts = []
        for x, y in rings:
            fx, fy = (x - x0) * scale, (y1 - y) * scale
            if fx.max() < 0 or fx.min() > width or fy.max() < 0 or fy.min() > height:
                continue
            d = _path(fx, fy, step)
            if d:
                parts.append(d)
        if parts:
            keys.append((cc, name, cc in FOCUS))
            data.append("".join(parts))
    return BaseMap(width, round(height, 1), tuple(keys), tuple(data), scale, x0, y1, proj)


@dataclass(frozen=True)
class Marker:
    """A city on the map: where, how big, what its tooltip says, and attributes for the page (`data-*`)."""

    lat: float
    lon: float
    value: int  # what sizes it (distinct ads)
    label: str  # shown beside the biggest markers
    title: str  # the tooltip
    attrs: tuple[tuple[str, str], ...] = ()
    country: str = ""  # ISO alpha-2: what frame="auto" looks at


def auto_frame(countries: Iterable[str]) -> str:
    """The smallest frame holding every one of `countries` ("all" when none or no smaller one does)."""
    have = set(countries)
    fits = [k for k, members in FRAMES.items() if k != "all" and have and have <= set(members)]
    return min(fits, key=lambda k: len(FRAMES[k]), default="all")


def radius(value: int, largest: int, r_min: float = 3.0, r_max: float = 22.0) -> float:
    """Marker radius: the area grows with the value (a circle for 4x the ads is 2x as wide)."""
    if largest <= 0 or value <= 0:
        return r_min
    return r_min + (r_max - r_min) * math.sqrt(value / largest)


def activity_svg(markers: Iterable[Marker], *, title: str = "", width: float = WIDTH, labels: int = 12,
                 frame: str = "all", standalone: bool = False, legend: str = "{n} distinct ads") -> str:
    """The map with its markers (biggest drawn first, so small ones stay on top and hoverable). `labels`: how
    many of the biggest markers get their label written beside them; `legend`: the size key's text for a
    value `{n}`. `standalone`: an .svg file of its own (with
    the XML namespace and a white background); otherwise an inline `<svg>` element for an HTML page."""
    ms = list(markers)
    bm = base_map(width, auto_frame(m.country for m in ms) if frame == "auto" else frame)
    ms = sorted(ms, key=lambda m: (-m.value, m.label))
    largest = max((m.value for m in ms), default=0)
    w, h = bm.width, bm.height
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w:g} {h:g}" class="map" role="img"'
           + (f' width="{w:g}" height="{h:g}"' if standalone else "") + f' aria-label="{escape(title)}">']
    if title:
        out.append(f"<title>{escape(title)}</title>")
    out.append(f'<rect x="0" y="0" width="{w:g}" height="{h:g}" fill="{COLOURS["sea"]}"/>')
    out.append(f'<g class="countries" stroke="{COLOURS["border"]}" stroke-width="0.5" stroke-linejoin="round">')
    for (cc, name, focus), d in zip(bm.paths, bm.data):
        fill = COLOURS["focus"] if focus else COLOURS["other"]
        out.append(f'<path d="{d}" fill="{fill}" data-country="{escape(cc)}"><title>{escape(name)}</title></path>')
    out.append("</g>")
    if ms:
        xs, ys = bm.to_frame([m.lon for m in ms], [m.lat for m in ms])
        out.append(f'<g class="cities" fill="{COLOURS["city"]}" fill-opacity="0.55" stroke="#7b1f14" '
                   'stroke-width="0.8">')
        for m, x, y in zip(ms, xs.tolist(), ys.tolist()):
            attrs = "".join(f' {k}="{escape(v)}"' for k, v in m.attrs)
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius(m.value, largest):.1f}"{attrs}>'
                       f"<title>{escape(m.title)}</title></circle>")
        out.append("</g>")
        out.append('<g class="labels" font-size="11" font-family="sans-serif" fill="#1d232a" stroke="#fff" '
                   'stroke-width="3" stroke-opacity="0.8" paint-order="stroke">')
        for m, x, y in list(zip(ms, xs.tolist(), ys.tolist()))[:labels]:
            r = radius(m.value, largest)
            out.append(f'<text x="{x + r + 2:.1f}" y="{y + 4:.1f}">{escape(m.label)}</text>')
        out.append("</g>")
        out.append(_size_key(largest, h, legend))
    out.append("</svg>")
    return "\n".join(out)


def _size_key(largest: int, height: float, text: str) -> str:
    """Two reference circles in the lower left corner: the largest value and a quarter of it."""
    values = sorted({largest, max(1, round(largest / 4))}, reverse=True)
    r_big = radius(largest, largest)
    x, y = 12 + r_big, height - 12 - r_big
    parts = ['<g class="size-key" font-size="11" font-family="sans-serif">',
             f'<rect x="4" y="{y - r_big - 8:.1f}" width="{2 * r_big + 150:.1f}" height="{2 * r_big + 16:.1f}" '
             'fill="#ffffff" fill-opacity="0.8" stroke="#9aa5b1" stroke-width="0.5"/>']
    for i, v in enumerate(values):
        r = radius(v, largest)
        cy = y + r_big - r
        parts.append(f'<circle cx="{x:.1f}" cy="{cy:.1f}" r="{r:.1f}" fill="{COLOURS["city"]}" fill-opacity="0.35" '
                     'stroke="#7b1f14" stroke-width="0.8"/>')
        parts.append(f'<text x="{x + r_big + 6:.1f}" y="{cy - r + 4 + i * 2:.1f}" fill="#1d232a">'
                     f'{escape(text.format(n=v))}</text>')
    parts.append("</g>")
    return "".join(parts)


def write_svg(path: str | Path, svg: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('<?xml version="1.0" encoding="utf-8"?>\n' + svg + "\n", encoding="utf-8")
    return path
