"""Report use-cases: trends, offers as records, signals, the digest and its delivery, exports, rate imports
(behind the `Watch` methods of the same names)."""
from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .errors import WatchError
from .results import DigestResult, ExportResult, FxImportResult, RateFile, SignalsResult, TrendsResult

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from npswatch.reports.scope import Filters

    from .watch import Watch

__all__ = ["filters", "trend_title", "trends", "offers", "signals", "digest", "export", "import_rates"]


def moment(value: datetime | str | None) -> datetime | None:
    """A datetime as given (made UTC), or a span back from now (`7d`) or ISO date parsed; None stays None."""
    from npswatch.reports.scope import parse_since, utc

    if value is None or isinstance(value, datetime):
        return value if value is None else utc(value)
    return parse_since(value)


def filters(f: "Filters | None" = None, *, substance: str | None = None, cls: str | None = None,
            city: str | None = None, country: str | None = None, since: datetime | str | None = None,
            until: datetime | str | None = None) -> "Filters":
    """A `Filters`, given or from keywords; `since`/`until` may be spans back from now (`7d`, `3m`) or ISO dates."""
    from npswatch.reports.scope import Filters

    if f is not None:
        return f
    if city and country:
        raise WatchError("give --city or --country, not both")
    return Filters(substance=substance, cls=cls, city=city, country=country, since=moment(since), until=moment(until))


def scope_label(f: "Filters") -> str:
    """What, where and when the filters are about, e.g. "mephedrone, KZ, 2026-01-01 to now"."""
    what = f.substance or (f.cls and f.cls.replace("_", " ")) or "all substances"
    where = f.city or f.country or "all regions"
    span = ""
    if f.since or f.until:
        span = f", {f.since:%Y-%m-%d}" if f.since else ", …"
        span += f" to {f.until:%Y-%m-%d}" if f.until else " to now"
    return f"{what}, {where}{span}"


def trend_title(f: "Filters", by: str) -> str:
    return f"Price per unit by {by}: {scope_label(f)}"


_REFRESHING = threading.Lock()


def fresh_engine(watch: "Watch") -> "Engine":
    """The checked engine, the weekly trend aggregate refreshed first when writes marked days stale (reports are
    exact without it, only slower: a refresh that fails, e.g. on a read-only database, is logged and skipped)."""
    from sqlalchemy.exc import SQLAlchemyError

    from npswatch.reports.weekly import refresh_if_stale

    engine = watch.checked_engine()
    try:
        # one refresh at a time in this process: a page reads its trend and its profile in two threads, and the
        # second refresh would otherwise wait on the first's write lock until SQLite gave up ("database is
        # locked") and read the raw rows meanwhile; this way it waits and then finds nothing stale
        with _REFRESHING:
            refresh_if_stale(engine)
    except SQLAlchemyError as e:
        logging.getLogger(__name__).warning("weekly aggregate not refreshed: %s", str(e).splitlines()[0])
    return engine


def trends(watch: "Watch", f: "Filters", *, by: str = "week", group: str | None = None,
           plot: str | Path | None = None, title: str | None = None, tiers: bool = False,
           totals: bool = False, unit: str | None = None, tier: int | None = None) -> TrendsResult:
    from npswatch.reports.trends import mixing_note, trends as compute

    if plot is not None and Path(plot).suffix.lower() not in (".png", ".svg"):
        raise WatchError("--plot needs a file ending in .png or .svg")
    group = group or ("substance" if f.city else "city")
    per_period: list | None = [] if totals else None
    rows = compute(fresh_engine(watch), f, by=by, group=group, tiers=tiers,
                   tier_bounds=watch.settings.trends.tiers, totals=per_period, unit=unit, tier=tier)
    result = TrendsResult(rows, title or trend_title(f, by), by, group, note=mixing_note(f, group),
                          totals=per_period)
    if plot is not None:
        from npswatch.reports.plots import plot_trends

        result.plot = plot_trends(rows, plot, title=result.title, by=by)
    return result


def offers(watch: "Watch", f: "Filters", what: str = "offers") -> tuple[list[str], Iterator[dict]]:
    """(columns, rows) of offers (or mentions, posts) as the export writes them: pseudonymised, links scrubbed."""
    from npswatch.reports.exports import WHATS, records

    if what not in WHATS:
        raise WatchError(f"read one of {', '.join(WHATS)}, not {what!r}")
    return records(watch.checked_engine(), what, f, pseudonymiser=watch.pseudonymiser)


