"""Delivery of digests to recipients by e-mail (SMTP) and JSON webhook, through an outbox.

Every recipient in the configuration (`[[digest.recipients]]`) is one or two channels: `mailto:<address>`
and/or a webhook (stored as its host and a hash: the URL may hold a token). A channel subscribes to countries and classes (empty lists: all). Sending works in
two steps, both idempotent:

1. `enqueue()`: for each signal a channel subscribes to, one `delivery` row (unique per signal and channel)
   with status `pending`. A signal already sent to a channel keeps its `sent` row: it is never sent again.
2. `deliver()`: for each channel, every row not yet `sent` (this run's, and those that failed before) goes
   out in one message; success marks them `sent`, failure marks them `failed` with the error, logs it, and
   leaves them for the next run. Nothing is lost.

E-mail is multipart: a Markdown-ish text part and the HTML digest with its charts as related `cid:` images.
The webhook receives `{"digest": {...}, "recipient": ..., "signals": [...]}` as JSON (POST) and must answer 2xx.
"""
from __future__ import annotations

import hashlib
import json
import logging
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import urlsplit

from sqlalchemy import Engine, select, update

from npswatch.storage.writer import upsert

from .digest import Digest, charts, signal_record, to_html, to_markdown
from .sales import sales
from .signals import Signal, load_signals
from npswatch.storage.runs import login_expired
from npswatch.storage.tables import T_DELIVERY

log = logging.getLogger("npswatch.delivery")
TIMEOUT = 30  # seconds for an SMTP session or a webhook call


@dataclass(frozen=True)
class Channel:
    key: str  # "mailto:a@b" or webhook_key(url): the outbox's recipient
    kind: str  # email | webhook
    address: str
    countries: frozenset[str] = frozenset()
    classes: frozenset[str] = frozenset()

    def wants(self, s: Signal) -> bool:
        """Subscribed to the signal's class and to one of its countries (empty subscriptions take all).
        A signal naming no country goes to recipients without a country filter only."""
        if self.classes and s.cls not in self.classes:
            return False
        if self.countries and not (set(s.countries or ()) & self.countries):
            return False
        return True


@dataclass
class SmtpSettings:
    host: str = "localhost"
    port: int = 25
    starttls: bool = False
    ssl: bool = False
    username: str = ""
    password: str = ""
    sender: str = "npswatch@localhost"
    ssl_context: ssl.SSLContext | None = None  # tests pass one that trusts their own certificate


@dataclass
class DeliveryReport:
    sent: dict[str, int] = field(default_factory=dict)  # channel -> signals delivered this run
    failed: dict[str, str] = field(default_factory=dict)  # channel -> error

    @property
    def ok(self) -> bool:
        return not self.failed


def channels(recipients: Iterable) -> list[Channel]:
    """Channels of the configured recipients (objects or dicts with email, webhook, countries, classes)."""
    out = []
    for r in recipients:
        get = r.get if isinstance(r, dict) else lambda k, _r=r: getattr(_r, k, None)
        countries = frozenset(c.upper() for c in (get("countries") or ()))
        classes = frozenset(get("classes") or ())
        if get("email"):
            out.append(Channel(f"mailto:{get('email')}", "email", get("email"), countries, classes))
        if get("webhook"):
            out.append(Channel(webhook_key(get("webhook")), "webhook", get("webhook"), countries, classes))
    return out


def enqueue(engine: Engine, chans: list[Channel], signals: list[Signal]) -> int:
    """Outbox rows for every (signal, channel) subscription not yet in the outbox; returns how many are new."""
    now = datetime.now(timezone.utc)
    rows = [{"signal_id": s.id, "recipient": ch.key, "channel": ch.kind, "status": "pending", "attempts": 0,
             "created_at": now} for s in signals for ch in chans if ch.wants(s)]
    if not rows:
        return 0
    D = T_DELIVERY
    with engine.begin() as c:
        before = c.execute(select(D.c.id).where(D.c.signal_id.in_({r["signal_id"] for r in rows}))).all()
        for i in range(0, len(rows), 500):
            upsert(c, D, rows[i:i + 500], ["signal_id", "recipient"])
        after = c.execute(select(D.c.id).where(D.c.signal_id.in_({r["signal_id"] for r in rows}))).all()
    return len(after) - len(before)


