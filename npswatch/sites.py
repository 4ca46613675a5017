"""Web shops found in crawled pages and posts, as use-cases (`Watch.discovered_sites`, `Watch.add_site`; the CLI's
`sources discovered`, the web app's review queue): list the queue, and add a site by writing a disabled
definition stub into the sites folder and closing its queue entry.

The stub has the start URL, a Tor proxy for a .onion site and placeholders for the selectors: an analyst
finishes it with `npswatch sources test` (README, "Onboard a real site") and sets `enabled = true`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .errors import WatchError

if TYPE_CHECKING:
    from .accounts import Account
    from .watch import Watch

__all__ = ["SiteAdded", "discovered_sites", "add_site", "STUB"]

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


@dataclass
class SiteAdded:
    origin: str  # scheme://host, the queue's key
    path: Path  # the definition stub written


def discovered_sites(watch: "Watch", *, min_mentions: int = 1, show_all: bool = False,
                     limit: int | None = None) -> list[dict]:
    """The queue, most mentioned first: key, mentions, first_seen, first_seen_in, last_seen, status."""
    from npswatch.storage.sites_found import discovered_sites as listed

    return listed(watch.checked_engine(), min_mentions=min_mentions, status=None if show_all else "new", limit=limit)


def add_site(watch: "Watch", address: str, *, sites_dir: Path | None = None, by: "Account | None" = None) -> SiteAdded:
    from npswatch.pipelines.weblinks import site_origin
    from npswatch.storage.sites_found import mark_added

    from .accounts import record, require

    actor = require(by, "analyst")
    address = (address or "").strip()
    origin = site_origin(address if "://" in address else f"http://{address}") if address else None
    if origin is None:
        raise WatchError(f"{address!r} is not a web address")
    engine = watch.checked_engine()
    path = _write_stub(Path(sites_dir) if sites_dir else watch.settings.sites_path, origin)
    mark_added(engine, origin)
    record(watch, actor, "site.add", "site", origin, {"stub": str(path)})
    return SiteAdded(origin, path)


def _write_stub(folder: Path, origin: str) -> Path:
    host = urlsplit(origin).hostname or "site"
    name = re.sub(r"[^a-z0-9]+", "-", host.removesuffix(".onion").lower()).strip("-")[:40] or "site"
    path = folder / f"{name.replace('-', '_')}.toml"
    if path.exists():
        raise WatchError(f"{path} exists already")
    proxy = ('proxy = "socks5h://127.0.0.1:9050"   # a .onion site: through Tor' if host.endswith(".onion")
             else '# proxy = "socks5h://127.0.0.1:9050"')
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(STUB.format(origin=origin, name=name, proxy=proxy), encoding="utf-8")
    return path
