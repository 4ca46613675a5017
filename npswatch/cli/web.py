"""Web collection commands: `npswatch sources list|test`, `npswatch crawl`, `npswatch reparse`.

Site definitions are read from the configured folder (`[web] sites_dir`), plus the built-in definitions of
the synthetic fixture market (`fixture-shop`, `fixture-forum`, `fixture-board`); a site is named by its
`name` or its file name (`fixture_shop` finds `fixture-shop`). The fixture sites have relative start URLs:
without `--base-url` the commands serve the built-in fixture market on a loopback port and use that.

`crawl` writes through the same writer as every collector (pseudonymised, facts extracted), records what
each crawl saw of each listing (price, stock: `listing_observation`), marks listings a complete crawl no
longer finds as disappeared, keeps page snapshots for sites that ask for them, and records one `crawl_run`
row per site. Its JOBDIR per site lives under `<data_dir>/jobs/<site>`: stop a crawl with Ctrl-C (once) and
the next `npswatch crawl` of the site resumes it; after a kill -9 the site is crawled again from the start,
storing nothing twice. With `REDIS_URL` set, all processes naming the same `--frontier` share one request
queue and duplicate filter.
"""
from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional
from urllib.parse import urljoin, urlsplit

import typer
from rich.table import Table
from rich.text import Text

from .common import console, example, fail, out, run

app = typer.Typer()  # this module's top-level commands; npswatch.cli.app registers them

sources_app = typer.Typer(help="Web site definitions: list them, try one on a live page.\n\n"
                               "Example:\n\n    npswatch sources test fixture_shop", no_args_is_help=True)


# --- site definitions ------------------------------------------------------------------------------


