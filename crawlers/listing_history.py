"""Historic listing snapshots written by other scrapers (CSV or JSON Lines): the mapping and the reader.

A mapping (TOML) says which column holds what: the time stamp and its format, the listing id (one or more
columns), the text columns, price, currency, quantity, unit, stock and city (optionally url, author and the
listing's own publication time), plus the source key to store under and whether each snapshot is complete
(lists every listing of the market, so a listing missing from it has disappeared).

`read_snapshots` reads every file into a `Spool`, a temporary SQLite file (0600, removed afterwards), and
hands the rows back grouped by time stamp, oldest first, in chunks: rows of one time stamp may lie in several
files or anywhere in one, the input need not be sorted, and memory stays flat whatever the size of the files.
Every file is read in full before anything is stored, so an unreadable file or a wrong mapping costs nothing.
A row that cannot be read (no id, no text, a time stamp that is not one) is reported with its file and line
and skipped; the stock is not part of the stored text (a stock change would make every snapshot a new
version of the post), it goes to the observation.

>>> m = Mapping.model_validate({"source": "old-market.test", "complete": True,
...     "time": {"column": "ts", "format": "%d.%m.%Y %H:%M", "timezone": "Asia/Tbilisi"},
...     "columns": {"id": "id", "text": ["title", "desc"], "price": "price", "currency": "cur", "stock": "left"}})
>>> row = listing_row(m, {"ts": "05.03.2020 14:00", "id": "17", "title": "Меф", "desc": "кристалл",
...                       "price": "90", "cur": "USD", "left": "в наличии 5"})
>>> row.at.isoformat(), row.external_id, row.text, row.stock, row.price_label
('2020-03-05T10:00:00+00:00', '17', 'Меф\\nкристалл\\n90 USD', 5, '90 USD')
"""
from __future__ import annotations

import csv
import functools
import json
import os
import sqlite3
import tempfile
import tomllib
from collections.abc import Callable, Iterable, Iterator
import dataclasses
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from npswatch.crawlers.spiders.fields import compose_listing, parse_stock
from npswatch.pipelines.rawpost import RawPost, SourceHints, Structured

if TYPE_CHECKING:
    from npswatch.pipelines.privacy import Pseudonymiser

__all__ = ["Mapping", "HistoryError", "load_mapping", "listing_row", "ListingRow", "Spool", "read_snapshots",
           "check_file", "to_post"]


class HistoryError(ValueError):
    """A problem with the mapping or a file as a whole: one line, nothing stored."""


def _names(v: Any) -> Any:
    return [v] if isinstance(v, str) else v


class TimeColumn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    column: str
    format: str = "iso"  # iso | unix | unix_ms | a strptime pattern ("%d.%m.%Y %H:%M")
    timezone: str = "UTC"  # of times written without an offset

    @field_validator("format")
    @classmethod
    def _format(cls, v: str) -> str:
        if v not in ("iso", "unix", "unix_ms") and "%" not in v:
            raise ValueError("must be iso, unix, unix_ms or a strptime pattern such as '%Y-%m-%d %H:%M'")
        return v

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{v!r} is not a time zone name (e.g. UTC, Asia/Almaty)") from None
        return v


