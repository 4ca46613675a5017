"""Web collection use-cases: site definitions, `crawl` and `reparse` (behind `Watch.crawl`, `Watch.reparse`).

Site definitions are read from the configured folder (`[web] sites_dir`), plus the built-in definitions of
the synthetic fixture market (`fixture-shop`, `fixture-forum`, `fixture-board`); a site is named by its
`name` or its file name (`fixture_shop` finds `fixture-shop`). The fixture sites have relative start URLs:
without a base URL the built-in fixture market is served on a loopback port and used.

A crawl writes through the same writer as every collector (pseudonymised, facts extracted), records what
each crawl saw of each listing (price, stock: `listing_observation`), marks listings a complete crawl no
longer finds as disappeared, keeps page snapshots for sites that ask for them, and records one `crawl_run`
row per site. Its JOBDIR per site lives under `<data_dir>/jobs/<site>`: a crawl stopped cleanly resumes on
the next crawl of the site; after a kill -9 the site is crawled again from the start, storing nothing twice.
With a Redis URL, all processes naming the same frontier share one request queue and duplicate filter.
"""
from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from .errors import WatchError
from .results import CrawlResult, ReparseResult, SiteCrawl

if TYPE_CHECKING:
    from .watch import Watch

__all__ = ["Definition", "Definitions", "load_definitions", "pick", "user_agent", "is_fixture", "crawl", "reparse",
           "try_site", "SiteTrial", "fetch", "Notify"]

Notify = Callable[[str, str], None]  # (level: info | warn | dim, text): progress notes while a use-case runs


def quiet(level: str, text: str) -> None:
    pass


def norm(name: str) -> str:
    return name.strip().lower().replace("_", "-")


@dataclass
class Definition:
    site: object  # crawlers.sitedef.SiteDef
    path: Path
    configured: bool  # from the sites folder (else built in)


@dataclass
class Definitions:
    found: dict[str, Definition]
    errors: list[tuple[Path, str]]
    folder: Path

    def error_for(self, name: str) -> str | None:
        """The load error of the file named like `name`, if any."""
        return next((m for p, m in self.errors if norm(p.stem) == norm(name)), None)


def load_definitions(settings, sites_dir: Path | None = None) -> Definitions:
    """Every site definition by name (the sites folder's first; built-in fixture ones never shadow them) and
    the files that failed to load, with the reason."""
    from npswatch.crawlers.sitedef import FIXTURE_SITES_DIR, SiteDefError, load_site

    folder = sites_dir or settings.sites_path
    found: dict[str, Definition] = {}
    errors: list[tuple[Path, str]] = []
    bases = [(folder, True)]
    if not folder.is_dir() or folder.resolve() != FIXTURE_SITES_DIR.resolve():
        bases.append((FIXTURE_SITES_DIR, False))
    for base, configured in bases:
        if not base.is_dir():
            continue
        for path in sorted(base.glob("*.toml")):
            try:
                site = load_site(path)
            except SiteDefError as exc:
                errors.append((path, str(exc)))
                continue
            if site.name in found:
                if configured:
                    errors.append((path, f"name {site.name!r} is already used by {found[site.name].path}"))
                continue
            found[site.name] = Definition(site, path, configured)
    return Definitions(found, errors, folder)


def is_fixture(path: Path) -> bool:
    from npswatch.crawlers.sitedef import FIXTURE_SITES_DIR

    return path.parent.resolve() == FIXTURE_SITES_DIR.resolve()


def pick(defs: Definitions, names: list[str], all_sites: bool = False) -> list[Definition]:
    """The definitions named (by site or file name), or with `all_sites` every enabled one of the folder."""
    if all_sites:
        picked = [d for d in defs.found.values() if d.configured and d.site.enabled]
        if not picked:
            raise WatchError(f"no enabled site definitions in {defs.folder} (built-in fixture sites are crawled by "
                             "name, e.g. `npswatch crawl fixture_shop`)")
        return picked
    if not names:
        raise WatchError("name a site (see `npswatch sources list`) or use --all")
    by_key: dict[str, Definition] = {}
    for name, d in defs.found.items():
        by_key[norm(name)] = d
        by_key.setdefault(norm(d.path.stem), d)
    picked = []
    for n in names:
        d = by_key.get(norm(n))
        if d is None:
            raise WatchError(f"no site {n!r}; known: {', '.join(sorted(defs.found)) or 'none'} "
                             "(see `npswatch sources list`)")
        picked.append(d)
    return picked


