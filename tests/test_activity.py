"""Where and since when (`Watch.places`, `Watch.substance_profile`, `npswatch places`) on a synthetic market
history, on SQLite and PostgreSQL: the planted new city is seen first in the last week, the counts are those
of the stored rows, the latest posts come newest first as stored, and the map holds a circle per city."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from npswatch.cli.app import app as cli
from npswatch.errors import WatchError
from npswatch.reports.scope import ScopeError
from npswatch.reports.synthetic import CITIES, NEW_CITY, NEW_NAME
from npswatch.storage.tables import T_MENTION, T_OFFER, T_POST, T_REGION, T_SUBSTANCE

from webapp_helpers import watch_with_history


@pytest.fixture
def w(db_url, tmp_path):
    watch = watch_with_history(db_url, tmp_path)
    yield watch
    watch.engine.dispose()


def _stored(w, substance: str, city: str) -> tuple[int, int, int]:
    """(posts, distinct ads, offers) of a substance in a city, counted straight from the tables."""
    Me, P, R, S, O = T_MENTION, T_POST, T_REGION, T_SUBSTANCE, T_OFFER
    with w.engine.connect() as c:
        sid = c.execute(select(S.c.id).where(S.c.canonical == substance)).scalar_one()
        rid = c.execute(select(R.c.id).where(R.c.name == city)).scalar_one()
        rows = c.execute(select(P.c.id, P.c.ad_id).join(Me, Me.c.post_id == P.c.id)
                         .where(Me.c.substance_id == sid, Me.c.region_id == rid)).all()
        offers = c.execute(select(func.count()).select_from(O).where(O.c.substance_id == sid,
                                                                     O.c.region_id == rid)).scalar()
    return len({p for p, _ in rows}), len({a if a is not None else -p for p, a in rows}), offers


def test_places_say_where_and_since_when(w):
    r = w.places(substance="alpha-PVP")
    by_name = {p.name: p for p in r.places}
    assert set(by_name) == {c[0] for c in CITIES} | {NEW_CITY[0]}
    new = by_name[NEW_CITY[0]]
    assert new.first_seen >= w.history.last_week and new.posts == 3  # the planted new city, in the last week
    assert all(p.first_seen < w.history.start + dt.timedelta(weeks=1) for p in r.places if p is not new)
    assert r.places[-1] is new and r.places[0].first_seen == min(p.first_seen for p in r.places)
    for p in r.places:
        assert (p.posts, p.ads, p.offers) == _stored(w, "alpha-PVP", p.name)
        assert p.level == "city" and p.lat is not None and p.place == f"{p.name} ({p.country})"
    assert by_name["Almaty"].lat == pytest.approx(43.25, abs=0.01)
    # the period filter: only the last week, and Karaganda is one of its places
    last = w.places(substance="alpha-PVP", since=w.history.last_week, until=w.history.end)
    assert NEW_CITY[0] in {p.name for p in last.places}
    assert all(p.first_seen >= w.history.last_week for p in last.places)
    assert sum(p.posts for p in w.places(substance="alpha-PVP", country="KZ").places) == sum(
        by_name[n].posts for n in ("Almaty", "Astana", NEW_CITY[0]))


def test_profile_has_the_sources_and_the_latest_posts_as_stored(w):
    prof = w.substance_profile(substance=NEW_NAME, latest=3)
    assert prof.first.name == "Almaty" and prof.first.first_seen == w.history.last_week + dt.timedelta(days=1)
    assert [p.seen for p in prof.posts] == sorted((p.seen for p in prof.posts), reverse=True) and len(prof.posts) == 3
    with w.engine.connect() as c:
        texts = dict(c.execute(select(T_POST.c.id, T_POST.c.text)).all())
    assert all(p.text == texts[p.post_id] and p.substances == (NEW_NAME,) for p in prof.posts)
    everything = w.substance_profile(substance=NEW_NAME, latest=50).posts
    assert len(everything) == 4 and any("<script>" in (p.text or "") for p in everything)  # stored as written
    assert sum(s.posts for s in prof.sources) == 4 and {s.kind for s in prof.sources} <= {"web", "telegram"}
    assert prof.sources == sorted(prof.sources, key=lambda s: (-s.ads, -s.posts, s.source))
    cls = w.substance_profile(cls="synthetic_cathinone", latest=5)
    assert {s for p in cls.posts for s in p.substances} <= {"mephedrone", "alpha-PVP"}
    with pytest.raises(ScopeError, match="no stored substance"):
        w.substance_profile(substance="no-such-drug")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_cli_prints_the_places_and_draws_the_map(w, tmp_path):
    cfg = tmp_path / "npswatch.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "data"}"\n[database]\nurl = "{w.settings.database_url}"\n')
    svg = tmp_path / "map.svg"
    r = CliRunner().invoke(cli, ["--config", str(cfg), "places", "--substance", "alpha-PVP", "--svg", str(svg)])
    assert r.exit_code == 0, r.output
    assert f"map written to {svg} (7 cities)" in " ".join(r.output.split())
    text = svg.read_text()
    assert text.startswith("<?xml") and len(re.findall(r"<circle [^>]*data-city=", text)) == 7
    ads = {m.group(1): int(m.group(2)) for m in re.finditer(r'data-city="([^"]+)" data-country="[A-Z]+" '
                                                             r'data-ads="(\d+)"', text)}
    assert ads == {p.name: p.ads for p in w.places(substance="alpha-PVP").places}
    r = CliRunner().invoke(cli, ["--config", str(cfg), "places", "--substance", "alpha-PVP", "-f", "csv"])
    lines = r.output.splitlines()
    assert lines[0].startswith("place,name,country,level,geonameid,lat,lon,first_seen,last_seen,posts,ads")
    assert lines[-1].startswith("Karaganda (KZ),Karaganda,KZ,city,609655,") and len(lines) == 8
    r = CliRunner().invoke(cli, ["--config", str(cfg), "places", "--substance", "alpha-PVP", "--frame", "moon"])
    assert r.exit_code == 2 and "--frame must be one of" in r.output
    r = CliRunner().invoke(cli, ["--config", str(cfg), "places", "--class", "opioid"])
    assert r.exit_code == 2 and "no stored substance matches class 'opioid'" in r.output
    with pytest.raises(WatchError, match=r"\.svg"):
        w.places(substance="alpha-PVP", svg=tmp_path / "map.png")
