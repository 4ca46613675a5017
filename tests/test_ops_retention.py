"""`npswatch retention apply`: old post texts and raw snapshots go, facts stay; --dry-run changes nothing."""
from __future__ import annotations

import os
import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, insert, select, update
from typer.testing import CliRunner

from npswatch.pipelines.facts import Facts, OfferFact, SubstanceFact
from npswatch.pipelines.rawpost import RawPost
from npswatch.cli.app import app as cli
from npswatch.watch import Watch
from npswatch.storage import models as m
from npswatch.storage.db import upgrade
from npswatch.storage.runs import T_RUN
from npswatch.storage.snapshots import PageRecord, SnapshotStore
from npswatch.storage.writer import PostWriter

runner = CliRunner()
NOW = datetime.now(timezone.utc)
OLD, NEW = NOW - timedelta(days=400), NOW - timedelta(days=10)
MEPH = SubstanceFact("mephedrone", "mephedrone", "synthetic_cathinone", "меф")
SITE = """name = "synthetic-keep"
start_urls = ["/catalog"]
listing = "div.card"
snapshots = true
snapshot_days = 500
[fields]
text = "p"
"""


def extractor(text, hints, posted_at):
    """A stand-in extractor: one offer per post naming the test word."""
    if "меф" not in text:
        return Facts()
    return Facts(substances=(MEPH,), offers=(OfferFact(MEPH, 1.0, "g", 1.0, 4500.0, "RUB", 4500.0, None, None),))


def count(engine, table, *where):
    with engine.connect() as c:
        return c.execute(select(func.count()).select_from(table).where(*where)).scalar()


def build(tmp_path, pseudonymiser):
    (tmp_path / "sites").mkdir()
    (tmp_path / "sites" / "synthetic_keep.toml").write_text(SITE, encoding="utf-8")
    cfg = tmp_path / "npswatch.toml"
    cfg.write_text('data_dir = "data"\n[web]\nsites_dir = "sites"\n[retention]\npost_text_days = 365\n'
                   'snapshot_days = 90\njob_log_days = 30\n', encoding="utf-8")
    app = Watch(str(cfg))
    e = app.engine
    upgrade(e)
    w = PostWriter(e, pseudonymiser, extractor)
    w.write([RawPost(source="synthetic-shop", external_id=f"old-{i}", text=f"меф 1г 4500 old {i}", posted_at=OLD)
             for i in range(3)])
    w.write([RawPost(source="synthetic-shop", external_id="old-0", text="меф 1г 4500 old 0, edited", posted_at=OLD)])
    w.write([RawPost(source="synthetic-shop", external_id=f"new-{i}", text=f"меф 1г 4500 new {i}", posted_at=NEW)
             for i in range(2)])
    with e.begin() as c:  # a stored signal quoting an old and a new post
        c.execute(insert(m.tables_reports.StoredSignal.__table__).values(
            key="synthetic|1", kind="new_substance", substance="mephedrone", **{"class": "synthetic_cathinone"},
            title="synthetic signal", evidence={"examples": [
                {"post_id": 1, "observed_at": OLD.isoformat(), "text": "меф old quote", "url": None},
                {"post_id": 5, "observed_at": NEW.isoformat(), "text": "меф new quote", "url": None}]}))
    store = SnapshotStore(e, app.settings.data_path / "snapshots", app.pseudonymiser.scrub)
    for source, body in (("synthetic-shop", b"<html>old shop page</html>"), ("synthetic-shop", b"<html>new</html>"),
                         ("synthetic-keep", b"<html>old kept page</html>")):
        store.save(None, [PageRecord(source=source, url=f"https://example.invalid/{len(body)}", role="listing", body=body)])
    P = m.tables_web.PageSnapshot.__table__
    with e.begin() as c:  # two of them fetched 200 days ago
        c.execute(update(P).where(P.c.sha256.in_([store.blobs.put(b"<html>old shop page</html>"),
                                                  store.blobs.put(b"<html>old kept page</html>")]))
                  .values(fetched_at=NOW - timedelta(days=200)))
    an_hour_ago = time.time() - 7200
    for sha in store.blobs.hashes():  # files younger than an hour are never removed
        os.utime(store.blobs.path(sha), (an_hour_ago, an_hour_ago))
    logs = app.settings.data_path / "logs" / "jobs"
    logs.mkdir(parents=True)
    (logs / "old-1.log").write_text("old output")
    os.utime(logs / "old-1.log", (time.time() - 40 * 86400,) * 2)
    (logs / "new-2.log").write_text("new output")
    return str(cfg), app, store


