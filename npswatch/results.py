"""What the use-cases of `npswatch.Watch` return: plain dataclasses, nothing printed.

Every result says `ok` (did the use-case do all it was asked), `items` and `errors` (what the scheduler
records for a job run) and turns into JSON-safe data with `to_dict()` (what a job's child process sends
back to the scheduler, `npswatch.scheduler.jobs`).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when a result is made, not with this module (`npswatch --help` stays fast)
    from npswatch.storage.listings import ObserveResult
    from npswatch.storage.writer import WriteResult

__all__ = ["Result", "SiteCrawl", "CrawlResult", "ReparseResult", "ChannelBackfill", "TelegramBackfillResult",
           "TelegramListenResult", "ExportImport", "TelegramImportResult", "ListingImportResult", "RateFile",
           "FxImportResult", "TrendsResult", "PlacesResult", "SubstanceProfile", "DigestResult", "SignalsResult",
           "ExportResult", "RetentionResult", "DemoResult", "ChannelMetrics", "TelegramSampleResult", "jsonable"]


def jsonable(value: Any) -> Any:
    """Dataclasses, paths, dates and containers as JSON-safe values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def new_write_result() -> "WriteResult":
    from npswatch.storage.writer import WriteResult

    return WriteResult()


def new_observe_result() -> "ObserveResult":
    from npswatch.storage.listings import ObserveResult

    return ObserveResult()


class Result:
    """The summary every result gives (subclasses override what applies)."""

    @property
    def ok(self) -> bool:
        return True

    @property
    def items(self) -> int:
        return 0

    @property
    def errors(self) -> int:
        return 0

    def to_dict(self) -> dict:
        return {"kind": type(self).__name__, "ok": self.ok, "items": self.items, "errors": self.errors,
                **jsonable(self)}


# --- web ------------------------------------------------------------------------------------------------
@dataclass
class SiteCrawl:
    """One site of a crawl, as its `crawl_run` row records it."""

    site: str
    run_id: int
    pages: int = 0
    listings: int = 0
    written: WriteResult = field(default_factory=new_write_result)
    observed: ObserveResult = field(default_factory=new_observe_result)
    disappeared: int | None = None  # listings a complete crawl no longer found (None: crawl not complete)
    no_offer: int | None = None  # listings this crawl saw that have no offer stored (None: not extracted)
    dropped: int = 0
    errors: int = 0
    failed_requests: int = 0
    snapshots: int = 0
    status: str = ""  # complete, finished incomplete, stopped: REASON ...
    cause: str | None = None  # why storing failed
    ok: bool = False


@dataclass
class CrawlResult(Result):
    sites: list[SiteCrawl] = field(default_factory=list)
    not_crawled: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.sites) and not self.not_crawled

    @property
    def items(self) -> int:
        return sum(s.listings for s in self.sites)

    @property
    def errors(self) -> int:
        return sum(s.errors for s in self.sites)


@dataclass
class ReparseResult(Result):
    site: str
    crawl_run: int  # the crawl whose snapshots were read again
    run_id: int  # the `reparse` run row
    pages: int = 0
    listings: int = 0
    missing: int = 0  # linked pages the crawl did not store
    written: WriteResult = field(default_factory=new_write_result)

    @property
    def items(self) -> int:
        return self.listings


@dataclass
class ListingImportResult(Result):
    """Historic listing snapshots imported (`npswatch import-listings`)."""

    source: str
    complete: bool  # the mapping says each snapshot lists every listing (so missing ones disappeared)
    files: list[str] = field(default_factory=list)
    run_id: int | None = None  # the `import-listings` run; each snapshot is a `listing-snapshot` run under it
    rows: int = 0  # rows read
    snapshots: int = 0  # distinct time stamps stored
    first: datetime | None = None  # of the snapshots stored
    last: datetime | None = None
    written: WriteResult = field(default_factory=new_write_result)
    observed: ObserveResult = field(default_factory=new_observe_result)
    disappeared: int = 0  # times a listing was missing from a complete snapshot (marked disappeared)
    skipped_snapshots: int = 0  # at or before what was stored for the source already
    skipped_rows: int = 0
    bad_rows: int = 0  # rows that are no listing (reported, not stored)
    bad: list[str] = field(default_factory=list)  # the first of them, "file:line why"

    @property
    def items(self) -> int:
        return self.observed.observed

    @property
    def errors(self) -> int:
        return self.bad_rows

    def summary(self) -> str:
        """One line: what was stored."""
        span = f" ({self.first:%Y-%m-%d %H:%M} to {self.last:%Y-%m-%d %H:%M} UTC)" if self.first and self.last else ""
        o, w = self.observed, self.written
        return (f"{self.source}: {self.rows} rows read, {self.snapshots} snapshots{span}, {o.observed} observations; "
                f"{w.inserted} new listings, {w.updated} changed texts; {o.price_changes} price changes, "
                f"{o.stock_drops} stock drops ({o.units_gone} units), "
                + (f"{self.disappeared} disappearances, {o.reappeared} returns"
                   if self.complete else "none marked disappeared (snapshots not complete)")
                + (f"; {self.skipped_snapshots} snapshots ({self.skipped_rows} rows) already stored, skipped"
                   if self.skipped_rows else "")
                + (f"; {self.bad_rows} bad rows skipped" if self.bad_rows else ""))


