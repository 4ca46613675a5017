"""Issue 14 item 8: a site behind a SOCKS5 proxy (Tor), names resolved by the proxy, never on this machine.

A SOCKS5 server (RFC 1928: no authentication, CONNECT) on 127.0.0.1 records how each target is named and
connects every connection to a local HTTP server. The site is `http://synthetic-market.onion/`, a name no
resolver here knows: the crawl can only succeed if the name reaches the SOCKS server unresolved, and the
server sees every request (robots.txt included) by name (address type 3), none by address.
"""
from __future__ import annotations

import asyncio
import http.server
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from npswatch.storage.db import make_engine, upgrade

ROOT = Path(__file__).resolve().parents[1]
NPSWATCH = os.path.join(os.path.dirname(sys.executable), "npswatch")
HOST = "synthetic-market.onion"


class Page(http.server.BaseHTTPRequestHandler):
    hosts: list[str] = []

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        type(self).hosts.append(self.headers.get("Host", ""))
        if self.path != "/list":
            self.send_error(404)
            return
        body = "".join(f'<div class="item" data-id="{i}"><p>Synthetic mephedrone {i} г — {i}000 ₽</p></div>'
                       for i in (1, 2, 3)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class RecordingSocks5:
    """SOCKS5 server in a thread: records (address type, host, port) of each CONNECT, forwards to `target`."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.requests: list[tuple[int, str, int]] = []
        self.loop = asyncio.new_event_loop()
        self.port = 0
        ready = threading.Event()
        threading.Thread(target=self._run, args=(ready,), daemon=True).start()
        ready.wait(5)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()

    async def _client(self, reader, writer) -> None:
        try:
            ver, n = await reader.readexactly(2)
            await reader.readexactly(n)
            writer.write(b"\x05\x00")
            _, cmd, _, atyp = await reader.readexactly(4)
            if atyp == 3:
                host = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
            else:
                raw = await reader.readexactly(4 if atyp == 1 else 16)
                host = socket.inet_ntop(socket.AF_INET if atyp == 1 else socket.AF_INET6, raw)
            port = int.from_bytes(await reader.readexactly(2), "big")
            self.requests.append((atyp, host, port))
            r2, w2 = await asyncio.open_connection(*self.target)
            writer.write(b"\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00")

            async def pipe(a, b):
                try:
                    while data := await a.read(65536):
                        b.write(data)
                        await b.drain()
                finally:
                    b.close()

            await asyncio.gather(pipe(reader, w2), pipe(r2, writer))
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)


def test_a_socks5h_site_is_crawled_with_names_resolved_by_the_proxy(tmp_path):
    with pytest.raises(OSError):
        socket.getaddrinfo(HOST, 80)  # the premise: this machine cannot resolve the name
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    socks = RecordingSocks5(("127.0.0.1", web.server_port))
    sites = tmp_path / "sites"
    sites.mkdir()
    (sites / "onion.toml").write_text(f"""\
name = "synthetic-onion"
start_urls = ["http://{HOST}/list"]
listing = "div.item"
proxy = "socks5h://127.0.0.1:{socks.port}"
[fields]
id = "xpath:@data-id"
text = "p"
[politeness]
download_delay = 0
retries = 0
""", encoding="utf-8")
    cfg = tmp_path / "npswatch.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "data"}"\n[privacy]\nkey = "synthetic-test-key-0123456789abcdef0123"\n[web]\nsites_dir = "{sites}"\n',
                   encoding="utf-8")
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'npswatch.db'}")
    upgrade(engine)
    env = {**os.environ, "NPSWATCH_CONFIG": str(cfg), "COLUMNS": "200"}
    try:
        proc = subprocess.run([NPSWATCH, "crawl", "synthetic-onion"], env=env, cwd=ROOT, capture_output=True,
                              text=True, timeout=120)
        test = subprocess.run([NPSWATCH, "sources", "test", "synthetic-onion", "--no-extract"], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
    finally:
        socks.stop()
        web.shutdown()
        web.server_close()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with engine.connect() as c:
        assert c.execute(text("select count(*) from post")).scalar() == 3
    assert test.returncode == 0 and "3 listings" in test.stdout, test.stdout + test.stderr
    assert socks.requests and {(atyp, host, port) for atyp, host, port in socks.requests} == {(3, HOST, 80)}
    assert len(socks.requests) >= 4  # robots.txt and the page, by the crawl and by `sources test`
    assert set(Page.hosts) == {HOST}