def _norm(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def _load_definitions(settings, sites_dir: Optional[Path]):
    """(sites by name -> (SiteDef, path, from the sites folder), [(path, error)], the folder).

    The built-in fixture definitions come after the folder's and never shadow them."""
    from npswatch.crawlers.sitedef import FIXTURE_SITES_DIR, SiteDefError, load_site

    folder = sites_dir or settings.sites_path
    found: dict[str, tuple] = {}
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
                    errors.append((path, f"name {site.name!r} is already used by {found[site.name][1]}"))
                continue
            found[site.name] = (site, path, configured)
    return found, errors, folder


def _is_fixture(path: Path) -> bool:
    from npswatch.crawlers.sitedef import FIXTURE_SITES_DIR

    return path.parent.resolve() == FIXTURE_SITES_DIR.resolve()


def _pick(found: dict, names: list[str], all_sites: bool, folder: Optional[Path] = None):
    if all_sites:
        picked = [v for v in found.values() if v[2] and v[0].enabled]
        if not picked:
            fail(f"no enabled site definitions in {folder} (built-in fixture sites are crawled by name, "
                 "e.g. `npswatch crawl fixture_shop`)")
        return picked
    if not names:
        fail("name a site (see `npswatch sources list`) or use --all")
    by_key = {}
    for name, entry in found.items():
        by_key[_norm(name)] = entry
        by_key.setdefault(_norm(entry[1].stem), entry)
    picked = []
    for n in names:
        entry = by_key.get(_norm(n))
        if entry is None:
            fail(f"no site {n!r}; known: {', '.join(sorted(found)) or 'none'} (see `npswatch sources list`)")
        picked.append(entry)
    return picked


def _user_agent(settings) -> str:
    ua, contact = settings.web.user_agent.strip(), settings.web.contact.strip()
    if not contact:
        return ua
    return f"{ua[:-1]}; {contact})" if ua.endswith(")") else f"{ua} ({contact})"


def _fixture_server(stack: ExitStack, picked, base_url: Optional[str]) -> Optional[str]:
    """Serve the built-in fixture market when a fixture site is crawled without a base URL."""
    if base_url or not any(_is_fixture(path) for _, path, _ in picked):
        return base_url
    from npswatch.crawlers.fixture_market import build_market, serve

    server = stack.enter_context(serve(build_market()))
    console.print(f"[dim]serving the built-in fixture market at {server.base_url}[/]")
    return server.base_url


def _settings_overrides(pairs: list[str]) -> dict:
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            fail(f"-s {pair!r}: expected KEY=VALUE, e.g. -s DOWNLOAD_DELAY=2")
        try:
            overrides[key.strip()] = json.loads(value)
        except ValueError:
            overrides[key.strip()] = value
    return overrides


# --- sources list ----------------------------------------------------------------------------------


@sources_app.command("list", epilog=example("npswatch sources list --sites ./sites"))
def sources_list(
    ctx: typer.Context,
    sites_dir: Optional[Path] = typer.Option(None, "--sites", help="Folder of site definitions (default: config web.sites_dir)."),
) -> None:
    """List the site definitions, with what each one crawls and how politely; bad files are named with the wrong field."""
    def _list():
        found, errors, folder = _load_definitions(ctx.obj.settings, sites_dir)
        table = Table(title=f"site definitions ({folder}{'' if folder.is_dir() else ': no such folder'} + built-in)")
        table.add_column("name", no_wrap=True)
        for col in ("start", "layout", "hints", "politeness", "options"):
            table.add_column(col, overflow="fold")
        for name, (site, path, configured) in sorted(found.items(), key=lambda kv: (not kv[1][2], kv[0])):
            layout = "list → detail" if site.follow_detail else "list"
            if site.follow:
                layout += " + follow"
            h, p = site.hints, site.politeness
            hints = " ".join(x for x in (h.country, h.currency, h.language) if x) or "-"
            pol = (f"robots {'on' if p.obey_robots else 'OFF'}, {p.download_delay:g}s, ×{p.concurrency}"
                   + (", autothrottle" if p.autothrottle else "") + (f", ≤{p.max_pages} pages" if p.max_pages else ""))
            opts = [o for o, on in (("disabled", not site.enabled), ("js", site.js), ("snapshots", site.snapshots),
                                    (f"proxy {site.proxy}", bool(site.proxy))) if on]
            if not configured:
                opts.append("built-in")
            table.add_row(name, "\n".join(site.start_urls), layout, hints, pol, ", ".join(opts) or "-")
        out.print(table)
        for path, message in errors:
            console.print(f"[bold red]invalid:[/] {message}", highlight=False, soft_wrap=True)
        if errors:
            raise typer.Exit(1)

    run(_list)


# --- sources test ----------------------------------------------------------------------------------


class _Disallowed(Exception):
    pass


def _fetch(url: str, site, user_agent: str):
    """One polite GET (robots.txt, proxy, timeout, size cap of the site) -> a Scrapy response."""
    from protego import Protego

    from npswatch.crawlers.socksbridge import SocksBridge, is_socks

    if is_socks(site.proxy):  # urllib speaks HTTP proxies only: through a bridge, names resolved by the proxy
        with SocksBridge(site.proxy) as http_proxy:
            return _fetch(url, site.model_copy(update={"proxy": http_proxy}), user_agent)

    from npswatch.crawlers.login import session_for
    from npswatch.crawlers.replay import make_response

    handlers = [urllib.request.ProxyHandler({"http": site.proxy, "https": site.proxy} if site.proxy else {})]
    opener = urllib.request.build_opener(*handlers)
    headers = {"User-Agent": user_agent, "Accept": "text/html,*/*;q=0.8"}
    timeout = site.politeness.timeout
    if site.politeness.obey_robots:
        robots_url = urljoin(url, "/robots.txt")
        try:
            with opener.open(urllib.request.Request(robots_url, headers=headers), timeout=timeout) as r:
                robots = Protego.parse(r.read(512 * 1024).decode("utf-8", "replace"))
        except (urllib.error.URLError, OSError):
            robots = None  # no robots.txt: everything allowed
        if robots is not None and not robots.can_fetch(url, user_agent):
            raise _Disallowed(f"{url} is disallowed by {robots_url}")
    cap = int(site.politeness.max_size_mb * 1024 * 1024)
    cookies, session_headers = session_for(site)  # [login]: the page as the logged-in session sees it
    if cookies:
        session_headers = {**session_headers, "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
    if site.js:  # rendered in Chromium: the DOM after the page's scripts ran
        from npswatch.crawlers.jsrender import render

        final, status, body, ctype = render(url, timeout=timeout, user_agent=user_agent, proxy=site.proxy,
                                            headers=session_headers)
        return make_response(final, body, status=status, content_type=ctype)
    try:
        with opener.open(urllib.request.Request(url, headers={**headers, **session_headers}), timeout=timeout) as r:
            body = r.read(cap + 1)
            status, ctype, date, final = r.status, r.headers.get("Content-Type"), r.headers.get("Date"), r.geturl()
    except urllib.error.HTTPError as exc:
        fail(f"{url}: HTTP {exc.code} {exc.reason}")
    except (urllib.error.URLError, OSError) as exc:
        fail(f"{url}: {getattr(exc, 'reason', exc)}")
    if len(body) > cap:
        fail(f"{url}: larger than the site's size cap ({site.politeness.max_size_mb:g} MB)")
    return make_response(final, body, status=status, content_type=ctype, date=date)


def _short(value, n: int = 60) -> str:
    if value is None or value == "":
        return "-"
    s = " ".join(str(value).split())
    return s if len(s) <= n else s[: n - 1] + "…"


def _print_listing(n: int, total: int, post, stored: str, facts) -> None:
    """One listing as a crawl would store it: scraped text printed as plain text (no markup, control codes
    stripped), each stored line on a line of its own, so it reads at any width."""
    head = Text.assemble((f"── listing {n} of {total} ", "bold"), ("id ", "dim"), post.external_id)
    out.print(head, highlight=False, soft_wrap=True)
    if post.url:
        out.print(Text.assemble(("   link ", "dim"), post.url), highlight=False, soft_wrap=True)
    for line in stored.split("\n"):
        out.print(Text("   " + line), highlight=False, soft_wrap=True)
    meta = [f"{k} {v}" for k, v in post.structured.given().items()]
    if post.posted_at:
        meta.append(f"posted {post.posted_at:%Y-%m-%d %H:%M}")
    if post.author:
        meta.append(f"seller {post.author} (stored pseudonymised)")
    for m in meta:
        out.print(Text.assemble(("   · ", "dim"), m), highlight=False, soft_wrap=True)
    if facts is not None:
        subs, offers, regions = _facts_row(facts)
        for label, value in (("substances", subs), ("offers", offers), ("regions", regions)):
            out.print(Text.assemble((f"   → {label}: ", "cyan"), value), highlight=False, soft_wrap=True)


def _facts_row(facts) -> tuple[str, str, str]:
    data = facts.to_json("x")
    subs = ", ".join(s["canonical"] or s["matched"] for s in data["substances"]) or "-"
    offers = "; ".join(f"{o['canonical'] or o['class']} {o['quantity']:g} {o['unit']} = {o['price']:g} "
                       f"{o['currency'] or '?'}" for o in data["offers"]) or "-"
    regions = ", ".join(f"{r['name']} ({r['country']})" for r in data["regions"]) or "-"
    return subs, offers, regions


@sources_app.command("test", epilog=example("npswatch sources test fixture_board --details 5"))
def sources_test(
    ctx: typer.Context,
    site_name: str = typer.Argument(..., metavar="SITE", help="Site name (or file name) of a definition."),
    url: Optional[str] = typer.Argument(None, help="Page to try (absolute, or a path joined to the base URL); default: the first start URL."),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="Base for relative start URLs (built-in fixture sites: served locally if omitted)."),
    details: int = typer.Option(3, "--details", min=0, help="Also fetch this many detail pages (sites with follow_detail)."),
    detail_page: bool = typer.Option(False, "--detail", help="URL is a detail page: read it with follow_detail.fields."),
    limit: int = typer.Option(30, "--limit", min=1, help="Show at most this many listings."),
    extract: bool = typer.Option(True, "--extract/--no-extract", help="Show what the extractor makes of each listing."),
    sites_dir: Optional[Path] = typer.Option(None, "--sites", help="Folder of site definitions (default: config web.sites_dir)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per listing (for scripts) instead of text."),
) -> None:
    """Fetch one page and show what a crawl would store of each listing, and the facts it gives.

    Per listing: its id and link, the stored text as it reaches the extractor (one field per line, in page
    order, identifiers pseudonymised), the structured fields that make its offer, and the substances, offers
    and regions extracted. The fastest way to write selectors: edit the TOML file, run this again. Nothing is
    stored.
    """
    from scrapy.exceptions import CloseSpider

    from npswatch.crawlers.jsrender import js_unavailable
    from npswatch.crawlers.login import session_for
    from npswatch.crawlers.replay import offline_spider, parse_page
    from npswatch.crawlers.sitedef import SiteDefError

    def _test():
        settings = ctx.obj.settings
        found, errors, _ = _load_definitions(settings, sites_dir)
        bad = [m for p, m in errors if _norm(p.stem) == _norm(site_name)]
        if bad:
            fail(bad[0])
        site, path, _ = _pick(found, [site_name], False)[0]
        with ExitStack() as stack:
            if site.js and (why := js_unavailable()):
                fail(f"{site.name} needs JavaScript rendering (js = true): {why}")
            base = (_fixture_server(stack, [(site, path, False)], base_url)
                    if not (url and urlsplit(url).scheme) else base_url)
            try:
                target = (urljoin((base or site.base_url or "").rstrip("/") + "/", url.lstrip("/"))
                          if url and not urlsplit(url).scheme else url) or site.resolve_start_urls(base)[0]
            except Exception as exc:  # noqa: BLE001 - SiteDefError: relative start URL without base
                fail(f"{exc} (give --base-url or an absolute URL)")
            if not urlsplit(target).scheme:
                fail(f"{target!r} is not an absolute URL (give --base-url)")
            ua = _user_agent(settings)
            try:
                session_for(site)
            except SiteDefError as exc:
                fail(str(exc))
            try:
                response = _fetch(target, site, ua)
            except _Disallowed as exc:
                fail(f"{exc} (set politeness.obey_robots = false only if you may)")
            spider = offline_spider(site, base_url=urljoin(target, "/"))
            blocks = 0 if detail_page else len(__import__("npswatch.crawlers.spiders.extract", fromlist=["select"])
                                                 .select(response, site.listing))
            try:
                posts, requests = parse_page(spider, response, detail=detail_page)
            except CloseSpider:
                fail(f"login expired for {site.name}: {target} shows the login form (login.logged_out); "
                     "refresh the session's cookies")
            detail_reqs = [r for r in requests if r.callback == spider.parse_detail]
            next_pages = [r.url for r in requests if r.callback != spider.parse_detail]
            skipped, fetched = [], 0
            for req in detail_reqs:
                if fetched >= details:
                    break
                try:
                    resp = _fetch(req.url, site, ua)
                except _Disallowed as exc:
                    skipped.append(str(exc))
                    continue
                fetched += 1
                resp = resp.replace(request=req)
                posts.extend(p for p in req.callback(resp, **req.cb_kwargs)
                             if p.__class__.__name__ == "RawPost")

        ps = ctx.obj.pseudonymiser
        x = ctx.obj.extractor(ctx.obj.optional_engine()) if extract and posts else None
        shown = []
        for p in posts[:limit]:
            stored = ps.scrub(p.text)
            facts = x.for_storage(stored, p.hints, p.posted_at, p.structured) if x is not None else None
            shown.append((p, stored, facts))
        if as_json:
            for p, stored, facts in shown:
                doc = {"id": p.external_id, "url": p.url, "text": stored, "lines": stored.split("\n"),
                       "structured": p.structured.given(), "posted_at": p.posted_at.isoformat() if p.posted_at else None,
                       "author": ps.handle(p.author), "stock": (p.extra or {}).get("stock")}
                if facts is not None:
                    doc["facts"] = facts.to_json()
                sys.stdout.write(json.dumps(doc, ensure_ascii=False) + "\n")
            if not posts:
                raise typer.Exit(1)
            return
        out.print(f"[bold]{site.name}[/] {target}: HTTP {response.status}, {len(response.body):,} bytes"
                  + ("" if detail_page else f", {blocks} listing blocks") + f", {len(posts)} listings"
                  + (f" ({len(detail_reqs)} detail links, {fetched} fetched)" if detail_reqs else ""),
                  highlight=False, soft_wrap=True)
        for n, (p, stored, facts) in enumerate(shown, 1):
            _print_listing(n, len(posts), p, stored, facts)
        if len(posts) > limit:
            out.print(f"[dim]… and {len(posts) - limit} more listings (--limit)[/]")
        if next_pages:
            out.print(f"next pages it would follow ({len(next_pages)}): " + ", ".join(next_pages[:8])
                      + (" …" if len(next_pages) > 8 else ""), highlight=False, soft_wrap=True)
        for note in skipped:
            out.print(f"[dim]detail page skipped: {note}[/]", highlight=False, soft_wrap=True)
        invalid = spider.stat("npswatch/invalid_items")
        if invalid:
            out.print(f"[yellow]{invalid} blocks gave no text[/] (check fields.text)")
        if not posts:
            hint = ("the listing selector matched nothing" if not blocks and not detail_page
                    else "blocks matched but no listing was built (check fields.text / follow_detail)")
            console.print(f"[bold red]no listings:[/] {hint}")
            raise typer.Exit(1)

    run(_test)


@sources_app.command("discovered", epilog=example("npswatch sources discovered --min 3\n\n"
                                                   "    npswatch sources discovered --add http://shop.example.invalid"))
def sources_discovered(
    ctx: typer.Context,
    min_mentions: int = typer.Option(1, "--min", min=1, help="Only sites named by at least this many pages/posts."),
    show_all: bool = typer.Option(False, "--all", help="Also the sites already added."),
    add: Optional[str] = typer.Option(None, "--add", metavar="ADDRESS", help="Write a definition stub for this site "
                                      "into the sites folder and mark it added."),
    sites_dir: Optional[Path] = typer.Option(None, "--sites", help="Folder of site definitions (default: config web.sites_dir)."),
) -> None:
    """Web shops and markets that crawled pages and posts link to or name (.onion mirror lists too): a review queue.

    Most mentioned first, with when and where each was first seen. `--add` writes a disabled definition stub
    (start URL, a SOCKS proxy for .onion, placeholders for the selectors) to finish with `sources test`.
    """
    from npswatch.pipelines.weblinks import site_origin
    from npswatch.storage.sites_found import discovered_sites, mark_added

    def _go():
        engine = ctx.obj.checked_engine()
        if add:
            origin = site_origin(add if "://" in add else f"http://{add}")
            if origin is None:
                fail(f"{add!r} is not a web address")
            folder = sites_dir or ctx.obj.settings.sites_path
            path = _write_stub(folder, origin)
            mark_added(engine, origin)
            out.print(f"definition stub for {origin} written to {path}: fill in `listing` and the fields, try it "
                      f"with `npswatch sources test {path.stem}`, then set enabled = true", highlight=False,
                      soft_wrap=True)
            return
        rows = discovered_sites(engine, min_mentions=min_mentions, status=None if show_all else "new")
        if not rows:
            out.print("no sites discovered yet (crawl pages or collect posts that link to other sites)")
            return
        t = Table(title="web sites discovered (times UTC)")
        for col in ("site", "mentions", "first seen", "first seen in", "last seen", "status"):
            t.add_column(col, overflow="fold")
        for r in rows:
            t.add_row(Text(r["key"]), str(r["mentions"]), f"{r['first_seen']:%Y-%m-%d %H:%M}" if r["first_seen"] else "-",
                      Text(r["first_seen_in"] or "-"), f"{r['last_seen']:%Y-%m-%d %H:%M}" if r["last_seen"] else "-",
                      r["status"])
        out.print(t)

    run(_go)


STUB = """\
# Definition stub for a site found by `npswatch sources discovered` ({origin}). Fill in `listing` and the
# fields (see README, "Onboard a real site"), try it with `npswatch sources test {name}`, then enable it.
name = "{name}"
enabled = false
start_urls = ["{origin}/"]
listing = "div.CHANGE-ME"            # one listing block
{proxy}
[fields]
title = "CHANGE-ME"                  # title or text is required
# price = "..."                      # the price as displayed: with it, the fields make the offer
# ships_from = "..."
[hints]
# language = "en"
"""


def _write_stub(folder: Path, origin: str) -> Path:
    import re

    host = urlsplit(origin).hostname or "site"
    name = re.sub(r"[^a-z0-9]+", "-", host.removesuffix(".onion").lower()).strip("-")[:40] or "site"
    path = folder / f"{name.replace('-', '_')}.toml"
    if path.exists():
        fail(f"{path} exists already")
    proxy = ('proxy = "socks5h://127.0.0.1:9050"   # a .onion site: through Tor' if host.endswith(".onion")
             else '# proxy = "socks5h://127.0.0.1:9050"')
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(STUB.format(origin=origin, name=name, proxy=proxy), encoding="utf-8")
    return path


# --- crawl -----------------------------------------------------------------------------------------


@app.command(epilog=example("npswatch crawl fixture_shop"))
def crawl(
    ctx: typer.Context,
    sites: list[str] = typer.Argument(None, metavar="[SITE]...", help="Site names (or file names) to crawl."),
    all_sites: bool = typer.Option(False, "--all", help="Crawl every enabled site of the sites folder (not the built-in fixture sites)."),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="Base for relative start URLs (built-in fixture sites: served locally if omitted)."),
    extract: bool = typer.Option(True, "--extract/--no-extract", help="Extract facts while storing (else store the posts only)."),
    batch_size: int = typer.Option(200, "--batch-size", min=1, help="Listings per database transaction."),
    setting: list[str] = typer.Option([], "--set", "-s", help="Scrapy setting KEY=VALUE for this run (beats the site's politeness)."),
    redis_url: Optional[str] = typer.Option(None, "--redis-url", envvar="REDIS_URL", help="Share the request queue and duplicate filter with other crawl processes (scrapy-redis)."),
    frontier: str = typer.Option("default", "--frontier", help="Name of the shared frontier (processes with the same name share it)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Scrapy's INFO log (default: warnings only)."),
    sites_dir: Optional[Path] = typer.Option(None, "--sites", help="Folder of site definitions (default: config web.sites_dir)."),
) -> None:
    """Crawl sites: store their listings, track price and stock per listing, record the run.

    Ctrl-C once stops cleanly and the next crawl of the site resumes; a crawl killed outright is redone
    from the start on the next run, and nothing is stored twice.
    """
    run(lambda: _crawl(ctx.obj, sites or [], all_sites, base_url, extract, batch_size, setting, redis_url,
                       frontier, verbose, sites_dir))