def user_agent(settings) -> str:
    ua, contact = settings.web.user_agent.strip(), settings.web.contact.strip()
    if not contact:
        return ua
    return f"{ua[:-1]}; {contact})" if ua.endswith(")") else f"{ua} ({contact})"


def fixture_server(stack: ExitStack, picked: list[Definition], base_url: str | None, notify: Notify) -> str | None:
    """Serve the built-in fixture market when a fixture site is crawled without a base URL."""
    if base_url or not any(is_fixture(d.path) for d in picked):
        return base_url
    from npswatch.crawlers.fixture_market import build_market, serve

    server = stack.enter_context(serve(build_market()))
    notify("dim", f"serving the built-in fixture market at {server.base_url}")
    return server.base_url


# --- crawl ------------------------------------------------------------------------------------------------
def crawl(watch: "Watch", names: list[str], *, all_sites: bool = False, base_url: str | None = None,
          extract: bool = True, batch_size: int = 200, scrapy_settings: dict | None = None,
          redis_url: str | None = None, frontier: str = "default", verbose: bool = False,
          sites_dir: Path | None = None, notify: Notify | None = None) -> CrawlResult:
    from npswatch.crawlers.sitedef import SiteDefError

    notify = notify or quiet
    defs = load_definitions(watch.settings, sites_dir)
    for path, message in defs.errors:
        if any(norm(path.stem) == norm(n) for n in names):
            raise WatchError(message)
        if all_sites:
            notify("warn", f"skipping an invalid definition: {message}")
    picked = pick(defs, names, all_sites)
    for d in picked:
        if d.site.js:
            notify("warn", f"skipping {d.site.name}: it needs JavaScript rendering (js = true)")
    picked = [d for d in picked if not d.site.js]
    if not picked:
        raise WatchError("nothing to crawl")
    with ExitStack() as stack:
        base = fixture_server(stack, picked, base_url, notify)
        for d in picked:
            try:
                d.site.resolve_start_urls(base)
            except SiteDefError as exc:
                raise WatchError(f"{exc} (give --base-url)") from None
        return _crawl_sites(watch, [d.site for d in picked], base, extract, batch_size, scrapy_settings or {},
                            redis_url, frontier, verbose, notify)


def _crawl_sites(watch, site_defs, base, extract, batch_size, scrapy_settings, redis_url, frontier, verbose,
                 notify) -> CrawlResult:
    from npswatch.crawlers.jobs import JobBusy, JobDir
    from npswatch.storage.listings import ListingTracker
    from npswatch.storage.runs import run_record
    from npswatch.storage.snapshots import SnapshotStore

    settings = watch.settings
    writer = watch.writer(extract=extract)
    engine = writer.engine
    tracker = ListingTracker(engine, watch.pseudonymiser)  # price labels scrubbed
    store = SnapshotStore(engine, settings.data_path / "snapshots", watch.pseudonymiser.scrub)  # pages scrubbed
    jobs = {}
    if not redis_url:  # a shared frontier lives in Redis; a local one in a JOBDIR per site
        for s in site_defs:
            jobs[s.name] = JobDir(settings.data_path / "jobs", s.name)
            try:
                jobs[s.name].lock()
            except JobBusy as exc:
                raise WatchError(f"{exc} (wait for it, or stop it with Ctrl-C)") from None
    # One run row per site: all failed if the crawl raises, else each finished with its own outcome.
    with ExitStack() as records:
        recs = {s.name: records.enter_context(run_record(engine, "crawl", s.name)) for s in site_defs}
        return _crawl_recorded(site_defs, recs, jobs, settings, writer, tracker, store, base, batch_size,
                               scrapy_settings, redis_url, frontier, verbose, notify)