def as_table(columns: list[str], rows: Iterator[dict], kind: str):
    """Rows as a pyarrow Table (`kind` "arrow") or a pandas DataFrame ("pandas")."""
    import pyarrow as pa

    data = list(rows)
    table = pa.Table.from_pylist(data) if data else pa.table({c: pa.array([], pa.null()) for c in columns})
    if kind == "arrow":
        return table
    if kind == "pandas":
        try:
            return table.to_pandas()
        except ImportError:
            raise WatchError("as_='pandas' needs pandas: pip install pandas") from None
    raise WatchError(f"as_ must be None, 'arrow' or 'pandas', not {kind!r}")


def signals(watch: "Watch", since: datetime, until: datetime) -> SignalsResult:
    """Detect and store the signals of [since, until)."""
    from npswatch.reports.signals import Detector, Thresholds, record

    if since >= until:
        raise WatchError(f"--since {since:%Y-%m-%d %H:%M} is not before the end of the period ({until:%Y-%m-%d %H:%M})")
    from npswatch.storage.ads import assign_ads

    engine = watch.checked_engine()
    assign_ads(engine)  # new posts join their ads first: evidence counts distinct ads
    detector = Detector(engine, Thresholds.from_mapping(watch.settings.signals.model_dump()))
    return SignalsResult(since, until, record(engine, detector.detect(since, until)))


def digest(watch: "Watch", since: datetime, until: datetime, *, fmt: str = "html", dest: str | Path | None = None,
           send: bool = False, country: str | None = None, cls: str | None = None) -> DigestResult:
    """Detect and store the signals of [since, until), render the digest and (`dest` not "-") write it to `dest`
    (default <data_dir>/reports/digest-<date>.<fmt>); with `send`, deliver it to the configured recipients.
    Signals an analyst dismissed (`npswatch.triage`) are neither shown nor sent."""
    from npswatch.reports.digest import Digest, render
    from npswatch.storage.runs import login_expired

    if fmt not in ("html", "md", "json"):
        raise WatchError("--format must be html, md or json")
    if send and not _channels(watch):
        raise WatchError("--send: no recipients configured ([[digest.recipients]] in the config)")
    from .triage import dismissed_ids

    found = signals(watch, since, until).signals
    dismissed = dismissed_ids(watch.engine, [s.id for s in found])
    shown = [s for s in found if s.id not in dismissed and (not country or country.upper() in s.countries)
             and (not cls or s.cls == cls)]
    notes = [f"login expired for {site}: its crawls stopped at the login form"
             for site in login_expired(watch.checked_engine(), since, until)]
    notes += channels_added_notes(watch, since, until)
    from npswatch.reports.sales import sales

    sold = sales(watch.checked_engine(), since, until, by="substance", countries=[country] if country else (),
                 classes=[cls] if cls else ())
    text = render(Digest(since, until, shown, notes=notes, sales=sold), fmt)
    result = DigestResult(since, until, found, shown, fmt, text)
    if dest != "-":
        path = Path(dest) if dest else watch.settings.data_path / "reports" / f"digest-{until:%Y-%m-%d}.{fmt}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        result.path = path
    if send:
        report = deliver(watch, [s for s in found if s.id not in dismissed], since, until)
        result.sent, result.failed, result.delivered = dict(report.sent), dict(report.failed), True
    return result


def channels_added_notes(watch: "Watch", since: datetime, until: datetime) -> list[str]:
    """The digest's lines on Telegram channels the discovery rules added to the watch list in [since, until)."""
    from npswatch.storage.telegram_store import auto_added

    return [f"Telegram channel @{r['key']} added to the watch list automatically on {r['added_at']:%Y-%m-%d %H:%M} UTC"
            f" ({r['reason'] or 'discovery rules'})" + ("" if r["active"] else "; no longer watched")
            for r in auto_added(watch.checked_engine(), since, until)]


def _channels(watch: "Watch"):
    from npswatch.reports.delivery import channels

    return channels(watch.settings.digest.recipients)