def deliver(engine: Engine, chans: list[Channel], smtp: SmtpSettings, since: datetime, until: datetime) -> DeliveryReport:
    """Send every unsent outbox row of each channel; see the module docstring."""
    D = T_DELIVERY
    report = DeliveryReport()
    chart_cache: dict = {}
    for ch in chans:
        with engine.connect() as c:
            pending = c.execute(select(D.c.id, D.c.signal_id).where(D.c.recipient == ch.key, D.c.status != "sent")
                                .order_by(D.c.signal_id)).all()
        if not pending:
            continue
        ids = [r.id for r in pending]
        signals = load_signals(engine, [r.signal_id for r in pending])
        digest = Digest(since=min([since] + [s.period_start for s in signals if s.period_start]), until=until,
                        signals=signals, notes=[f"login expired for {site}: its crawls stopped at the login form"
                                                for site in login_expired(engine, since, until)],
                        sales=sales(engine, since, until, countries=ch.countries, classes=ch.classes))
        now = datetime.now(timezone.utc)
        try:
            if ch.kind == "email":
                send_email(smtp, ch.address, digest, chart_cache)
            else:
                post_webhook(ch.address, digest, ch.key)
        except Exception as exc:  # noqa: BLE001 - any failure: keep the rows for the next run
            error = f"{type(exc).__name__}: {exc}"[:2000]
            log.warning("delivery to %s failed (%d signals kept for the next run): %s", ch.key, len(ids), error)
            report.failed[ch.key] = error
            with engine.begin() as c:
                for i in range(0, len(ids), 500):
                    c.execute(update(D).where(D.c.id.in_(ids[i:i + 500])).values(
                        status="failed", attempts=D.c.attempts + 1, last_error=error, last_attempt_at=now))
            continue
        with engine.begin() as c:
            for i in range(0, len(ids), 500):
                c.execute(update(D).where(D.c.id.in_(ids[i:i + 500])).values(
                    status="sent", attempts=D.c.attempts + 1, last_error=None, last_attempt_at=now, sent_at=now))
        log.info("delivered %d signals to %s", len(ids), ch.key)
        report.sent[ch.key] = len(ids)
    return report


def webhook_key(url: str) -> str:
    """The outbox name of a webhook: its host and a hash of the whole URL. Webhook URLs often carry a secret
    token, and the database is readable by researchers (Datasette): the URL itself is never stored."""
    u = urlsplit(url)
    return f"webhook:{u.hostname}{':' + str(u.port) if u.port else ''}#{hashlib.sha256(url.encode()).hexdigest()[:16]}"


def subject(d: Digest) -> str:
    parts = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in d.counts().items())
    return f"npswatch digest {d.until:%Y-%m-%d}: {len(d.signals)} signals ({parts})"


def build_email(smtp: SmtpSettings, to: str, d: Digest, chart_cache: dict | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = subject(d)
    msg["From"] = smtp.sender
    msg["To"] = to
    msg["Message-ID"] = make_msgid(domain=smtp.sender.rpartition("@")[2] or "npswatch.local")
    msg.set_content(to_markdown(d))
    images = charts(d, chart_cache)
    cids = {k: make_msgid(domain="npswatch.local")[1:-1] for k in images}
    msg.add_alternative(to_html(d, images, cids), subtype="html")
    html_part = msg.get_payload()[1]
    for key, png in images.items():
        html_part.add_related(png, maintype="image", subtype="png", cid=f"<{cids[key]}>")
    return msg


def send_email(smtp: SmtpSettings, to: str, d: Digest, chart_cache: dict | None = None) -> None:
    msg = build_email(smtp, to, d, chart_cache)
    context = smtp.ssl_context or ssl.create_default_context()
    if smtp.ssl:
        client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=TIMEOUT, context=context)
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=TIMEOUT)
    with client:
        if smtp.starttls and not smtp.ssl:
            client.starttls(context=context)
        if smtp.username:
            client.login(smtp.username, smtp.password)
        client.send_message(msg)


def post_webhook(url: str, d: Digest, recipient: str) -> None:
    body = json.dumps({
        "digest": {"generated_at": d.generated_at.isoformat(), "since": d.since.isoformat(),
                   "until": d.until.isoformat(), "counts": d.counts()},
        "recipient": recipient,
        "signals": [signal_record(s) for s in d.signals],
    }, ensure_ascii=False, default=str).encode("utf-8")
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": "application/json; charset=utf-8",
                                          "User-Agent": "npswatch-digest/0.1"})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:  # noqa: S310 - configured URL
            if not 200 <= resp.status < 300:
                raise RuntimeError(f"webhook answered HTTP {resp.status}")
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"webhook answered HTTP {exc.code}") from None


def send(engine: Engine, chans: list[Channel], smtp: SmtpSettings, signals: list[Signal], since: datetime,
         until: datetime) -> DeliveryReport:
    """Enqueue the (recorded) signals for their subscribers and deliver everything unsent; logged as a
    `digest` run in `crawl_run`."""
    from npswatch.storage.runs import run_record

    with run_record(engine, "digest") as run:
        enqueue(engine, chans, signals)
        report = deliver(engine, chans, smtp, since, until)
        run.status = "ok" if report.ok else "failed"
        run.items, run.errors = sum(report.sent.values()), len(report.failed)
        run.message = "; ".join(f"{k}: {e}" for k, e in report.failed.items()) or None
    return report
