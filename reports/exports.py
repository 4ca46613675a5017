"""Exports of offers, mentions and posts as CSV, Parquet or JSON Lines, row by row or aggregated.

Row exports carry no raw handle: authors are the stored pseudonyms, texts are the stored (pseudonymised)
texts, links are scrubbed again on the way out (a stored URL can hold a channel or user name, e.g.
`t.me/<name>/123`) and Telegram sources are named by their pseudonym.

`aggregate=True` writes only city x period x substance cells with at least `min_cell` observations (offers
for `offers`, posts for `mentions`), with counts and median prices: a table fit for publication, in which
no cell can point at a single post.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine, and_, exists, func, select

from npswatch.pipelines.privacy import Pseudonymiser

from .scope import Filters, as_datetime, resolve, where
from .trends import cells
from npswatch.storage.tables import T_MENTION, T_OFFER, T_POST, T_REGION, T_SOURCE, T_SUBSTANCE


WHATS = ("offers", "mentions", "posts")
FORMATS = ("csv", "parquet", "jsonl")
_BATCH = 5000

AGG_COLUMNS = ["period", "country", "city", "geonameid", "substance", "class", "observations", "offers", "currency",
               "median_price_per_gram", "q1_price_per_gram", "q3_price_per_gram", "usd_offers",
               "median_price_per_gram_usd", "mentions"]


class ExportError(ValueError):
    """An export that cannot be written; the message says why."""


# Source kinds whose key is a Telegram chat (listened to, or imported from an export): pseudonymised in exports.
_CHANNEL_KINDS = frozenset({"telegram", "export"})


def _rows(engine: Engine, what: str, filters: Filters, ps: Pseudonymiser) -> tuple[list[str], Iterator[dict]]:
    scope = resolve(engine, filters)
    O, Me, P, S, R, Sub = T_OFFER, T_MENTION, T_POST, T_SOURCE, T_REGION, T_SUBSTANCE
    substance = func.coalesce(Sub.c.canonical, Sub.c.key).label("substance")
    place = [R.c.name.label("city"), R.c.geonameid, R.c.country, R.c.level.label("region_level")]
    source = [S.c.key.label("source"), S.c.kind.label("source_kind")]
    if what == "offers":
        q = (select(O.c.id, O.c.observed_at, substance, Sub.c["class"], O.c.quantity, O.c.unit, O.c.grams, O.c.price,
                    O.c.currency, O.c.price_per_gram, O.c.price_per_gram_usd, *place, *source, O.c.post_id, P.c.url)
             .select_from(O.join(Sub, Sub.c.id == O.c.substance_id).outerjoin(R, R.c.id == O.c.region_id)
                          .join(P, P.c.id == O.c.post_id).join(S, S.c.id == P.c.source_id))
             .where(*where(O, scope)).order_by(O.c.observed_at, O.c.id))
    elif what == "mentions":
        q = (select(Me.c.id, Me.c.observed_at, substance, Sub.c["class"], Me.c.matched, *place, *source, Me.c.post_id,
                    P.c.url)
             .select_from(Me.join(Sub, Sub.c.id == Me.c.substance_id).outerjoin(R, R.c.id == Me.c.region_id)
                          .join(P, P.c.id == Me.c.post_id).join(S, S.c.id == P.c.source_id))
             .where(*where(Me, scope)).order_by(Me.c.observed_at, Me.c.id))
    else:
        conds = []
        if scope.substance_ids is not None or scope.region_ids is not None:
            sub = [Me.c.post_id == P.c.id]
            if scope.substance_ids is not None:
                sub.append(Me.c.substance_id.in_(scope.substance_ids))
            if scope.region_ids is not None:
                sub.append(Me.c.region_id.in_(scope.region_ids))
            conds.append(exists(select(Me.c.id).where(and_(*sub))))
        if scope.since is not None:
            conds.append(P.c.posted_at >= scope.since)
        if scope.until is not None:
            conds.append(P.c.posted_at < scope.until)
        q = (select(P.c.id, P.c.posted_at, P.c.collected_at, *source, P.c.author, P.c.version, P.c.text, P.c.url,
                    P.c.deleted_at)
             .select_from(P.join(S, S.c.id == P.c.source_id)).where(*conds).order_by(P.c.posted_at, P.c.id))
    columns = [c.name for c in q.selected_columns]

    def gen() -> Iterator[dict]:
        with engine.connect() as c:
            result = c.execution_options(stream_results=True, yield_per=_BATCH).execute(q)
            for row in result.mappings():
                d = dict(row)
                for k in ("observed_at", "posted_at", "collected_at", "deleted_at"):
                    if d.get(k) is not None:
                        d[k] = as_datetime(d[k])
                if d.get("url"):
                    d["url"] = ps.scrub(d["url"])
                if d.get("source_kind") in _CHANNEL_KINDS:  # a chat's key may be a person's username
                    d["source"] = ps.handle(d["source"])
                yield d

    return columns, gen()


def records(engine: Engine, what: str, filters: Filters = Filters(), *,
            pseudonymiser: Pseudonymiser) -> tuple[list[str], Iterator[dict]]:
    """The columns and rows (dicts) a row export of `what` writes, to iterate instead of writing them."""
    if what not in WHATS:
        raise ExportError(f"export one of {', '.join(WHATS)}, not {what!r}")
    return _rows(engine, what, filters, pseudonymiser)


def _aggregate(engine: Engine, what: str, filters: Filters, by: str, min_cell: int) -> tuple[list[str], list[dict]]:
    if what == "posts":
        raise ExportError("--aggregate applies to offers and mentions (posts are counted in the mentions cells)")
    with engine.connect() as c:
        regions = {i: (name, gid, cc, level) for i, name, gid, cc, level in c.execute(
            select(T_REGION.c.id, T_REGION.c.name, T_REGION.c.geonameid, T_REGION.c.country, T_REGION.c.level))}
        subs = {i: (name, cls) for i, name, cls in c.execute(
            select(T_SUBSTANCE.c.id, func.coalesce(T_SUBSTANCE.c.canonical, T_SUBSTANCE.c.key),
                   T_SUBSTANCE.c["class"]))}
    out = []
    for (period, (rid, sid)), cell in cells(engine, filters, by, ("city", "substance")).items():
        n = cell["offers"] if what == "offers" else cell["mentions"]
        if n < min_cell:
            continue
        name, gid, cc, level = regions.get(rid, (None, None, None, None))
        out.append({"period": period, "country": cc, "city": name if level == "city" else None,
                    "geonameid": gid if level == "city" else None, "substance": subs[sid][0], "class": subs[sid][1],
                    "observations": n, "offers": cell["offers"], "currency": cell["currency"],
                    "median_price_per_gram": cell["median"], "q1_price_per_gram": cell["q1"],
                    "q3_price_per_gram": cell["q3"], "usd_offers": cell["usd_offers"],
                    "median_price_per_gram_usd": cell["usd_median"], "mentions": cell["mentions"]})
    out.sort(key=lambda r: (r["period"], r["country"] or "", r["city"] or "", r["substance"] or ""))
    return AGG_COLUMNS, out


def export(engine: Engine, what: str, fmt: str, dest: str | Path | IO[str] | None, filters: Filters = Filters(), *,
           pseudonymiser: Pseudonymiser, aggregate: bool = False, min_cell: int = 1, by: str = "week") -> int:
    """Write the export to `dest` (a path, a text stream, or None for stdout); returns the rows written."""
    if what not in WHATS:
        raise ExportError(f"export one of {', '.join(WHATS)}, not {what!r}")
    if fmt not in FORMATS:
        raise ExportError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if fmt == "parquet" and not isinstance(dest, (str, Path)):
        raise ExportError("parquet is binary: give a file with --out")
    if min_cell < 1:
        raise ExportError("--min-cell must be at least 1")
    if aggregate:
        columns, rows = _aggregate(engine, what, filters, by, min_cell)
        it: Any = iter(rows)
    else:
        columns, it = _rows(engine, what, filters, pseudonymiser)
    if fmt == "parquet":
        return _write_parquet(Path(dest), columns, it)
    close = False
    if dest is None:
        import sys

        fh = sys.stdout
    elif isinstance(dest, (str, Path)):
        Path(dest).parent.mkdir(parents=True, exist_ok=True)
        fh, close = open(dest, "w", encoding="utf-8", newline=""), True
    else:
        fh = dest
    try:
        n = 0
        if fmt == "csv":
            w = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
            w.writeheader()
            for row in it:
                w.writerow({k: csv_safe(v) for k, v in _plain(row).items()})
                n += 1
        else:
            for row in it:
                fh.write(json.dumps(_plain(row), ensure_ascii=False) + "\n")
                n += 1
        fh.flush()
        return n
    finally:
        if close:
            fh.close()


def _plain(row: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, (date, datetime)) else v) for k, v in row.items()}


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> Any:
    """A text cell a spreadsheet will not run (OWASP "CSV injection"): text starting with = + - @ tab or CR
    gets a leading apostrophe. Numbers, dates and None pass unchanged, so numeric columns stay numbers.

    >>> [csv_safe(v) for v in ("=1+1", "-5", -5.0, "меф 1г", None)]
    ["'=1+1", "'-5", -5.0, 'меф 1г', None]
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


