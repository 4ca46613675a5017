"""A real threaded HTTP server on loopback that serves a `Market`, with an in-memory access log.

`delay` (seconds) makes every response but robots.txt slow, like a distant site (crash and scale-out
tests use it to catch a crawl midway); `hold()` makes requests wait until `release()`, so several
crawler processes can be lined up before any of them gets a page; `fail(path, n)` answers a path with
503 n times before serving it.

>>> from npswatch.crawlers.fixture_market import build_market
>>> import urllib.request
>>> with serve(build_market()) as srv:
...     with urllib.request.urlopen(srv.base_url + "/robots.txt") as r:
...         r.headers["Content-Type"], b"/shop/private/" in r.read()
...     srv.requests
('text/plain; charset=utf-8', True)
['/robots.txt']
"""
from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from npswatch.crawlers.fixture_market.generator import Market

__all__ = ["serve", "FixtureServer", "LogEntry"]


@dataclass(frozen=True)
class LogEntry:
    path: str  # as requested, with query
    status: int
    user_agent: str | None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like a real site
    server: "_Server"

    def _respond(self, with_body: bool) -> None:
        owner = self.server.owner
        if not owner._gate.is_set():
            with owner._lock:
                owner._waiting.append(self.path)
            owner._gate.wait()
        if owner.delay and not self.path.startswith("/robots.txt"):
            time.sleep(owner.delay)
        resp = owner._fault(self.path) or owner.market.response(self.path)
        owner._record(LogEntry(self.path, resp.status, self.headers.get("User-Agent")))
        self.send_response(resp.status)
        for name, value in resp.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(resp.body)))
        self.end_headers()
        if with_body:
            self.wfile.write(resp.body)

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        self._respond(True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._respond(False)

    def date_time_string(self, timestamp=None) -> str:
        # The market lives at its own "now": the Date header says so, and relative dates on its pages
        # ("вчера в 15:30") resolve against it exactly as they would against a real site's clock.
        from email.utils import format_datetime

        return format_datetime(self.server.owner.market.now, usegmt=True)

    def log_message(self, format: str, *args) -> None:  # keep test output quiet; the log is in memory
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: "FixtureServer"

    def handle_error(self, request, client_address) -> None:
        # A client that hangs up mid-body (a crawler refusing an oversized page) is normal here.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FixtureServer:
    """A running fixture server. `market` may be replaced while it runs (e.g. by a changed variant)."""

    def __init__(self, market: Market, host: str = "127.0.0.1", port: int = 0, delay: float = 0.0) -> None:
        self.market = market
        self.delay = delay
        self.log: list[LogEntry] = []
        self._lock = threading.Lock()
        self._gate = threading.Event()
        self._gate.set()
        self._waiting: list[str] = []  # paths that arrived while held
        self._faults: dict[str, list] = {}  # path -> [times left, status]
        self._httpd = _Server((host, port), _Handler)
        self._httpd.owner = self
        self.host, self.port = self._httpd.server_address[:2]
        self.base_url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fixture-market", daemon=True)
        self._thread.start()

    def _record(self, entry: LogEntry) -> None:
        with self._lock:
            self.log.append(entry)

    @property
    def requests(self) -> list[str]:
        """Paths fetched so far, in order (with query strings)."""
        with self._lock:
            return [e.path for e in self.log]

    def fail(self, path: str, times: int = 1, status: int = 503, retry_after: int | None = None) -> None:
        """Answer the next `times` requests for `path` with `status` (a flaky site: retries are tested on it)."""
        with self._lock:
            self._faults[path] = [times, status, retry_after]

    def _fault(self, path: str):
        from npswatch.crawlers.fixture_market.generator import HTML_HEADERS, Response, _page

        with self._lock:
            fault = self._faults.get(path)
            if not fault or fault[0] <= 0:
                return None
            fault[0] -= 1
        headers = {**HTML_HEADERS, **({"Retry-After": str(fault[2])} if fault[2] is not None else {})}
        return Response(fault[1], headers, _page(str(fault[1]), "<h1>Try again later</h1>"))

    def hold(self) -> None:
        """Make new requests wait (connections are accepted) until `release()`."""
        self._gate.clear()

    def release(self) -> None:
        self._gate.set()

    @property
    def held(self) -> list[str]:
        """Paths of the requests that arrived while the server was held."""
        with self._lock:
            return list(self._waiting)

    def clear_log(self) -> None:
        with self._lock:
            self.log.clear()

    def close(self) -> None:
        self._gate.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "FixtureServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def serve(market: Market, host: str = "127.0.0.1", port: int = 0, delay: float = 0.0) -> FixtureServer:
    """Serve `market` on host:port (0 = a free port) in a background thread; close() stops it."""
    return FixtureServer(market, host, port, delay)
