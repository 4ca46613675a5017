"""Downloader middleware: every request of a site goes through the site's proxy, robots.txt included.

The spider puts the proxy into the meta of the requests it makes; requests made by Scrapy itself (robots.txt)
carry none and would go out directly, leaking the site's name to local DNS (and failing for .onion). Placed
before Scrapy's HttpProxyMiddleware (750), this gives them the site's proxy too.
"""
from __future__ import annotations

__all__ = ["SiteProxyMiddleware"]


class SiteProxyMiddleware:
    def __init__(self, crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler) -> "SiteProxyMiddleware":
        return cls(crawler)

    def process_request(self, request):
        site = getattr(self.crawler.spider, "site", None)
        proxy = getattr(site, "proxy", None)
        if proxy and "proxy" not in request.meta:
            request.meta["proxy"] = proxy
        return None