# --- telegram -------------------------------------------------------------------------------------------
@dataclass
class ChannelBackfill:
    channel: str
    run_id: int
    read: int = 0
    posts: int = 0
    last_id: int | None = None
    flood_waits: int = 0


@dataclass
class TelegramBackfillResult(Result):
    channels: list[ChannelBackfill] = field(default_factory=list)
    unresolved: int = 0  # channels asked for that could not be resolved
    unavailable: list[tuple[str, str]] = field(default_factory=list)  # (channel, state): private, banned, gone...
    written: WriteResult = field(default_factory=new_write_result)

    @property
    def ok(self) -> bool:
        return self.unresolved == 0 and not self.unavailable

    @property
    def items(self) -> int:
        return sum(c.read for c in self.channels)

    @property
    def errors(self) -> int:
        return max(self.unresolved, len(self.unavailable))


@dataclass
class TelegramListenResult(Result):
    run_id: int
    written: WriteResult = field(default_factory=new_write_result)
    deleted: int = 0

    @property
    def items(self) -> int:
        return self.written.inserted + self.written.updated + self.deleted


@dataclass
class TelegramSampleResult(Result):
    """`Watch.sample_telegram`: one metrics sample per channel (and its recent posts)."""

    channels: list = field(default_factory=list)  # crawlers.telegram.metrics.SampleResult per channel sampled
    unavailable: list[tuple[str, str]] = field(default_factory=list)  # (channel, state)
    days: int = 0  # posts of the last `days` days were sampled

    @property
    def ok(self) -> bool:
        return not self.unavailable

    @property
    def items(self) -> int:
        return len(self.channels) + sum(c.posts for c in self.channels)

    @property
    def errors(self) -> int:
        return len(self.unavailable)


@dataclass
class ChannelMetrics(Result):
    """`Watch.channel_metrics`: a channel's samples over time (subscribers, names, flags), what changed, and its
    posts' views/forwards/reactions samples."""

    channel: str
    samples: list = field(default_factory=list)  # storage.telegram_metrics.ChannelSample, oldest first
    changes: list = field(default_factory=list)  # storage.telegram_metrics.ChannelChange
    posts: list = field(default_factory=list)  # storage.telegram_metrics.PostSample

    @property
    def items(self) -> int:
        return len(self.samples)


@dataclass
class ExportImport:
    """One Telegram Desktop export file."""

    path: Path
    run_id: int
    chats: int = 0
    messages: int = 0
    service: int = 0
    empty: int = 0
    links: int = 0
    written: WriteResult = field(default_factory=new_write_result)
    skipped_chats: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # malformed messages left out, "chat: message #k (id n) why"
    duplicates: list[str] = field(default_factory=list)  # repeated message ids (the first 100; the first one kept)
    duplicate_count: int = 0
    named_forwards: int = 0  # forwards without an id linked to a known channel by its title
    pictures: int = 0  # pictures whose text was read (OCR) or known from before
    pictures_skipped: dict[str, int] = field(default_factory=dict)  # reason -> pictures not read


@dataclass
class TelegramImportResult(Result):
    files: list[ExportImport] = field(default_factory=list)

    @property
    def items(self) -> int:
        return sum(f.messages for f in self.files)


@dataclass
class ChannelVerdict:
    """One discovered channel judged by the `[telegram.discovery]` rules."""

    key: str
    channels: int  # watched channels naming it
    posts: int
    market_score: float | None  # share of those posts naming a drug or an offer (None: none extracted yet)
    language: str | None
    added: bool
    reason: str  # why it was added, or which rule kept it out


@dataclass
class AutoAddResult(Result):
    verdicts: list[ChannelVerdict] = field(default_factory=list)
    watched: int = 0  # channels watched before this round
    room: int = 0  # more channels the join limit allowed
    dry_run: bool = False

    @property
    def added(self) -> list[ChannelVerdict]:
        return [v for v in self.verdicts if v.added]

    @property
    def items(self) -> int:
        return len(self.added)


# --- rates, reports ---------------------------------------------------------------------------------------
@dataclass
class RateFile:
    path: Path
    rates: int
    currencies: list[str]
    first_day: date | None
    last_day: date | None
    skipped: list[str] = field(default_factory=list)  # rows refused (not a finite positive rate...), with why


