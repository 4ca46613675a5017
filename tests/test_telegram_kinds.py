"""Everything a shop posts counts: polls, venues and locations (as a city only), contact cards (pseudonymised)
and posts sent through a bot (the bot goes to discovery), read live, from history and from Telegram Desktop
exports. Real Telethon media objects through the offline network; coordinates are never stored."""
from __future__ import annotations

import asyncio
import gzip
import json
import runpy
from pathlib import Path

from sqlalchemy import select, text
from telethon import types
from typer.testing import CliRunner

from npswatch.cli.app import app
from npswatch.crawlers.telegram.collector import TelegramCollector
from npswatch.storage import models as m
from npswatch.storage import telegram_store as store
from npswatch.storage.db import make_engine
from npswatch.storage.writer import PostWriter
from npswatch.watch import Watch

from offline_telegram import logged_in, telegram_config, until

ROOT = Path(__file__).resolve().parent.parent
P, S, O, R, MEN = (m.Post.__table__, m.Source.__table__, m.Offer.__table__, m.Region.__table__,
                   m.Mention.__table__)
runner = CliRunner()
CH = "synthetic_kinds_01"
PHONE = "77000000017"  # a synthetic Kazakh mobile number, as Telegram sends it (no "+")
ALMATY = (43.2567, 76.9286)  # a point in Almaty (KZ), geonameid 1526384
BISHKEK_DROP = (42.8702, 74.6012)  # a point in Bishkek (KG), geonameid 1528675


def _poll() -> types.MessageMediaPoll:
    def answer(t: str, o: bytes):
        return types.PollAnswer(text=types.TextWithEntities(t, []), option=o)

    poll = types.Poll(id=1, question=types.TextWithEntities("Что завезти на следующей неделе?", []), hash=0,
                      answers=[answer("Меф кристалл", b"0"), answer("Альфа ПВП", b"1"), answer("Шишки", b"2")])
    results = types.PollResults(results=[types.PollAnswerVoters(b"0", voters=12, recent_voters=[]), types.PollAnswerVoters(b"1", voters=7, recent_voters=[]),
                                         types.PollAnswerVoters(b"2", voters=3, recent_voters=[])], total_voters=22)
    return types.MessageMediaPoll(poll=poll, results=results)


def _geo(lat: float, lon: float) -> types.GeoPoint:
    return types.GeoPoint(long=lon, lat=lat, access_hash=0)


def publish_every_kind(net, bot: int) -> None:
    net.publish_media(CH, _poll())                                                                          # 1
    net.publish_media(CH, types.MessageMediaVenue(geo=_geo(*BISHKEK_DROP), title="Synthetic Drop Point",
                                                  address="ул. Синтетическая 17, Бишкек", provider="foursquare",
                                                  venue_id="synthetic-venue", venue_type=""),
                      "Меф 1г 4500 сом, закладка готова")                                                   # 2
    net.publish_media(CH, types.MessageMediaGeo(geo=_geo(*ALMATY)))                                         # 3
    net.publish_media(CH, types.MessageMediaGeoLive(geo=_geo(0.0, -140.0), period=900))                     # 4: nowhere
    net.publish_media(CH, types.MessageMediaContact(phone_number=PHONE, first_name="Synthetic", last_name="Operator",
                                                    vcard="BEGIN:VCARD\nTEL:+77000000017\nEND:VCARD", user_id=0))  # 5
    net.publish_media(CH, None, "Прайс: меф 1г 4000₽", via_bot=bot)                                         # 6


def stored(engine) -> dict[int, dict]:
    q = select(P.c.external_id, P.c.text, P.c.extra).join(S, S.c.id == P.c.source_id).where(S.c.key == CH)
    with engine.connect() as c:
        return {int(r.external_id): {"text": r.text, "extra": r.extra} for r in c.execute(q)}


def regions_of(engine, mid: int) -> set[str]:
    q = (select(R.c.name).select_from(MEN.join(R, R.c.id == MEN.c.region_id).join(P, P.c.id == MEN.c.post_id))
         .where(P.c.external_id == str(mid)))
    with engine.connect() as c:
        return set(c.execute(q).scalars())


def dump(engine) -> str:
    """Every value of every table, as text: what a leak would show up in."""
    out = []
    with engine.connect() as c:
        for t in m.SQLModel.metadata.sorted_tables:
            out += [repr(tuple(r)) for r in c.execute(t.select())]
    return "\n".join(out)


