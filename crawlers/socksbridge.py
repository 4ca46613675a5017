"""A bridge from HTTP proxying to a SOCKS5 proxy (Tor), which npswatch starts and stops itself.

Scrapy (and urllib) speak HTTP proxies only. For a site with `proxy = "socks5h://127.0.0.1:9050"`, npswatch
starts this bridge on a loopback port for the length of the crawl (or of `sources test`) and gives Scrapy
`http://127.0.0.1:<port>` instead: Scrapy sends it `CONNECT host:443` or an absolute-URI GET, and the bridge
(pproxy, in a thread of its own) opens a SOCKS5 connection to the target by **name** (address type 3), so
names, .onion ones included, are resolved by the SOCKS proxy and never on this machine. `socks5://` is read as
`socks5h://`: a local lookup would leak the names visited and cannot resolve .onion anyway. Credentials in
the URL (`socks5h://user:pass@host:port`) are passed on.

    with SocksBridge("socks5h://127.0.0.1:9050") as http_proxy:
        ...  # http_proxy == "http://127.0.0.1:<port>"
"""
from __future__ import annotations

import asyncio
import threading
from urllib.parse import urlsplit

__all__ = ["SocksBridge", "is_socks", "SOCKS_SCHEMES"]

SOCKS_SCHEMES = ("socks5", "socks5h")


def is_socks(url: str | None) -> bool:
    return bool(url) and urlsplit(url).scheme in SOCKS_SCHEMES


class SocksBridge:
    """An HTTP proxy on 127.0.0.1 that forwards every connection through one SOCKS5 proxy, by name."""

    def __init__(self, socks_url: str) -> None:
        parts = urlsplit(socks_url)
        if parts.scheme not in SOCKS_SCHEMES or not parts.hostname or not parts.port:
            raise ValueError(f"{socks_url!r} is not a socks5h://host:port URL")
        auth = f"#{parts.username}:{parts.password}" if parts.username else ""
        self._remote = f"socks5://{parts.hostname}:{parts.port}{auth}"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server = None
        self.url: str | None = None

    def start(self) -> str:
        import pproxy

        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            try:
                server = pproxy.Server("http://127.0.0.1:0")
                args = {"rserver": [pproxy.Connection(self._remote)], "verbose": lambda *_: None}
                self._server = loop.run_until_complete(server.start_server(args))
                self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
            except BaseException as exc:  # noqa: BLE001 - reported to the caller of start()
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            self._server.close()
            loop.run_until_complete(self._server.wait_closed())
            loop.close()

        self._thread = threading.Thread(target=serve, name="npswatch-socks-bridge", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        if self.url is None:
            raise RuntimeError("the SOCKS bridge did not start")
        return self.url

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop = self._thread = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
