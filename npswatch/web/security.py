"""The web app's protections that belong to HTTP: security headers, the CSRF check, the login throttle.

- Every response carries a Content-Security-Policy that allows scripts, styles and images from the app only
  (no inline script, no `eval`, no framing, forms post to the app only) and `Referrer-Policy: no-referrer`, so
  following an evidence link does not tell a market site where the analyst came from.
- CSRF: a logged-in form carries its session's token (stored with the session); the login form carries the
  token of a pre-login cookie (double submit). A POST without the matching token is refused with 403.
- Login throttle: after `limit` failed logins within `window` seconds for a name or from an address, further
  attempts are refused (429) until the oldest failure leaves the window. Kept in memory: one `npswatch web`
  process serves the app; a restart forgets it, which an attacker cannot trigger from outside.
"""
from __future__ import annotations

import hmac
import threading
import time
from collections import defaultdict, deque

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'; object-src 'none'")
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


class SecurityHeaders:
    """ASGI middleware adding `HEADERS` to every HTTP response."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k.encode(), v.encode()) for k, v in HEADERS.items() if k.encode() not in names]
                message = {**message, "headers": list(message.get("headers", [])) + extra}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def same_token(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison; an empty or missing token never matches."""
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))


class LoginThrottle:
    """Failed logins per key (a user name, a client address) in a sliding window."""

    def __init__(self, limit: int = 5, window: float = 300.0, clock=time.monotonic) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._fails: dict[str, deque] = defaultdict(deque)
        self._lock = threading.Lock()

    def _trim(self, key: str, now: float) -> deque:
        q = self._fails[key]
        while q and q[0] <= now - self.window:
            q.popleft()
        return q

    def blocked(self, *keys: str) -> float:
        """Seconds until another attempt is allowed for these keys (0: allowed now)."""
        now = self.clock()
        with self._lock:
            waits = [q[0] + self.window - now for q in (self._trim(k, now) for k in keys) if len(q) >= self.limit]
        return max(waits, default=0.0)

    def failed(self, *keys: str) -> None:
        now = self.clock()
        with self._lock:
            for k in keys:
                self._trim(k, now).append(now)

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for k in keys:
                self._fails.pop(k, None)