def _crawl(app_ctx, names, all_sites, base_url, extract, batch_size, setting, redis_url, frontier, verbose,
           sites_dir) -> None:
    from npswatch.crawlers.jsrender import js_unavailable
    from npswatch.crawlers.login import session_for
    from npswatch.crawlers.sitedef import SiteDefError

    found, errors, folder = _load_definitions(app_ctx.settings, sites_dir)
    for path, message in errors:
        if any(_norm(path.stem) == _norm(n) for n in names):
            fail(message)
        if all_sites:
            console.print(f"[yellow]skipping an invalid definition:[/] {message}", highlight=False, soft_wrap=True)
    picked = _pick(found, names, all_sites, folder)
    why = js_unavailable() if any(s.js for s, _, _ in picked) else None
    skipped = [s.name for s, _, _ in picked if s.js and why]
    picked = [p for p in picked if not (p[0].js and why)]
    for name in skipped:
        console.print(f"[yellow]skipping {name}:[/] it needs JavaScript rendering (js = true): {why}",
                      highlight=False, soft_wrap=True)
    if not picked:
        fail("nothing to crawl")
    stack = ExitStack()
    base = _fixture_server(stack, picked, base_url)
    for s in (p[0] for p in picked):
        try:
            s.resolve_start_urls(base)
        except SiteDefError as exc:
            stack.close()
            fail(f"{exc} (give --base-url)")
        try:
            session_for(s)  # a [login] whose variable or file is missing: refused before any run is recorded
        except SiteDefError as exc:
            stack.close()
            fail(str(exc))
    with stack:
        _crawl_sites(app_ctx, [p[0] for p in picked], base, extract, batch_size, setting, redis_url, frontier,
                     verbose)