def _crawl_recorded(site_defs, recs, jobs, settings, writer, tracker, store, base, batch_size, scrapy_settings,
                    redis_url, frontier, verbose, notify) -> CrawlResult:
    from npswatch.crawlers.webcrawl import CrawlError, crawl_sites
    from npswatch.storage.runs import finish_run

    engine = writer.engine
    results = {name: SiteCrawl(name, rec.id) for name, rec in recs.items()}
    starts = {}
    if not redis_url:
        for s in site_defs:
            starts[s.name] = st = jobs[s.name].begin(recs[s.name].id)
            if st.resumed:
                notify("info", f"{s.name}: resuming the crawl paused earlier (started {st.started_at:%Y-%m-%d %H:%M})")
            elif st.crashed:
                notify("warn", f"{s.name}: the previous crawl did not stop cleanly; crawling again from the start "
                               "(what it stored stays, nothing is stored twice)")
                if st.crashed_run_id:
                    finish_run(engine, st.crashed_run_id, status="failed",
                               message=f"interrupted (process killed); crawled again by run {recs[s.name].id}")

    def on_batch(posts):
        r = results[posts[0].source]
        r.written += writer.write(posts)
        r.observed += tracker.observe(r.run_id, posts)

    def on_snapshots(pages):
        store.save(recs[pages[0].source].id, pages)

    overrides = {"USER_AGENT": user_agent(settings), "LOG_LEVEL": "INFO" if verbose else "WARNING",
                 **scrapy_settings}
    failure: CrawlError | None = None
    notify("dim", f"crawling {', '.join(s.name for s in site_defs)}"
                  + (f" (shared frontier {frontier!r})" if redis_url else "") + "…")
    try:
        stats = crawl_sites(site_defs, base_url=base, on_batch=on_batch, batch_size=batch_size,
                            settings_overrides=overrides, on_snapshots=on_snapshots,
                            jobdirs={n: j.path for n, j in jobs.items()} or None,
                            redis_url=redis_url, frontier=frontier)
    except CrawlError as exc:
        failure, stats = exc, exc.stats

    result = CrawlResult()
    for s in site_defs:
        name, r, rec = s.name, results[s.name], recs[s.name]
        st = stats.sites.get(name)
        if st is None:
            rec.status, rec.message = "failed", "not crawled"
            result.not_crawled.append(name)
            continue
        if name in starts and not starts[name].may_mark_disappeared(st.finish_reason, st.pages, st.complete):
            st.complete = False  # pages lost before a pause, or a resumed crawl that fetched nothing
        if st.complete:
            since = datetime.fromisoformat(st.started_at) if redis_url else starts[name].started_at
            r.disappeared = tracker.mark_disappeared(name, since)
            r.status = "complete"
        elif redis_url and st.finish_reason == "finished" and not st.frontier_done:
            r.status = "done here (others finish the frontier)"
        elif st.finish_reason == "finished":
            r.status = ("finished, incomplete (requests failed, or a process of the shared frontier was killed)"
                        if redis_url else "finished, incomplete (failed requests or page limit)")
        else:
            r.status = f"stopped: {st.finish_reason}" + ("; run again to resume" if name in jobs else "")
        if name in jobs:
            jobs[name].end(st.finish_reason if not (failure and name in failure.causes) else "batch_write_failed",
                           failures=st.failed_requests)
        cause = failure.causes.get(name) if failure else None
        r.cause = None if cause is None else repr(cause)
        r.ok = st.finish_reason == "finished" and cause is None
        r.pages, r.listings, r.dropped, r.errors = st.pages, st.items, st.dropped, st.errors
        r.failed_requests, r.snapshots = st.failed_requests, st.snapshots
        w, o = r.written, r.observed
        rec.message = (f"pages={st.pages} listings={st.items} new={w.inserted} changed={w.updated} price_changes="
                       f"{o.price_changes} stock_drops={o.stock_drops} disappeared={r.disappeared} "
                       f"dropped={st.dropped} failed_requests={st.failed_requests} snapshots={st.snapshots} {r.status}")
        if cause is not None:
            rec.message = f"storage failed: {cause!r}; " + rec.message
        rec.status, rec.items, rec.errors = ("ok" if r.ok else "failed"), st.items, st.errors
        if s.snapshots:
            store.prune(s.snapshot_days or settings.retention.snapshot_days, source=name)
        result.sites.append(r)
    return result


# --- trying a definition on one page ---------------------------------------------------------------------
class Disallowed(WatchError):
    """robots.txt forbids the page."""


