"""Poison messages in a Telegram export: a lone surrogate, a NUL (PostgreSQL refuses it), a 30-digit
`forwarded_from_id`, a 30-digit message id, JSON nested thousands deep. Each is made storable, dropped or
skipped with a reason; every other message is stored; a rerun does not fail on the same message. Runs on
SQLite and PostgreSQL."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from npswatch.crawlers.telegram.export import import_export
from npswatch.storage import telegram_store as store
from npswatch.storage.db import make_engine, upgrade
from npswatch.storage.writer import PostWriter


@pytest.fixture
def sqlite_engine(tmp_path):
    eng = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(eng)
    yield eng
    eng.dispose()


def _import(engine, ps, path):
    def write_links(lks):
        with engine.begin() as conn:
            return store.record_links(conn, lks)
    return import_export(path, PostWriter(engine, ps, None), write_links, username_of=lambda _i: None)


def _msg(i, txt="синтетический товар 1г 4500", **kw):
    return {"id": i, "type": "message", "date": "2026-03-01T10:00:00", "from_id": "channel1500100001", "text": txt,
            **kw}


def _write(path, messages, deep: int = 0):
    body = json.dumps({"name": "Synthetic", "type": "public_channel", "id": 1500100001, "messages": messages},
                      ensure_ascii=True)
    if deep:  # a message nested `deep` levels (json.dumps itself would refuse to write it)
        body = body.replace('"messages": [', '"messages": [{"id": 99, "text": ' + "[" * deep + "]" * deep + "}, ", 1)
    path.write_text(body, encoding="utf-8")


def _texts(engine):
    with engine.connect() as c:
        return dict(c.execute(text("SELECT external_id, text FROM post")).all())


def test_poison_messages_are_repaired_dropped_or_skipped_and_the_rest_stored(engine, pseudonymiser, tmp_path):
    path = tmp_path / "result.json"
    _write(path, [
        _msg(1),
        _msg(2, "лоне \ud800 суррогат 1г 4500"),  # a lone surrogate: replaced
        _msg(3, "нуль\x00символ 1г 4500"),  # NUL: removed (PostgreSQL would refuse the whole batch)
        _msg(4, forwarded_from="Synthetic Origin", forwarded_from_id="channel" + "9" * 30),  # origin dropped
        _msg(5 * 10**29),  # an id beyond 64 bits: skipped
        _msg(6),
    ], deep=50_000)
    for run in range(2):
        r = _import(engine, pseudonymiser, path)
        assert len(r.skipped) == 2, r.skipped
        assert any("message #0" in s and "nested too deep" in s for s in r.skipped)
        assert any("outside 64 bits" in s for s in r.skipped)
        got = _texts(engine)
        assert sorted(got, key=int) == ["1", "2", "3", "4", "6"]
        assert r.write.inserted == (5 if run == 0 else 0)
    assert got["2"] == "лоне \ufffd суррогат 1г 4500" and got["3"] == "нульсимвол 1г 4500"
    with engine.connect() as c:
        extra = c.execute(text("SELECT extra FROM post WHERE external_id = '4'")).scalar()
    extra = json.loads(extra) if isinstance(extra, str) else extra
    assert "forward" not in extra or "channel_id" not in extra["forward"]


def test_what_only_pythons_json_reads_skips_one_message_not_the_file(sqlite_engine, pseudonymiser, tmp_path):
    """NaN and Infinity (json.dumps writes them, strict JSON and ijson refuse them) and a raw control character
    in a string, in messages far apart: each bad message is skipped with its reason, the others stored."""
    path = tmp_path / "result.json"
    messages = [_msg(i) for i in range(1, 2001)]
    messages[99]["text"] = float("nan")
    messages[999]["id"] = float("inf")
    messages[1499]["text"] = "табуляция\tвнутри 1г 4500"
    body = json.dumps({"name": "S", "type": "public_channel", "id": 5, "messages": messages}, ensure_ascii=False)
    path.write_text(body.replace("\\t", "\t"), encoding="utf-8")  # the tab raw, as a hand-edited file has it
    assert "\t" in path.read_text(encoding="utf-8")
    for run in range(2):
        r = _import(sqlite_engine, pseudonymiser, path)
        assert r.skipped == ["chat S: message #99 (id 100) `text` is null, not a string or a list of strings and "
                             "entity objects", "chat S: message #999 `id` 'None' is not a number"], r.skipped
        got = _texts(sqlite_engine)
        assert len(got) == 1998 and "100" not in got and got["1500"] == "табуляция\tвнутри 1г 4500"
        assert r.write.inserted == (1998 if run == 0 else 0)


HOSTILE_TEXT = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=40)
HOSTILE = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(10**40), max_value=10**40),
                    st.floats(allow_nan=True, allow_infinity=True), HOSTILE_TEXT,
                    st.lists(HOSTILE_TEXT, max_size=3), st.dictionaries(HOSTILE_TEXT, HOSTILE_TEXT, max_size=3))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fields=st.dictionaries(st.sampled_from(["id", "type", "date", "date_unixtime", "edited", "text", "from_id",
                                                "forwarded_from", "forwarded_from_id", "media_type"]),
                              HOSTILE, max_size=6))
@example(fields={"text": float("nan"), "id": float("inf")})  # what json.dumps writes and ijson refuses
@example(fields={"date_unixtime": 6.7e16})  # beyond the C library's years (OSError)
@example(fields={"date": "0001-01-01T00:00:00", "date_unixtime": None})  # year 1 before UTC
def test_hostile_fields_never_abort_the_import(sqlite_engine, pseudonymiser, tmp_path, fields):
    path = tmp_path / "result.json"
    bad = {**_msg(2), **fields}
    body = json.dumps({"name": "S", "type": "public_channel", "id": 5, "messages": [_msg(1), bad, _msg(3)]},
                      ensure_ascii=True, allow_nan=True)
    path.write_text(body, encoding="utf-8")
    r = _import(sqlite_engine, pseudonymiser, path)  # never raises
    assert {"1", "3"} <= set(_texts(sqlite_engine))
    assert len(r.skipped) <= 1
