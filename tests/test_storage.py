"""Storage on SQLite and PostgreSQL: migrations, idempotent ingest, post versions, facts per post."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import func, inspect, select, text

from npswatch.pipelines.facts import CandidateFact, Facts, OfferFact, RegionFact, SubstanceFact
from npswatch.pipelines.rawpost import InvalidPost, RawPost
from npswatch.storage import models as m
from npswatch.storage.db import SchemaError, check_schema, current_revision, downgrade, head_revision, make_engine, upgrade
from npswatch.storage.writer import PostWriter

TABLES = {"source", "post", "post_version", "substance", "substance_alias", "region", "mention", "offer",
          "candidate", "crawl_run", "checkpoint"}

MEPH = SubstanceFact("mephedrone", "mephedrone", "synthetic_cathinone", "меф")
SALT = SubstanceFact("salt-kind", None, "synthetic_cathinone", "соль")
ALMATY = RegionFact("city", 1526384, "Almaty", "KZ")


def tiny_extractor(text, hints, posted_at):
    """A deterministic stand-in for the extractor: storage tests check storage, not extraction."""
    subs = tuple(s for word, s in (("меф", MEPH), ("соль", SALT)) if word in text.lower())
    regions = (ALMATY,) if "Алматы" in text else ()
    offers = ()
    if subs and "4500" in text:
        offers = (OfferFact(subs[0], 1.0, "g", 1.0, 4500.0, hints.currency or "KZT", 4500.0, None,
                            regions[0] if regions else None),)
    cands = (CandidateFact("ZZ-TESTINACA", "synthetic_cannabinoid"),) if "ZZ-TESTINACA" in text else ()
    return Facts(substances=subs, offers=offers, regions=regions, candidates=cands,
                 mention_regions={s.key: regions for s in subs})


def post(ext="1", text="меф 1г 4500 Алматы", **kw):
    base = dict(source="fixture-shop", external_id=ext, text=text, author="@synthetic_vendor_01",
                posted_at=datetime(2026, 3, 1, 12, tzinfo=timezone.utc))
    return RawPost(**(base | kw))


def count(engine, table):
    with engine.connect() as c:
        return c.execute(select(func.count()).select_from(text(table))).scalar_one()


def test_migration_from_empty_database_creates_every_table(db_url):
    eng = make_engine(db_url)
    with pytest.raises(SchemaError, match="npswatch db upgrade"):
        check_schema(eng)
    before, after = upgrade(eng)
    assert before is None and after == head_revision()
    check_schema(eng)
    assert TABLES <= set(inspect(eng).get_table_names())
    # and back down, and up again: migrations are reversible on both dialects
    downgrade(eng, "base")
    assert current_revision(eng) is None
    assert not (TABLES & set(inspect(eng).get_table_names()))
    upgrade(eng)
    assert current_revision(eng) == head_revision()
    eng.dispose()


def test_the_models_and_the_migrations_describe_one_schema(engine):
    """Every table, column and index declared in storage/ is what the migrations create (and nothing more)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from npswatch.storage.db import include_object

    with engine.connect() as c:
        context = MigrationContext.configure(c, opts={"include_object": include_object})
        assert compare_metadata(context, m.metadata) == []


@pytest.mark.postgres
def test_posts_per_week_are_counted_from_the_index_alone_on_postgresql(pg_url):
    """The health page counts each source's posts per week by first-seen time: on a large database, reading each
    counted post from the table cost seconds; PostgreSQL answers from the index alone only when it holds the
    columns the expression is computed from (migration 0019)."""
    eng = make_engine(pg_url)
    upgrade(eng)
    with eng.begin() as c:
        sid = c.execute(text("INSERT INTO source (key, kind) VALUES ('shop-a.test', 'web') RETURNING id")).scalar()
        c.execute(text("INSERT INTO post (source_id, external_id, text_hash, version, first_seen, collected_at) "
                       "SELECT :sid, 'p' || i, 'x', 1, now() - i * interval '1 hour', now() "
                       "FROM generate_series(1, 500) i"), {"sid": sid})
    with eng.connect() as c:
        c.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE post")
    with eng.connect() as c:
        c.exec_driver_sql("SET enable_seqscan = off")
        c.exec_driver_sql("SET enable_bitmapscan = off")
        plan = "\n".join(c.execute(text(
            "EXPLAIN SELECT source_id, count(*) FROM post WHERE source_id IN (:sid) "
            "AND coalesce(first_seen, collected_at) >= now() - interval '7 days' "
            "AND coalesce(first_seen, collected_at) < now() GROUP BY source_id"), {"sid": sid}).scalars())
    eng.dispose()
    assert "Index Only Scan using ix_post_source_seen" in plan, plan


