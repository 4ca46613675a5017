"""Scrapy settings of the npswatch crawlers: polite, honest, bounded.

`crawlers.webcrawl.crawl_sites` loads this module; a site definition's `[politeness]` table then
sets ROBOTSTXT_OBEY, DOWNLOAD_DELAY, CONCURRENT_REQUESTS_PER_DOMAIN and AUTOTHROTTLE_ENABLED for its
own crawler (spider priority) and the size cap, timeout and retries of each request (request meta), and
`settings_overrides` (command-line priority, e.g. `npswatch crawl -s KEY=VALUE`) beat both.

>>> USER_AGENT.startswith("npswatch/"), ROBOTSTXT_OBEY, DOWNLOAD_MAXSIZE // 2**20
(True, True, 4)
"""

BOT_NAME = "npswatch"
SPIDER_MODULES = ["npswatch.crawlers.spiders"]
NEWSPIDER_MODULE = "npswatch.crawlers.spiders"

# Say who we are; the contact address lives in the deployment's config, not in code.
USER_AGENT = "npswatch/0.1 (+public-health research; contact in config)"
ROBOTSTXT_OBEY = True

CONCURRENT_REQUESTS = 16  # requests in flight over all sites of one crawler process
CONCURRENT_REQUESTS_PER_DOMAIN = 2  # requests in flight per site (a site's politeness.concurrency wins)
DOWNLOAD_DELAY = 1.0  # seconds between requests to one site (politeness.download_delay wins)
DOWNLOAD_DELAY_JITTER = 0.5  # delays vary by ±50%, so requests do not tick like a metronome

AUTOTHROTTLE_ENABLED = True  # adapt the delay to the site's latency, never below DOWNLOAD_DELAY
AUTOTHROTTLE_START_DELAY = 2.0  # seconds
AUTOTHROTTLE_MAX_DELAY = 30.0  # seconds
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0  # average parallel requests per site

DOWNLOAD_TIMEOUT = 30  # seconds per request
DOWNLOAD_MAXSIZE = 4 * 1024 * 1024  # bytes (4 MiB); also caps the decompressed size of gzip bodies
DOWNLOAD_WARNSIZE = 1 * 1024 * 1024  # bytes (1 MiB): log pages larger than this
DNS_TIMEOUT = 20  # seconds
RETRY_ENABLED = True
RETRY_TIMES = 2  # extra attempts after the first (so 3 requests at most); politeness.retries per site
RETRY_BACKOFF_BASE = 2.0  # seconds before the first retry, doubled for each further one (crawlers.middlewares)
RETRY_BACKOFF_MAX = 60.0  # seconds, cap of that pause (a 429's Retry-After is honoured up to it)
REDIRECT_MAX_TIMES = 5  # redirects followed per request

TELNETCONSOLE_ENABLED = False  # no open console port
REMOTE_CONTROL_ENABLED = False  # Scrapy >= 2.19 would otherwise open an HTTP control port per crawl
LOG_LEVEL = "INFO"
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
# REQUEST_FINGERPRINTER_IMPLEMENTATION is gone in Scrapy >= 2.12 (the 2.7 fingerprinter is the only one).

DOWNLOADER_MIDDLEWARES = {
    "npswatch.crawlers.middlewares.RetryBackoffMiddleware": 560,  # after RetryMiddleware (550)
    "npswatch.crawlers.siteproxy.SiteProxyMiddleware": 740,  # before HttpProxyMiddleware (750): robots.txt too
}
ITEM_PIPELINES = {"npswatch.crawlers.itempipelines.RawPostBatchPipeline": 300}
NPSWATCH_BATCH_SIZE = 200  # RawPost items per on_batch call
NPSWATCH_SNAPSHOT_BATCH_BYTES = 8 * 1024 * 1024  # page snapshots are stored in batches of about this size
NPSWATCH_STORAGE_QUEUE = 8  # batches waiting for the storage thread before the crawl waits (back-pressure)
