"""Digests and their delivery: escaped self-contained HTML, real SMTP (aiosmtpd, STARTTLS + login) and a local
JSON webhook, per-recipient subscriptions, each signal sent once, failed deliveries retried next run."""
from __future__ import annotations

import base64
import datetime as dt
import email
import json
import re
import socket
import threading
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import IPv4Address

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from npswatch.reports.delivery import Channel, channels, webhook_key
from npswatch.reports.digest import Digest, render
from npswatch.reports.signals import Detector, Signal, record
from npswatch.reports.synthetic import PLANTS, History, write_history
from npswatch.cli.app import app
from npswatch.storage import models as m
from npswatch.storage.db import make_engine, upgrade

START = dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc)
TOKEN = "secret-test-token"
runner = CliRunner()


# --- servers -----------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def self_signed(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(IPv4Address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


class Mailbox:
    def __init__(self):
        self.messages, self.logins = [], []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        self.messages.append((envelope.rcpt_tos, envelope.content, session.ssl is not None))
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult

        ok = auth_data.login == b"npswatch" and auth_data.password == b"test-password"
        self.logins.append((auth_data.login, ok))
        return AuthResult(success=ok)


@pytest.fixture
def smtp_server(tmp_path, monkeypatch):
    import ssl

    from aiosmtpd.controller import Controller

    cert, key = self_signed(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the client's default context trusts the test certificate
    box = Mailbox()
    port = free_port()
    ctl = Controller(box, hostname="127.0.0.1", port=port, tls_context=ctx, require_starttls=True,
                     authenticator=box.authenticate, auth_require_tls=True)
    ctl.start()
    yield box, port
    ctl.stop()


class Hook:
    def __init__(self):
        self.posts, self.statuses = [], []

    def handler(self):
        hook = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = hook.statuses.pop(0) if hook.statuses else 200
                if status == 200:
                    hook.posts.append((self.path, self.headers["Content-Type"], json.loads(body)))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        return H


@pytest.fixture
def webhook():
    hook = Hook()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), hook.handler())
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield hook, srv.server_address[1]
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def workdir(tmp_path, smtp_server, webhook):
    _, smtp_port = smtp_server
    _, hook_port = webhook
    cfg = tmp_path / "npswatch.toml"
    cfg.write_text(f'''data_dir = "data"
[privacy]
key = "test-key-not-secret-0123456789abcdef"
[[digest.recipients]]
email = "ews@example.test"
[[digest.recipients]]
webhook = "http://127.0.0.1:{hook_port}/hook?token={TOKEN}"
countries = ["KZ"]
classes = ["synthetic_cathinone"]
[digest.smtp]
host = "127.0.0.1"
port = {smtp_port}
starttls = true
username = "npswatch"
password = "test-password"
sender = "npswatch@example.test"
''')
    eng = make_engine(f"sqlite:///{tmp_path / 'data' / 'npswatch.db'}")
    upgrade(eng)
    h = write_history(eng, History(start=START, plants=PLANTS, script_text=True))
    yield cfg, eng, h
    eng.dispose()


def digest_cli(cfg, h, *extra):
    since = (h.end - dt.timedelta(days=7)).isoformat()
    return runner.invoke(app, ["--config", str(cfg), "digest", "--since", since, "--until", h.end.isoformat(), *extra],
                         terminal_width=200)


# --- tests ---------------------------------------------------------------------------------------------------
def test_html_digest_is_self_contained_and_escaped(engine):
    h = write_history(engine, History(start=START, plants=PLANTS, script_text=True))
    signals = record(engine, Detector(engine).detect(h.end - dt.timedelta(days=7), h.end))
    html = render(Digest(h.end - dt.timedelta(days=7), h.end, signals), "html")
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html  # the scraped text, shown as text
    assert "<script" not in html.lower()
    assert not re.search(r"""(src|href)=["'](?!data:|https?://fixture)""", html)  # nothing loaded from outside
    pngs = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(pngs) >= 2 and all(base64.b64decode(p)[:4] == b"\x89PNG" for p in pngs)  # spike and price charts
    for heading in ("New substances", "Known substances in new places", "Mention spikes", "Price shifts"):
        assert heading in html


def test_markdown_and_json_carry_the_alert_fields(engine):
    h = write_history(engine, History(start=START, plants=PLANTS, script_text=True))
    d = Digest(h.end - dt.timedelta(days=7), h.end,
               record(engine, Detector(engine).detect(h.end - dt.timedelta(days=7), h.end)))
    data = json.loads(render(d, "json"))
    assert data["counts"] == {"new_substance": 1, "new_in_region": 1, "spike": 1, "price_shift": 1}
    for s in data["signals"]:
        assert s["title"] and s["substance"] and s["class"] and s["countries"] and s["first_seen"]
        assert s["posts"] >= 2 and s["sources"] >= 1 and s["evidence"]["examples"] and s["evidence"]["links"]
        assert s["price"]["median"] > 0 and s["price"]["currency"]
    md = render(d, "md")
    assert "&lt;script&gt;" in md and "<script>" not in md
    assert "## Price shifts" in md and "mephedrone in Almaty (KZ)" in md


def test_subscriptions_by_country_and_class():
    sig = lambda cls, cc: Signal("k", "spike", 1, "x", cls, "t", countries=cc)  # noqa: E731
    ch = channels([{"webhook": "https://hooks.example.test/a?token=t", "countries": ["kz"],
                    "classes": ["synthetic_cathinone"]}, {"email": "all@example.test"}])
    kz, everyone = ch
    assert kz.wants(sig("synthetic_cathinone", ["KZ", "KG"])) and not kz.wants(sig("cannabis", ["KZ"]))
    assert not kz.wants(sig("synthetic_cathinone", ["RU"])) and not kz.wants(sig("synthetic_cathinone", []))
    assert everyone.wants(sig("cannabis", []))
    assert "token" not in kz.key and kz.key == webhook_key("https://hooks.example.test/a?token=t")
    assert isinstance(everyone, Channel) and everyone.key == "mailto:all@example.test"


