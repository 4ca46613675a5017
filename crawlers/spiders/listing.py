"""`ListingSpider`: one generic Scrapy spider for every site described by a TOML `SiteDef`.

For each listing page it selects the listing blocks, reads their fields, and either yields a
`RawPost` or follows the block's detail link and completes the fields there; then it follows the
definition's `follow` links (threads, sections) and `pagination`. Scrapy's duplicate filter keeps
every URL to one fetch, and the robots.txt middleware drops disallowed ones.

The RawPost it builds (see `build_post`):
- source: the site name; external_id: the `id` field, else the link's path+query+fragment (host-free,
  so moving the site keeps ids), else "sha1:" of the text;
- text: the visible fields (title, text, quantity, price, stock, city, ships from/to...), one per line in the
  order the listing block shows them (`compose_listing`; parts already in the text are not repeated);
- structured: price, currency, quantity, unit, stock, ships from/to as displayed: with a price, they make
  the listing's offer directly (`pipelines.listed`);
- author: the vendor field; posted_at: the date string parsed with the site's languages, relative
  dates counted from `now` (fixed, for tests) or the response's Date header;
- hints: the site's country, currency, language; extra: stock (int or None), title, raw price,
  quantity and city strings, and the listing page URL.

A site with `snapshots = true` also yields a `PageRecord` (the raw body) for every page it parses; the
item pipeline stores them for `npswatch reparse`, which feeds stored pages back through the same callbacks
(`crawlers.replay`). Each request carries the site's proxy, size cap, timeout and retry count in its meta.

>>> from npswatch.crawlers.sitedef import parse_site
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
from scrapy.exceptions import CloseSpider, DownloadCancelledError, IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError

from npswatch.crawlers.jsrender import js_settings, js_unavailable
from npswatch.crawlers.login import session_for
from npswatch.crawlers.sitedef import Fields, PageFields, SiteDef, SiteDefError
from npswatch.crawlers.spiders.fields import (TEXT_FIELDS, compose_listing, compose_text, extract, extract_all,
                                              node_text, parse_posted, parse_stock, select)
from npswatch.pipelines.rawpost import InvalidPost, RawPost, SourceHints, Structured
from npswatch.pipelines.weblinks import find_sites, site_origin
from npswatch.storage.snapshots import PageRecord

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


def select_any(sel, spec) -> bool:
    """Whether any selector of `spec` matches anything in `sel`."""
    return any(len(select(sel, expr)) for expr in spec.select)


def _http(url: str | None) -> bool:
    return url is not None and urlsplit(url).scheme in ("http", "https")


def _join(base: Response | str, link: str) -> str | None:
    """`link` resolved against a page (its <base> counts) or a URL, or None when it is no URL at all (an unclosed
    "[" of an IPv6 host): one such link on a page must not lose the page's other listings."""
    try:
        return base.urljoin(link) if isinstance(base, Response) else urljoin(base, link)
    except ValueError:
        return None


