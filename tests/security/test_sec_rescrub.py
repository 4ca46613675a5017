"""`npswatch privacy rescrub` fixes a database written before the scrubber knew every form: afterwards no raw
identifier is left in the rows or snapshot files, text hashes follow the texts, and a second run changes nothing."""
from __future__ import annotations

import gzip
import json
import re

from sqlalchemy import MetaData, select
from typer.testing import CliRunner

from npswatch.pipelines.privacy import Pseudonymiser
from npswatch.pipelines.rawpost import RawPost, SourceHints
from npswatch.cli.app import app
from npswatch.storage.db import make_engine, upgrade
from npswatch.storage.listings import ListingTracker
from npswatch.storage.runs import start_run
from npswatch.storage.snapshots import PageRecord, SnapshotStore
from npswatch.storage.tables import T_POST
from npswatch.storage.writer import PostWriter, text_hash

RAW = ["77015552233", "synth_person_a", "synth.person.f", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"]
TEXT = "меф 1г 4500 сом, звоните 77015552233 или тг@synth_person_a, synth.person.f@example.invalid, BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4"


class Unscrubbed(Pseudonymiser):
    """What an older version stored: texts as scraped."""

    def scrub(self, text, region=None):
        return text

    def scrub_value(self, value, region=None, *, names=frozenset()):
        return value


def _leaks(engine, root) -> list[str]:
    meta = MetaData()
    meta.reflect(engine)
    found = []
    with engine.connect() as c:
        for name, table in meta.tables.items():
            if name == "source":
                continue
            for row in c.execute(select(table)):
                blob = json.dumps([str(v) for v in row], ensure_ascii=False).casefold()
                found += [f"{name}: {r}" for r in RAW if r in blob]
    for f in root.rglob("*.gz"):
        body = gzip.decompress(f.read_bytes()).decode("cp1251").casefold()
        found += [f"{f.name}: {r}" for r in RAW if r in body]
    return found


def test_rescrub_cleans_an_old_database_and_its_snapshots(tmp_path, monkeypatch):
    data = tmp_path / "data"
    cfg = tmp_path / "npswatch.toml"
    cfg.write_text(f'data_dir = "{data}"\n[privacy]\nkey = "{"r" * 32}"\n', encoding="utf-8")
    monkeypatch.setenv("NPSWATCH_CONFIG", str(cfg))
    engine = make_engine(f"sqlite:///{data / 'npswatch.db'}")
    upgrade(engine)
    old = Unscrubbed(b"r" * 32)
    hints = SourceHints(country="KG")
    post = RawPost(source="synth-shop", external_id="1", text=TEXT, url="https://wa.me/77015552233", hints=hints,
                   extra={"price": "4500 сом, 77015552233", "title": "от тг@synth_person_a"})
    PostWriter(engine, old).write([post])
    PostWriter(engine, old).write([post.model_copy(update={"text": TEXT + " (изменено)"})])  # a version
    run = start_run(engine, "crawl", "synth-shop")
    ListingTracker(engine, old).observe(run, [post])
    SnapshotStore(engine, data / "snapshots", old.scrub).save(run, [PageRecord(
        "synth-shop", "https://shop.invalid/c?phone=77015552233", "start",
        f"<html><meta charset=windows-1251><p>{TEXT}</p></html>".encode("cp1251"),
        content_type="text/html; charset=windows-1251", region="KG")])
    assert len(_leaks(engine, data / "snapshots")) >= 8  # the probe starts dirty

    r = CliRunner().invoke(app, ["privacy", "rescrub"], terminal_width=200)
    assert r.exit_code == 0, r.output
    assert "post: 1" in r.output and "1 snapshot files rewritten" in r.output
    assert _leaks(engine, data / "snapshots") == []
    with engine.connect() as c:
        text, h = c.execute(select(T_POST.c.text, T_POST.c.text_hash)).one()
    assert h == text_hash(text) and "4500 сом" in text and re.search(r"tel_[a-z]{10}", text)

    r = CliRunner().invoke(app, ["privacy", "rescrub"], terminal_width=200)
    assert r.exit_code == 0 and "no rows; 0 snapshot files rewritten" in r.output
