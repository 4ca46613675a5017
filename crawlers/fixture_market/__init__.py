"""The fixture market: a deterministic synthetic web market (shop, forum, classifieds) and its server.

Tests and benchmarks crawl it instead of real sites. All names, handles and phone numbers are
invented; the ground truth (`market.listings`) says what a complete crawl must collect.

>>> m = build_market(seed=0)
>>> sorted({l.site for l in m.listings})
['board', 'forum', 'shop']
>>> with serve(m) as srv:
...     srv.base_url.startswith("http://127.0.0.1:")
True

`python -m crawlers.fixture_market [--port N] [--seed S] [--scale K] [--changes C]` serves it.
"""
from npswatch.crawlers.fixture_market.generator import (
    BOMB_INFLATED_SIZE,
    PER_PAGE,
    SITES,
    FixtureListing,
    Market,
    Response,
    build_market,
    gzip_inflated_size,
)
from npswatch.crawlers.fixture_market.server import FixtureServer, LogEntry, serve

__all__ = ["build_market", "Market", "FixtureListing", "Response", "serve", "FixtureServer", "LogEntry", "SITES",
           "PER_PAGE", "BOMB_INFLATED_SIZE", "gzip_inflated_size"]
