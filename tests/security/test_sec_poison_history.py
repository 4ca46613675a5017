"""Poison rows in historic listing snapshots (`npswatch import-listings`): one row of a JSON Lines history with
hostile values in any column (control characters, NUL, lone surrogates, numbers beyond any price or stock,
impossible times, nested values) never aborts its batch. It is stored made safe or reported and skipped; every
other row of the file is stored, extracted and observed. Hypothesis feeds the hostile values, on SQLite."""
from __future__ import annotations

import json

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from npswatch import Watch
from npswatch.crawlers.fixture_market.history import COLUMNS, History, HistorySpec

HISTORY = History(HistorySpec(listings=3, snapshots=3, seed=13, gaps=0, vanished=0, returning=0, late=0))
ROWS = list(HISTORY.rows())

HOSTILE_TEXT = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=40)
HOSTILE = st.one_of(st.none(), st.booleans(), HOSTILE_TEXT, st.integers(min_value=-(10**400), max_value=10**400),
                    st.floats(allow_nan=True, allow_infinity=True), st.lists(HOSTILE_TEXT, max_size=3),
                    st.dictionaries(HOSTILE_TEXT, HOSTILE_TEXT, max_size=2),
                    st.sampled_from(["9" * 5000, "\x00", "0001-01-01 00:00", "9999-12-31 23:59", "NaN", "1e309"]))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(fields=st.dictionaries(st.sampled_from(COLUMNS), HOSTILE, max_size=5))
@example(fields={"stock": "9" * 5000, "price": 10**400, "weight": float("nan")})
@example(fields={"scraped_at": "0001-01-01 00:00", "title": "\ud800\x00"})
def test_a_hostile_history_row_never_aborts_its_batch(tmp_path_factory, fields):
    tmp = tmp_path_factory.mktemp("history")
    hostile = {**ROWS[0], "listing": "L-hostile", **fields}
    lines = [json.dumps(r, ensure_ascii=False) for r in ROWS]
    data = tmp / "history.jsonl"
    data.write_text("\n".join([*lines[:2], json.dumps(hostile, ensure_ascii=True), *lines[2:]]) + "\n",
                    encoding="utf-8")
    mapping = tmp / "map.toml"
    mapping.write_text(HISTORY.mapping(), encoding="utf-8")
    w = Watch(settings={"data_dir": str(tmp / "data")})
    w.upgrade()
    r = w.import_listings(data, mapping, batch_size=2)  # never raises
    assert r.bad_rows <= 1, r.bad
    assert r.observed.observed == len(ROWS) + (r.bad_rows == 0), (r.bad, r.observed)  # every good row observed
    w.engine.dispose()
