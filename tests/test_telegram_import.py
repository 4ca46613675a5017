"""`npswatch import-telegram`: Telegram Desktop exports (single chat and full), every text form, reruns,
malformed and truncated files."""
from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from npswatch.crawlers.telegram.export import TelegramExportError, import_export
from npswatch.cli.app import app
from npswatch.storage import models as m
from npswatch.storage import telegram_store as store
from npswatch.storage.db import make_engine, upgrade
from npswatch.storage.writer import PostWriter

FIXTURES = Path(__file__).parent / "fixtures" / "telegram"
runner = CliRunner()


def posts(engine):
    P, S = m.Post.__table__, m.Source.__table__
    q = select(S.c.key.label("source"), S.c.kind, P.c.external_id, P.c.text, P.c.author, P.c.url, P.c.posted_at,
               P.c.edited_at, P.c.extra).join(S, S.c.id == P.c.source_id)
    with engine.connect() as c:
        return {(r.source, r.external_id): r for r in c.execute(q)}


@pytest.fixture
def sqlite_engine(tmp_path):
    eng = make_engine(f"sqlite:///{tmp_path / 'npswatch.db'}")
    upgrade(eng)
    yield eng
    eng.dispose()


def flat(output: str) -> str:
    return " ".join(output.split())


def extra(row):
    return json.loads(row.extra) if isinstance(row.extra, str) else row.extra


def links(engine):
    with engine.connect() as c:
        return sorted(c.execute(text("SELECT src, message_id, dst, kind FROM channel_link")).all())


def do_import(engine, ps, path, **kw):
    def write_links(lks):
        with engine.begin() as conn:
            return store.record_links(conn, lks)
    return import_export(path, PostWriter(engine, ps, None), write_links,
                         username_of=store.usernames_by_id(engine).get, **kw)


def test_single_chat_export_every_text_form(engine, pseudonymiser):
    r = do_import(engine, pseudonymiser, FIXTURES / "single_chat.json")
    assert (r.chats, r.messages, r.service, r.empty) == (1, 10, 2, 1)
    got = posts(engine)
    key = "c1500100001"  # no username known for this id: the t.me/c/<id> form
    assert sorted(int(i) for s, i in got if s == key) == [2, 3, 4, 6, 7, 9, 10]
    # a string
    assert got[(key, "2")].text.startswith("Синтетика: товар A 1г - 4500")
    assert got[(key, "2")].url == "https://t.me/c/1500100001/2"
    # a list of strings and entity objects, joined; the phone and the handle in it are pseudonymised
    t3 = got[(key, "3")].text
    assert t3.startswith("Прайс обновлён, пишите @u_") and ", витрина здесь" in t3
    assert "synthetic_operator_01" not in t3 and "700 000" not in t3 and "tel_" in t3
    # a list of entity objects only
    assert got[(key, "9")].text == "только сущности#синтетика"
    # a photo's caption counts; a photo without one is not a post; service messages are skipped
    assert extra(got[(key, "4")])["media"] == "photo"
    assert (key, "5") not in got and (key, "1") not in got and (key, "8") not in got
    # dates: date_unixtime is exact; "date" alone is taken as UTC; edited dates kept
    assert got[(key, "2")].posted_at.replace(tzinfo=None) == datetime(2026, 3, 1, 9)
    assert got[(key, "3")].edited_at.replace(tzinfo=None) == datetime(2026, 3, 1, 11)
    assert got[(key, "10")].posted_at.replace(tzinfo=None) == datetime(2026, 3, 4, 15, 30)
    # from_id is the author, pseudonymised exactly as the live listener does it
    assert got[(key, "2")].author == pseudonymiser.handle("channel1500100001")
    # forwarded from a channel keeps the origin; from a bare name keeps only a pseudonym
    ex6 = extra(got[(key, "6")])
    # (a channel is a source: its name is readable in the source and discovery tables only)
    assert ex6["forward"]["channel"] == pseudonymiser.handle("c1500100002")
    assert ex6["forward"]["title"] == "Synthetic Shop 02"
    ex7 = extra(got[(key, "7")])
    assert ex7["forward"]["user"].startswith("u_") and "Synthetic Person" not in json.dumps(ex7)
    # t.me links (visible and hidden behind text) and the forward land in the discovery graph
    assert links(engine) == [(key, 2, "synthetic_shop_02", "link"), (key, 3, "synthetic_shop_03", "link"),
                             (key, 6, "c1500100002", "forward")]


