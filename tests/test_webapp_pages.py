"""The web app's long lists as a user pages through them (issue 17 item 9: pages stay fast on a large database,
so they show one page at a time): the signals inbox and the review queue show 50 at a time with the right total
and a next page; Sources and health counts posts per week and finds a source's newest post through its index; a
search for a common word counts and pages through the newest matches ranked, and still finds a rare word.
The speed itself is measured by benchmarks/bench_web_pages.py, not here."""
from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from sqlalchemy import insert

pytest.importorskip("starlette", reason="the web app needs the `web` extra (starlette)")
pytest.importorskip("argon2", reason="the web app needs the `web` extra (argon2-cffi)")

from starlette.testclient import TestClient  # noqa: E402

from npswatch.storage.tables import T_CANDIDATE, T_MENTION, T_POST, T_REVIEW, T_SIGNAL, T_SOURCE, T_SUBSTANCE  # noqa: E402
from npswatch.watch import Watch  # noqa: E402
from npswatch.web import create_app  # noqa: E402

from webapp_helpers import PASSWORD, csrf_of  # noqa: E402

T0 = dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc)


def _watch(db_url: str, tmp_path) -> Watch:
    w = Watch(settings={"data_dir": str(tmp_path / "data"), "database": {"url": db_url}})
    w.upgrade()
    w.add_user("adm", PASSWORD, "admin")
    return w


def _client(w: Watch) -> TestClient:
    c = TestClient(create_app(w), follow_redirects=False)
    r = c.post("/login", data={"name": "adm", "password": PASSWORD, "csrf": csrf_of(c.get("/login").text),
                               "next": "/"})
    assert r.status_code == 303
    return c


def _next_link(html: str) -> str | None:
    m = re.search(r'<a href="([^"]+)" rel="next">', html)
    return m.group(1).replace("&amp;", "&") if m else None


def _signals(w: Watch, n: int) -> None:
    """`n` signals, one a week back from T0; every third in KZ and KG, the others in RU; every fourth dismissed."""
    rows, reviews = [], []
    for i in range(1, n + 1):
        end = T0 - dt.timedelta(days=7 * i)
        rows.append({"id": i, "key": f"spike|s{i}", "kind": "spike", "substance": f"Sub-{i:03d}", "class": "stimulant",
                     "countries": ["KG", "KZ"] if i % 3 == 0 else ["RU"], "title": f"signal number {i:03d}",
                     "period_start": end - dt.timedelta(days=7), "period_end": end, "posts": 3, "sources": 1,
                     "evidence": {"examples": [], "cities": []}})
        if i % 4 == 0:
            reviews.append({"signal_id": i, "status": "dismissed", "reviewed_by": "adm", "reviewed_at": T0})
    with w.engine.begin() as c:
        c.execute(insert(T_SIGNAL), rows)
        c.execute(insert(T_REVIEW), reviews)


def test_the_inbox_shows_fifty_signals_a_page_with_the_total_and_a_next_page(db_url, tmp_path):
    w = _watch(db_url, tmp_path)
    _signals(w, 120)
    c = _client(w)
    first = c.get("/signals").text
    titles = re.findall(r"signal number (\d{3})", first)
    assert titles == [f"{i:03d}" for i in range(1, 51)]  # newest period first
    assert "signals: 120" in first and "1–50 of 120" in first
    second = c.get(_next_link(first)).text
    assert re.findall(r"signal number (\d{3})", second)[0] == "051" and "51–100 of 120" in second
    third = c.get(_next_link(second)).text
    assert re.findall(r"signal number (\d{3})", third) == [f"{i:03d}" for i in range(101, 121)]
    assert "101–120 of 120" in third and _next_link(third) is None and 'rel="prev"' in third
    # the filters count and page alike: 40 signals concern KZ, 30 of them not dismissed
    kz = c.get("/signals?country=kz").text
    assert "signals: 40" in kz and _next_link(kz) is None
    assert set(re.findall(r"signal number (\d{3})", kz)) == {f"{i:03d}" for i in range(3, 121, 3)}
    new_kz = c.get("/signals?country=KZ&status=new").text
    assert "signals: 30" in new_kz
    assert all(int(i) % 4 for i in re.findall(r"signal number (\d{3})", new_kz))
    assert w.inbox_count(country="RU") == 80 and len(w.inbox(country="RU", limit=50, offset=50)) == 30


def test_the_review_queue_pages_through_candidates_with_their_examples(tmp_path):
    w = _watch(f"sqlite:///{tmp_path / 'q.db'}", tmp_path)
    with w.engine.begin() as c:
        sid = c.execute(insert(T_SOURCE).values(key="chan_a", kind="telegram")).inserted_primary_key[0]
        for i in range(70):
            name = f"newname{i:02d}"
            pid = c.execute(insert(T_POST).values(
                source_id=sid, external_id=str(i), text=f"fresh {name} 2г 5000 in the city", text_hash=str(i),
                posted_at=T0, first_seen=T0)).inserted_primary_key[0]
            sub = c.execute(insert(T_SUBSTANCE).values(key=f"candidate:{name}", canonical=name,
                                                       **{"class": "synthetic_cathinone"})).inserted_primary_key[0]
            c.execute(insert(T_MENTION).values(post_id=pid, substance_id=sub, matched=name, observed_at=T0))
            c.execute(insert(T_CANDIDATE).values(key=name, name=name, status="new", posts=100 - i, first_seen=T0,
                                                 last_seen=T0, **{"class": "synthetic_cathinone"}))
    c = _client(w)
    first = c.get("/candidates").text
    names = re.findall(r'data-candidate="(newname\d\d)"', first)
    assert names == [f"newname{i:02d}" for i in range(50)]  # most posts first
    assert "candidates: 70" in first and "1–50 of 70" in first
    second = c.get(_next_link(first)).text
    assert re.findall(r'data-candidate="(newname\d\d)"', second) == [f"newname{i:02d}" for i in range(50, 70)]
    assert "fresh newname65 2г 5000" in second  # a new name's example, on the second page too
    assert _next_link(second) is None and w.count_candidates("all", "new_name") == 70


