"""Pages that need JavaScript: rendered in the system's Chromium through scrapy-playwright (no browser download).

A site with `js = true` is crawled with scrapy-playwright's download handler, for that site's crawler only,
launching the Chromium of the Debian package `chromium` (or the browser named by NPSWATCH_CHROMIUM): every
request of the site is rendered, the spider then reads the DOM as it stands after the page's scripts ran.
Without scrapy-playwright or Chromium such sites are skipped with the reason (`js_unavailable`).
`render()` does the same for one page outside a crawl (`npswatch sources test`).
"""
from __future__ import annotations

import os
import shutil

__all__ = ["chromium_path", "js_unavailable", "js_settings", "render"]

_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_HANDLER = "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler"


def chromium_path() -> str | None:
    given = os.environ.get("NPSWATCH_CHROMIUM")
    if given:
        return given if os.access(given, os.X_OK) else None
    return next((p for p in map(shutil.which, _CANDIDATES) if p), None)


def js_unavailable() -> str | None:
    """Why JavaScript pages cannot be rendered here, or None when they can."""
    try:
        import scrapy_playwright  # noqa: F401
    except ImportError:
        return "scrapy-playwright is not installed (pip install scrapy-playwright)"
    if chromium_path() is None:
        return "no Chromium found (apt install chromium, or set NPSWATCH_CHROMIUM)"
    return None


def _launch_options(proxy: str | None = None) -> dict:
    opts = {"executable_path": chromium_path(), "headless": True,
            "args": ["--no-sandbox", "--disable-dev-shm-usage"]}  # --no-sandbox: the crawl may run as root
    if proxy:
        opts["proxy"] = {"server": proxy}
    return opts


def js_settings(proxy: str | None = None) -> dict:
    """Scrapy settings of a crawler whose site needs JavaScript."""
    return {"DOWNLOAD_HANDLERS": {"http": _HANDLER, "https": _HANDLER},
            "PLAYWRIGHT_BROWSER_TYPE": "chromium",
            "PLAYWRIGHT_LAUNCH_OPTIONS": _launch_options(proxy)}


def render(url: str, *, timeout: float, user_agent: str, proxy: str | None = None,
           headers: dict[str, str] | None = None) -> tuple[str, int, bytes, str | None]:
    """(final URL, status, HTML after the scripts ran, content type) of one page."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(**_launch_options(proxy))
        try:
            context = browser.new_context(user_agent=user_agent, extra_http_headers=headers or {})
            page = context.new_page()
            response = page.goto(url, timeout=timeout * 1000, wait_until="networkidle")
            html = page.content().encode("utf-8")
            status = response.status if response is not None else 200
            return page.url, status, html, "text/html; charset=utf-8"
        finally:
            browser.close()
