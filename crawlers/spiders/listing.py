"""`ListingSpider`: one generic Scrapy spider for every site described by a TOML `SiteDef`.

For each listing page it selects the listing blocks, reads their fields, and either yields a
`RawPost` or follows the block's detail link and completes the fields there; then it follows the
definition's `follow` links (threads, sections) and `pagination`. Scrapy's duplicate filter keeps
every URL to one fetch, and the robots.txt middleware drops disallowed ones.

The RawPost it builds (see `build_post`):
- source: the site name; external_id: the `id` field, else the link's path+query+fragment (host-free,
  so moving the site keeps ids), else "sha1:" of the text;
- text: title, text, "quantity — price" and city joined by newlines (parts already in the text are
  not repeated), so the extractor sees them all;
- author: the vendor field; posted_at: the date string parsed with the site's languages, relative
  dates counted from `now` (fixed, for tests) or the response's Date header;
- hints: the site's country, currency, language; extra: stock (int or None), title, raw price,
  quantity and city strings, and the listing page URL.

>>> from crawlers.sitedef import parse_site
>>> site = parse_site('name = "s"\\nstart_urls = ["/a"]\\nlisting = "li"\\n[fields]\\ntext = "p"')
>>> ListingSpider(site, base_url="http://127.0.0.1:1").start_urls
['http://127.0.0.1:1/a']
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import scrapy
from scrapy.exceptions import DownloadCancelledError, IgnoreRequest
from scrapy.http import Response, TextResponse

from crawlers.sitedef import Fields, SiteDef, SiteDefError
from crawlers.spiders.extract import compose_text, extract, extract_all, parse_posted, parse_stock, select
from pipelines.rawpost import InvalidPost, RawPost, SourceHints

__all__ = ["ListingSpider", "compose_text", "parse_stock", "external_id_for"]


def external_id_for(listing_id: str | None, link: str | None, text: str) -> str:
    """Stable id of a listing within its site.

    >>> external_id_for(None, "http://h:1/board/ad/7?x=1", "t"), external_id_for("42", "/x", "t")
    ('/board/ad/7?x=1', '42')
    """
    if listing_id:
        return listing_id
    if link:
        parts = urlsplit(link)
        return parts.path + (f"?{parts.query}" if parts.query else "") + (f"#{parts.fragment}" if parts.fragment else "")
    return "sha1:" + hashlib.sha1(text.encode()).hexdigest()[:20]


def _http(url: str) -> bool:
    return urlsplit(url).scheme in ("http", "https")


class ListingSpider(scrapy.Spider):
    name = "listing"

    def __init__(self, site: SiteDef, base_url: str | None = None, now: datetime | None = None,
                 batch_sink=None, progress_hook=None, **kwargs: Any) -> None:
        if site.js:
            raise SiteDefError(site.name, [("js", "the site needs JavaScript rendering; the generic spider "
                                                  "only reads server-rendered HTML")])
        super().__init__(name=site.name, **kwargs)
        self.site = site
        self.base_url = base_url
        self.start_urls = site.resolve_start_urls(base_url)
        self.allowed_domains = sorted({urlsplit(u).hostname for u in self.start_urls if urlsplit(u).hostname})
        if now is not None and now.tzinfo is None:
            now = now.replace(tzinfo=timezone.utc)
        self.now = now
        self.batch_sink = batch_sink  # read by crawlers.itempipelines.RawPostBatchPipeline
        self.progress_hook = progress_hook
        self.hints = SourceHints(country=site.hints.country, currency=site.hints.currency,
                                 language=site.hints.language)
        self._date_langs = tuple(site.hints.languages_for_dates())
        self._listing_urls: set[str] = set()  # listing pages scheduled, for politeness.max_pages

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any) -> "ListingSpider":
        spider = super().from_crawler(crawler, *args, **kwargs)
        if crawler.settings.frozen:  # a crawler built by a test helper: settings already applied
            return spider
        pol = spider.site.politeness
        # Spider priority: above settings.py, below the caller's overrides (command-line priority).
        crawler.settings.set("ROBOTSTXT_OBEY", pol.obey_robots, priority="spider")
        crawler.settings.set("DOWNLOAD_DELAY", pol.download_delay, priority="spider")
        crawler.settings.set("CONCURRENT_REQUESTS_PER_DOMAIN", pol.concurrency, priority="spider")
        if not pol.autothrottle:
            crawler.settings.set("AUTOTHROTTLE_ENABLED", False, priority="spider")
        return spider

    # --- requests ---------------------------------------------------------------------------------

    def _request(self, url: str, callback, **cb_kwargs: Any) -> scrapy.Request:
        meta = {"proxy": self.site.proxy} if self.site.proxy else {}
        return scrapy.Request(url, callback=callback, cb_kwargs=cb_kwargs, meta=meta, errback=self._failed)

    def _listing_request(self, url: str) -> scrapy.Request | None:
        if url in self._listing_urls:  # the dupe filter would drop it too, but it must not use up max_pages
            return None
        limit = self.site.politeness.max_pages
        if limit is not None and len(self._listing_urls) >= limit:
            return None
        self._listing_urls.add(url)
        return self._request(url, self.parse_listing)

    async def start(self):
        for url in self.start_urls:
            req = self._listing_request(url)
            if req is not None:
                yield req

    def _failed(self, failure) -> None:
        request = getattr(failure, "request", None)
        url = request.url if request is not None else "?"
        # Dropped on purpose: robots.txt, offsite, HTTP error status, size limits (DOWNLOAD_MAXSIZE
        # cancels the download; a gzip bomb is ignored by the decompression middleware).
        dropped = failure.check(IgnoreRequest, DownloadCancelledError)
        if dropped:
            self.crawler.stats.inc_value("npswatch/dropped")
            self.crawler.stats.inc_value(f"npswatch/dropped/{type(failure.value).__name__}")
            self.logger.debug("request dropped: %s (%s)", url, failure.getErrorMessage())
            return
        self.crawler.stats.inc_value("npswatch/failed_requests")
        self.logger.warning("request failed: %s (%s)", url, failure.getErrorMessage())

    # --- parsing ----------------------------------------------------------------------------------

    def _text_page(self, response: Response) -> bool:
        self.crawler.stats.inc_value("npswatch/pages")
        if isinstance(response, TextResponse):
            return True
        self.crawler.stats.inc_value("npswatch/non_text_responses")
        return False

    def parse_listing(self, response: Response):
        if not self._text_page(response):
            return
        site = self.site
        for block in select(response, site.listing):
            values = self._fields(block, site.fields)
            if site.follow_detail is not None:
                link = extract(block, site.follow_detail.link)
                url = response.urljoin(link) if link else None
                if url and _http(url):
                    yield self._request(url, self.parse_detail, listing=values, page=response.url)
                    continue
            post = self.build_post(values, response, page=response.url)
            if post is not None:
                yield post
        for spec in (site.pagination, site.follow):  # next pages first when max_pages is tight
            for href in extract_all(response, spec):
                url = response.urljoin(href).split("#", 1)[0]
                if _http(url):
                    req = self._listing_request(url)
                    if req is not None:
                        yield req

    def parse_detail(self, response: Response, listing: dict[str, str | None], page: str):
        if not self._text_page(response):
            return
        values = dict(listing)
        for key, value in self._fields(response, self.site.follow_detail.fields).items():
            if value:
                values[key] = value
        if not values.get("link"):
            values["link"] = response.url
        post = self.build_post(values, response, page=page)
        if post is not None:
            yield post

    @staticmethod
    def _fields(sel, fields: Fields) -> dict[str, str | None]:
        return {name: extract(sel, spec) for name, spec in fields.given().items()}

    # --- items ------------------------------------------------------------------------------------

    def _relative_base(self, response: Response) -> datetime:
        if self.now is not None:
            return self.now
        header = response.headers.get("Date")
        if header:
            try:
                return parsedate_to_datetime(header.decode("latin-1")).astimezone(timezone.utc).replace(second=0)
            except (TypeError, ValueError):
                pass
        return datetime.now(timezone.utc).replace(second=0, microsecond=0)

    def build_post(self, values: dict[str, str | None], response: Response, page: str) -> RawPost | None:
        text = compose_text(title=values.get("title"), text=values.get("text"), price=values.get("price"),
                            quantity=values.get("quantity"), city=values.get("city"))
        link = values.get("link")
        url = response.urljoin(link) if link else response.url
        posted = None
        if values.get("posted"):
            h = self.site.hints
            posted = parse_posted(values["posted"], self._date_langs, h.timezone, h.date_order,
                                  self._relative_base(response))
            if posted is None:
                self.crawler.stats.inc_value("npswatch/unparsed_dates")
        extra = {"stock": parse_stock(values.get("stock")), "title": values.get("title"), "page": page}
        extra.update({k: values[k] for k in ("price", "quantity", "city") if values.get(k)})
        try:
            post = RawPost(
                source=self.site.name,
                external_id=external_id_for(values.get("id"), urljoin(response.url, link) if link else None, text),
                text=text, url=url, author=values.get("vendor"), posted_at=posted, hints=self.hints, extra=extra,
            )
        except InvalidPost as exc:
            self.crawler.stats.inc_value("npswatch/invalid_items")
            self.logger.warning("%s (page %s)", exc, page)
            return None
        return post
