"""Web collection commands: `npswatch sources list|test`, `npswatch crawl`, `npswatch reparse`.

The use-cases live in `npswatch.crawl` (`Watch.crawl`, `Watch.reparse`); this module parses, calls, renders.
Stop a crawl with Ctrl-C (once) and the next `npswatch crawl` of the site resumes it. With `REDIS_URL` set,
all processes naming the same `--frontier` share one request queue and duplicate filter.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text


from .common import console, example, fail, notify, out, result_file, run

app = typer.Typer()  # this module's top-level commands; npswatch.cli.app registers them

sources_app = typer.Typer(help="Web site definitions: list them, try one on a live page.\n\n"
                               "Example:\n\n    npswatch sources test fixture_shop", no_args_is_help=True)


# --- helpers ---------------------------------------------------------------------------------------------


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
        from npswatch.crawl import load_definitions

        defs = load_definitions(ctx.obj.settings, sites_dir)
        found, errors, folder = defs.found, defs.errors, defs.folder
        table = Table(title=f"site definitions ({folder}{'' if folder.is_dir() else ': no such folder'} + built-in)")
        table.add_column("name", no_wrap=True)
        for col in ("start", "layout", "hints", "politeness", "options"):
            table.add_column(col, overflow="fold")
        for name, d in sorted(found.items(), key=lambda kv: (not kv[1].configured, kv[0])):
            site, configured = d.site, d.configured
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
        for _path, message in errors:
            console.print(f"[bold red]invalid:[/] {message}", highlight=False, soft_wrap=True)
        if errors:
            raise typer.Exit(1)

    run(_list)


# --- sources test ----------------------------------------------------------------------------------


def _print_listing(n: int, total: int, post, stored: str, facts) -> None:
    """One listing as a crawl would store it: scraped text printed as plain text (no markup, control codes
    stripped), each stored line on a line of its own, so it reads at any width."""
    out.print(Text.assemble((f"── listing {n} of {total} ", "bold"), ("id ", "dim"), post.external_id),
              highlight=False, soft_wrap=True)
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


def _facts_row(facts) -> tuple[Text, Text, Text]:
    data = facts.to_json("x")
    subs = ", ".join(s["canonical"] or s["matched"] for s in data["substances"]) or "-"
    offers = "; ".join(f"{o['canonical'] or o['class']} {o['quantity']:g} {o['unit']} = {o['price']:g} "
                       f"{o['currency'] or '?'}" for o in data["offers"]) or "-"
    regions = ", ".join(f"{r['name']} ({r['country']})" for r in data["regions"]) or "-"
    return Text(subs), Text(offers), Text(regions)


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
    def _test():
        t = ctx.obj.try_site(site_name, url, base_url=base_url, details=details, detail_page=detail_page,
                             extract=extract, limit=limit, sites_dir=sites_dir, notify=notify)
        site, target, response, blocks, posts = t.site, t.target, t.response, t.blocks, t.listings
        detail_reqs, fetched, next_pages, skipped, invalid = t.detail_links, t.fetched, t.next_pages, t.skipped, t.invalid
        shown = list(zip(posts[:limit], t.stored, t.facts or [None] * len(t.stored)))
        if as_json:
            ps = ctx.obj.pseudonymiser
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
        out.print(f"[bold]{escape(site.name)}[/] {escape(target)}: HTTP {response.status}, {len(response.body):,} bytes"
                  + ("" if detail_page else f", {blocks} listing blocks") + f", {len(posts)} listings"
                  + (f" ({detail_reqs} detail links, {fetched} fetched)" if detail_reqs else ""),
                  highlight=False, soft_wrap=True)
        for n, (p, stored, facts) in enumerate(shown, 1):
            _print_listing(n, len(posts), p, stored, facts)
        if len(posts) > limit:
            out.print(f"[dim]… and {len(posts) - limit} more listings (--limit)[/]")
        if next_pages:
            out.print(Text(f"next pages it would follow ({len(next_pages)}): " + ", ".join(next_pages[:8])
                           + (" …" if len(next_pages) > 8 else "")), highlight=False, soft_wrap=True)
        for note in skipped:
            out.print(Text(f"detail page skipped: {note}", style="dim"), highlight=False, soft_wrap=True)
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
    def _go():
        if add:
            r = ctx.obj.add_site(add, sites_dir=sites_dir)
            out.print(f"definition stub for {r.origin} written to {r.path}: fill in `listing` and the fields, try it "
                      f"with `npswatch sources test {r.path.stem}`, then set enabled = true", highlight=False,
                      soft_wrap=True)
            return
        rows = ctx.obj.discovered_sites(min_mentions=min_mentions, show_all=show_all)
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
    overrides = _settings_overrides(setting)

    def _crawl():
        r = ctx.obj.crawl(sites or [], all_sites=all_sites, base_url=base_url, extract=extract,
                          batch_size=batch_size, scrapy_settings=overrides, redis_url=redis_url, frontier=frontier,
                          verbose=verbose, sites_dir=sites_dir, notify=notify)
        result_file(ctx, r)
        table = Table(title="crawl summary")
        for col in ("site", "pages", "listings", "no offer", "new", "changed", "price Δ", "stock ↓", "gone", "dropped",
                    "errors"):
            table.add_column(col, justify="left" if col == "site" else "right", no_wrap=col == "site")
        for s in r.sites:
            w, o = s.written, s.observed
            table.add_row(s.site, str(s.pages), str(s.listings), "-" if s.no_offer is None else str(s.no_offer),
                          str(w.inserted), str(w.updated), str(o.price_changes),
                          f"{o.stock_drops} (-{o.units_gone})" if o.stock_drops else "0",
                          "-" if s.disappeared is None else str(s.disappeared), str(s.dropped), str(s.errors))
        out.print(table)
        for s in r.sites:
            out.print(f"{s.site} (crawl run {s.run_id}): " + (s.status if s.cause is None else f"storage failed: {s.cause}"),
                      highlight=False, soft_wrap=True)
        if not all(s.ok for s in r.sites):
            raise typer.Exit(1)

    run(_crawl)


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
    facts are extracted again; nothing is stored twice. Snapshots are kept unless the definition says
    `snapshots = false`.
    """
    def _reparse():
        if list_runs:
            from npswatch.crawl import snapshot_runs

            site, runs = snapshot_runs(ctx.obj, site_name, sites_dir)
            table = Table(title=f"{site.name}: crawls with snapshots")
            for col in ("run", "pages", "first page fetched"):
                table.add_column(col)
            for rid, n, first in runs:
                table.add_row(str(rid), str(n), f"{first:%Y-%m-%d %H:%M}" if first else "-")
            out.print(table)
            return
        r = ctx.obj.reparse(site_name, run_id=run_id, extract=extract, batch_size=batch_size, sites_dir=sites_dir)
        result_file(ctx, r)
        w = r.written
        out.print(f"{r.site}: re-read crawl run {r.crawl_run}: {r.pages} stored pages, {r.listings} listings — "
                  f"{w.inserted} new, {w.updated} changed, {w.unchanged} unchanged; "
                  f"{w.offers} offers extracted" + (f"; {r.missing} linked pages not stored" if r.missing else ""),
                  highlight=False, soft_wrap=True)

    run(_reparse)
