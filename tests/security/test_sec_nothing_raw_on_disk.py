"""Nothing raw on disk: after a crawl (with page snapshots), a Telegram export import and a listen over synthetic
sources full of identifiers in every form people write them, no table and no file under the data folder holds
any of them. Files are read as stored (the SQLite database, its WAL) and, for gzip files, decompressed too;
the Telegram session file and the privacy key are the only files not read. The search is on normalised forms:
case-folded, full-width folded (NFKC), and digits with the separators between them removed.

Channel and shop names are sources, not people: the names a discovery needs (channels reached by t.me links
and forwards) may stay in the source and discovery tables, and nowhere else.
"""
from __future__ import annotations

import asyncio
import gzip
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import unicodedata
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import MetaData, select
from typer.testing import CliRunner

from npswatch.crawlers.telegram import client as client_mod
from npswatch.crawlers.telegram.collector import TelegramCollector
from npswatch.crawlers.telegram.login import login
from npswatch.crawlers.telegram.offline import OfflineNetwork
from npswatch.cli.app import app
from npswatch.config import load_settings
from npswatch.watch import Watch
from npswatch.storage.db import make_engine

ROOT = Path(__file__).resolve().parents[2]
NPSWATCH = os.path.join(os.path.dirname(sys.executable), "npswatch")
API_HASH = "0" * 31 + "1"

# (as written in a post, what must never be found, normalised). All synthetic.
PERSON = [
    ("+7 701 555 12 34", "7015551234"),
    ("8 (701) 555-00-11", "7015550011"),
    ("77015552233", "7015552233"),
    ("wa.me/77015554455", "7015554455"),
    ("0555 123 456", "555123456"),  # a local number: the source's country (KG) says whose
    ("＋７ ７０１ ５５５ ６６ ７７", "7015556677"),  # full-width
    ("тг@synth_person_a", "synth_person_a"),
    ("＠synth_person_b", "synth_person_b"),
    ("synth.person.f@example.invalid", "synth.person.f"),
    ("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"),
    ("LSynth4Wa11etAddre55XyZ9kQmPRTuvWx", "lsynth4wa11etaddre55xyz9kqmprtuvwx"),
    ("0x52908400098527886E0F7030069857D2E4169EE7", "0x52908400098527886e0f7030069857d2e4169ee7"),
    ("@synth_person_g", "synth_person_g"),
]
# Links to accounts: a discovery may keep the name (it may be a channel), nowhere else may.
LINKED = [
    ("telegram.me/synth_person_c", "synth_person_c"),
    ("t.me/s/synth_person_d", "synth_person_d"),
    ("tg://resolve?domain=synth_person_e", "synth_person_e"),
]
CHANNELS = ["synth_channel_live", "synth_channel_export"]  # the sources themselves
DISCOVERY_TABLES = {"source", "telegram_channel", "telegram_channel_status", "telegram_entity", "discovered_channel", "channel_link",
                    "checkpoint",
                    "telegram_channel_sample", "telegram_post_sample"}  # a channel's metrics, under its source key
SECRET_FILES = {"privacy.key"}


def _message(i: int) -> str:
    """A post naming the identifiers (a few per post, so prices and ids around them vary)."""
    forms = [w for w, _ in PERSON + LINKED]
    picked = [forms[(i + k) % len(forms)] for k in range(4)]
    return f"Синтетика {i}: меф 1г - 4500, пишите " + " или ".join(picked) + ", Бишкек"


# --- the crawl ---------------------------------------------------------------------------------------

SITE = """\
name = "synth-ident-shop"
start_urls = ["/catalog.html"]
listing = "div.card"
snapshots = true
[fields]
id = "xpath:@data-id"
title = "h3"
text = "p.desc"
price = "span.price"
vendor = "span.vendor"
link = "a.more::attr(href)"
[hints]
country = "KG"
currency = "KGS"
[politeness]
obey_robots = false
download_delay = 0.0
autothrottle = false
"""


# Card links: where a listing links to its seller, the link names them too.
LINKS = ["/item/", "https://wa.me/77015554455?n=", "tel:+77015551234#", "/contact?phone=87015550011&n=",
         "https://t.me/s/synth_person_d?n="]