def _within(seconds: float, fn):
    """fn() on a daemon thread, given at most `seconds` in all: a server that trickles bytes (slow-loris) cannot
    hold the command past the deadline the way a per-read socket timeout lets it. TimeoutError when late."""
    box: dict = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box["error"] = exc

    t = threading.Thread(target=target, name="npswatch-fetch", daemon=True)
    t.start()
    t.join(seconds)
    if t.is_alive():
        raise TimeoutError
    if "error" in box:
        raise box["error"]
    return box["value"]


def fetch(url: str, site, user_agent: str):
    """One polite GET (robots.txt, proxy, size cap of the site) -> a Scrapy response. The site's timeout is a
    total deadline for the robots.txt check and the page together."""
    from protego import Protego

    from npswatch.crawlers.replay import make_response

    handlers = [urllib.request.ProxyHandler({"http": site.proxy, "https": site.proxy} if site.proxy else {})]
    opener = urllib.request.build_opener(*handlers)
    headers = {"User-Agent": user_agent, "Accept": "text/html,*/*;q=0.8"}
    timeout = site.politeness.timeout
    deadline = time.monotonic() + timeout
    late = f"{url}: no complete answer within the site's timeout ({timeout:g} s, politeness.timeout)"

    def remaining() -> float:
        return max(0.01, deadline - time.monotonic())

    if site.politeness.obey_robots:
        robots_url = urljoin(url, "/robots.txt")

        def get_robots():
            with opener.open(urllib.request.Request(robots_url, headers=headers), timeout=remaining()) as r:
                return r.read(512 * 1024)
        try:
            robots = Protego.parse(_within(remaining(), get_robots).decode("utf-8", "replace"))
        except TimeoutError:
            raise WatchError(late) from None
        except (urllib.error.URLError, OSError, ValueError):
            robots = None  # no robots.txt: everything allowed
        if robots is not None and not robots.can_fetch(url, user_agent):
            raise Disallowed(f"{url} is disallowed by {robots_url}")
    cap = int(site.politeness.max_size_mb * 1024 * 1024)

    def get_page():
        with opener.open(urllib.request.Request(url, headers=headers), timeout=remaining()) as r:
            return r.read(cap + 1), r.status, r.headers.get("Content-Type"), r.headers.get("Date"), r.geturl()
    try:
        body, status, ctype, date, final = _within(remaining(), get_page)
    except TimeoutError:
        raise WatchError(late) from None
    except urllib.error.HTTPError as exc:
        raise WatchError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise WatchError(f"{url}: {getattr(exc, 'reason', exc)}") from None
    if len(body) > cap:
        raise WatchError(f"{url}: larger than the site's size cap ({site.politeness.max_size_mb:g} MB)")
    return make_response(final, body, status=status, content_type=ctype, date=date)


@dataclass
class SiteTrial:
    """What a definition reads on one page (`Watch.try_site`, `npswatch sources test`). Nothing is stored."""

    site: object  # crawlers.sitedef.SiteDef
    target: str
    response: object  # the Scrapy response of the page
    blocks: int  # listing blocks the selector matched (0 for a detail page)
    listings: list  # RawPost, as the definition reads them (detail pages followed)
    detail_links: int
    fetched: int  # detail pages fetched
    next_pages: list[str]
    skipped: list[str]  # detail pages robots.txt forbids
    invalid: int  # blocks that gave no text
    facts: list  # what the extractor makes of the first `limit` listings (empty without extract)