@dataclass
class FxImportResult(Result):
    files: list[RateFile] = field(default_factory=list)

    @property
    def items(self) -> int:
        return sum(f.rates for f in self.files)


@dataclass
class TrendsResult(Result):
    rows: list  # reports.trends.TrendRow
    title: str
    by: str
    group: str
    plot: Path | None = None
    note: str | None = None  # how the rows were split so as not to mix substances (reports.trends.mixing_note)
    totals: list | None = None  # with totals=True: posts, ads, sources per period (reports.trends.PeriodTotal)

    @property
    def items(self) -> int:
        return len(self.rows)

    def figure(self, max_lines: int = 8):
        """The trend chart as a matplotlib `Figure` (a notebook shows it inline; `.savefig(path)` writes it)."""
        from npswatch.reports.plots import trend_figure

        return trend_figure(self.rows, title=self.title, by=self.by, max_lines=max_lines)


@dataclass
class PlacesResult(Result):
    places: list  # reports.activity.PlaceActivity, earliest first: the first is where it was seen first
    title: str
    path: Path | None = None  # the map written as SVG, if asked

    @property
    def items(self) -> int:
        return len(self.places)

    @property
    def cities(self) -> list:
        """The places that are cities with known coordinates: what the map shows."""
        return [p for p in self.places if p.lat is not None]

    def svg(self, *, frame: str = "all", standalone: bool = False, labels: int = 12, title: str | None = None,
            legend: str = "{n} distinct ads") -> str:
        """The map: the cities with activity, sized by distinct ads, on the offline base map of the focus
        countries (`frame`: all, central_asia, europe, caucasus, china, or auto: the smallest holding the cities). Each city's circle carries
        data-city, data-country, data-ads and data-posts, and a tooltip (`<title>`)."""
        from npswatch.reports.maps import Marker, activity_svg

        markers = [Marker(p.lat, p.lon, p.ads, p.name, f"{p.place}: {p.ads} distinct ads, {p.posts} posts, "
                          f"{p.offers} offers; first seen {p.first_seen:%Y-%m-%d}, last seen {p.last_seen:%Y-%m-%d}",
                          (("data-city", p.name), ("data-country", p.country), ("data-ads", str(p.ads)),
                           ("data-posts", str(p.posts))), p.country or "")
                   for p in self.cities]
        return activity_svg(markers, title=self.title if title is None else title, frame=frame,
                            standalone=standalone, labels=labels, legend=legend)


@dataclass
class SubstanceProfile(Result):
    """What the substance page shows besides the price trend: where and since when, the sources, the latest
    posts (texts as stored: pseudonymised when written)."""

    title: str
    places: list  # reports.activity.PlaceActivity, earliest first
    sources: list  # reports.activity.SourceActivity, most distinct ads first
    posts: list  # reports.activity.LatestPost, newest first

    @property
    def items(self) -> int:
        return len(self.places)

    @property
    def first(self):
        """The place it was seen first (a PlaceActivity), or None."""
        return self.places[0] if self.places else None


@dataclass
class SignalsResult(Result):
    since: datetime
    until: datetime
    signals: list  # reports.signals signal records, stored

    @property
    def items(self) -> int:
        return len(self.signals)


@dataclass
class DigestResult(Result):
    since: datetime
    until: datetime
    signals: list  # every signal of the period (stored)
    shown: list  # those the digest shows (country/class filters; not those an analyst dismissed)
    format: str
    text: str
    path: Path | None = None  # None: the caller asked for the text only
    sent: dict[str, int] = field(default_factory=dict)  # recipient -> signals sent
    failed: dict[str, str] = field(default_factory=dict)  # recipient -> error (retried next run)
    delivered: bool = False  # delivery was asked for

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def items(self) -> int:
        return len(self.shown)

    @property
    def errors(self) -> int:
        return len(self.failed)


@dataclass
class ExportResult(Result):
    what: str
    rows: int
    dest: Path | None
    aggregate: bool = False

    @property
    def items(self) -> int:
        return self.rows


# --- operations -------------------------------------------------------------------------------------------
@dataclass
class RetentionResult(Result):
    report: Any  # npswatch.retention.RetentionReport
    run_id: int | None  # None: dry run
    dry_run: bool = False

    @property
    def items(self) -> int:
        return self.report.total

    def lines(self) -> list[str]:
        return self.report.lines()


@dataclass
class DemoResult(Result):
    base_url: str
    written: WriteResult
    pages: int
    listings: int
    summary: dict
    top: list  # (substance, class, mentions, offers)
    database: str
    sqlite_file: Path | None
    trends: TrendsResult | None = None
    signals: list = field(default_factory=list)
    plot: Path | None = None
    digest: Path | None = None
    upgraded: tuple[str | None, str] | None = None  # schema (before, after) when the demo upgraded it

    @property
    def items(self) -> int:
        return self.listings