def test_full_export_skips_personal_chats_and_reads_left_chats(engine, pseudonymiser):
    store.remember_entity(engine, "synthetic_group_03", 1500100003, "Synthetic Group 03")  # learnt by a listener
    r = do_import(engine, pseudonymiser, FIXTURES / "full_export.json")
    assert r.chats == 3 and r.skipped_chats == ["Synthetic Friend (personal_chat)"]
    got = posts(engine)
    assert sorted(got) == [("c1500100002", "7"), ("c1500100004", "1"), ("synthetic_group_03", "2"),
                           ("synthetic_group_03", "3"), ("synthetic_group_03", "4")]
    assert all("private chat" not in p.text for p in got.values())
    g3 = got[("synthetic_group_03", "3")]
    # the writer pseudonymises t.me links in stored text; the discovery graph keeps the channel
    assert g3.text.startswith("есть, 2г — смотри https://t.me/u_") and "synthetic_channel_01" not in g3.text
    assert g3.url == f"https://t.me/{pseudonymiser.handle('synthetic_group_03')}/3" and g3.author == pseudonymiser.handle("user800000003")
    assert g3.kind == "export"
    assert ("synthetic_group_03", 3, "synthetic_channel_01", "link") in links(engine)
    assert ("synthetic_group_03", 4, "c1500100002", "forward") in links(engine)


def test_rerun_adds_nothing_twice(engine, pseudonymiser):
    first = do_import(engine, pseudonymiser, FIXTURES / "single_chat.json")
    before_posts, before_links = posts(engine), links(engine)
    again = do_import(engine, pseudonymiser, FIXTURES / "single_chat.json")
    assert first.write.inserted == 7 and again.write.inserted == 0 and again.write.unchanged == 7
    assert posts(engine).keys() == before_posts.keys() and links(engine) == before_links
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM post_version")).scalar() == 0


def test_malformed_message_is_reported_with_its_index_and_the_rest_is_stored(engine, pseudonymiser, tmp_path):
    data = json.loads((FIXTURES / "single_chat.json").read_text())
    data["messages"][5]["text"] = 42  # message #5 (id 6)
    bad = tmp_path / "result.json"
    bad.write_text(json.dumps(data, ensure_ascii=False))
    r = do_import(engine, pseudonymiser, bad, batch_size=2)
    assert len(r.skipped) == 1
    assert "message #5 (id 6)" in r.skipped[0] and "`text` is int" in r.skipped[0]
    assert sorted(int(i) for _, i in posts(engine)) == [2, 3, 4, 7, 9, 10]  # everything but it (8 has no text)
    assert do_import(engine, pseudonymiser, bad).write.inserted == 0  # a rerun skips it again, nothing twice
    # fixed file: the message comes in, nothing twice
    data["messages"][5]["text"] = "переслано: синтетический товар C"
    bad.write_text(json.dumps(data, ensure_ascii=False))
    assert do_import(engine, pseudonymiser, bad).write.inserted == 1


def test_truncated_file_keeps_complete_messages_and_names_the_break(engine, pseudonymiser, tmp_path):
    raw = (FIXTURES / "single_chat.json").read_text()
    cut = raw.index('"id": 7')  # cut inside message #6 (id 7)
    path = tmp_path / "result.json"
    path.write_text(raw[:cut + 20])
    with pytest.raises(TelegramExportError, match=r"message #6 not valid JSON"):
        do_import(engine, pseudonymiser, path)
    assert sorted(int(i) for _, i in posts(engine)) == [2, 3, 4, 6]


@pytest.mark.parametrize("content,expected", [
    ("[1, 2]", "not a Telegram Desktop JSON export"),
    ('{"chats": {"list": [{"name": "x", "messages": 5}]}}', "chats.list[0] is not a chat"),
    ('{"name": "x", "type": "public_channel", "id": "abc", "messages": []}', "chat `id` 'abc' is not a number"),
    ("{not json", "not valid JSON"),
])
def test_bad_files_give_one_clear_line(sqlite_engine, pseudonymiser, tmp_path, content, expected):
    path = tmp_path / "result.json"
    path.write_text(content)
    with pytest.raises(TelegramExportError, match=expected.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")
                       .replace(")", r"\)")):
        do_import(sqlite_engine, pseudonymiser, path)


