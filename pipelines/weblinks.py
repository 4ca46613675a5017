"""Addresses of other web shops and markets in a text: http(s) links and .onion hosts (mirror lists too).

For the discovery queue of web sites (`npswatch sources discovered`): each address is reduced to its origin
(`scheme://host[:port]`, host lower-cased, `www.` kept), so a shop's many pages count as one site. A bare
.onion host (v3: 56 base32 characters; v2: 16) counts even without a scheme, as mirror lists write them.
Telegram's hosts are left to the Telegram discovery queue, and so are addresses without a dot in the host.

>>> find_sites("Зеркала: http://Shop-Example.invalid/catalog?x=1 и abcdefghijklmnop.onion, t.me/somechan")
['http://shop-example.invalid', 'http://abcdefghijklmnop.onion']
>>> find_sites("наш сайт https://shop.example.invalid:8443/ (https://shop.example.invalid:8443/a)")
['https://shop.example.invalid:8443']
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = ["find_sites", "site_origin", "TELEGRAM_HOSTS"]

TELEGRAM_HOSTS = frozenset({"t.me", "telegram.me", "telegram.dog", "www.t.me", "www.telegram.me"})
_URL = re.compile(r"\bhttps?://[^\s<>\"'()\[\]{}|\\^`]+", re.IGNORECASE)
_ONION = re.compile(r"(?<![\w.-])((?:[a-z2-7]{56}|[a-z2-7]{16})\.onion)(?![\w-])", re.IGNORECASE)


def site_origin(url: str) -> str | None:
    """`scheme://host[:port]` of an http(s) URL, None for anything else (or a Telegram or dot-less host)."""
    try:
        parts = urlsplit(url.strip().rstrip(".,;:!?"))
        host = (parts.hostname or "").rstrip(".")
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or "." not in host or host in TELEGRAM_HOSTS:
        return None
    default = 443 if parts.scheme.lower() == "https" else 80
    return f"{parts.scheme.lower()}://{host}" + (f":{port}" if port and port != default else "")


def find_sites(text: str) -> list[str]:
    """The site origins a text names, in order of first mention, each once."""
    out: dict[str, None] = {}
    taken: list[tuple[int, int]] = []
    if "://" not in text and ".onion" not in text.lower():  # most posts name no site: skip both scans
        return []
    for m in _URL.finditer(text):
        taken.append(m.span())
        origin = site_origin(m.group())
        if origin:
            out.setdefault(origin, None)
    for m in _ONION.finditer(text):
        if any(a <= m.start() < b for a, b in taken):
            continue
        out.setdefault(f"http://{m.group(1).lower()}", None)
    return list(out)
