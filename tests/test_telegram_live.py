"""The live listener: a real Telethon client (connect, update loop, message box, event builders) whose
sender is the offline network; new, edited, deleted, forwarded, captioned and group messages end up
stored correctly."""
from __future__ import annotations

import asyncio

from sqlalchemy import select
from telethon import events, types

from npswatch.crawlers.telegram.collector import TelegramCollector
from npswatch.storage import models as m
from npswatch.storage.tables_telegram import ChannelLink
from npswatch.storage.writer import PostWriter

from offline_telegram import logged_in, telegram_config, until

P, S, V = m.Post.__table__, m.Source.__table__, m.PostVersion.__table__


async def logged_in_client(tmp_path):
    return await logged_in(telegram_config(tmp_path))


def stored(engine):
    q = select(S.c.key, P.c.external_id, P.c.text, P.c.author, P.c.url, P.c.version, P.c.deleted_at,
               P.c.edited_at, P.c.extra).join(S, S.c.id == P.c.source_id)
    with engine.connect() as c:
        return {(r.key, int(r.external_id)): r for r in c.execute(q)}


def test_new_edited_deleted_forwarded_messages_are_stored(engine, pseudonymiser, net, tmp_path):
    ch = net.add_channel("synthetic_channel_01", "Synthetic Channel 01")
    shop = net.add_channel("synthetic_shop_02", "Synthetic Shop 02", participants=1234)
    grp = net.add_channel("synthetic_group_03", "Synthetic Group 03", megagroup=True)
    buyer = net.add_user("synthetic_buyer_01", "Synthetic Buyer")
    net.publish(ch, "history before the listener started")

    async def scenario():
        client = await logged_in_client(tmp_path)
        col = TelegramCollector(client, engine, PostWriter(engine, pseudonymiser, None), pseudonymiser,
                                flush_seconds=0.05)
        stop = asyncio.Event()
        task = asyncio.create_task(col.listen(lambda: ["synthetic_channel_01", "synthetic_group_03"], stop,
                                              reconcile_every=3600))
        await until(lambda: col.reconciles == 1, "the first reconcile")
        # from here on, only the live update stream can deliver (no reconcile for an hour)
        net.publish(ch, "синтетический товар A, 1г")                                     # 2
        net.publish(ch, "подпись к фото", media=True)                                    # 3
        net.publish(ch, "", media=True)                                                  # 4: no text, no post
        net.publish(ch, "переслано", fwd_channel=shop, fwd_post=7)                       # 5
        net.publish(ch, "от человека", fwd_user=buyer)                                   # 6
        net.publish(ch, "витрина https://t.me/synthetic_shop_05 и t.me/joinchat/AAAA",   # 7, and a hidden link
                    entities=[types.MessageEntityTextUrl(offset=0, length=7, url="https://t.me/synthetic_shop_06")])
        net.publish(grp, "вопрос, звоните +7 700 000 00 02", from_user=buyer)            # group 1
        net.publish(shop, "a channel nobody watches")                                    # ignored
        await until(lambda: len(stored(engine)) == 7, "7 posts")
        net.edit(ch, 2, "синтетический товар A, 1г — цена изменена")
        net.delete(ch, [3])
        await until(lambda: stored(engine)[("synthetic_channel_01", 3)].deleted_at is not None
                    and stored(engine)[("synthetic_channel_01", 2)].version == 2, "the edit and the deletion")
        stop.set()
        await task
        await client.disconnect()
        return col

    col = asyncio.run(scenario())
    got = stored(engine)
    assert sorted(got) == [("synthetic_channel_01", i) for i in (1, 2, 3, 5, 6, 7)] + [("synthetic_group_03", 1)]
    assert col.totals.inserted == 7 and col.totals.updated == 1 and col.deleted == 1

    edited = got[("synthetic_channel_01", 2)]
    assert edited.text.endswith("цена изменена") and edited.edited_at is not None
    with engine.connect() as c:
        old = c.execute(select(V.c.version, V.c.text)).all()
    assert old == [(1, "синтетический товар A, 1г")]

    deleted = got[("synthetic_channel_01", 3)]
    assert deleted.deleted_at is not None and deleted.text == "подпись к фото"  # marked, never removed
    assert deleted.extra["media"] == "photo"
    assert not net.calls("GetFileRequest")  # media is never downloaded

    fwd = got[("synthetic_channel_01", 5)].extra["forward"]
    assert fwd["channel"] == pseudonymiser.handle("synthetic_shop_02") and fwd["channel_id"] == shop and fwd["message_id"] == 7
    person = got[("synthetic_channel_01", 6)].extra["forward"]
    assert set(person) == {"user", "date"} and person["user"] == pseudonymiser.handle(f"user{buyer}")

    post = got[("synthetic_channel_01", 2)]
    assert post.url == f"https://t.me/{pseudonymiser.handle('synthetic_channel_01')}/2"  # links to people or channels: pseudonyms
    assert post.author == pseudonymiser.handle(f"channel{ch}")  # a broadcast's sender is the channel
    g = got[("synthetic_group_03", 1)]
    assert g.author == pseudonymiser.handle(f"user{buyer}") and "700 000" not in g.text and "tel_" in g.text

    with engine.connect() as c:
        edges = sorted(c.execute(select(ChannelLink.src, ChannelLink.message_id, ChannelLink.dst, ChannelLink.kind)).all())
    assert edges == [("synthetic_channel_01", 5, "synthetic_shop_02", "forward"),
                     ("synthetic_channel_01", 7, "synthetic_shop_05", "link"),
                     ("synthetic_channel_01", 7, "synthetic_shop_06", "link")]


def test_telethon_event_builders_accept_the_offline_updates():
    """The updates the offline network pushes are ones Telethon's own builders turn into events."""
    msg = types.Message(id=9, peer_id=types.PeerChannel(1500000001), date=None, message="synthetic",
                        fwd_from=types.MessageFwdHeader(date=None, from_id=types.PeerChannel(1500000002), channel_post=3))
    new = events.NewMessage.build(types.UpdateNewChannelMessage(message=msg, pts=2, pts_count=1))
    edit = events.MessageEdited.build(types.UpdateEditChannelMessage(message=msg, pts=3, pts_count=1))
    gone = events.MessageDeleted.build(types.UpdateDeleteChannelMessages(channel_id=1500000001, messages=[9], pts=4,
                                                                         pts_count=1))
    assert new.message.id == 9 and new.chat_id == -1001500000001 and new.message.fwd_from.channel_post == 3
    assert isinstance(edit, events.MessageEdited.Event) and edit.message.message == "synthetic"
    assert gone.deleted_ids == [9] and gone.chat_id == -1001500000001


def test_unwatched_and_unjoined_channels(engine, pseudonymiser, net, tmp_path):
    """Joining is what makes Telegram push a channel's updates; with join = false only reconciles collect."""
    ch = net.add_channel("synthetic_channel_01", "Synthetic Channel 01")

    async def scenario():
        client = await logged_in_client(tmp_path)
        col = TelegramCollector(client, engine, PostWriter(engine, pseudonymiser, None), pseudonymiser,
                                flush_seconds=0.05, join=False)
        stop = asyncio.Event()
        task = asyncio.create_task(col.listen(lambda: ["synthetic_channel_01"], stop, reconcile_every=0.3))
        await until(lambda: col.reconciles == 1, "the first reconcile")
        net.publish(ch, "only a reconcile can see this")
        await until(lambda: len(stored(engine)) == 1, "the periodic reconcile")
        stop.set()
        await task
        await client.disconnect()

    asyncio.run(scenario())
    assert not net.calls("JoinChannelRequest")