def test_cli_import_names_the_channel_and_reruns_cleanly(tmp_path):
    cfg = tmp_path / "npswatch.toml"
    cfg.write_text('data_dir = "data"\n[privacy]\nkey = "k-test-0123456789abcdef0123456789ab"\n')
    assert runner.invoke(app, ["--config", str(cfg), "db", "upgrade"]).exit_code == 0
    export = tmp_path / "result.json"
    shutil.copy(FIXTURES / "single_chat.json", export)
    args = ["--config", str(cfg), "import-telegram", str(export), "--channel", "@Synthetic_Channel_01", "--no-extract"]
    r = runner.invoke(app, args, terminal_width=300)
    assert r.exit_code == 0, r.output
    assert "10 messages (2 service, 1 without text): 7 new posts" in flat(r.output)
    r = runner.invoke(app, args, terminal_width=300)
    assert "0 new posts, 0 edited, 7 already stored" in flat(r.output)
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'npswatch.db'}")
    got = posts(engine)
    url = got[("synthetic_channel_01", "2")].url
    assert url.startswith("https://t.me/u_") and url.endswith("/2") and "synthetic_channel" not in url
    with engine.connect() as c:
        runs = c.execute(text("SELECT kind, status, items FROM crawl_run")).all()
    assert runs == [("telegram-import", "ok", 10)] * 2
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "x", "type": "public_channel", "id": 5, "messages": [{"id": 1}]}')
    r = runner.invoke(app, ["--config", str(cfg), "import-telegram", str(bad)], terminal_width=300)
    assert r.exit_code == 0 and "Traceback" not in r.output
    assert "message #0 (id 1) has no `date`" in flat(r.stderr) and "1 malformed messages skipped" in flat(r.stderr)


def test_messages_are_read_as_ijson_builds_them():
    """The export reader builds each message from ijson's events itself (issue 15, item 8): the same values as
    ijson's ObjectBuilder (repeated keys: the last one; every scalar type; empty containers), and a message
    nested deeper than the limit is the too-deep marker, the next one read as usual."""
    import io
    import random

    import ijson
    from ijson.common import ObjectBuilder

    from npswatch.crawlers.telegram.export import _MAX_DEPTH, _build, _TooDeep

    def nest(n):  # n containers, one in the other
        x = "leaf"
        for i in range(n):
            x = [x] if i % 2 else {"k": x, "z": 2}
        return x

    rng = random.Random(5)

    def value(d):
        r = rng.random()
        if d and r < 0.3:
            return {rng.choice("abc"): value(d - 1) for _ in range(rng.randint(0, 3))}
        if d and r < 0.6:
            return [value(d - 1) for _ in range(rng.randint(0, 3))]
        return rng.choice([1, -2**62, 2.5, "x", "", None, True, False])

    messages = [value(5) for _ in range(300)] + [nest(_MAX_DEPTH), {"a": nest(_MAX_DEPTH - 1)},
                                                   nest(_MAX_DEPTH + 1), [1, {"a": nest(_MAX_DEPTH)}]]
    messages = [v for v in messages if isinstance(v, (dict, list))]
    raw = json.dumps({"messages": [*messages, {"id": 7}]}).replace('{"a": 1', '{"a": 0, "a": 1').encode()

    def read(build):
        events = ijson.parse(io.BytesIO(raw), use_float=True)
        return [build(e, v, events) for p, e, v in events if p == "messages.item" and e in ("start_map", "start_array")]

    def reference(e, v, events):
        builder, depth = ObjectBuilder(), 1
        builder.event(e, v)
        for _p, e2, v2 in events:
            depth += e2 in ("start_map", "start_array")
            depth -= e2 in ("end_map", "end_array")
            builder.event(e2, v2)
            if depth == 0:
                return builder.value

    ours = read(lambda e, v, events: _build({} if e == "start_map" else [], events))
    theirs = read(reference)
    too_deep = [i for i, v in enumerate(ours) if isinstance(v, _TooDeep)]
    assert too_deep == [len(messages) - 2, len(messages) - 1]
    assert [v for i, v in enumerate(ours) if i not in too_deep] == [v for i, v in enumerate(theirs) if i not in too_deep]
    assert ours[-1] == {"id": 7}
