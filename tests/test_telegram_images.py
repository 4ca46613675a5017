"""Pictures in Telegram posts: OCR of generated price lists (character error rate), their text stored as part of
the post and its offers stored as offers (live listener, history reads, albums, an export folder with photos/),
only a perceptual hash kept, and the same picture in two channels linking them.

The price lists are drawn by `crawlers/fixture_market/pricelist_images.py` from fixed specs (text, size, font
size, noise, blur, photo-like background, seed) with DejaVu Sans. OCR needs Tesseract and its language packs
(Debian: tesseract-ocr-rus ... -eng; `.ci/run` installs them); without them these tests skip with the reason.
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil

import pytest
from rapidfuzz.distance import Levenshtein
from sqlalchemy import select

from npswatch.crawlers.fixture_market.pricelist_images import CYRILLIC_LIST, LATIN_LIST, SPECS, Spec, encode, render
from npswatch.crawlers.ocr import LANGUAGES, ImageRejected, Ocr, missing
from npswatch.crawlers.telegram.collector import TelegramCollector
from npswatch.crawlers.telegram.photos import MARKER, ImageReader
from npswatch.pipelines.extract import default_extractor
from npswatch.storage import models as m
from npswatch.storage.db import make_engine, upgrade
from npswatch.storage.images import ImageRow, record_images, reposts
from npswatch.storage.tables import T_IMAGE
from npswatch.storage.telegram_store import link_graph
from npswatch.storage.writer import PostWriter

from offline_telegram import until
from test_telegram_live import logged_in_client

ALL = "+".join(LANGUAGES)
if missing(ALL) and os.environ.get("NPSWATCH_REQUIRE_OCR"):
    raise RuntimeError(f"NPSWATCH_REQUIRE_OCR is set but OCR cannot run: {missing(ALL)}")
needs_ocr = pytest.mark.skipif(bool(missing(ALL)), reason=f"OCR cannot run here: {missing(ALL)}")
P, S, O = m.Post.__table__, m.Source.__table__, m.Offer.__table__


def cer(truth: str, got: str) -> float:
    """Character error rate: edit distance over the length of the true text (rapidfuzz's Levenshtein)."""
    return Levenshtein.distance(truth, got) / len(truth)


@pytest.fixture(scope="module")
def ocr():
    return Ocr(ALL)


@pytest.fixture
def sqlite_engine(tmp_path):
    eng = make_engine(f"sqlite:///{tmp_path / 'npswatch.db'}")
    upgrade(eng)
    yield eng
    eng.dispose()


# -- OCR quality ------------------------------------------------------------------------------------------------
@needs_ocr
@pytest.mark.parametrize("name", sorted(SPECS))
def test_character_error_rate_of_generated_price_lists(ocr, name):
    """<= 5% on clean pictures (large or small print), <= 15% with noise and blur or a photo behind the text."""
    spec = SPECS[name]
    got = ocr.read(encode(render(spec))).text
    limit = 0.05 if name.endswith(("-clean", "-small")) else 0.15
    assert cer("\n".join(spec.lines), got) <= limit, got


@needs_ocr
def test_limits_are_checked_before_decoding(ocr):
    small = Ocr("eng", max_bytes=10_000, max_pixels=100_000)
    with pytest.raises(ImageRejected, match="over the 0.0 MB limit"):
        small.read(encode(render(SPECS["latin-clean"])))
    with pytest.raises(ImageRejected, match="pixels is over"):
        small.read(encode(render(Spec(lines=("x",), size=(400, 300))), "PNG"))
    with pytest.raises(ImageRejected, match="not a readable image"):
        ocr.read(b"\x89PNG\r\n\x1a\n synthetic garbage")


# -- the live listener and history reads -------------------------------------------------------------------------
def stored(engine):
    q = select(S.c.key, P.c.external_id, P.c.text, P.c.extra, P.c.id).join(S, S.c.id == P.c.source_id)
    with engine.connect() as c:
        return {(r.key, r.external_id): r for r in c.execute(q)}


def offers_of(engine, post_id):
    with engine.connect() as c:
        return c.execute(select(O.c.price, O.c.currency, O.c.quantity, O.c.unit).where(O.c.post_id == post_id)
                         .order_by(O.c.price)).all()


def images_of(engine):
    with engine.connect() as c:
        return c.execute(select(T_IMAGE).order_by(T_IMAGE.c.id)).mappings().all()


@needs_ocr
def test_listener_reads_photos_albums_and_history_and_keeps_only_hashes(sqlite_engine, pseudonymiser, net, tmp_path):
    engine = sqlite_engine
    ch = net.add_channel("synthetic_channel_01", "Synthetic Channel 01")
    shop = net.add_channel("synthetic_shop_02", "Synthetic Shop 02")
    cyr = encode(render(SPECS["cyrillic-photo"]))
    lat = encode(render(SPECS["latin-noise-blur"]))
    plain = encode(render(Spec(lines=("SYNTHETIC SHOP", "reviews in the channel"), size=(600, 200))))
    net.publish_photo(ch, cyr, "")                                    # 1: history, photo only
    net.publish_photo(ch, [lat, plain], "Прайс во вложении")         # 2, 3: history album

    async def scenario():
        client = await logged_in_client(tmp_path)
        reader = ImageReader(Ocr("rus+eng"), pseudonymiser, engine=engine)
        col = TelegramCollector(client, engine, PostWriter(engine, pseudonymiser, default_extractor().for_storage),
                                pseudonymiser, flush_seconds=0.05, images=reader)
        stop = asyncio.Event()
        task = asyncio.create_task(col.listen(lambda: ["synthetic_channel_01", "synthetic_shop_02"], stop,
                                              reconcile_every=3600))
        await until(lambda: col.reconciles == 1, "the first reconcile (3 pictures read)", timeout=300)
        net.publish_photo(shop, cyr, "")                              # shop 1: the same picture, live
        net.publish_photo(ch, lat, "", document=True)                 # 4: an image sent as a file, live
        net.publish_photo(ch, [plain, cyr], "второй альбом")          # 5, 6: a live album
        await until(lambda: len(stored(engine)) == 5, "5 posts", timeout=300)
        stop.set()
        await task
        # a restart's re-read of recent days: each picture's text comes from the database, none is read again
        col.images = again = ImageReader(Ocr("rus+eng"), pseudonymiser, engine=engine)
        col.batch.start()
        await col.recheck(col.watched[ch], 1)
        await col.batch.close()
        await client.disconnect()
        return reader, again

    reader, again = asyncio.run(scenario())
    got = stored(engine)
    assert sorted(got) == [("synthetic_channel_01", "1"), ("synthetic_channel_01", "2"), ("synthetic_channel_01", "4"),
                           ("synthetic_channel_01", "5"), ("synthetic_shop_02", "1")]

    photo_only = got[("synthetic_channel_01", "1")]
    assert photo_only.text.startswith(MARKER) and "Мефедрон 1г - 4500 руб" in photo_only.text
    assert photo_only.extra["images"] == {"count": 1, "with_text": 1}
    assert (4500.0, "RUB", 1.0, "g") in offers_of(engine, photo_only.id)  # the offer written in the picture

    album = got[("synthetic_channel_01", "2")]
    assert album.text.startswith("Прайс во вложении\n\n" + MARKER) and "Ketamine 5 grams - 120 USD" in album.text
    assert album.extra["album"] == [2, 3] and album.extra["images"] == {"count": 2, "with_text": 2}
    assert (120.0, "USD", 5.0, "g") in offers_of(engine, album.id)
    assert "Ketamine 5 grams" in got[("synthetic_channel_01", "4")].text  # the image file
    live_album = got[("synthetic_channel_01", "5")]
    assert live_album.extra["album"] == [5, 6] and live_album.text.startswith("второй альбом")

    rows = images_of(engine)
    assert len(rows) == 7  # 1 + 2 + 1 + 1 + 2 pictures; and no picture anywhere, only hashes and text
    assert all(isinstance(r["phash"], int) for r in rows) and not any("data" in k for k in rows[0].keys())
    assert reader.read == 7 and again.read == 0 and again.reused == 6
    with engine.connect() as c:
        assert c.execute(select(m.PostVersion.__table__)).all() == []  # re-read, same text: no new version
    # the same picture again, in this channel or another: recognised as a repost, and a link between channels
    first = next(r for r in rows if (r["src"], r["message_id"]) == ("synthetic_channel_01", "1"))
    again = [r for r in rows if r["phash"] == first["phash"] and r["id"] != first["id"]]
    assert len(again) == 2 and all(r["first_id"] == first["id"] for r in again)
    assert {(r["src"], r["first_src"]) for r in reposts(engine)} >= {("synthetic_shop_02", "synthetic_channel_01")}
    _nodes, edges = link_graph(engine)
    assert {"src": "synthetic_channel_01", "dst": "synthetic_shop_02", "weight": 1, "forwards": 0, "links": 0,
            "shared_ads": 0, "shared_images": 1} in edges


def test_with_ocr_off_pictures_are_never_downloaded(sqlite_engine, pseudonymiser, net, tmp_path):
    engine = sqlite_engine
    ch = net.add_channel("synthetic_channel_01", "Synthetic Channel 01")
    net.publish_photo(ch, encode(render(SPECS["cyrillic-clean"])), "подпись")
    net.publish_photo(ch, encode(render(SPECS["cyrillic-clean"])), "")

    async def scenario():
        client = await logged_in_client(tmp_path)
        col = TelegramCollector(client, engine, PostWriter(engine, pseudonymiser, None), pseudonymiser,
                                flush_seconds=0.05)
        await col.reconcile(await col.resolve(["synthetic_channel_01"]))
        await col.batch.close()
        await client.disconnect()

    asyncio.run(scenario())
    got = stored(engine)
    assert [(k[1], r.text) for k, r in got.items()] == [("1", "подпись")]  # the caption only; no text, no post
    assert not net.calls("GetFileRequest") and not images_of(engine)


def test_near_duplicate_pictures_share_a_first_sighting(engine):
    """A picture recompressed or resized differs by a few pHash bits: still the same picture (SQLite and
    PostgreSQL)."""
    base = 0xDA5A_1234_F0F0_0F0F - (1 << 64)  # a signed 64-bit value (top bit set), as stored
    rows = [ImageRow("synthetic_channel_01", "7", 0, base, "tg-photo:1"),
            ImageRow("synthetic_shop_02", "3", 0, base ^ 0b101, "tg-photo:2"),       # 2 bits apart: the same
            ImageRow("synthetic_shop_03", "9", 0, base ^ 0xFFFF_0000, "tg-photo:3")]  # 16 bits apart: another
    with engine.begin() as c:
        assert record_images(c, rows) == 3
        assert record_images(c, rows[:1]) == 0  # re-read: nothing new
    got = {r["src"]: r for r in images_of(engine)}
    assert got["synthetic_shop_02"]["first_id"] == got["synthetic_channel_01"]["id"] == got["synthetic_channel_01"]["first_id"]
    assert got["synthetic_shop_03"]["first_id"] == got["synthetic_shop_03"]["id"]


# -- exports ------------------------------------------------------------------------------------------------------
@needs_ocr
def test_export_folder_with_photos_through_the_cli(tmp_path):
    from typer.testing import CliRunner

    from npswatch.cli.app import app

    folder = tmp_path / "ChatExport_2026-12-04"
    (folder / "photos").mkdir(parents=True)
    (folder / "files").mkdir()
    (folder / "photos" / "photo_1@04-12-2026_10-00-00.jpg").write_bytes(encode(render(SPECS["cyrillic-noise-blur"])))
    (folder / "files" / "pricelist.png").write_bytes(encode(render(Spec(lines=LATIN_LIST)), "PNG"))
    (tmp_path / "outside.jpg").write_bytes(encode(render(Spec(lines=CYRILLIC_LIST))))
    msgs = [
        {"id": 1, "type": "message", "date": "2026-12-04T10:00:00", "date_unixtime": "1796378400",
         "photo": "photos/photo_1@04-12-2026_10-00-00.jpg", "width": 900, "height": 420, "text": ""},
        {"id": 2, "type": "message", "date": "2026-12-04T10:01:00", "date_unixtime": "1796378460",
         "file": "files/pricelist.png", "mime_type": "image/png", "text": "прайс"},
        {"id": 3, "type": "message", "date": "2026-12-04T10:02:00", "date_unixtime": "1796378520",
         "photo": "../outside.jpg", "text": ""},  # a poisoned path: never read
        {"id": 4, "type": "message", "date": "2026-12-04T10:03:00", "date_unixtime": "1796378580",
         "photo": "(File not included. Change data exporting settings to download.)", "text": ""},
    ]
    (folder / "result.json").write_text(json.dumps({"name": "Synthetic Channel 01", "type": "public_channel",
                                                    "id": 1500100001, "messages": msgs}, ensure_ascii=False))
    cfg = tmp_path / "npswatch.toml"
    cfg.write_text('data_dir = "data"\n[privacy]\nkey = "k-test-0123456789abcdef0123456789ab"\n'
                   '[telegram]\nocr_languages = ["rus", "eng"]\n')
    runner = CliRunner()
    assert runner.invoke(app, ["--config", str(cfg), "db", "upgrade"]).exit_code == 0
    r = runner.invoke(app, ["--config", str(cfg), "import-telegram", str(folder), "--channel", "synthetic_channel_01"],
                      terminal_width=300)
    assert r.exit_code == 0, r.output
    assert "2 pictures read" in " ".join(r.output.split()), r.output
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'npswatch.db'}")
    got = stored(engine)
    assert sorted(got) == [("synthetic_channel_01", "1"), ("synthetic_channel_01", "2")]
    assert "Мефедрон 1г - 4500 руб" in got[("synthetic_channel_01", "1")].text
    assert (4500.0, "RUB", 1.0, "g") in offers_of(engine, got[("synthetic_channel_01", "1")].id)
    assert got[("synthetic_channel_01", "2")].text.startswith("прайс\n\n" + MARKER)
    assert (90.0, "USD", 2.0, "g") in offers_of(engine, got[("synthetic_channel_01", "2")].id)
    assert len(images_of(engine)) == 2
    # again: nothing new, and no picture is read twice (the file hashes are known)
    r = runner.invoke(app, ["--config", str(cfg), "import-telegram", str(folder), "--channel", "synthetic_channel_01"],
                      terminal_width=300)
    assert r.exit_code == 0 and "0 new posts" in " ".join(r.output.split())
    # the same picture in another channel's export: a repost, and the two channels linked
    shop = tmp_path / "ChatExport_shop"
    shutil.copytree(folder / "photos", shop / "photos")
    (shop / "result.json").write_text(json.dumps({"name": "Synthetic Shop 02", "type": "public_channel",
                                                  "id": 1500100002, "messages": msgs[:1]}))
    r = runner.invoke(app, ["--config", str(cfg), "import-telegram", str(shop), "--channel", "synthetic_shop_02"],
                      terminal_width=300)
    assert r.exit_code == 0 and "1 pictures read" in " ".join(r.output.split()), r.output
    r = runner.invoke(app, ["--config", str(cfg), "telegram", "reposts", "--json"])
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.output.splitlines()]
    assert [(x["src"], x["message_id"], x["first_src"], x["first_message_id"]) for x in rows] == [
        ("synthetic_shop_02", "1", "synthetic_channel_01", "1")]
    r = runner.invoke(app, ["--config", str(cfg), "telegram", "graph", "--gexf", str(tmp_path / "g.gexf")])
    assert r.exit_code == 0 and 'title="shared_images"' in (tmp_path / "g.gexf").read_text()


def test_retention_clears_picture_texts_and_keeps_hashes(engine):
    from datetime import datetime, timezone

    from npswatch.storage.retention import clear_texts, count_texts

    old, new = datetime(2025, 1, 1, tzinfo=timezone.utc), datetime(2026, 12, 1, tzinfo=timezone.utc)
    with engine.begin() as c:
        record_images(c, [ImageRow("synthetic_channel_01", "1", 0, 11, None, "Мефедрон 1г", seen_at=old),
                          ImageRow("synthetic_channel_01", "2", 0, 1 << 40, None, "Гашиш 2г", seen_at=new)])
    cut = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert count_texts(engine, cut).pictures == 1
    assert clear_texts(engine, cut).pictures == 1
    assert [(r["message_id"], r["text"], r["phash"]) for r in images_of(engine)] == [("1", None, 11),
                                                                                     ("2", "Гашиш 2г", 1 << 40)]