def test_dry_run_says_what_would_go_and_changes_nothing(tmp_path, pseudonymiser):
    cfg, app, store = build(tmp_path, pseudonymiser)
    e = app.engine
    texts_before = count(e, m.Post.__table__, m.Post.__table__.c.text.is_not(None))
    r = runner.invoke(cli, ["--config", cfg, "retention", "apply", "--dry-run"], terminal_width=250)
    assert r.exit_code == 0, r.output
    assert "(would be removed): 3 posts, 1 earlier versions, 1 signal snippets" in r.output
    assert "(would be removed): 1 snapshot pages, 1 body files" in r.output
    assert "own periods: synthetic-keep 500d" in r.output
    assert "job logs (would be removed): 1 files" in r.output
    assert count(e, m.Post.__table__, m.Post.__table__.c.text.is_not(None)) == texts_before
    assert len(list(store.blobs.hashes())) == 3
    assert count(e, T_RUN, T_RUN.c.kind == "retention") == 0


def test_apply_removes_old_texts_and_snapshots_and_keeps_the_facts(tmp_path, pseudonymiser):
    cfg, app, store = build(tmp_path, pseudonymiser)
    e = app.engine
    P, V = m.Post.__table__, m.PostVersion.__table__
    facts = (count(e, m.Offer.__table__), count(e, m.Mention.__table__))
    assert facts[0] >= 5 and facts[1] >= 5
    r = runner.invoke(cli, ["--config", cfg, "retention", "apply"], terminal_width=250)
    assert r.exit_code == 0, r.output
    assert "(removed): 3 posts, 1 earlier versions, 1 signal snippets" in r.output
    with e.connect() as c:
        texts = dict(c.execute(select(P.c.external_id, P.c.text)).all())
        versions = c.execute(select(V.c.text)).scalars().all()
        evidence = c.execute(select(m.tables_reports.StoredSignal.__table__.c.evidence)).scalar()
        snaps = c.execute(select(m.tables_web.PageSnapshot.__table__.c.source)).scalars().all()
        run = c.execute(select(T_RUN).where(T_RUN.c.kind == "retention")).one()
    assert {k for k, v in texts.items() if v is None} == {"old-0", "old-1", "old-2"}
    assert texts["new-0"] == "меф 1г 4500 new 0" and count(e, P) == 5
    assert versions == [None]
    assert [x["text"] for x in evidence["examples"]] == [None, "меф new quote"]
    # offers and mentions of the old posts are all still there
    assert (count(e, m.Offer.__table__), count(e, m.Mention.__table__)) == facts
    # the shop's old page is gone (90 days), the site with its own 500-day period keeps its page
    assert sorted(snaps) == ["synthetic-keep", "synthetic-shop"]
    assert len(list(store.blobs.hashes())) == 2
    logs = app.settings.data_path / "logs" / "jobs"
    assert sorted(p.name for p in logs.iterdir()) == ["new-2.log"]
    assert (run.status, run.items) == ("ok", 3 + 1 + 1 + 1 + 1)
    # nothing left to do: a second run removes nothing
    r = runner.invoke(cli, ["--config", cfg, "retention", "apply"], terminal_width=250)
    assert "(removed): 0 posts, 0 earlier versions, 0 signal snippets" in r.output
