"""Parse pages again without the network: stored snapshots, or a page just fetched, through the spider's callbacks.

`replay()` walks a crawl the way the spider did — from the pages it started on, following the requests the
spider's own callbacks yield (pagination, sections, detail pages) — but takes every page from the snapshot
store instead of downloading it. So `npswatch reparse SITE` with changed selectors reads old crawls exactly
as a new crawl would read the same pages: same callbacks, same ids, same relative-date base (the stored
Date header). A request whose page is not in the store (disallowed by robots.txt, failed, or a page the new
selectors find but the old crawl never fetched) is counted as missing.

`parse_page()` runs one callback on one response (used by `npswatch sources test`).
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urljoin

from scrapy import Request
from scrapy.http import Headers
from scrapy.responsetypes import responsetypes

from npswatch.crawlers.sitedef import SiteDef
from npswatch.crawlers.spiders.listing import ListingSpider
from npswatch.pipelines.rawpost import RawPost
from npswatch.storage.snapshots import StoredPage

__all__ = ["replay", "ReplayStats", "make_response", "parse_page", "offline_spider"]


@dataclass
class ReplayStats:
    pages: int = 0  # pages parsed
    missing: int = 0  # requests the callbacks made whose page was not stored
    posts: int = 0
    missing_urls: list[str] = field(default_factory=list)


def offline_spider(site: SiteDef, base_url: str | None, now: datetime | None = None) -> ListingSpider:
    """A spider with no crawler: its callbacks work, its counters are its own."""
    return ListingSpider(site, base_url=base_url, now=now)


def make_response(url: str, body: bytes, *, status: int = 200, content_type: str | None = None,
                  date: str | None = None, request: Request | None = None):
    headers = Headers()
    if content_type:
        headers["Content-Type"] = content_type
    if date:
        headers["Date"] = date
    cls = responsetypes.from_args(headers=headers, url=url, body=body)
    return cls(url=url, body=body, status=status, headers=headers, request=request or Request(url))


def parse_page(spider: ListingSpider, response, detail: bool = False) -> tuple[list[RawPost], list[Request]]:
    """Run the listing (or detail) callback on one response: the posts it yields and the requests it makes."""
    out = spider.parse_detail(response, listing={}, page=response.url) if detail else spider.parse_listing(response)
    posts, requests = [], []
    for obj in out:
        if isinstance(obj, RawPost):
            posts.append(obj)
        elif isinstance(obj, Request):
            requests.append(obj)
    return posts, requests


def replay(site: SiteDef, pages: list[StoredPage], load: Callable[[str], bytes],
           stats: ReplayStats | None = None) -> Iterator[RawPost]:
    """Yield the RawPosts the spider makes of a stored crawl (`pages`, bodies by sha256 from `load`)."""
    stats = stats if stats is not None else ReplayStats()
    by_url = {p.url: p for p in pages}
    starts = [p for p in pages if p.role == "start"] or [p for p in pages if p.role == "listing"][:1]
    if not starts:
        return
    spider = offline_spider(site, base_url=urljoin(starts[0].url, "/"))
    queue: deque[Request] = deque(Request(p.url, callback=spider.parse_listing, cb_kwargs={"role": "start"})
                                  for p in starts)
    done: set[str] = set()
    while queue:
        request = queue.popleft()
        if request.url in done:
            continue
        done.add(request.url)
        page = by_url.get(request.url)
        if page is None:
            stats.missing += 1
            stats.missing_urls.append(request.url)
            continue
        response = make_response(page.url, load(page.sha256), status=page.status, content_type=page.content_type,
                                 date=page.page_date, request=request)
        stats.pages += 1
        for obj in request.callback(response, **request.cb_kwargs):
            if isinstance(obj, Request):
                queue.append(obj)
            elif isinstance(obj, RawPost):
                stats.posts += 1
                yield obj