def deliver(watch: "Watch", found: list, since: datetime, until: datetime):
    """Enqueue and deliver to the configured recipients; the DeliveryReport."""
    from npswatch.reports.delivery import SmtpSettings, send

    smtp = watch.settings.digest.smtp
    return send(watch.engine, _channels(watch), SmtpSettings(
        host=smtp.host, port=smtp.port, starttls=smtp.starttls, ssl=smtp.ssl, username=smtp.username,
        password=smtp.password.get_secret_value(), sender=smtp.sender), found, since, until)


def export(watch: "Watch", what: str, fmt: str, dest: str | Path | IO[str] | None, f: "Filters", *,
           aggregate: bool = False, min_cell: int = 1, by: str = "week") -> ExportResult:
    from npswatch.reports.exports import export as write

    n = write(watch.checked_engine(), what, fmt, dest, f, pseudonymiser=watch.pseudonymiser, aggregate=aggregate,
              min_cell=min_cell, by=by)
    return ExportResult(what, n, Path(dest) if isinstance(dest, (str, Path)) else None, aggregate)


def import_rates(watch: "Watch", files: list[str | Path]) -> FxImportResult:
    """Central-bank rate files (Bank of Russia XML, or CSV date,currency,units_per_usd) into the database."""
    from npswatch.pipelines.fx import parse_cbr_xml, parse_rates_csv
    from npswatch.storage.fxstore import store_rates

    engine = watch.checked_engine()
    result = FxImportResult()
    for f in map(Path, files):
        if not f.exists():
            raise WatchError(f"{f}: no such file")
        data = f.read_bytes()
        skipped: list[str] = []  # a bad row is refused and reported; the others are stored
        try:
            rates = (parse_cbr_xml(data, skipped=skipped) if data.lstrip().startswith(b"<")
                     else parse_rates_csv(data.decode("utf-8-sig"), skipped=skipped))
        except UnicodeDecodeError:
            raise WatchError(f"{f}: not a text file (expected Bank of Russia XML or a UTF-8 CSV)") from None
        except ValueError as exc:
            raise WatchError(f"{f}: {exc}") from None
        n = store_rates(engine, rates)
        days = sorted({r.day for r in rates})
        result.files.append(RateFile(f, n, sorted({r.currency for r in rates}), days[0] if days else None,
                                     days[-1] if days else None, skipped))
    return result


def posts_per_week(watch: "Watch", sources: list[str], weeks: int = 4, until: datetime | None = None) -> dict:
    """{source key: [new posts (listings) in each of the `weeks` 7-day spans ending at `until`, oldest first]}:
    the sources and health page's activity column. A post counts in the span it was first seen in."""
    from sqlalchemy import func, select

    from npswatch.storage.tables import T_POST as P, T_SOURCE as S

    until = until or now()
    start = until - timedelta(days=7 * weeks)
    out = {k: [0] * weeks for k in sources}
    if not sources:
        return out
    seen = func.coalesce(P.c.first_seen, P.c.collected_at)
    with watch.checked_engine().connect() as c:
        ids = dict(c.execute(select(S.c.id, S.c.key).where(S.c.key.in_(sources))).all())
        if not ids:
            return out
        # counted by the database week by week over the index on (source_id, first seen): no post is read
        for i in range(weeks):
            lo, hi = start + timedelta(days=7 * i), start + timedelta(days=7 * (i + 1))
            for sid, n in c.execute(select(P.c.source_id, func.count()).where(
                    P.c.source_id.in_(list(ids)), seen >= lo, seen < hi).group_by(P.c.source_id)):
                out[ids[sid]][i] = n
    return out


def last_weeks(watch: "Watch", weeks: int = 4) -> tuple[Any, datetime, datetime] | None:
    """The country with most offers and the `weeks` before the newest offer (what the demo reports on)."""
    from sqlalchemy import func, select

    from npswatch.reports.scope import utc
    from npswatch.storage.tables import T_OFFER as O, T_REGION as R

    with watch.engine.connect() as c:
        top = c.execute(select(R.c.country, func.count()).select_from(O.join(R, R.c.id == O.c.region_id))
                        .group_by(R.c.country).order_by(func.count().desc(), R.c.country).limit(1)).first()
        last = c.execute(select(func.max(O.c.observed_at))).scalar()
    if top is None or last is None:
        return None
    until = utc(last) + timedelta(days=1)
    return top[0], until - timedelta(days=7 * weeks), until


def now() -> datetime:
    return datetime.now(timezone.utc)