class ListingSpider(scrapy.Spider):
    name = "listing"

    def __init__(self, site: SiteDef, base_url: str | None = None, now: datetime | None = None,
                 batch_sink=None, progress_hook=None, snapshot_sink=None, storage=None,
                 jobdir: str | None = None, **kwargs: Any) -> None:
        if site.js and (why := js_unavailable()):
            raise SiteDefError(site.name, [("js", f"the site needs JavaScript rendering: {why}")])
        super().__init__(name=site.name, **kwargs)
        self.site = site
        self.base_url = base_url
        self.start_urls = site.resolve_start_urls(base_url)
        self.allowed_domains = sorted({urlsplit(u).hostname for u in self.start_urls if urlsplit(u).hostname})
        if now is not None and now.tzinfo is None:
            now = now.replace(tzinfo=timezone.utc)
        self.now = now
        # Read by crawlers.itempipelines.RawPostBatchPipeline (not settings: Scrapy copies settings).
        self.batch_sink = batch_sink  # list[RawPost] -> None, run on the storage thread
        self.snapshot_sink = snapshot_sink  # list[PageRecord] -> None, idem
        self.progress_hook = progress_hook
        self.storage = storage  # crawlers.storagethread.StorageThread shared by the process's crawlers
        self.jobdir = jobdir
        self._own_stats: dict[str, int] = {}  # counters when run without a crawler (replay, sources test)
        self.hints = SourceHints(country=site.hints.country, currency=site.hints.currency,
                                 language=site.hints.language)
        self._date_langs = tuple(site.hints.languages_for_dates())
        self._listing_urls: set[str] = set()  # listing pages scheduled, for politeness.max_pages
        self._cookies, self._headers = session_for(site)  # [login]: read now, never logged
        self.found_sites: dict[str, int] = {}  # other sites the pages link to or name: origin -> pages

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any) -> "ListingSpider":
        spider = super().from_crawler(crawler, *args, **kwargs)
        if crawler.settings.frozen:  # a crawler built by a test helper: settings already applied
            return spider
        pol = spider.site.politeness
        # Spider priority: above settings.py, below the caller's overrides (command-line priority).
        if spider.jobdir:
            crawler.settings.set("JOBDIR", str(spider.jobdir), priority="spider")
        crawler.settings.set("ROBOTSTXT_OBEY", pol.obey_robots, priority="spider")
        crawler.settings.set("DOWNLOAD_DELAY", pol.download_delay, priority="spider")
        crawler.settings.set("CONCURRENT_REQUESTS_PER_DOMAIN", pol.concurrency, priority="spider")
        if not pol.autothrottle:
            crawler.settings.set("AUTOTHROTTLE_ENABLED", False, priority="spider")
        if spider.site.js:  # this site's crawler only: the others keep Scrapy's own download handlers
            for key, value in js_settings(spider.site.proxy).items():
                crawler.settings.set(key, value, priority="spider")
        # One crawler per site: take from the scheduler only what the site's slots can download at once.
        # Otherwise the downloader hoards up to CONCURRENT_REQUESTS requests, which with a shared (Redis)
        # frontier leaves other processes idle, and with a JOBDIR keeps more requests in memory.
        per_host = crawler.settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN")
        crawler.settings.set("CONCURRENT_REQUESTS", per_host * max(1, len(spider.allowed_domains)), priority="spider")
        return spider

    # --- counters ---------------------------------------------------------------------------------

    def inc(self, key: str, count: int = 1) -> None:
        crawler = getattr(self, "crawler", None)
        if crawler is not None and crawler.stats is not None:
            crawler.stats.inc_value(key, count)
        else:
            self._own_stats[key] = self._own_stats.get(key, 0) + count

    def stat(self, key: str) -> int:
        crawler = getattr(self, "crawler", None)
        if crawler is not None and crawler.stats is not None:
            return crawler.stats.get_value(key, 0)
        return self._own_stats.get(key, 0)

    # --- requests ---------------------------------------------------------------------------------

    def request_meta(self) -> dict[str, Any]:
        pol = self.site.politeness
        meta: dict[str, Any] = {"download_maxsize": int(pol.max_size_mb * 1024 * 1024),
                                "download_timeout": pol.timeout, "max_retry_times": pol.retries}
        if self.site.proxy and not self.site.js:  # a rendered page goes through the browser's proxy
            meta["proxy"] = self.site.proxy
        if self.site.js:
            meta["playwright"] = True
        return meta

    def _request(self, url: str, callback, **cb_kwargs: Any) -> scrapy.Request:
        return scrapy.Request(url, callback=callback, cb_kwargs=cb_kwargs, meta=self.request_meta(),
                              errback=self._failed, cookies=self._cookies or None, headers=self._headers or None)

    def _listing_request(self, url: str, role: str = "listing") -> scrapy.Request | None:
        if url in self._listing_urls:  # the dupe filter would drop it too, but it must not use up max_pages
            return None
        limit = self.site.politeness.max_pages
        if limit is not None and len(self._listing_urls) >= limit:
            self.inc("npswatch/max_pages_reached")  # the crawl is not complete: no disappearance marking
            return None
        self._listing_urls.add(url)
        return self._request(url, self.parse_listing, role=role)

    async def start(self):
        for url in self.start_urls:
            req = self._listing_request(url, role="start")
            if req is not None:
                yield req

    def _failed(self, failure) -> None:
        request = getattr(failure, "request", None)
        url = request.url if request is not None else "?"
        # A server error or rate limit that outlasted the retries lost a page: the crawl is not complete.
        response = getattr(failure.value, "response", None)
        if failure.check(HttpError) and response is not None and (response.status >= 500 or response.status == 429):
            self.inc("npswatch/failed_requests")
            self.logger.warning("request failed: %s (HTTP %d after retries)", url, response.status)
            return
        # Dropped on purpose: robots.txt, offsite, other HTTP error statuses (a 404 is a listing gone), size
        # limits (DOWNLOAD_MAXSIZE cancels the download; a gzip bomb is ignored by the decompression middleware).
        dropped = failure.check(IgnoreRequest, DownloadCancelledError)
        if dropped:
            self.inc("npswatch/dropped")
            self.inc(f"npswatch/dropped/{type(failure.value).__name__}")
            self.logger.debug("request dropped: %s (%s)", url, failure.getErrorMessage())
            return
        self.inc("npswatch/failed_requests")
        self.logger.warning("request failed: %s (%s)", url, failure.getErrorMessage())

    # --- parsing ----------------------------------------------------------------------------------

    def _text_page(self, response: Response) -> bool:
        self.inc("npswatch/pages")
        if isinstance(response, TextResponse):
            self._check_logged_in(response)
            return True
        self.inc("npswatch/non_text_responses")
        return False

    def _find_sites(self, response: Response) -> None:
        """Count the other sites this page links to or names (.onion mirror lists): the discovery queue."""
        own = {urlsplit(u).hostname for u in self.start_urls} | {urlsplit(response.url).hostname}
        found = {site_origin(u) for u in (_join(response, h) for h in response.css("a::attr(href)").getall()) if u}
        found.update(find_sites(" ".join(response.xpath("//body//text()").getall())))
        for origin in found:
            if origin and urlsplit(origin).hostname not in own:
                self.found_sites[origin] = self.found_sites.get(origin, 0) + 1

    def _check_logged_in(self, response: Response) -> None:
        """A page showing the login form ends the crawl of the site: nothing of it is stored, and the crawl is not
        complete, so no listing is marked disappeared."""
        login = self.site.login
        if login is None or login.logged_out is None or not select_any(response, login.logged_out):
            return
        self.inc("npswatch/login_expired")
        self.logger.warning("login expired for %s: %s shows the login form; the crawl of the site stops",
                            self.site.name, response.url)
        raise CloseSpider("login_expired")

    def _snapshot(self, response: Response, role: str) -> PageRecord:
        def header(name: str) -> str | None:
            value = response.headers.get(name)
            return value.decode("latin-1") if value else None

        # The decoded text, re-encoded as UTF-8 and labelled so: the snapshot store scrubs text, not bytes.
        mime = (header("Content-Type") or "text/html").split(";", 1)[0].strip() or "text/html"
        return PageRecord(source=self.site.name, url=response.url, role=role, body=response.text.encode("utf-8"),
                          status=response.status, content_type=f"{mime}; charset=utf-8", page_date=header("Date"),
                          region=self.hints.country)

    def parse_listing(self, response: Response, role: str = "listing"):
        if not self._text_page(response):
            return
        site = self.site
        if site.snapshots:
            yield self._snapshot(response, role)
        self._find_sites(response)
        page_values = {k: v for k, v in self._fields(response, site.page).items() if v} if site.page.given() else {}
        if len(page_values) > 1:  # in the order the page shows them (a breadcrumb above a city menu, or below)
            shown = node_text(response.selector).casefold()
            page_values = dict(sorted(page_values.items(), key=lambda kv: shown.find(kv[1].casefold()) % (len(shown) + 1)))
        for block in select(response, site.listing):
            values = self._fields(block, site.fields)
            values["_order"] = node_text(block)
            values["_above"] = tuple(k for k in page_values if not values.get(k))
            values.update({k: page_values[k] for k in values["_above"]})
            if site.follow_detail is not None:
                link = extract(block, site.follow_detail.link)
                url = _join(response, link) if link else None
                if _http(url):
                    values.pop("_order")
                    yield self._request(url, self.parse_detail, listing=values, page=response.url)
                    continue
            post = self.build_post(values, response, page=response.url)
            if post is not None:
                yield post
        for spec in (site.pagination, site.follow):  # next pages first when max_pages is tight
            for href in extract_all(response, spec):
                url = (_join(response, href) or "").split("#", 1)[0]
                if _http(url):
                    req = self._listing_request(url)
                    if req is not None:
                        yield req

    def parse_detail(self, response: Response, listing: dict[str, str | None], page: str):
        if not self._text_page(response):
            return
        if self.site.snapshots:
            yield self._snapshot(response, "detail")
        values = dict(listing)
        for key, value in self._fields(response, self.site.follow_detail.fields).items():
            if value:
                values[key] = value
        values["_order"] = node_text(response.selector)  # the detail page's order (the block's fields come first)
        if not values.get("link"):
            values["link"] = response.url
        post = self.build_post(values, response, page=page)
        if post is not None:
            yield post

    @staticmethod
    def _fields(sel, fields: Fields | PageFields) -> dict[str, str | None]:
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
        text = compose_listing({k: values[k] for k in TEXT_FIELDS if values.get(k)}, values.get("_order"),
                               above=tuple(values.get("_above") or ()))
        link = values.get("link")
        joined = _join(response, link) if link else None  # a link that is no URL: the page's, as without one
        url = joined or response.url
        posted = None
        if values.get("posted"):
            h = self.site.hints
            posted = parse_posted(values["posted"], self._date_langs, h.timezone, h.date_order,
                                  self._relative_base(response))
            if posted is None:
                self.inc("npswatch/unparsed_dates")
        extra = {"stock": parse_stock(values.get("stock")), "title": values.get("title"), "page": page}
        extra.update({k: values[k] for k in ("price", "quantity", "city") if values.get(k)})
        structured = Structured(**{k: values.get(k) for k in Structured.model_fields})
        try:
            post = RawPost(
                source=self.site.name,
                external_id=external_id_for(values.get("id"), _join(response.url, link) if link else None, text),
                text=text, url=url, author=values.get("vendor"), posted_at=posted, hints=self.hints, extra=extra,
                structured=structured,
            )
        except InvalidPost as exc:
            self.inc("npswatch/invalid_items")
            self.logger.warning("%s (page %s)", exc, page)
            return None
        self.inc("npswatch/listings")
        return post