def test_the_quick_schema_check_agrees_with_alembic(db_url):
    from npswatch.storage.db import file_head_revision, stored_revision

    assert file_head_revision() == head_revision()
    eng = make_engine(db_url)
    assert stored_revision(eng) is None  # no schema yet
    downgrade_to = "0001"
    upgrade(eng)
    assert stored_revision(eng) == current_revision(eng) == head_revision()
    downgrade(eng, downgrade_to)
    assert stored_revision(eng) == current_revision(eng) == downgrade_to
    with pytest.raises(SchemaError, match=f"revision {downgrade_to}.*npswatch db upgrade"):
        check_schema(eng)
    eng.dispose()


def test_out_of_date_schema_is_refused_with_the_fix(db_url):
    eng = make_engine(db_url)
    upgrade(eng)
    with eng.begin() as c:
        c.execute(text("UPDATE alembic_version SET version_num = 'older'"))
    with pytest.raises(SchemaError, match=r"revision older.*npswatch db upgrade"):
        check_schema(eng)
    eng.dispose()


def test_same_post_twice_is_one_row(engine, pseudonymiser):
    w = PostWriter(engine, pseudonymiser, tiny_extractor)
    r1 = w.write([post()])
    r2 = w.write([post()])
    assert (r1.inserted, r2.inserted, r2.unchanged) == (1, 0, 1)
    assert count(engine, "post") == 1
    assert count(engine, "offer") == 1 and count(engine, "mention") == 1
    assert count(engine, "post_version") == 0


def test_duplicate_inside_one_batch_is_one_row(engine, pseudonymiser):
    PostWriter(engine, pseudonymiser).write([post(), post(), post(ext="2")])
    assert count(engine, "post") == 2


def test_changed_text_keeps_old_version_and_replaces_facts(engine, pseudonymiser):
    w = PostWriter(engine, pseudonymiser, tiny_extractor)
    w.write([post(text="меф 1г 4500 Алматы")])
    r = w.write([post(text="соль и меф, всё продано")])
    assert r.updated == 1
    with engine.connect() as c:
        p = c.execute(select(m.Post.__table__)).mappings().one()
        versions = c.execute(select(m.PostVersion.__table__)).mappings().all()
    assert p["version"] == 2 and p["text"] == "соль и меф, всё продано"
    assert [(v["version"], v["text"]) for v in versions] == [(1, "меф 1г 4500 Алматы")]
    # facts follow the current text: the offer is gone, two substances are mentioned
    assert count(engine, "offer") == 0
    assert count(engine, "mention") == 2


def test_handles_and_phones_are_pseudonymised_before_storage(engine, pseudonymiser):
    PostWriter(engine, pseudonymiser).write([post(text="меф, пишите @synthetic_vendor_01 или +7 000 000-00-01")])
    with engine.connect() as c:
        row = c.execute(select(m.Post.__table__)).mappings().one()
    assert row["author"] == pseudonymiser.handle("synthetic_vendor_01")
    assert "synthetic_vendor_01" not in row["text"] and "000-00-01" not in row["text"]
    assert pseudonymiser.handle("synthetic_vendor_01") in row["text"]


def test_offer_rows_carry_substance_region_and_time(engine, pseudonymiser):
    PostWriter(engine, pseudonymiser, tiny_extractor).write([post()])
    with engine.connect() as c:
        row = c.execute(text(
            "SELECT s.canonical, s.class, r.name, r.geonameid, o.price, o.currency, o.observed_at "
            "FROM offer o JOIN substance s ON s.id = o.substance_id JOIN region r ON r.id = o.region_id"
        )).one()
    assert row[:6] == ("mephedrone", "synthetic_cathinone", "Almaty", 1526384, 4500.0, "KZT")
    assert str(row[6]).startswith("2026-03-01 12:00")


