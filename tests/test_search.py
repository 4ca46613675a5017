"""Full-text search over stored post texts (`Watch.search`, `npswatch search`, the web app's Search page) on
SQLite (FTS5 + triggers) and PostgreSQL (to_tsvector 'russian'): other word forms match, filters narrow, hits are
highlighted, edits and retention reach the index, and the words are never run as query syntax."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from npswatch.cli.app import app as cli
from npswatch.errors import WatchError
from npswatch.pipelines.rawpost import RawPost
from npswatch.storage.tables import T_POST
from npswatch.watch import Watch

T0 = dt.datetime(2026, 3, 2, 12, tzinfo=dt.timezone.utc)
# obviously synthetic shop posts: (source, id, text, days after T0)
POSTS = [
    ("fixture-shop.test", "1", "Мефедрон кристалл 1г 4500 руб. Алматы, закладка", 0),
    ("fixture-shop.test", "2", "Продаю мефедрона остатки, 2г, Астана", 1),
    ("fixture-shop.test", "3", "Гашиш 5г 6000 руб. Бишкек", 2),
    ("fixture-channel", "10", "СОЛЬ альфа-PVP 0,5г 2100 руб., мефедроном не торгуем", 3),
    ("fixture-channel", "11", "Amnesia Haze 2g EUR 25, ships from Spain", 20),
    ("fixture-channel", "12", 'Tricky "quotes" OR NEAR( and * stars <b>mephedrone</b> &amp; co', 21),
]


@pytest.fixture
def w(db_url, tmp_path):
    watch = Watch(settings={"data_dir": str(tmp_path / "data"), "database": {"url": db_url}})
    watch.upgrade()
    writer = watch.writer()
    for kind in ("web", "telegram"):
        writer.write([RawPost(source=s, external_id=i, text=t, posted_at=T0 + dt.timedelta(days=d))
                      for s, i, t, d in POSTS if (kind == "web") == s.endswith(".test")], source_kind=kind)
    yield watch
    watch.engine.dispose()


def ids(result) -> set[str]:
    return {h.external_id for h in result.hits}


def test_every_form_of_a_russian_word_is_found_and_hits_are_highlighted(w):
    r = w.search("мефедрона")
    assert ids(r) == {"1", "2", "10"} and r.total == 3
    hit = next(h for h in r.hits if h.external_id == "1")
    assert ("Мефедрон", True) in hit.snippet
    assert "кристалл 1г 4500 руб." in hit.snippet_text


def test_every_word_must_occur_and_filters_narrow(w):
    assert ids(w.search("мефедрон Алматы")) == {"1"}
    assert ids(w.search("мефедрон", kind="telegram")) == {"10"}
    assert ids(w.search("мефедрон", source="fixture-shop.test")) == {"1", "2"}
    assert ids(w.search("мефедрон", since=T0 + dt.timedelta(days=1), until=T0 + dt.timedelta(days=3))) == {"2"}
    assert ids(w.search("spain")) == {"11"}


def test_substance_filter_uses_the_extracted_mentions(w):
    assert ids(w.search("руб", substance="hashish")) == {"3"}


def test_query_syntax_in_the_words_is_searched_for_not_run(w):
    for words in ('"quotes" OR NEAR(', "* stars", 'NEAR("x', "AND OR NOT"):
        w.search(words)  # never a syntax error
    r = w.search('tricky "quotes"')
    assert ids(r) == {"12"}
    assert "stars <b>mephedrone" in r.hits[0].snippet_text  # markup in a text is shown as stored
    assert w.search("  ").total == 0


def test_edits_deletions_and_retention_reach_the_index(w):
    writer = w.writer()
    writer.write([RawPost(source="fixture-shop.test", external_id="3", text="Гашиш распродан, пишите про амфетамин",
                          posted_at=T0 + dt.timedelta(days=2))])
    assert ids(w.search("амфетамин")) == {"3"}
    assert ids(w.search("6000")) == set()
    with w.engine.begin() as c:  # what retention does: the text goes, the facts stay
        c.execute(update(T_POST).where(T_POST.c.external_id == "3").values(text=None))
        c.execute(update(T_POST).where(T_POST.c.external_id == "2").values(deleted_at=T0))
    assert w.search("амфетамин").total == 0
    assert ids(w.search("мефедрон")) == {"1", "10"}


def test_bad_filters_are_one_clear_error(w):
    with pytest.raises(WatchError, match="no stored source"):
        w.search("x", source="nosuch")
    with pytest.raises(WatchError, match="kind must be"):
        w.search("x", kind="forum")
    with pytest.raises(WatchError, match="limit"):
        w.search("x", limit=0)


def test_pages_of_hits(w):
    first, second = w.search("руб", limit=2), w.search("руб", limit=2, offset=2)
    assert first.total == second.total == 3
    assert len(first.hits) == 2 and len(second.hits) == 1 and ids(first) | ids(second) == {"1", "3", "10"}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_cli_prints_hits_as_text_and_json(w, tmp_path, db_url):
    env = {"NPSWATCH_DATA_DIR": str(tmp_path / "data"), "NPSWATCH_DATABASE__URL": db_url}
    w.writer().write([RawPost(source="fixture-shop.test", external_id="99", text="[bold]мефедрон[/bold] [link=x]y",
                              posted_at=T0)])
    r = CliRunner().invoke(cli, ["search", "мефедрон", "--source", "fixture-shop.test"], env=env)
    assert r.exit_code == 0, r.output
    assert "[bold]мефедрон[/bold] [link=x]y" in r.output  # scraped markup printed as text
    assert "3 posts match" in r.output
    r = CliRunner().invoke(cli, ["search", "мефедрон", "-f", "json", "--limit", "1"], env=env)
    data = json.loads(r.stdout)
    assert data["total"] == 4 and len(data["hits"]) == 1
    r = CliRunner().invoke(cli, ["search", "x", "--substance", "nosuch"], env=env)
    assert r.exit_code == 2 and "no stored substance" in r.output and "Traceback" not in r.output


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_database_from_before_the_search_migration_is_indexed_on_upgrade(tmp_path, db_url):
    watch = Watch(settings={"data_dir": str(tmp_path / "data"), "database": {"url": db_url}})
    from npswatch.storage.db import upgrade
    from npswatch.storage.writer import PostWriter

    upgrade(watch.engine, "0010")
    PostWriter(watch.engine, watch.pseudonymiser).write([RawPost(source="fixture-shop.test", external_id="1", text="старый мефедрон", posted_at=T0)])
    watch.upgrade()
    assert ids(watch.search("мефедрон")) == {"1"}
    watch.engine.dispose()


def test_search_equals_one_plain_query_over_the_index(tmp_path, db_url, monkeypatch):
    """The two-read search (ids, then the window's rank and snippets) finds, counts and orders what one plain
    query over every match does, with small caps so that the count stops and the window is cut. On SQLite,
    prefixes replaced by their indexed terms match the same posts as the prefixes (ranked as the terms: bm25 per
    form of the word), and a prefix with more terms than MAX_EXPANSION stays a prefix."""
    import random

    from sqlalchemy import text

    from npswatch.storage import search as ss

    monkeypatch.setattr(ss, "COUNT_CAP", 40)
    monkeypatch.setattr(ss, "RANK_WINDOW", 25)
    monkeypatch.setattr(ss, "MAX_EXPANSION", 3)
    rnd = random.Random(5)
    words = ["закладка", "закладки", "закладкой", "мефедрон", "мефедрона", "альфа", "кристалл", "fixture",
             "fixtures", "fixtured", "fixturex", "alpha", "1г", "2г"]
    watch = Watch(settings={"data_dir": str(tmp_path / "data"), "database": {"url": db_url}})
    watch.upgrade()
    writer = watch.writer()
    for kind, src in (("web", "fixture-shop.test"), ("telegram", "fixture-channel")):
        writer.write([RawPost(source=src, external_id=str(i), posted_at=T0 + dt.timedelta(hours=rnd.randrange(500)),
                              text=" ".join(rnd.choices(words, k=rnd.randint(3, 12))))
                      for i in range(300)], source_kind=kind)
    since = T0 + dt.timedelta(hours=100)
    cases = [("закладки", {}), ("мефедрон кристалл", {}), ("fixture", {}), ("alpha 1г", {"kinds": ["telegram"]}),
             ("закладка", {"since": since}), ("закладка альфа", {"kinds": ["web"], "since": since, "until": T0 + dt.timedelta(hours=400)}),
             ("мефедрона", {"substance_ids": []})]
    with watch.engine.connect() as c:
        named = sorted(c.execute(text("SELECT DISTINCT substance_id FROM mention")).scalars())
    assert named
    cases += [("закладки", {"substance_ids": named}), ("кристалл", {"substance_ids": named[:1]})]
    sqlite = watch.engine.dialect.name == "sqlite"
    with watch.engine.connect() as c:
        # up to MENTION_SET mentions, a substance filter's posts are gathered first (SQLite: a set, PostgreSQL: an
        # array value); past it each post is looked up (SQLite) or tested in a set (PostgreSQL)
        for (query, filters), mention_set in [(case, n) for n in (100_000, 5) for case in cases]:
            monkeypatch.setattr(ss, "MENTION_SET", mention_set)
            got_total, got = ss.search(watch.engine, query, offset=0, limit=100, **filters)
            where, params = ss._filters(None, filters.get("substance_ids"), filters.get("since"),
                                        filters.get("until"), "post.id")
            if filters.get("kinds"):
                where.append("post.source_id IN (SELECT id FROM source WHERE kind IN :kinds)")
                params["kinds"] = filters["kinds"]
            if not sqlite:
                params["q"] = query
                sql = ("SELECT post.id, -ts_rank(post.text_tsv, websearch_to_tsquery('russian', :q)), post.posted_at "
                       "FROM post WHERE post.text_tsv @@ websearch_to_tsquery('russian', :q) AND "
                       f"{' AND '.join(where)} ORDER BY post.id DESC")
                rows = c.execute(ss._bound(sql, params), params).all()
            else:
                rows = _sqlite_reference(c, ss, query, where, params)
            assert got_total == min(len(rows), ss.COUNT_CAP + 1), query
            window = sorted(rows[:ss.RANK_WINDOW], key=lambda r: (r[1], -ss._epoch(r[2]), -r[0]))
            assert [h["post_id"] for h in got] == [r[0] for r in window], query
            assert all(ss.HIT_START in (h["snippet"] or "") for h in got), query
            if filters == {} or filters.get("substance_ids") == named:
                assert got_total > 0, query
        if sqlite:
            expanded = ss._expanded(c, "fixture закладки 1г")
            assert expanded == '"fixtur"* AND ("закладка" OR "закладки" OR "закладкой") AND "1г"', expanded


def _sqlite_reference(c, ss, query, where, params):
    """All matches of one FTS5 query, newest first: with the prefixes, and with their indexed terms."""
    sql = ("SELECT post.id, post_fts.rank, post.posted_at FROM post_fts JOIN post ON post.id = post_fts.rowid "
           f"WHERE post_fts MATCH :q AND {' AND '.join(where)} ORDER BY post_fts.rowid DESC")
    params["q"] = ss.fts5_query(query)
    prefixed = c.execute(ss._bound(sql, params), params).all()
    params["q"] = ss._expanded(c, query)
    rows = c.execute(ss._bound(sql, params), params).all()
    assert [r[0] for r in rows] == [r[0] for r in prefixed], query
    return rows
