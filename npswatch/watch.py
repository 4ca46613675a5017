"""`Watch`: one npswatch installation (its configuration and database) and everything it can do.

The role sqlite-utils' `Database` plays: built from a config file or settings, it owns the engine, the
pseudonymiser and the database-aware extractor (each made on first use), and has the use-cases as methods.
Each method returns a result object (`npswatch.results`) and prints nothing; the CLI renders them.

>>> from npswatch import Watch
>>> w = Watch(settings={"data_dir": "/tmp/npswatch-doc"})
>>> facts = w.extract("меф 1г 4500₽ Москва")
>>> [(o.substance.canonical, o.price, o.currency) for o in facts.offers], [r.name for r in facts.regions]
([('mephedrone', 4500.0, 'RUB')], ['Moscow'])
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import IO, TYPE_CHECKING

from .errors import WatchError

if TYPE_CHECKING:
    from npswatch.storage.ads import AdAssignment
    from sqlalchemy import Engine

    from .config import Settings

    from npswatch.pipelines.privacy import Pseudonymiser
    from npswatch.reports.scope import Filters
    from npswatch.storage.writer import PostWriter

    from . import results
    from .accounts import Account
    from .search import SearchResult
    from .sites import SiteAdded

__all__ = ["Watch"]

log = logging.getLogger("npswatch")

MIN_KEY_BYTES = 32  # a new privacy key (npswatch makes 32 random bytes, hex-written); shorter keys: see pseudonymiser


class Watch:
    """An npswatch installation: `Watch()` (config from $NPSWATCH_CONFIG or ./npswatch.toml, else defaults),
    `Watch("npswatch.toml")`, `Watch.from_config(path)` or `Watch(settings=Settings(...) | {...})`."""

    def __init__(self, config_path: str | Path | None = None, settings: Settings | dict | None = None) -> None:
        self.config_path = None if config_path is None else str(config_path)
        if isinstance(settings, dict):
            from .config import Settings

            settings = Settings(**settings)
        self._settings = settings

    @classmethod
    def from_config(cls, path: str | Path) -> "Watch":
        return cls(config_path=path)

    def __repr__(self) -> str:
        return f"Watch({self.config_path!r})" if self.config_path else "Watch()"

    # --- what it owns --------------------------------------------------------------------------------------
    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from .config import load_settings

            self._settings = load_settings(self.config_path)
        return self._settings

    @cached_property
    def engine(self) -> "Engine":
        from npswatch.storage.db import make_engine

        return make_engine(self.settings.database_url)

    def checked_engine(self, *, mark_dead: bool = True) -> "Engine":
        """The engine, after checking the schema is current (raises SchemaError saying what to run). The first
        call also marks the runs whose process died (no heartbeat for `health.heartbeat_timeout`) interrupted,
        unless `mark_dead=False` (`npswatch status` only looks)."""
        from npswatch.storage.db import check_schema

        check_schema(self.engine)
        if mark_dead and not getattr(self, "_stale_checked", False):
            self._stale_checked = True
            self.interrupted_runs = self.mark_dead_runs()
        return self.engine

    def heartbeat_timeout(self) -> timedelta:
        from .config import parse_duration

        return timedelta(seconds=parse_duration(self.settings.health.heartbeat_timeout))

    def mark_dead_runs(self) -> list[int]:
        """Mark `running` rows without a recent heartbeat interrupted (see storage.runs); returns their ids."""
        from npswatch.storage.runs import mark_stale

        return mark_stale(self.engine, self.heartbeat_timeout())

    def optional_engine(self) -> "Engine | None":
        """The engine if the configured database exists with a current schema, else None (no side effects)."""
        if not self.settings.database.url and not (self.settings.data_path / "npswatch.db").exists():
            return None  # the default SQLite file, not made yet: decided without loading SQLAlchemy
        from sqlalchemy.engine import make_url

        from npswatch.storage.db import check_schema

        url = make_url(self.settings.database_url)
        if url.get_backend_name() == "sqlite" and not (url.database and Path(url.database).exists()):
            return None
        try:
            check_schema(self.engine)
        except Exception:  # noqa: BLE001 - unreachable or old database: work without it
            return None
        return self.engine

    @cached_property
    def pseudonymiser(self) -> "Pseudonymiser":
        """The keyed pseudonymiser. A key shorter than MIN_KEY_BYTES is refused for a database that holds no
        posts yet, and kept with a warning for one that does (changing it would change every pseudonym)."""
        from npswatch.pipelines.privacy import Pseudonymiser

        from .config import ConfigError

        key = self.settings.privacy_key()
        if len(key) < MIN_KEY_BYTES:
            if self._holds_no_posts():
                raise ConfigError(
                    f"privacy.key is {len(key)} bytes; a new database needs at least {MIN_KEY_BYTES}: leave "
                    "privacy.key empty (npswatch makes a random one in <data_dir>/privacy.key) or set 32 or more "
                    "random characters, e.g. from `python -c 'import secrets; print(secrets.token_hex(32))'`")
            log.warning("privacy.key is %d bytes, shorter than the %d a new database needs; kept because this "
                        "database's pseudonyms were made with it", len(key), MIN_KEY_BYTES)
        return Pseudonymiser(key)

    def _holds_no_posts(self) -> bool:
        from sqlalchemy import select

        from npswatch.storage.tables import T_POST

        engine = self.optional_engine()
        if engine is None:
            return True
        with engine.connect() as c:
            return c.execute(select(T_POST.c.id).limit(1)).first() is None

    def extractor(self, engine: "Engine | None" = None):
        """The default extractor, with the central-bank rates imported into `engine` (if any) and the lexicon
        overlay of confirmed candidates stored there (`npswatch candidates confirm`) added."""
        from npswatch.extractor_cache import cached_extractor
        from npswatch.pipelines.fx import RateBook

        rates, overlay = [], []
        if engine is not None:
            from npswatch.reports.candidates import load_overlay
            from npswatch.storage.fxstore import load_rates

            rates, overlay = load_rates(engine), load_overlay(engine)
        return cached_extractor(overlay, RateBook(rates) if rates else None)

    @cached_property
    def database_extractor(self):
        """The extractor with this database's rates and lexicon overlay (plain, if there is no database yet)."""
        return self.extractor(self.optional_engine())

    def writer(self, extract: bool = True) -> "PostWriter":
        from npswatch.storage.writer import PostWriter

        engine = self.checked_engine()
        extractor = self.extractor(engine).for_storage if extract else None
        return PostWriter(engine, self.pseudonymiser, extractor)

    def run_record(self, kind: str, source: str | None = None, **kw):
        """`with watch.run_record("crawl", source=site) as run: ... run.items = n`: one `crawl_run` row."""
        from npswatch.storage.runs import run_record

        return run_record(self.checked_engine(), kind, source, **kw)

    # --- schema ----------------------------------------------------------------------------------------------
    def upgrade(self) -> tuple[str | None, str]:
        """Create or migrate the schema; (revision before, revision after)."""
        from npswatch.storage.db import upgrade

        return upgrade(self.engine)

    def revisions(self) -> tuple[str | None, str]:
        """(the database's schema revision, the one this npswatch needs)."""
        from npswatch.storage.db import current_revision, head_revision

        return current_revision(self.engine), head_revision()

    # --- extraction ------------------------------------------------------------------------------------------
    def extract(self, text: str, *, posted_at: datetime | None = None, hints=None):
        """Facts (substances, offers, regions, new-name candidates) of one text, with this database's rates and
        lexicon overlay. `facts.to_json(id)` is the `npswatch extract` line."""
        return self.database_extractor.extract(text, posted_at=posted_at, hints=hints)

    def evaluate(self, cases: list[dict]):
        """Score the extractor on labelled cases (`id`, `text`, `gold`; optional `posted_at` datetime and
        `source` SourceHints): (the Score with precision, recall, F1 per field and the misses, predictions by id)."""
        from npswatch.pipelines.rawpost import SourceHints
        from npswatch.pipelines.scoring import score

        def hints(src):
            if isinstance(src, dict):
                return SourceHints(**{k: src.get(k) for k in ("country", "currency", "language")})
            return src

        preds = {c["id"]: self.extract(str(c["text"]), posted_at=c.get("posted_at"),
                                       hints=hints(c.get("source"))).to_json(c["id"]) for c in cases}
        return score(cases, preds), preds

    # --- web -------------------------------------------------------------------------------------------------
    def crawl(self, sites: list[str] | str = (), *, all_sites: bool = False, base_url: str | None = None,
              extract: bool = True, batch_size: int = 200, scrapy_settings: dict | None = None,
              redis_url: str | None = None, frontier: str = "default", verbose: bool = False,
              sites_dir: Path | None = None, notify=None) -> "results.CrawlResult":
        """Crawl sites (by name; `all_sites`: every enabled one of the sites folder) in this process. Twisted's
        reactor runs once per process: call it once (the scheduler runs it in a child process)."""
        from .crawl import crawl

        names = [sites] if isinstance(sites, str) else list(sites)
        return crawl(self, names, all_sites=all_sites, base_url=base_url, extract=extract, batch_size=batch_size,
                     scrapy_settings=scrapy_settings, redis_url=redis_url, frontier=frontier, verbose=verbose,
                     sites_dir=sites_dir, notify=notify)

    def reparse(self, site: str, *, run_id: int | None = None, extract: bool = True, batch_size: int = 200,
                sites_dir: Path | None = None) -> "results.ReparseResult":
        """Parse a site's stored page snapshots again with its current definition (latest crawl by default)."""
        from .crawl import reparse

        return reparse(self, site, run_id=run_id, extract=extract, batch_size=batch_size, sites_dir=sites_dir)

    def snapshot_runs(self, site: str, sites_dir: Path | None = None) -> list[tuple[int, int, datetime | None]]:
        """The crawl runs of `site` with stored snapshots: (run id, pages, first page fetched), newest first."""
        from .crawl import snapshot_runs

        return snapshot_runs(self, site, sites_dir)[1]

    def try_site(self, site: str, url: str | None = None, *, base_url: str | None = None, details: int = 3,
                 detail_page: bool = False, extract: bool = True, limit: int = 30, sites_dir: Path | None = None,
                 notify=None):
        """Fetch one page and read it with the site's definition (and the extractor): `crawl.SiteTrial`."""
        from .crawl import try_site

        return try_site(self, site, url, base_url=base_url, details=details, detail_page=detail_page,
                        extract=extract, limit=limit, sites_dir=sites_dir, notify=notify)

    def site_definitions(self, sites_dir: Path | None = None):
        """The site definitions (folder + built-in) and the files that failed to load."""
        from .crawl import load_definitions

        return load_definitions(self.settings, sites_dir)

    # --- telegram --------------------------------------------------------------------------------------------
    def login(self, *, phone: str | None = None, ask_phone=None, ask_code, ask_password):
        """Log the configured Telegram account in; `ask_code()`/`ask_password()` are called when Telegram asks."""
        from .channels import login

        return login(self, phone=phone, ask_phone=ask_phone, ask_code=ask_code, ask_password=ask_password)

    def channels(self, shard: tuple[int, int] | None = None) -> list[str]:
        """The watched channels (configured and promoted), of one shard (K, N) if given."""
        from .channels import channel_keys

        return channel_keys(self, shard)

    def backfill(self, *, since: datetime | None = None, channels: list[str] | None = None, extract: bool = True,
                 on_channel=None) -> "results.TelegramBackfillResult":
        """Read channel history from each channel's checkpoint (or `since`)."""
        from .channels import backfill

        return backfill(self, since=since, channels=channels, extract=extract, on_channel=on_channel)

    def listen(self, *, shard: tuple[int, int] | None = None, extract: bool = True,
               stop=None) -> "results.TelegramListenResult":
        """Follow the watched channels live until SIGINT/SIGTERM (or the asyncio.Event `stop` is set)."""
        from .channels import listen

        return listen(self, shard=shard, extract=extract, stop=stop)

    def sample_telegram(self, *, channels: list[str] | None = None, days: int | None = None,
                        on_channel=None) -> "results.TelegramSampleResult":
        """Take one metrics sample of each watched channel (subscribers, title, description, username, linked
        group, flags) and of its posts of the last `days` days (views, forwards, replies, reactions; default
        `telegram.metrics_days`). The `metrics` job runs this on a schedule; the listener samples too."""
        from .channels import sample

        return sample(self, channels=channels, days=days, on_channel=on_channel)

    def channel_metrics(self, channel: str, *, since: datetime | str | None = None,
                        posts: bool = True) -> "results.ChannelMetrics":
        """A channel's subscribers, names and flags over time, what changed and when, and its posts' counters."""
        from .channels import channel_metrics
        from .reporting import moment

        return channel_metrics(self, channel, since=moment(since), posts=posts)

    def import_telegram(self, files: list[str | Path] | str | Path, *, channel: str | None = None,
                        extract: bool = True, on_file=None, tz: str | None = None) -> "results.TelegramImportResult":
        """Import Telegram Desktop JSON exports (result.json, or the export folder holding it). `tz`: the zone
        of local dates in exports without `date_unixtime` (default: `service.timezone`, else this computer's)."""
        from .channels import import_exports

        files = [files] if isinstance(files, (str, Path)) else list(files)
        return import_exports(self, files, channel=channel, extract=extract, on_file=on_file, tz=tz)

    def add_channel(self, channel: str, *, by: "Account | None" = None) -> tuple[str, str]:
        """Watch a channel: (its key, "configured" | "added" | "already added"). `by`: the web app's account
        (an analyst); an addition goes to the audit log."""
        from npswatch.crawlers.telegram.convert import normalise_channel
        from npswatch.storage.telegram_store import promote

        from .accounts import record, require
        from .channels import configured_channels

        actor = require(by, "analyst")

        try:
            key = normalise_channel(channel)
        except ValueError as exc:
            raise WatchError(str(exc)) from None
        engine = self.checked_engine()
        try:
            configured = set(configured_channels(self.settings))
        except WatchError:
            configured = set()
        if key in configured:
            return key, "configured"
        if not promote(engine, key):
            return key, "already added"
        record(self, actor, "channel.add", "channel", key)
        return key, "added"

    def discovered_sites(self, *, min_mentions: int = 1, show_all: bool = False, limit: int | None = None) -> list[dict]:
        """Web shops that crawled pages and posts link to or name, most mentioned first (`sources discovered`);
        the first `limit` of them."""
        from .sites import discovered_sites

        return discovered_sites(self, min_mentions=min_mentions, show_all=show_all, limit=limit)

    def add_site(self, address: str, *, sites_dir: str | Path | None = None,
                 by: "Account | None" = None) -> "SiteAdded":
        """Add a discovered web shop: write a disabled definition stub into the sites folder (or `sites_dir`) and
        close its queue entry. `by`: the web app's account (an analyst); the addition goes to the audit log."""
        from .sites import add_site

        return add_site(self, address, sites_dir=Path(sites_dir) if sites_dir else None, by=by)

    def discovered(self, *, min_mentions: int = 1, min_subscribers: int | None = None, show_all: bool = False,
                   limit: int = 50) -> list[dict]:
        """The review queue: channels seen in forwards and t.me links, most mentioned first (`show_all`: also
        those already watched or added)."""
        from npswatch.storage.telegram_store import aliases, discovered

        # a watched channel's other names (renamed: same channel id) are not new channels either
        watched = [] if show_all else aliases(self.checked_engine(), self.channels())
        return discovered(self.checked_engine(), min_mentions=min_mentions, min_subscribers=min_subscribers,
                          exclude=watched, include_added=show_all, limit=limit)

    def auto_add_channels(self, *, dry_run: bool = False) -> "results.AutoAddResult":
        """Apply the `[telegram.discovery]` rules to the review queue: add the channels that pass to the watch
        list (`dry_run`: only say which would be added and why the others are not)."""
        from .autodiscover import auto_add

        return auto_add(self, dry_run=dry_run)
    def reposts(self, *, channel: str | None = None, limit: int = 50) -> list[dict]:
        """Pictures posted again (same perceptual hash, in this channel or another), newest first: the repost
        (`src`, `message_id`, `seen_at`) and where the picture was first seen (`first_src`, `first_message_id`,
        `first_seen_at`)."""
        from npswatch.crawlers.telegram.convert import normalise_channel
        from npswatch.storage.images import reposts

        key = None
        if channel:
            try:
                key = normalise_channel(channel)
            except ValueError as exc:
                raise WatchError(str(exc)) from None
        return reposts(self.checked_engine(), source=key, limit=limit)

    def channel_graph(self, gexf: str | Path) -> tuple[int, int]:
        """Write the forward/mention network between channels as GEXF; (channels, edges)."""
        from npswatch.crawlers.telegram.graph import write_gexf
        from npswatch.storage.telegram_store import link_graph

        nodes, edges = link_graph(self.checked_engine())
        Path(gexf).parent.mkdir(parents=True, exist_ok=True)
        return write_gexf(nodes, edges, Path(gexf), watched=set(self.channels()))

    # --- reports ---------------------------------------------------------------------------------------------
    def filters(self, filters: "Filters | None" = None, **kw) -> "Filters":
        """`Filters(substance=, cls=, city=, country=, since=, until=)`; since/until may be `7d` or ISO dates."""
        from .reporting import filters as make

        return make(filters, **kw)

    def trends(self, filters: "Filters | None" = None, *, by: str = "week", group: str | None = None,
               plot: str | Path | None = None, tiers: bool = False, totals: bool = False,
               unit: str | None = None, tier: int | None = None, **kw) -> "results.TrendsResult":
        """Offers, median and IQR of price per unit and mentions per period, series and group (`plot`: also draw
        it; `tiers`: one row per quantity tier). Without a substance or class filter, rows are also per substance
        (the result's `note` says so); `totals`: also the posts, distinct ads and sources per period over the
        whole scope (`.totals`); `unit` (and `tier`, 0-2, with `tiers`): only the rows of that unit (and tier)."""
        from .reporting import trends

        return trends(self, self.filters(filters, **kw), by=by, group=group, plot=plot, tiers=tiers, totals=totals,
                      unit=unit, tier=tier)

    def refresh_aggregate(self, *, full: bool = False) -> int:
        """Rebuild the weekly trend aggregate's segments that writes marked stale (`full`: every segment; reports
        refresh it themselves before reading); returns the number of segments rebuilt."""
        from npswatch.reports.weekly import refresh

        return refresh(self.checked_engine(), full=full)

    def places(self, filters: "Filters | None" = None, *, svg: str | Path | None = None, frame: str = "all",
               **kw) -> "results.PlacesResult":
        """Every place the scope's posts name, with first and last seen, posts, distinct ads, sources, offers and
        a city's coordinates; earliest first (`svg`: also write the map there; `frame`: what it is framed on)."""
        from .activity import places

        return places(self, self.filters(filters, **kw), svg=svg, frame=frame)

    def substance_profile(self, filters: "Filters | None" = None, *, latest: int = 20,
                          parts: tuple[str, ...] = ("places", "sources", "posts"),
                          **kw) -> "results.SubstanceProfile":
        """A substance's (or class's) places (where it was seen first and since when), sources and `latest` posts
        as stored (pseudonymised): the substance page of the web app besides its trends. `parts`: which of
        the three to compute (the others are empty lists)."""
        from .activity import profile

        return profile(self, self.filters(filters, **kw), latest=latest, parts=parts)

    def search(self, words: str, *, source: str | None = None, kind: str | None = None,
               substance: str | None = None, cls: str | None = None, since: datetime | str | None = None,
               until: datetime | str | None = None, limit: int = 50, offset: int = 0) -> "SearchResult":
        """Full-text search over stored post texts (SQLite FTS5, PostgreSQL's Russian configuration): every word
        must occur; hits best first, with highlighted snippets (`npswatch.search.SearchResult`)."""
        from .reporting import moment
        from .search import search

        return search(self, words, source=source, kind=kind, substance=substance, cls=cls, since=moment(since),
                      until=moment(until), limit=limit, offset=offset)

    def offers(self, filters: "Filters | None" = None, *, as_: str | None = None, what: str = "offers", **kw):
        """Offer records (dicts, as `export offers` writes them), an iterator; `as_="arrow"` a pyarrow Table,
        `as_="pandas"` a DataFrame. `what="mentions"` or `"posts"` reads those instead."""
        from .reporting import as_table, offers

        columns, rows = offers(self, self.filters(filters, **kw), what)
        return rows if as_ is None else as_table(columns, rows, as_)

    def import_listings(self, files: list[str | Path] | str | Path, mapping: str | Path, *, extract: bool = True,
                        batch_size: int = 500, on_progress=None) -> "results.ListingImportResult":
        """Import historic listing snapshots of other scrapers (CSV or JSON Lines) read with a mapping file
        (`docs/listings-map.toml`): each time stamp is one observation of every listing in it, stored as a
        crawl would store it (listing tracking, price and stock, disappearances, facts). `on_progress(phase,
        done, total)`: "read" in bytes, then "store" in rows."""
        from .listing_import import import_listings

        files = [files] if isinstance(files, (str, Path)) else list(files)
        return import_listings(self, [Path(f) for f in files], Path(mapping), extract=extract,
                               batch_size=batch_size, on_progress=on_progress)

    def sales(self, since: datetime | str, until: datetime | str | None = None, *, by: str = "substance",
              currency: str | None = None) -> list:
        """Units and money sold from stock drops in [since, until) per substance, region or month
        (npswatch.reports.sales.SalesRow; its METHOD says how)."""
        from npswatch.pipelines.fx import RateBook
        from npswatch.reports.sales import sales
        from npswatch.storage.fxstore import load_rates

        from .reporting import moment, now

        engine = self.checked_engine()
        rates = RateBook(load_rates(engine)) if currency else None
        return sales(engine, moment(since), moment(until) or now(), by=by, currency=currency, rates=rates)

    def assign_ads(self) -> "AdAssignment":
        """Cluster the stored posts that have no ad yet into distinct ads (reposts of one ad share it)."""
        from npswatch.storage.ads import assign_ads

        return assign_ads(self.checked_engine())

    def signals(self, since: datetime | str = "7d", until: datetime | str | None = None) -> "results.SignalsResult":
        """Detect and store the early-warning signals of [since, until)."""
        from .reporting import moment, now, signals

        return signals(self, moment(since), moment(until) or now())

    def digest(self, since: datetime | str = "7d", until: datetime | str | None = None, *, fmt: str = "html",
               dest: str | Path | None = None, send: bool = False, country: str | None = None,
               cls: str | None = None) -> "results.DigestResult":
        """Detect and store the period's signals, write the digest (`dest="-"`: text only) and, with `send`,
        deliver it to the configured recipients."""
        from .reporting import digest, moment, now

        return digest(self, moment(since), moment(until) or now(), fmt=fmt, dest=dest, send=send, country=country,
                      cls=cls)

    def export(self, what: str, fmt: str = "csv", dest: str | Path | IO[str] | None = None,
               filters: "Filters | None" = None, *, aggregate: bool = False, min_cell: int = 1, by: str = "week",
               **kw) -> "results.ExportResult":
        """Write offers, mentions or posts (pseudonymised) as csv, parquet or jsonl; `aggregate` for cells."""
        from .reporting import export

        return export(self, what, fmt, dest, self.filters(filters, **kw), aggregate=aggregate, min_cell=min_cell,
                      by=by)

    def import_rates(self, files: list[str | Path] | str | Path) -> "results.FxImportResult":
        """Import central-bank rate files (Bank of Russia XML or CSV)."""
        from .reporting import import_rates

        return import_rates(self, [files] if isinstance(files, (str, Path)) else list(files))

    def candidates(self, status: str = "new", kind: str = "all", *, limit: int | None = None,
                   offset: int = 0) -> list:
        """Candidates: new names that look like substances but are not in the lexicon, and slang words
        (`discover_slang`); `status` new, confirmed, dismissed or all; `kind` new_name, slang or all. `limit`
        and `offset`: one page of them."""
        from npswatch.reports.candidates import list_candidates

        return list_candidates(self.checked_engine(), None if status == "all" else status,
                               None if kind == "all" else kind, limit=limit, offset=offset)

    def count_candidates(self, status: str = "new", kind: str = "all") -> int:
        """How many candidates `candidates()` lists, all pages."""
        from npswatch.reports.candidates import count_candidates

        return count_candidates(self.checked_engine(), None if status == "all" else status,
                                None if kind == "all" else kind)

    def review_queue(self, status: str = "new", kind: str = "all", *, examples: int = 3, limit: int | None = None,
                     offset: int = 0) -> list:
        """`candidates()` with up to `examples` snippets of posts for each (the web app's review queue)."""
        from .review import queue

        return queue(self, status, kind, examples=examples, limit=limit, offset=offset)

    def discover_slang(self, *, top: int = 50, since: datetime | str | None = None):
        """File the `top` unknown words markets keep using where prices and weights are as slang candidates."""
        from npswatch.pipelines.regions import Gazetteer
        from npswatch.reports.slang import discover

        from .reporting import moment

        engine = self.checked_engine()
        return discover(engine, self.extractor(engine).matcher, Gazetteer.default(), top, moment(since))

    def confirm_candidate(self, name: str, cls: str | None = None, canonical: str | None = None, *,
                          by: "Account | None" = None):
        """Add a name to the lexicon overlay (the next extraction recognises it); what moved. `by`: the web app's
        account doing it (an analyst; None: the operator at the shell); the change goes to the audit log."""
        from npswatch.reports.candidates import confirm

        from .accounts import record, require

        actor = require(by, "analyst")
        self.__dict__.pop("database_extractor", None)  # the overlay changed
        done = confirm(self.checked_engine(), name, cls, canonical)
        record(self, actor, "candidate.confirm", "candidate", name,
               {"class": done.cls, "canonical": done.canonical, "moved_mentions": done.moved_mentions})
        return done

    def dismiss_candidate(self, name: str, *, by: "Account | None" = None) -> None:
        """Stop reporting a candidate (in lists and signals); the change goes to the audit log."""
        from npswatch.reports.candidates import dismiss

        from .accounts import record, require

        actor = require(by, "analyst")
        dismiss(self.checked_engine(), name)
        record(self, actor, "candidate.dismiss", "candidate", name)

    # --- the analysts' web app: accounts, triage, audit log --------------------------------------------------
    def add_user(self, name: str, password: str, role: str = "viewer", *, by: "Account | None" = None,
                 language: str = "en", timezone: str = "UTC") -> "Account":
        """Create a web app account (viewer, analyst or admin; interface language en or ru; the IANA time zone
        its dates are shown in), or reset an existing one's password, role, language and time zone."""
        from .accounts import add_user

        return add_user(self, name, password, role, by=by, language=language, timezone=timezone)

    def authenticate(self, name: str, password: str) -> "Account | None":
        """The account whose name and password these are, else None."""
        from .accounts import authenticate

        return authenticate(self, name, password)

    def open_session(self, account: "Account") -> tuple[str, str]:
        """Log an account in: (session cookie token, CSRF token)."""
        from .accounts import open_session

        return open_session(self, account)

    def session_account(self, token: str | None) -> "Account | None":
        """The account of an open session, by its cookie token."""
        from .accounts import session_account

        return session_account(self, token)

    def close_session(self, token: str | None) -> None:
        from .accounts import close_session

        close_session(self, token)

    def audit_log(self, limit: int = 200, *, by: "Account | None" = None) -> list:
        """Every change (who, when, what), newest first."""
        from .accounts import audit_log

        return audit_log(self, limit, by=by)

    def inbox(self, *, kind: str | None = None, cls: str | None = None, country: str | None = None,
              since: datetime | str | None = None, until: datetime | str | None = None, status: str | None = None,
              limit: int = 200, offset: int = 0) -> list:
        """Stored signals with their evidence and triage status, filtered (`npswatch.triage.InboxSignal`), newest
        first: `limit` of them from the `offset`-th on."""
        from .reporting import moment
        from .triage import inbox

        return inbox(self, kind=kind, cls=cls, country=country, since=moment(since), until=moment(until),
                     status=status, limit=limit, offset=offset)

    def inbox_count(self, *, kind: str | None = None, cls: str | None = None, country: str | None = None,
                    since: datetime | str | None = None, until: datetime | str | None = None,
                    status: str | None = None) -> int:
        """How many signals `inbox` lists with these filters, all pages."""
        from .reporting import moment
        from .triage import inbox_count

        return inbox_count(self, kind=kind, cls=cls, country=country, since=moment(since), until=moment(until),
                           status=status)

    def set_signal_status(self, signal_id: int, status: str, note: str | None = None, *,
                          by: "Account | None" = None):
        """Triage a signal: new, reviewed, escalated or dismissed, with a note (dismissed: left out of digests)."""
        from .triage import set_status

        return set_status(self, signal_id, status, note, by=by)

    # --- operations ------------------------------------------------------------------------------------------
    def status(self, *, require_service: bool = False):
        """Health of collection (`npswatch.health.Health`): per source and per job; `.healthy`. It only looks:
        a run whose process died shows as a problem here, and is marked interrupted by other commands."""
        from .health import check_health

        return check_health(self.checked_engine(mark_dead=False), self.settings, require_service=require_service)

    def posts_per_week(self, sources: list[str], weeks: int = 4, until: datetime | None = None) -> dict:
        """New posts per source in each of the last `weeks` 7-day spans (oldest first)."""
        from .reporting import posts_per_week

        return posts_per_week(self, sources, weeks, until)

    def retention(self, *, dry_run: bool = False, now: datetime | None = None) -> "results.RetentionResult":
        """Remove post texts, raw page snapshots and job logs older than their `[retention]` periods."""
        from .results import RetentionResult
        from .retention import apply_retention

        engine = self.checked_engine()
        if dry_run:
            return RetentionResult(apply_retention(engine, self.settings, dry_run=True, now=now), None, True)
        with self.run_record("retention") as run:
            report = apply_retention(engine, self.settings, now=now)
            run.items, run.message = report.total, "; ".join(report.lines()[:3])
        return RetentionResult(report, run.id)

    def demo(self, notify=None) -> "results.DemoResult":
        """The whole chain on the built-in synthetic market: crawl, extract, store, trend plot and digest."""
        from .demo import run_demo

        return run_demo(self, notify=notify)

