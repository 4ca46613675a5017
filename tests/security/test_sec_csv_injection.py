"""CSV exports neutralise formula injection (OWASP "CSV injection"): a text cell starting with = + - @ tab or
CR gets a leading apostrophe; numeric columns stay numbers."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

import pytest

from npswatch.pipelines.extract import default_extractor
from npswatch.pipelines.rawpost import RawPost, SourceHints
from npswatch.reports.exports import to_text
from npswatch.storage.db import make_engine, upgrade
from npswatch.storage.writer import PostWriter

EVIL = ["=HYPERLINK(\"http://x.invalid\",\"клик\") меф 1г 4500 руб Москва", "+1+cmd|' /C calc'!A0 меф 1г 4500 руб",
        "-2+3 меф 1г 4500 руб", "@SUM(1+1) меф 1г 4500 руб", "\t=1+1 меф 1г 4500 руб", "\r=1+1 меф 1г 4500 руб"]


@pytest.fixture
def filled(tmp_path, pseudonymiser):
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    x = default_extractor()
    w = PostWriter(engine, pseudonymiser, lambda t, h, d: x.extract(t, posted_at=d, hints=h))
    w.write([RawPost(source="=cmd|' /C calc'!A0", external_id=str(i), text=t, url=f"=HYPERLINK(\"{i}\")",
                     posted_at=datetime(2026, 3, 1, tzinfo=timezone.utc), hints=SourceHints(country="RU"))
             for i, t in enumerate(EVIL)])
    return engine


@pytest.mark.parametrize("what", ["posts", "offers", "mentions"])
def test_no_text_cell_starts_a_formula(filled, pseudonymiser, what):
    rows = list(csv.reader(io.StringIO(to_text(filled, what, "csv", pseudonymiser=pseudonymiser))))
    assert len(rows) > 1
    cells = [c for row in rows[1:] for c in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r") or (c.startswith("-") and not _number(c))]
    if what == "posts":
        texts = [r[rows[0].index("text")] for r in rows[1:]]
        assert sorted(texts) == sorted("'" + pseudonymiser.scrub(t, "RU") for t in EVIL)  # neutralised, kept


def _number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


def test_numeric_columns_stay_numbers(filled, pseudonymiser):
    rows = list(csv.DictReader(io.StringIO(to_text(filled, "offers", "csv", pseudonymiser=pseudonymiser))))
    assert rows and all(float(r["price"]) == 4500 and float(r["quantity"]) == 1 for r in rows)