def test_send_by_smtp_and_webhook_once(workdir, smtp_server, webhook, tmp_path):
    cfg, eng, h = workdir
    box, _ = smtp_server
    hook, _ = webhook
    r = digest_cli(cfg, h, "--send", "--out", str(tmp_path / "d.html"))
    assert r.exit_code == 0, r.output
    assert "sent 4 signals to mailto:ews@example.test" in r.output

    assert len(box.messages) == 1 and box.logins == [(b"npswatch", True)]
    rcpts, raw, over_tls = box.messages[0]
    assert rcpts == ["ews@example.test"] and over_tls
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert "4 signals" in msg["Subject"]
    html = msg.get_body(("html",)).get_content()
    text = msg.get_body(("plain",)).get_content()
    assert "&lt;script&gt;" in html and "<script" not in html.lower() and "Price shifts" in text
    cids = re.findall(r'src="cid:([^"]+)"', html)
    images = [p for p in msg.walk() if p.get_content_type() == "image/png"]
    assert cids and {p["Content-ID"].strip("<>") for p in images} == set(cids)

    assert len(hook.posts) == 1
    path, ctype, body = hook.posts[0]
    assert path == f"/hook?token={TOKEN}" and ctype.startswith("application/json")
    assert sorted(s["kind"] for s in body["signals"]) == ["new_in_region", "price_shift"]  # KZ cathinones only
    assert all(s["class"] == "synthetic_cathinone" and "KZ" in s["countries"] for s in body["signals"])

    r = digest_cli(cfg, h, "--send", "--out", str(tmp_path / "d.html"))  # the same period again
    assert r.exit_code == 0 and "nothing new to send" in r.output
    assert len(box.messages) == 1 and len(hook.posts) == 1
    D = m.tables_reports.Delivery.__table__
    with eng.connect() as c:
        rows = c.execute(select(D.c.recipient, D.c.status, D.c.attempts)).all()
    assert len(rows) == 6 and all(s == "sent" and a == 1 for _, s, a in rows)
    assert not any(TOKEN in rcpt for rcpt, _, _ in rows)  # webhook secrets are not stored


def test_failed_delivery_is_kept_logged_and_retried(workdir, smtp_server, webhook, tmp_path):
    cfg, eng, h = workdir
    box, _ = smtp_server
    hook, _ = webhook
    hook.statuses = [500]
    r = digest_cli(cfg, h, "--send", "--out", str(tmp_path / "d.html"))
    assert r.exit_code == 1 and "retried by the next run" in r.output
    assert len(box.messages) == 1 and hook.posts == []
    D, RUN = m.tables_reports.Delivery.__table__, m.CrawlRun.__table__
    with eng.connect() as c:
        failed = c.execute(select(D.c.status, D.c.last_error).where(D.c.channel == "webhook")).all()
        run = c.execute(select(RUN.c.status, RUN.c.errors, RUN.c.message).where(RUN.c.kind == "digest")).one()
    assert len(failed) == 2 and all(s == "failed" and "HTTP 500" in e for s, e in failed)
    assert run.status == "failed" and run.errors == 1 and "HTTP 500" in run.message

    r = digest_cli(cfg, h, "--send", "--out", str(tmp_path / "d.html"))
    assert r.exit_code == 0, r.output
    assert len(hook.posts) == 1 and len(hook.posts[0][2]["signals"]) == 2  # the kept ones, delivered now
    assert len(box.messages) == 1  # e-mail was delivered the first time: not again
    with eng.connect() as c:
        assert {(s, a) for s, a in c.execute(select(D.c.status, D.c.attempts).where(D.c.channel == "webhook"))} == {
            ("sent", 2)}


def test_digest_writes_files(workdir, tmp_path):
    cfg, _, h = workdir
    r = digest_cli(cfg, h, "--format", "md")
    assert r.exit_code == 0, r.output
    path = tmp_path / "data" / "reports" / f"digest-{h.end:%Y-%m-%d}.md"
    assert path.exists() and "mephedrone in Almaty" in path.read_text()
    r = digest_cli(cfg, h, "--format", "json", "--out", "-", "--class", "synthetic_cannabinoid")
    assert {s["kind"] for s in json.loads(r.stdout)["signals"]} == {"new_substance", "spike"}


def test_demo_ends_with_a_trend_table_a_plot_and_a_digest(tmp_path):
    from io import StringIO

    from rich.console import Console

    from npswatch.cli.app import render_demo_reports
    from npswatch.demo import demo_reports
    from npswatch.watch import Watch

    cfg = tmp_path / "npswatch.toml"
    cfg.write_text('data_dir = "data"\n')
    eng = make_engine(f"sqlite:///{tmp_path / 'data' / 'npswatch.db'}")
    upgrade(eng)
    write_history(eng, History(start=START, weeks=12, plants=PLANTS))
    buf = StringIO()
    r = demo_reports(Watch(str(cfg)))
    assert r.trends.title.endswith("KZ (the country with most offers)") and r.signals
    render_demo_reports(r, Console(file=buf, width=160))
    text = buf.getvalue()
    plot, digest = tmp_path / "data" / "reports" / "trend-KZ.png", tmp_path / "data" / "reports" / "digest-demo.html"
    assert "Price per gram by month and city, KZ" in text and "Almaty (KZ)" in text
    assert str(plot) in text and str(digest) in text
    assert plot.read_bytes()[:4] == b"\x89PNG" and "Price shifts" in digest.read_text()