def try_site(watch: "Watch", site_name: str, url: str | None = None, *, base_url: str | None = None,
             details: int = 3, detail_page: bool = False, extract: bool = True, limit: int = 30,
             sites_dir: Path | None = None, notify: Notify | None = None) -> SiteTrial:
    """Fetch one page (politely: robots.txt, proxy, size cap) and read it with the site's definition."""
    from npswatch.crawlers.replay import offline_spider, parse_page
    from npswatch.crawlers.spiders.fields import select as select_blocks

    settings = watch.settings
    defs = load_definitions(settings, sites_dir)
    bad = defs.error_for(site_name)
    if bad:
        raise WatchError(bad)
    d = pick(defs, [site_name])[0]
    site = d.site
    with ExitStack() as stack:
        if site.js:
            raise WatchError(f"{site.name} needs JavaScript rendering (js = true): the generic spider cannot read it")
        base = (fixture_server(stack, [d], base_url, notify or quiet)
                if not (url and urlsplit(url).scheme) else base_url)
        try:
            target = (urljoin((base or site.base_url or "").rstrip("/") + "/", url.lstrip("/"))
                      if url and not urlsplit(url).scheme else url) or site.resolve_start_urls(base)[0]
        except Exception as exc:  # noqa: BLE001 - SiteDefError: relative start URL without base
            raise WatchError(f"{exc} (give --base-url or an absolute URL)") from None
        if not urlsplit(target).scheme:
            raise WatchError(f"{target!r} is not an absolute URL (give --base-url)")
        ua = user_agent(settings)
        try:
            response = fetch(target, site, ua)
        except Disallowed as exc:
            raise WatchError(f"{exc} (set politeness.obey_robots = false only if you may)") from None
        spider = offline_spider(site, base_url=urljoin(target, "/"))
        blocks = 0 if detail_page else len(select_blocks(response, site.listing))
        posts, requests = parse_page(spider, response, detail=detail_page)
        detail_reqs = [r for r in requests if r.callback == spider.parse_detail]
        next_pages = [r.url for r in requests if r.callback != spider.parse_detail]
        skipped, fetched = [], 0
        for req in detail_reqs:
            if fetched >= details:
                break
            try:
                resp = fetch(req.url, site, ua)
            except Disallowed as exc:
                skipped.append(str(exc))
                continue
            fetched += 1
            resp = resp.replace(request=req)
            posts.extend(p for p in req.callback(resp, **req.cb_kwargs) if p.__class__.__name__ == "RawPost")
    facts = []
    if extract and posts:
        x = watch.database_extractor
        facts = [x.for_storage(p.text, p.hints, p.posted_at) for p in posts[:limit]]
    return SiteTrial(site, target, response, blocks, posts, len(detail_reqs), fetched, next_pages, skipped,
                     spider.stat("npswatch/invalid_items") or 0, facts)


# --- reparse ----------------------------------------------------------------------------------------------
def snapshot_runs(watch: "Watch", site_name: str, sites_dir: Path | None = None):
    """(the site definition, [(crawl run id, pages, first page fetched)] newest first)."""
    from npswatch.storage.snapshots import SnapshotStore

    defs = load_definitions(watch.settings, sites_dir)
    bad = defs.error_for(site_name)
    if bad:
        raise WatchError(bad)
    site = pick(defs, [site_name])[0].site
    store = SnapshotStore(watch.checked_engine(), watch.settings.data_path / "snapshots", watch.pseudonymiser.scrub)
    return site, store.runs(site.name)


def reparse(watch: "Watch", site_name: str, *, run_id: int | None = None, extract: bool = True,
            batch_size: int = 200, sites_dir: Path | None = None) -> ReparseResult:
    from npswatch.crawlers.replay import ReplayStats, replay
    from npswatch.storage.snapshots import SnapshotStore

    site, runs = snapshot_runs(watch, site_name, sites_dir)
    engine = watch.checked_engine()
    store = SnapshotStore(engine, watch.settings.data_path / "snapshots", watch.pseudonymiser.scrub)
    if not runs:
        raise WatchError(f"no snapshots of {site.name} are stored (set `snapshots = true` in its definition and "
                         "crawl it)")
    rid = run_id if run_id is not None else runs[0][0]
    pages = store.pages(site.name, rid)
    if not pages:
        raise WatchError(f"crawl run {rid} has no snapshots of {site.name}; runs with snapshots: "
                         + ", ".join(str(r) for r, _, _ in runs))
    writer = watch.writer(extract=extract)
    stats = ReplayStats()
    with watch.run_record("reparse", site.name) as run:
        result = ReparseResult(site.name, rid, run.id)
        batch = []
        try:
            for post in replay(site, pages, store.blobs.get, stats):
                batch.append(post)
                if len(batch) >= batch_size:
                    result.written += writer.write(batch)
                    batch = []
            result.written += writer.write(batch)
        finally:
            run.items = stats.posts
        w = result.written
        run.message = (f"run={rid} pages={stats.pages} missing={stats.missing} new={w.inserted} "
                       f"changed={w.updated} unchanged={w.unchanged}")
    result.pages, result.listings, result.missing = stats.pages, stats.posts, stats.missing
    return result