class Columns(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: list[str] = Field(min_length=1)  # several columns: joined with ":" (shop + listing number)
    text: list[str] = Field(min_length=1)  # title, description...: one line each
    price: str | None = None
    currency: str | None = None
    quantity: str | None = None
    unit: str | None = None
    stock: str | None = None
    city: str | None = None
    url: str | None = None
    author: str | None = None  # the vendor: pseudonymised like every author
    posted: str | None = None  # the listing's own publication time, same format as the time stamp

    _list = field_validator("id", "text", mode="before")(lambda v: _names(v))


class Mapping(BaseModel):
    """How a scraper's snapshot files map to listings."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1, max_length=200)  # the source key the listings are stored under
    complete: bool  # does each snapshot list every listing of the market? (only then can one disappear)
    format: Literal["csv", "jsonl"] | None = None  # default: from the file name (.csv, .tsv, else JSON Lines)
    encoding: str = "utf-8-sig"
    delimiter: str = Field(",", min_length=1, max_length=1)
    country: str | None = None  # hints: the market's country, currency, language
    currency: str | None = None
    language: str | None = None
    time: TimeColumn
    columns: Columns

    @functools.cached_property
    def hints(self) -> SourceHints:
        return SourceHints(country=self.country, currency=self.currency, language=self.language)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time.timezone)

    def required(self) -> dict[str, str]:
        """Column -> the mapping key that names it (every mapped column must exist in a file)."""
        out = {self.time.column: "time.column"}
        for key, names in (("id", self.columns.id), ("text", self.columns.text)):
            out.update((n, f"columns.{key}") for n in names)
        for key in ("price", "currency", "quantity", "unit", "stock", "city", "url", "author", "posted"):
            if (name := getattr(self.columns, key)) is not None:
                out.setdefault(name, f"columns.{key}")
        return out

    def file_format(self, path: Path) -> str:
        if self.format:
            return self.format
        return "csv" if path.suffix.lower() in (".csv", ".tsv") else "jsonl"


def load_mapping(path: str | Path) -> Mapping:
    """The mapping in a TOML file; HistoryError with one line naming the file and the key when it is wrong."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise HistoryError(f"mapping {path}: cannot read it ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise HistoryError(f"mapping {path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise HistoryError(f"mapping {path}: not valid TOML ({exc})") from None
    try:
        return Mapping.model_validate(data)
    except ValidationError as exc:
        e = exc.errors()[0]
        where = ".".join(str(p) for p in e["loc"]) or "mapping"
        msg = "is required" if e["type"] == "missing" else (
            "is not a known key (misspelt?)" if e["type"] == "extra_forbidden" else e["msg"].removeprefix("Value error, "))
        raise HistoryError(f"mapping {path}: {where}: {msg}") from None


# -- one row ------------------------------------------------------------------------------------------------------
@dataclass(slots=True)
class ListingRow:
    """One listing in one snapshot, as read (`scrubbed` before it is spooled to disk; the writer scrubs again,
    which changes nothing: scrubbing and pseudonyms are idempotent)."""

    at: datetime  # the snapshot's time stamp, UTC
    external_id: str
    text: str
    price_label: str | None  # "90 USD": the observation's price
    stock: int | None
    structured: dict[str, str | None]  # price, currency, quantity, unit as the file gives them
    url: str | None = None
    author: str | None = None
    posted_at: datetime | None = None


def parse_time(value: Any, fmt: str, zone: ZoneInfo) -> datetime:
    """A time stamp in UTC; ValueError when it is not one in `fmt`."""
    s = "" if value is None else str(value).strip()
    if not s:
        raise ValueError("is empty")
    return _parse_time(s, fmt, zone)


@functools.lru_cache(maxsize=1 << 14)  # a snapshot's time stamp is written on every row of it
def _parse_time(s: str, fmt: str, zone: ZoneInfo) -> datetime:
    try:
        if fmt in ("unix", "unix_ms"):
            at = datetime.fromtimestamp(float(s) / (1000 if fmt == "unix_ms" else 1), timezone.utc)
        elif fmt == "iso":
            at = datetime.fromisoformat(s)
        else:
            at = datetime.strptime(s, fmt)
    except (ValueError, OverflowError, OSError):
        shown = s if len(s) <= 40 else s[:40] + "…"
        raise ValueError(f"{shown!r} is not a time in the format {fmt!r}") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=zone)
    return at.astimezone(timezone.utc)


def _cell(record: dict, name: str | None) -> str | None:
    if name is None:
        return None
    v = record.get(name)
    if v is None and "." in name and name not in record:  # JSON: a nested key, "offer.price"
        v = record
        for part in name.split("."):
            v = v.get(part) if isinstance(v, dict) else None
    if v is None:
        return None
    s = (json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else str(v)).strip()
    return s or None


@functools.lru_cache(maxsize=1 << 13)  # a listing's fields repeat from snapshot to snapshot
def _compose(title: str, text: str | None, price: str | None, currency: str | None, quantity: str | None,
             unit: str | None, city: str | None) -> str:
    return compose_listing({"title": title, "text": text, "price": price, "currency": currency,
                            "quantity": quantity, "unit": unit, "city": city})


def listing_row(m: Mapping, record: dict) -> ListingRow:
    """The listing a record describes; ValueError saying why when it cannot be one."""
    c = m.columns
    try:
        at = parse_time(_cell(record, m.time.column), m.time.format, m.zone)
    except ValueError as exc:
        raise ValueError(f"time ({m.time.column}) {exc}") from None
    ids = [_cell(record, n) for n in c.id]
    if not all(ids):
        raise ValueError(f"listing id ({', '.join(c.id)}) is empty")
    external_id = ":".join(ids)  # type: ignore[arg-type]
    if len(external_id) > 200:
        raise ValueError("listing id is longer than 200 characters")
    texts = [t for n in c.text if (t := _cell(record, n))]
    if not texts:
        raise ValueError(f"text ({', '.join(c.text)}) is empty")
    fields = {k: _cell(record, getattr(c, k)) for k in ("price", "currency", "quantity", "unit", "city")}
    text = _compose(texts[0], "\n".join(texts[1:]) or None, *fields.values())
    label = " ".join(v for v in (fields["price"], fields["currency"]) if v) if fields["price"] else None
    posted = None
    if c.posted and (raw := _cell(record, c.posted)):
        try:
            posted = parse_time(raw, m.time.format, m.zone)
        except ValueError as exc:
            raise ValueError(f"posted ({c.posted}) {exc}") from None
    return ListingRow(at, external_id, text, label, parse_stock(_cell(record, c.stock)),
                      {k: fields[k] for k in ("price", "currency", "quantity", "unit")},
                      _cell(record, c.url), _cell(record, c.author), posted)


def scrubbed(row: ListingRow, ps: "Pseudonymiser", region: str | None = None) -> ListingRow:
    """The row with every identifier of a person pseudonymised, as the writer would: what may touch the disk."""
    def scrub(v: str | None) -> str | None:
        return ps.scrub(v, region) if v else v

    return dataclasses.replace(row, text=scrub(row.text), price_label=scrub(row.price_label), url=scrub(row.url),
                               author=ps.handle(row.author),
                               structured={k: scrub(v) for k, v in row.structured.items()})


def to_post(m: Mapping, row: ListingRow, first_seen: datetime | None = None) -> RawPost:
    """The RawPost of a row, as the spider makes one of a listing: the text, its structured fields, and the
    price label and stock in `extra` (what `ListingTracker.observe` records). InvalidPost when it is not one."""
    return RawPost(source=m.source, external_id=row.external_id, text=row.text, url=row.url, author=row.author,
                   posted_at=row.posted_at, collected_at=first_seen or row.at, hints=m.hints,
                   extra={"stock": row.stock, **({"price": row.price_label} if row.price_label else {})},
                   structured=Structured(**row.structured))


# -- files --------------------------------------------------------------------------------------------------------
@dataclass(slots=True)
class _Line:
    number: int  # the line (CSV: the row's first line) in the file
    record: dict | None
    error: str | None


class _Counted:
    """The lines of a binary file, decoded, counting the bytes read (for a progress bar)."""

    def __init__(self, path: Path, encoding: str) -> None:
        self.path, self.encoding, self.bytes, self.number = path, encoding, 0, 0
        try:
            self._fh = open(path, "rb")
        except OSError as exc:
            raise HistoryError(f"{path}: cannot read it ({exc.strerror or exc})") from None
        head = self._fh.read(8192)
        self._fh.seek(0)
        if b"\x00" in head and "16" not in encoding and "32" not in encoding:
            self._fh.close()
            raise HistoryError(f"{path}: a binary file, not CSV or JSON Lines text")

    def __iter__(self) -> Iterator[str]:
        first = True
        for raw in self._fh:
            self.bytes += len(raw)
            self.number += 1
            try:
                line = raw.decode(self.encoding)
            except UnicodeDecodeError:
                raise HistoryError(f"{self.path}: line {self.number} is not {self.encoding} text (set `encoding` "
                                   "in the mapping); nothing was stored") from None
            except LookupError:
                raise HistoryError(f"mapping: encoding {self.encoding!r} is not a known encoding") from None
            if first:
                line, first = line.removeprefix("\ufeff"), False
            yield line

    def close(self) -> None:
        self._fh.close()


def _csv_lines(src: _Counted, m: Mapping) -> Iterator[_Line]:
    reader = csv.reader(iter(src), delimiter=m.delimiter)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise HistoryError(f"{src.path}: the header line is not CSV ({exc})") from None
    header = [h.strip() for h in header]
    missing = [(col, key) for col, key in m.required().items() if col not in header]
    if missing:
        col, key = missing[0]
        raise HistoryError(f"{src.path}: no column {col!r} (the mapping's {key}); the file's columns are "
                           + ", ".join(repr(h) for h in header[:20]) + (" ..." if len(header) > 20 else ""))
    width = len(header)
    while True:
        start = src.number + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield _Line(start, None, f"is not CSV ({exc})")
            continue
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue
        if len(cells) != width:
            yield _Line(start, None, f"has {len(cells)} cells, the header {width}")
            continue
        yield _Line(start, dict(zip(header, cells)), None)


def _jsonl_lines(src: _Counted, m: Mapping) -> Iterator[_Line]:
    checked = False
    for line in src:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:
            yield _Line(src.number, None, f"is not JSON ({exc.msg if hasattr(exc, 'msg') else 'nested too deep'})")
            continue
        if not isinstance(record, dict):
            yield _Line(src.number, None, "is not a JSON object")
            continue
        if not checked:  # the first object names the keys the mapping expects, or the mapping is wrong
            checked = True
            missing = [(col, key) for col, key in m.required().items() if _absent(record, col)
                       and key in ("time.column", "columns.id", "columns.text")]
            if missing:
                col, key = missing[0]
                raise HistoryError(f"{src.path}: line {src.number} has no key {col!r} (the mapping's {key}); it has "
                                   + ", ".join(repr(k) for k in list(record)[:20]))
        yield _Line(src.number, record, None)


def _absent(record: dict, name: str) -> bool:
    if name in record:
        return False
    v: Any = record
    for part in name.split("."):
        if not isinstance(v, dict) or part not in v:
            return True
        v = v[part]
    return False


def _lines(path: Path, m: Mapping) -> tuple[_Counted, Iterator[_Line]]:
    src = _Counted(path, m.encoding)
    return src, (_csv_lines if m.file_format(path) == "csv" else _jsonl_lines)(src, m)


def check_file(path: Path, m: Mapping) -> None:
    """Read a file's header and first row: HistoryError when the mapping does not fit it (a missing column, a
    time stamp in another format), before anything is read in full."""
    src, lines = _lines(Path(path), m)
    try:
        for line in lines:
            if line.record is None:
                continue
            try:
                parse_time(_cell(line.record, m.time.column), m.time.format, m.zone)
            except ValueError as exc:
                raise HistoryError(f"{path}: line {line.number}: time ({m.time.column}) {exc} (the mapping's "
                                   "time.format)") from None
            return
    finally:
        src.close()


# -- the spool ----------------------------------------------------------------------------------------------------
class Spool:
    """Rows on disk, handed back in time order: a temporary SQLite file (0600), removed by `close`. With
    `scrub`, every row passes it before it is written (nothing raw on disk, even after a kill -9)."""

    def __init__(self, directory: Path | None = None,
                 scrub: Callable[[ListingRow], ListingRow] | None = None) -> None:
        self._scrub = scrub
        fd, name = tempfile.mkstemp(prefix="npswatch-history-", suffix=".sqlite", dir=directory)
        os.close(fd)
        self.path = Path(name)
        self._db = sqlite3.connect(name)
        self._db.execute("pragma journal_mode = off")
        self._db.execute("pragma synchronous = off")
        self._db.execute("create table r (seq integer primary key, at real not null, row text not null)")
        self._buf: list[tuple[float, str]] = []
        self.rows = 0
        self._last = float("-inf")
        self.in_order = True

    def add(self, row: ListingRow) -> None:
        if self._scrub is not None:
            row = self._scrub(row)
        ts = row.at.timestamp()
        if ts < self._last:
            self.in_order = False
        self._last = max(ts, self._last)
        self._buf.append((ts, json.dumps([row.external_id, row.text, row.price_label, row.stock, row.structured,
                                          row.url, row.author, row.posted_at.isoformat() if row.posted_at else None],
                                         ensure_ascii=False)))
        self.rows += 1
        if len(self._buf) >= 5000:
            self._flush()

    def _flush(self) -> None:
        if self._buf:
            self._db.executemany("insert into r (at, row) values (?, ?)", self._buf)
            self._buf.clear()

    def chunks(self, size: int = 500) -> Iterator[tuple[datetime, list[ListingRow], bool]]:
        """(time stamp, up to `size` rows of it, whether they end its snapshot), oldest first."""
        self._flush()
        self._db.commit()
        order = "seq" if self.in_order else "at, seq"
        cur = self._db.execute(f"select at, row from r order by {order}")  # noqa: S608 - fixed words
        chunk: list[ListingRow] = []
        current: float | None = None
        while batch := cur.fetchmany(2000):
            for ts, payload in batch:
                if current is not None and ts != current:
                    yield _utc(current), chunk, True
                    chunk = []
                elif len(chunk) >= size:
                    yield _utc(current), chunk, False  # type: ignore[arg-type]
                    chunk = []
                current = ts
                ext, text, label, stock, structured, url, author, posted = json.loads(payload)
                chunk.append(ListingRow(_utc(ts), ext, text, label, stock, structured, url, author,
                                        datetime.fromisoformat(posted) if posted else None))
        if chunk:
            yield _utc(current), chunk, True  # type: ignore[arg-type]

    def close(self) -> None:
        self._db.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> "Spool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)


def read_snapshots(files: Iterable[Path], m: Mapping, spool: Spool, bad: Callable[[str], None],
                   progress: Callable[[int], None] | None = None) -> int:
    """Read every row of `files` into `spool`; a row that is no listing goes to `bad` ("file:line why").
    `progress(bytes)` is called with the bytes read since the last call. Returns the rows read."""
    n = 0
    for path in files:
        src, lines = _lines(Path(path), m)
        seen = 0
        try:
            for line in lines:
                n += 1
                if line.record is not None:
                    try:
                        spool.add(listing_row(m, line.record))
                    except ValueError as exc:
                        bad(f"{path}:{line.number} {exc}")
                else:
                    bad(f"{path}:{line.number} {line.error}")
                if progress and src.bytes - seen >= 1 << 20:
                    progress(src.bytes - seen)
                    seen = src.bytes
        finally:
            src.close()
        if progress:
            progress(src.bytes - seen)
    return n
