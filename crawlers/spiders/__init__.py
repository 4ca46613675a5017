"""Scrapy spiders. `ListingSpider` reads any site described by a `crawlers.sitedef.SiteDef`."""
from npswatch.crawlers.spiders.listing import ListingSpider, compose_text, parse_stock

__all__ = ["ListingSpider", "compose_text", "parse_stock"]