_INT = {"id", "post_id", "geonameid", "version", "observations", "offers", "usd_offers", "mentions"}
_FLOAT = {"quantity", "grams", "price", "price_per_gram", "price_per_gram_usd", "median_price_per_gram",
          "q1_price_per_gram", "q3_price_per_gram", "median_price_per_gram_usd"}
_TIME = {"observed_at", "posted_at", "collected_at", "deleted_at"}


def _arrow_schema(columns: list[str]):
    import pyarrow as pa

    def typ(c: str):
        if c in _INT:
            return pa.int64()
        if c in _FLOAT:
            return pa.float64()
        if c in _TIME:
            return pa.timestamp("us", tz="UTC")
        if c == "period":
            return pa.date32()
        return pa.string()

    return pa.schema([(c, typ(c)) for c in columns])


def _write_parquet(path: Path, columns: list[str], rows) -> int:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        raise ExportError("parquet needs pyarrow: pip install pyarrow") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    schema = _arrow_schema(columns)
    n, batch = 0, []
    with pq.ParquetWriter(path, schema) as writer:
        for row in rows:
            batch.append({c: row.get(c) for c in columns})
            n += 1
            if len(batch) >= _BATCH:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                batch.clear()
        if batch:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
    return n


def to_text(engine: Engine, what: str, fmt: str, filters: Filters = Filters(), **kw) -> str:
    """The export as a string (csv or jsonl): for tests and small previews."""
    buf = io.StringIO()
    export(engine, what, fmt, buf, filters, **kw)
    return buf.getvalue()


__all__ = ["export", "to_text", "csv_safe", "ExportError", "WHATS", "FORMATS"]