def assert_kinds_stored(engine, pseudonymiser, bot_name: str) -> None:
    got = stored(engine)
    assert sorted(got) == [1, 2, 3, 4, 5, 6]

    poll = got[1]
    assert poll["text"] == "[poll] Что завезти на следующей неделе?\n- Меф кристалл\n- Альфа ПВП\n- Шишки"
    assert poll["extra"]["poll"] == {"answers": 3, "closed": False, "voters": 22, "votes": [12, 7, 3]}
    assert poll["extra"]["media"] == "poll"

    venue = got[2]
    assert venue["text"] == "Меф 1г 4500 сом, закладка готова\n[location] Bishkek"
    assert venue["extra"]["location"] == {"kind": "venue", "city": 1528675, "name": "Bishkek", "country": "KG",
                                          "from": "address"}
    assert regions_of(engine, 2) == {"Bishkek"}
    assert got[3]["text"] == "[location] Almaty" and got[3]["extra"]["location"]["from"] == "coordinates"
    assert got[4]["text"] == "[location]" and got[4]["extra"]["location"] == {"kind": "live_location"}

    card = got[5]
    assert card["extra"]["contact"] == {"phone": pseudonymiser.phone("+" + PHONE),
                                        "name": pseudonymiser.handle("name:Synthetic Operator")}
    assert card["text"] == f"[contact] {pseudonymiser.phone('+' + PHONE)}"
    # the same number written in another channel's text gets the same pseudonym: shops linked by phone
    assert pseudonymiser.scrub("звоните +7 700 000 00 17") == f"звоните {card['extra']['contact']['phone']}"

    via = got[6]
    assert via["extra"]["via_bot"] == {"username": pseudonymiser.handle(bot_name)}
    queue = {d["key"]: d for d in store.discovered(engine)}
    assert bot_name in queue and queue[bot_name]["username"] == bot_name

    with engine.connect() as c:
        offers = c.execute(select(P.c.external_id, O.c.price, O.c.currency).join(P, P.c.id == O.c.post_id)
                           .order_by(P.c.external_id)).all()
    assert ("2", 4500.0, "KGS") in offers and ("6", 4000.0, "RUB") in offers

    everything = dump(engine)
    for secret in ("43.25", "76.92", "42.87", "74.60", "Синтетическая", "Synthetic Drop Point", PHONE,
                   "700 000", "Operator", "VCARD"):
        assert secret not in everything, f"{secret!r} was stored"


def test_history_reads_every_kind(net, tmp_path, engine, pseudonymiser):
    net.add_channel(CH, "Synthetic Kinds 01")
    bot = net.add_user("synthetic_shop_bot", "Synthetic Shop Bot")
    publish_every_kind(net, bot)
    cfg = telegram_config(tmp_path, [CH], telegram="initial_days = 0\n")

    async def run():
        client = await logged_in(cfg)
        col = TelegramCollector(client, engine, PostWriter(engine, pseudonymiser, Watch(cfg).extractor().for_storage),
                                pseudonymiser, initial_days=0)
        [ref] = await col.resolve([CH])
        await col.backfill(ref)
        await col.batch.close()
        await client.disconnect()

    asyncio.run(run())
    assert_kinds_stored(engine, pseudonymiser, "synthetic_shop_bot")


def test_the_listener_reads_every_kind_live(net, tmp_path, engine, pseudonymiser):
    net.add_channel(CH, "Synthetic Kinds 01")
    bot = net.add_user("synthetic_shop_bot", "Synthetic Shop Bot")
    cfg = telegram_config(tmp_path, [CH])

    async def scenario():
        client = await logged_in(cfg)
        col = TelegramCollector(client, engine, PostWriter(engine, pseudonymiser, Watch(cfg).extractor().for_storage),
                                pseudonymiser, flush_seconds=0.05)
        stop = asyncio.Event()
        task = asyncio.create_task(col.listen(lambda: [CH], stop, reconcile_every=3600))
        await until(lambda: col.reconciles == 1, "the first reconcile")
        publish_every_kind(net, bot)  # only the live stream can deliver these (no reconcile for an hour)
        await until(lambda: len(stored(engine)) == 6, "6 posts")
        stop.set()
        await task
        await client.disconnect()

    asyncio.run(scenario())
    assert_kinds_stored(engine, pseudonymiser, "synthetic_shop_bot")