def _crawl_sites(app_ctx, site_defs, base, extract, batch_size, setting, redis_url, frontier, verbose) -> None:
    from npswatch.crawlers.jobs import JobBusy, JobDir
    from npswatch.crawlers.webcrawl import CrawlError, crawl_sites
    from npswatch.storage.listings import ListingTracker, ObserveResult, offer_coverage
    from npswatch.storage.sites_found import record_sites
    from npswatch.storage.runs import finish_run, start_run
    from npswatch.storage.snapshots import SnapshotStore
    from npswatch.storage.writer import WriteResult

    settings = app_ctx.settings
    writer = app_ctx.writer(extract=extract)
    engine = writer.engine
    tracker = ListingTracker(engine)
    store = SnapshotStore(engine, settings.data_path / "snapshots")
    jobs, starts = {}, {}
    if not redis_url:  # a shared frontier lives in Redis; a local one in a JOBDIR per site
        for s in site_defs:
            jobs[s.name] = JobDir(settings.data_path / "jobs", s.name)
            try:
                jobs[s.name].lock()
            except JobBusy as exc:
                fail(f"{exc} (wait for it, or stop it with Ctrl-C)")
    runs = {s.name: start_run(engine, "crawl", s.name) for s in site_defs}
    if not redis_url:
        for s in site_defs:
            starts[s.name] = jobs[s.name].begin(runs[s.name])
            st = starts[s.name]
            if st.resumed:
                console.print(f"[cyan]{s.name}: resuming the crawl paused earlier (started {st.started_at:%Y-%m-%d %H:%M})[/]")
            elif st.crashed:
                console.print(f"[yellow]{s.name}: the previous crawl did not stop cleanly; crawling again from the start "
                              "(what it stored stays, nothing is stored twice)[/]")
                if st.crashed_run_id:
                    finish_run(engine, st.crashed_run_id, status="failed",
                               message=f"interrupted (process killed); crawled again by run {runs[s.name]}")

    written = {s.name: WriteResult() for s in site_defs}
    observed = {s.name: ObserveResult() for s in site_defs}

    def on_batch(posts):
        name = posts[0].source
        written[name] += writer.write(posts)
        observed[name] += tracker.observe(runs[name], posts)

    def on_snapshots(pages):
        store.save(runs[pages[0].source], pages)

    overrides = {"USER_AGENT": _user_agent(settings), "LOG_LEVEL": "INFO" if verbose else "WARNING",
                 **_settings_overrides(setting)}
    failure: Optional[CrawlError] = None
    console.print(f"[dim]crawling {', '.join(s.name for s in site_defs)}"
                  + (f" (shared frontier {frontier!r})" if redis_url else "") + "…[/]")
    try:
        stats = crawl_sites(site_defs, base_url=base, on_batch=on_batch, batch_size=batch_size,
                            settings_overrides=overrides, on_snapshots=on_snapshots,
                            jobdirs={n: j.path for n, j in jobs.items()} or None,
                            redis_url=redis_url, frontier=frontier)
    except CrawlError as exc:
        failure, stats = exc, exc.stats
    except BaseException as exc:
        for name, run_id in runs.items():
            finish_run(engine, run_id, status="failed", message=repr(exc))
        raise

    coverage = offer_coverage(engine, list(runs.values())) if extract else {}
    found_at = datetime.now(timezone.utc)
    with engine.begin() as conn:  # other sites the pages link to: the discovery queue (`sources discovered`)
        for name, st in stats.sites.items():
            record_sites(conn, [(o, found_at, name) for o, n in st.found_sites.items() for _ in range(n)])
    table = Table(title="crawl summary")
    for col in ("site", "pages", "listings", "no offer", "new", "changed", "price Δ", "stock ↓", "gone", "dropped",
                "errors"):
        table.add_column(col, justify="left" if col == "site" else "right", no_wrap=col == "site")
    notes = []
    exit_code = 0
    for s in site_defs:
        name = s.name
        st = stats.sites.get(name)
        if st is None:
            finish_run(engine, runs[name], status="failed", message="not crawled")
            continue
        disappeared: Optional[int] = None
        if st.complete and name in starts and starts[name].earlier_failures:
            st.complete = False  # pages were lost before the pause
        if st.complete:
            since = datetime.fromisoformat(st.started_at) if redis_url else starts[name].started_at
            disappeared = tracker.mark_disappeared(name, since)
            status = "complete"
        elif redis_url and st.finish_reason == "finished" and not st.frontier_done:
            status = "done here (others finish the frontier)"
        elif st.finish_reason == "finished":
            status = ("finished, incomplete (requests failed, or a process of the shared frontier was killed)"
                      if redis_url else "finished, incomplete (failed requests or page limit)")
        elif st.finish_reason == "login_expired":
            status = f"login expired for {name}: refresh the session's cookies ([login] of its definition)"
        else:
            status = f"stopped: {st.finish_reason}" + ("; run again to resume" if name in jobs else "")
        if name in jobs:
            # a crawl stopped by an expired login starts afresh with the new session (its queued requests carry
            # the old cookies): the job folder is cleared as after a finished crawl
            reason = "finished" if st.finish_reason == "login_expired" else st.finish_reason
            jobs[name].end(reason if not (failure and name in failure.causes) else "batch_write_failed",
                           failures=st.failed_requests)
        w, o = written[name], observed[name]
        no_offer = coverage.get(runs[name], (0, 0))[1] if extract else None
        cause = failure.causes.get(name) if failure else None
        all_failed = st.pages == 0 and (st.failed_requests > 0 or st.dropped > 0)  # not one page fetched
        if all_failed:
            status = f"failed: every request failed ({st.failed_requests} failed, {st.dropped} refused or dropped)"
        ok = st.finish_reason == "finished" and cause is None and not all_failed
        exit_code = exit_code or (0 if ok else 1)
        message = (f"pages={st.pages} listings={st.items} no_offer={no_offer} new={w.inserted} changed={w.updated} price_changes="
                   f"{o.price_changes} stock_drops={o.stock_drops} disappeared={disappeared} dropped={st.dropped} "
                   f"failed_requests={st.failed_requests} snapshots={st.snapshots} {status}")
        if cause is not None:
            message = f"storage failed: {cause!r}; " + message
        finish_run(engine, runs[name], status="ok" if ok else "failed", items=st.items, errors=st.errors,
                   message=message)
        if s.snapshots:
            store.prune(s.snapshot_days or settings.retention.snapshot_days, source=name)
        table.add_row(name, str(st.pages), str(st.items), "-" if no_offer is None else str(no_offer), str(w.inserted), str(w.updated), str(o.price_changes),
                      f"{o.stock_drops} (-{o.units_gone})" if o.stock_drops else "0",
                      "-" if disappeared is None else str(disappeared), str(st.dropped), str(st.errors))
        notes.append(f"{name} (crawl run {runs[name]}): " + (status if cause is None else f"storage failed: {cause!r}"))
    out.print(table)
    for note in notes:
        out.print(note, highlight=False, soft_wrap=True)
    if exit_code:
        raise typer.Exit(exit_code)