def test_candidates_counted_once_per_post(engine, pseudonymiser):
    w = PostWriter(engine, pseudonymiser, tiny_extractor)
    w.write([post("1", "новинка ZZ-TESTINACA"), post("2", "снова ZZ-TESTINACA", posted_at=datetime(2026, 4, 2, tzinfo=timezone.utc))])
    w.write([post("1", "новинка ZZ-TESTINACA")])  # re-ingest: no new count
    with engine.connect() as c:
        cand = c.execute(select(m.Candidate.__table__)).mappings().one()
    assert cand["posts"] == 2 and cand["name"] == "ZZ-TESTINACA"
    assert str(cand["first_seen"]).startswith("2026-03-01") and str(cand["last_seen"]).startswith("2026-04-02")


def test_invalid_post_is_rejected_and_nothing_stored_is_touched(engine, pseudonymiser):
    w = PostWriter(engine, pseudonymiser, tiny_extractor)
    w.write([post()])
    with pytest.raises(InvalidPost, match="text is empty"):
        w.write([post(), post(ext="2", text="  ")])
    with pytest.raises(InvalidPost, match="external_id is empty"):
        post(ext="")
    assert count(engine, "post") == 1 and count(engine, "offer") == 1


def test_failed_batch_rolls_back_whole(engine, pseudonymiser):
    def broken(text, hints, posted_at):
        raise RuntimeError("extractor bug")

    PostWriter(engine, pseudonymiser, tiny_extractor).write([post()])
    with pytest.raises(RuntimeError):
        PostWriter(engine, pseudonymiser, broken).write([post("2"), post("3")])
    assert count(engine, "post") == 1


def test_bulk_batch(engine, pseudonymiser):
    posts = [post(str(i), f"меф 1г 4500 Алматы #{i}") for i in range(1200)]
    r = PostWriter(engine, pseudonymiser, tiny_extractor).write(posts)
    assert r.inserted == 1200 and count(engine, "offer") == 1200
    r = PostWriter(engine, pseudonymiser, tiny_extractor).write(posts)
    assert r.unchanged == 1200 and count(engine, "post") == 1200


def test_bulk_batch_marks_the_days_its_facts_touch_and_keeps_the_triggers(engine, pseudonymiser, monkeypatch):
    """A batch of many facts marks its days stale once (on SQLite the row triggers are set aside for its inserts):
    the same days as a small batch marked row by row, the triggers still there after, and a failed batch leaves
    them too."""
    from datetime import timedelta

    from npswatch.storage.tables import T_STALE

    def stale():
        with engine.connect() as c:
            return set(c.execute(select(T_STALE.c.day)).scalars())

    def triggers():
        if engine.dialect.name != "sqlite":
            return None
        with engine.connect() as c:
            return c.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name").all()

    before = triggers()
    t0 = datetime(2025, 12, 30, 23, 30, tzinfo=timezone.utc)
    many = [post(str(i), f"меф соль 1г 4500 Алматы #{i}", posted_at=t0 + timedelta(hours=7 * i)) for i in range(800)]
    few = [post(f"x{i}", f"меф 1г 4500 #{i}", source="other-shop", posted_at=t0 + timedelta(hours=7 * i))
           for i in range(0, 800, 7)]
    writer = PostWriter(engine, pseudonymiser, tiny_extractor)
    writer.write(many)
    days = (t0 + timedelta(hours=7 * i) for i in range(800))
    assert stale() == {(d.date() - datetime(1970, 1, 1).date()).days for d in days}
    assert triggers() == before
    with engine.begin() as c:
        c.execute(T_STALE.delete())
    for p in few:  # one by one: the row triggers mark them
        writer.write([p])
    assert stale() == {(p.posted_at.date() - datetime(1970, 1, 1).date()).days for p in few}

    import npswatch.storage.writer as w

    def broken(conn, table, rows, **kw):  # the offers' insert fails after the mentions' (the triggers are away)
        if table is w.T_OFFER:
            raise RuntimeError("disk full")
        return insert_rows(conn, table, rows, **kw)

    insert_rows = w.insert_rows
    monkeypatch.setattr(w, "insert_rows", broken)
    with pytest.raises(RuntimeError):
        writer.write([post(f"y{i}", p.text) for i, p in enumerate(many)])
    monkeypatch.undo()
    assert triggers() == before and count(engine, "post") == 800 + len(few)