def export_of_every_kind() -> dict:
    base = {"type": "message", "from": "Synthetic Kinds 01", "from_id": "channel1500007919"}

    def msg(i: int, **kw) -> dict:
        return {"id": i, "date": "2026-11-30T12:00:00", "date_unixtime": str(1796040000 + i), **base, "text": "", **kw}

    return {"name": "Synthetic Kinds 01", "type": "public_channel", "id": 1500007919, "messages": [
        msg(1, poll={"question": "Что завезти на следующей неделе?", "closed": False, "total_voters": 22, "answers": [
            {"text": "Меф кристалл", "voters": 12, "chosen": False}, {"text": "Альфа ПВП", "voters": 7, "chosen": False},
            {"text": "Шишки", "voters": 3, "chosen": False}]}),
        msg(2, place_name="Synthetic Drop Point", address="ул. Синтетическая 17, Бишкек",
            location_information={"latitude": BISHKEK_DROP[0], "longitude": BISHKEK_DROP[1]},
            text="Меф 1г 4500 сом, закладка готова"),
        msg(3, location_information={"latitude": ALMATY[0], "longitude": ALMATY[1]}),
        msg(4, location_information={"latitude": 0.0, "longitude": -140.0}, live_location_period_seconds=900),
        msg(5, contact_information={"first_name": "Synthetic", "last_name": "Operator", "phone_number": "+7 700 000 0017"},
            contact_vcard="contacts/contact_1.vcard"),
        msg(6, via_bot="@synthetic_shop_bot", text="Прайс: меф 1г 4000₽"),
    ]}


def test_an_export_gives_the_same_rows_as_the_listener(tmp_path):
    cfg = telegram_config(tmp_path)
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "result.json").write_text(json.dumps(export_of_every_kind(), ensure_ascii=False))
    assert runner.invoke(app, ["--config", str(cfg), "db", "upgrade"]).exit_code == 0
    res = runner.invoke(app, ["--config", str(cfg), "import-telegram", str(tmp_path / "export"), "--channel", CH])
    assert res.exit_code == 0, res.output
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'npswatch.db'}")
    try:
        assert_kinds_stored(engine, Watch(cfg).pseudonymiser, "synthetic_shop_bot")
    finally:
        engine.dispose()


def test_city_points_file_is_what_the_tool_builds():
    build = runpy.run_path(str(ROOT / "tools" / "build_city_points.py"))["build"]
    committed = gzip.decompress((ROOT / "pipelines" / "data" / "city_points.tsv.gz").read_bytes())
    assert gzip.decompress(build()) == committed, \
        "pipelines/data/city_points.tsv.gz is stale: rerun tools/build_city_points.py and commit it"


def test_a_bad_coordinate_or_field_keeps_the_message(tmp_path):
    cfg = telegram_config(tmp_path)
    data = {"name": "Synthetic Kinds 01", "type": "public_channel", "id": 1500007919, "messages": [
        {"id": 1, "type": "message", "date_unixtime": "1796040001", "date": "2026-11-30T12:00:01", "text": "",
         "location_information": {"latitude": "north", "longitude": 999}},
        {"id": 2, "type": "message", "date_unixtime": "1796040002", "date": "2026-11-30T12:00:02", "text": "",
         "poll": {"question": "Синтетический вопрос", "answers": "not a list"}},
        {"id": 3, "type": "message", "date_unixtime": "1796040003", "date": "2026-11-30T12:00:03", "text": "x",
         "contact_information": "not an object", "via_bot": 42}]}
    path = tmp_path / "result.json"
    path.write_text(json.dumps(data))
    assert runner.invoke(app, ["--config", str(cfg), "db", "upgrade"]).exit_code == 0
    res = runner.invoke(app, ["--config", str(cfg), "import-telegram", str(path), "--channel", CH])
    assert res.exit_code == 0, res.output
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'npswatch.db'}")
    try:
        got = stored(engine)
        with engine.connect() as c:
            assert c.execute(text("select count(*) from post")).scalar() == 3
    finally:
        engine.dispose()
    assert got[1]["text"] == "[location]" and got[2]["text"] == "[poll] Синтетический вопрос" and got[3]["text"] == "x"