def _catalog() -> str:
    cards = []
    forms = [w for w, _ in PERSON + LINKED]
    for i, form in enumerate(forms):
        cards.append(
            f'<div class="card" data-id="c{i}"><h3>Товар {i} от {form}</h3><p class="desc">{_message(i)}</p>'
            f'<span class="price">1500 сом, звоните {forms[(i + 5) % len(forms)]}</span>'
            f'<span class="vendor">{form}</span><a class="more" href="{LINKS[i % len(LINKS)]}{i}">контакт</a></div>')
    return "<html><head><meta charset='utf-8'></head><body>" + "".join(cards) + "</body></html>"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("noraw")
    data = tmp / "data"
    sites = tmp / "sites"
    sites.mkdir()
    (sites / "synth_ident_shop.toml").write_text(SITE, encoding="utf-8")
    www = tmp / "www"
    www.mkdir()
    (www / "catalog.html").write_text(_catalog(), encoding="utf-8")
    cfg = tmp / "npswatch.toml"
    cfg.write_text(f'data_dir = "{data}"\n[privacy]\nkey = "{"k" * 32}"\n[web]\nsites_dir = "{sites}"\n'
                   f'[telegram]\napi_id = 1000001\napi_hash = "{API_HASH}"\n', encoding="utf-8")
    env = {**os.environ, "NPSWATCH_CONFIG": str(cfg), "COLUMNS": "200"}

    subprocess.run([NPSWATCH, "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True)
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    handler.log_message = lambda *a, **k: None
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        proc = subprocess.run([NPSWATCH, "crawl", "synth-ident-shop", "--base-url",
                               f"http://127.0.0.1:{srv.server_address[1]}"], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=180)
    finally:
        srv.shutdown()
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]

    # --- a Telegram export import ---------------------------------------------------------------------
    export = tmp / "result.json"
    msgs = [{"id": i, "type": "message", "date": f"2026-03-01T1{i % 10}:00:00", "from": "Synthetic Person",
             "from_id": f"user80000000{i}", "text": _message(i),
             **({"forwarded_from": "Synthetic Person Two", "forwarded_from_id": "user800000099"} if i == 3 else {})}
            for i in range(1, 17)]
    export.write_text(json.dumps({"name": "Synth Channel Export", "type": "public_channel", "id": 1500900001,
                                  "messages": msgs}, ensure_ascii=False), encoding="utf-8")
    r = CliRunner().invoke(app, ["--config", str(cfg), "import-telegram", str(export), "--channel",
                                 "@" + CHANNELS[1]], env={"NPSWATCH_CONFIG": str(cfg)}, terminal_width=200)
    assert r.exit_code == 0, r.output

    # --- a listen -------------------------------------------------------------------------------------
    net = OfflineNetwork(tmp / "telegram-net.sqlite", api_hash=API_HASH)  # the fake Telegram: not our data
    mp = pytest.MonkeyPatch()
    mp.setattr(client_mod, "CLIENT_FACTORY", net.factory)
    settings = load_settings(cfg)
    ctx = Watch(str(cfg))
    ch = net.add_channel(CHANNELS[0], "Synthetic Live Channel")
    person = net.add_user("synth_person_h", "Synthetic Person H")

    async def scenario():
        client = client_mod.make_client(settings)
        await login(client, phone=lambda: "+10000000001", code=lambda: "12345", password=lambda: "")
        col = TelegramCollector(client, ctx.checked_engine(), ctx.writer(extract=True), ctx.pseudonymiser,
                                flush_seconds=0.05)
        stop = asyncio.Event()
        task = asyncio.create_task(col.listen(lambda: [CHANNELS[0]], stop, reconcile_every=3600))
        end = asyncio.get_running_loop().time() + 30
        while col.reconciles < 1 and asyncio.get_running_loop().time() < end:
            await asyncio.sleep(0.02)
        for i in range(len(PERSON + LINKED)):
            net.publish(ch, _message(i), **({"fwd_user": person} if i == 2 else {}))
        while col.totals.inserted < len(PERSON + LINKED) and asyncio.get_running_loop().time() < end:
            await asyncio.sleep(0.02)
        # The WAL exists only while the database is open: keep a copy of it as it is now.
        for wal in data.glob("*-wal"):
            (tmp / "wal-copies").mkdir(exist_ok=True)
            shutil.copy(wal, tmp / "wal-copies" / wal.name)
        stop.set()
        await task
        await client.disconnect()
        return col

    try:
        col = asyncio.run(scenario())
    finally:
        mp.undo()
    assert col.totals.inserted == len(PERSON + LINKED)
    ctx.checked_engine().dispose()
    return {"data": data, "cfg": cfg, "db": data / "npswatch.db", "wal": tmp / "wal-copies"}


# --- the search --------------------------------------------------------------------------------------

def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    return re.sub(r"(?<=\d)[\s\-().]+(?=\d)", "", text)


def _found(text: str, needles) -> list[str]:
    norm = normalise(text)
    return [n for n in needles if n in norm]


def test_the_sources_really_held_identifiers(world):
    """The probe is not empty: the crawl, the import and the listen stored posts that named them."""
    engine = make_engine(f"sqlite:///{world['db']}")
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as c:
        kinds = dict(c.execute(select(meta.tables["source"].c.key, meta.tables["source"].c.kind)).all())
        P, S = meta.tables["post"], meta.tables["source"]
        per_source = dict(c.execute(select(S.c.key, __import__("sqlalchemy").func.count()).join(P, P.c.source_id == S.c.id)
                                    .group_by(S.c.key)).all())
        posts = c.execute(select(meta.tables["post"].c.text)).scalars().all()
        snaps = c.execute(select(meta.tables["page_snapshot"].c.sha256)).scalars().all()
    assert kinds == {"synth-ident-shop": "web", CHANNELS[1]: "export", CHANNELS[0]: "telegram"}
    assert per_source == {"synth-ident-shop": len(PERSON + LINKED), CHANNELS[1]: 16, CHANNELS[0]: len(PERSON + LINKED)}
    assert snaps
    assert all(re.search(r"(?:tel|u|email|wallet)_[a-z]{10}", p) for p in posts)


def test_no_table_holds_an_identifier(world):
    engine = make_engine(f"sqlite:///{world['db']}")
    meta = MetaData()
    meta.reflect(engine)
    leaks = []
    with engine.connect() as c:
        for name, table in meta.tables.items():
            allowed = {n for _, n in LINKED} | set(CHANNELS) if name in DISCOVERY_TABLES else set()
            needles = [n for _, n in PERSON + LINKED] + CHANNELS
            for row in c.execute(select(table)):
                blob = json.dumps([str(v) for v in row], ensure_ascii=False)
                leaks += [(name, n) for n in _found(blob, needles) if n not in allowed]
    assert not leaks, sorted(set(leaks))


def test_no_file_under_the_data_folder_holds_an_identifier(world):
    needles = [n for _, n in PERSON + LINKED]
    leaks, read = [], 0
    files = sorted(world["data"].rglob("*")) + sorted(world["wal"].glob("*"))
    assert any(p.name.endswith("-wal") for p in files)
    for path in files:
        if not path.is_file() or path.name in SECRET_FILES or path.suffix == ".session":
            continue
        raw = path.read_bytes()
        texts = [raw.decode("utf-8", errors="ignore")]
        if path.suffix == ".gz":
            texts.append(gzip.decompress(raw).decode("utf-8", errors="ignore"))
        if path.suffix in (".db", ".sqlite") or path.name.endswith(("-wal", "-journal")):
            # SQLite keeps the source and discovery tables in the same file: those names may be there,
            # person identifiers may not.
            needles_here = [n for _, n in PERSON]
        else:
            needles_here = needles + CHANNELS
        read += 1
        for t in texts:
            leaks += [(path.name, n) for n in _found(t, needles_here)]
    assert read >= 2  # the database, at least one snapshot
    assert not leaks, sorted(set(leaks))


def test_the_secrets_left_unread_are_private_files(world):
    secrets = [p for p in world["data"].rglob("*") if p.suffix == ".session" or p.name in SECRET_FILES]
    assert secrets and all(p.stat().st_mode & 0o777 == 0o600 for p in secrets), \
        [(p.name, oct(p.stat().st_mode & 0o777)) for p in secrets]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
@pytest.mark.parametrize("what", ["posts", "offers", "mentions"])
def test_no_export_shows_an_identifier(world, tmp_path, what, fmt):
    """`npswatch export`, what an analyst hands on: no phone, handle, wallet, e-mail or account link, and no
    Telegram source by its key (the imported channel's and the listened one's: their usernames could be a
    person's), in any row export. The web shop is a source named by its site key and may stay."""
    out = tmp_path / f"{what}.{fmt}"
    r = subprocess.run([NPSWATCH, "--config", str(world["cfg"]), "export", what, "--format", fmt, "--out", str(out)],
                       cwd=ROOT, capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "200"})
    assert r.returncode == 0, r.stderr[-2000:]
    text = out.read_text(encoding="utf-8")
    rows = text.splitlines()
    assert len(rows) > (1 if fmt == "csv" else 0), text  # the export is not empty: the probe means something
    if what == "posts":  # every source is in it, the Telegram ones pseudonymised
        assert "synth-ident-shop" in text and len(rows) >= 2 * len(PERSON + LINKED) + 16
    needles = [n for _, n in PERSON + LINKED] + CHANNELS
    leaks = sorted(set(_found(text + r.stdout + r.stderr, needles)))
    assert not leaks, leaks