# --- reparse ---------------------------------------------------------------------------------------


@app.command(epilog=example("npswatch reparse fixture_shop --run 12"))
def reparse(
    ctx: typer.Context,
    site_name: str = typer.Argument(..., metavar="SITE", help="Site whose stored page snapshots to parse again."),
    run_id: Optional[int] = typer.Option(None, "--run", help="Crawl run to re-read (default: the latest with snapshots)."),
    list_runs: bool = typer.Option(False, "--list", help="List the crawl runs with snapshots and stop."),
    extract: bool = typer.Option(True, "--extract/--no-extract", help="Extract facts while storing."),
    batch_size: int = typer.Option(200, "--batch-size", min=1),
    sites_dir: Optional[Path] = typer.Option(None, "--sites", help="Folder of site definitions (default: config web.sites_dir)."),
) -> None:
    """Parse a site's stored page snapshots again with its current definition, without the network.

    Listings are written through the same writer as a crawl: changed texts become new versions and their
    facts are extracted again; nothing is stored twice. Needs `snapshots = true` in the definition.
    """
    def _reparse():
        from npswatch.crawlers.replay import ReplayStats, replay
        from npswatch.storage.runs import finish_run, start_run
        from npswatch.storage.snapshots import SnapshotStore
        from npswatch.storage.writer import WriteResult

        settings = ctx.obj.settings
        found, errors, _ = _load_definitions(settings, sites_dir)
        bad = [m for p, m in errors if _norm(p.stem) == _norm(site_name)]
        if bad:
            fail(bad[0])
        site = _pick(found, [site_name], False)[0][0]
        engine = ctx.obj.checked_engine()
        store = SnapshotStore(engine, settings.data_path / "snapshots")
        runs = store.runs(site.name)
        if list_runs:
            table = Table(title=f"{site.name}: crawls with snapshots")
            for col in ("run", "pages", "first page fetched"):
                table.add_column(col)
            for rid, n, first in runs:
                table.add_row(str(rid), str(n), f"{first:%Y-%m-%d %H:%M}" if first else "-")
            out.print(table)
            return
        if not runs:
            fail(f"no snapshots of {site.name} are stored (set `snapshots = true` in its definition and crawl it)")
        rid = run_id if run_id is not None else runs[0][0]
        pages = store.pages(site.name, rid)
        if not pages:
            fail(f"crawl run {rid} has no snapshots of {site.name}; runs with snapshots: "
                 + ", ".join(str(r) for r, _, _ in runs))
        writer = ctx.obj.writer(extract=extract)
        job = start_run(engine, "reparse", site.name)
        stats, total, batch = ReplayStats(), WriteResult(), []
        try:
            for post in replay(site, pages, store.blobs.get, stats):
                batch.append(post)
                if len(batch) >= batch_size:
                    total += writer.write(batch)
                    batch = []
            total += writer.write(batch)
        except BaseException as exc:
            finish_run(engine, job, status="failed", items=stats.posts, message=repr(exc))
            raise
        finish_run(engine, job, status="ok", items=stats.posts,
                   message=f"run={rid} pages={stats.pages} missing={stats.missing} new={total.inserted} "
                           f"changed={total.updated} unchanged={total.unchanged}")
        out.print(f"{site.name}: re-read crawl run {rid}: {stats.pages} stored pages, {stats.posts} listings — "
                  f"{total.inserted} new, {total.updated} changed, {total.unchanged} unchanged; "
                  f"{total.offers} offers extracted" + (f"; {stats.missing} linked pages not stored" if stats.missing else ""),
                  highlight=False, soft_wrap=True)

    run(_reparse)