def test_health_counts_posts_per_week_and_finds_the_newest_post_of_each_source(tmp_path):
    w = _watch(f"sqlite:///{tmp_path / 'h.db'}", tmp_path)
    until = T0
    with w.engine.begin() as c:
        a = c.execute(insert(T_SOURCE).values(key="shop-a.test", kind="web")).inserted_primary_key[0]
        b = c.execute(insert(T_SOURCE).values(key="chan_b", kind="telegram")).inserted_primary_key[0]
        rows = []
        for week, n in enumerate((5, 0, 2, 7)):  # oldest week first
            for k in range(n):
                at = until - dt.timedelta(days=7 * (4 - week)) + dt.timedelta(hours=k + 1)
                rows.append({"source_id": a, "external_id": f"{week}-{k}", "text_hash": "x", "first_seen": at,
                             "collected_at": at})
        # an older row with no first_seen: its collected_at counts, and it is chan_b's newest post
        rows.append({"source_id": b, "external_id": "old", "text_hash": "x", "first_seen": None,
                     "collected_at": until - dt.timedelta(days=2)})
        rows.append({"source_id": b, "external_id": "older", "text_hash": "x", "first_seen": until - dt.timedelta(days=20),
                     "collected_at": None})
        rows.append({"source_id": a, "external_id": "before", "text_hash": "x", "first_seen": until - dt.timedelta(days=40),
                     "collected_at": None})
        c.execute(insert(T_POST), rows)
    weekly = w.posts_per_week(["shop-a.test", "chan_b", "nobody"], weeks=4, until=until)
    assert weekly == {"shop-a.test": [5, 0, 2, 7], "chan_b": [0, 1, 0, 1], "nobody": [0, 0, 0, 0]}
    w.settings.service.listen = False
    from npswatch.storage.telegram_store import record_channel_state

    record_channel_state(w.engine, "chan_b", "ok")  # a channel with a state is listed on the health page
    h = w.status()
    newest = {s.source: s.last_new_at for s in h.sources}
    assert newest["chan_b"] == until - dt.timedelta(days=2)


@pytest.fixture
def small_window(monkeypatch):
    from npswatch.storage import search as ss

    monkeypatch.setattr(ss, "RANK_WINDOW", 6)
    monkeypatch.setattr(ss, "COUNT_CAP", 20)


def _posts(w: Watch, texts: list[str]) -> None:
    with w.engine.begin() as c:
        sid = c.execute(insert(T_SOURCE).values(key="chan_s", kind="telegram")).inserted_primary_key[0]
        c.execute(insert(T_POST), [{"source_id": sid, "external_id": str(i), "text": t, "text_hash": str(i),
                                    "posted_at": T0 + dt.timedelta(hours=i)} for i, t in enumerate(texts)])


def test_a_common_word_is_counted_and_paged_through_its_newest_matches_best_first(tmp_path, small_window):
    w = _watch(f"sqlite:///{tmp_path / 's.db'}", tmp_path)
    # 30 posts say "закладка"; post 3 and post 27 say it three times (ranked best among those looked at)
    texts = [f"закладка номер {i} " + ("закладка закладка" if i in (3, 27) else "город цена") for i in range(30)]
    _posts(w, texts + ["редкое слово ксилазин только здесь"])
    r = w.search("закладка", limit=4)
    assert r.total == 21 and r.more_than and r.reachable == 6  # counted up to the cap
    # the newest six matches (posts 24-29), post 27 first (the word three times), then newest first
    assert [h.external_id for h in r.hits] == ["27", "29", "28", "26"]
    assert [h.external_id for h in w.search("закладка", limit=4, offset=4).hits] == ["25", "24"]
    c = _client(w)
    html = c.get("/search?q=закладка").text
    assert "more than 20 posts match" in html and "the newest 6 ranked" in html and _next_link(html) is None
    rare = w.search("ксилазин")
    assert rare.total == 1 and not rare.more_than and rare.hits[0].external_id == "30"
    assert ("ксилазин", True) in rare.hits[0].snippet
    html = c.get("/search?q=ксилазин").text
    assert "1 posts match" in html and "<mark>ксилазин</mark>" in html


def test_a_search_with_fewer_matches_than_the_window_ranks_them_all(tmp_path, small_window):
    w = _watch(f"sqlite:///{tmp_path / 'f.db'}", tmp_path)
    _posts(w, ["мефедрон раз", "мефедрон мефедрон мефедрон", "мефедрон два", "другое"])
    r = w.search("мефедрон")
    assert r.total == 3 and not r.more_than and [h.external_id for h in r.hits] == ["1", "2", "0"]
    assert json.loads(json.dumps(r.to_dict()))["more_than"] is False
