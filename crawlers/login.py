"""The session of a site behind a login: cookies and headers read from the environment or files at crawl time.

A definition's `[login]` names where they are (`cookies_env`, `cookies_file`, `headers_env`, `headers_file`),
never the values, so definitions can be shared and committed. Values are read once per crawl; a missing
variable or unreadable file is a one-line error naming the site and the key. Nothing here logs a value.

>>> parse_cookies("session=abc123; theme=dark")
{'session': 'abc123', 'theme': 'dark'}
>>> parse_cookies("# Netscape HTTP Cookie File\\n.m.onion\\tTRUE\\t/\\tFALSE\\t0\\tsid\\tx9")
{'sid': 'x9'}
>>> parse_headers("Authorization: Bearer t0k3n\\nX-Requested-With: XMLHttpRequest")
{'Authorization': 'Bearer t0k3n', 'X-Requested-With': 'XMLHttpRequest'}
"""
from __future__ import annotations

import os
from pathlib import Path

from npswatch.crawlers.sitedef import SiteDef, SiteDefError

__all__ = ["parse_cookies", "parse_headers", "session_for", "secret_values"]


def parse_cookies(text: str) -> dict[str, str]:
    """Cookies from a Cookie header ("a=1; b=2", optionally "Cookie: " first) or a Netscape cookies.txt."""
    out: dict[str, str] = {}
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if lines and all(line.count("\t") >= 6 for line in lines):  # cookies.txt: domain, flag, path, secure, expiry, name, value
        for line in lines:
            parts = line.split("\t")
            out[parts[5]] = parts[6].strip()
        return out
    for line in lines:
        line = line.strip()
        if line.lower().startswith("cookie:"):
            line = line[7:]
        for pair in line.split(";"):
            name, sep, value = pair.strip().partition("=")
            if sep and name:
                out[name.strip()] = value.strip()
    return out


def parse_headers(text: str) -> dict[str, str]:
    """Headers, one "Name: value" a line."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip():
            out[name.strip()] = value.strip()
    return out


def _read(site: SiteDef, key: str, env: str | None, path: str | None, environ) -> str:
    parts = []
    if env:
        if env not in environ:
            raise SiteDefError(site.name, [(f"login.{key}_env", f"environment variable {env} is not set")])
        parts.append(environ[env])
    if path:
        try:
            parts.append(Path(path).expanduser().read_text(encoding="utf-8"))
        except OSError as exc:
            raise SiteDefError(site.name, [(f"login.{key}_file", f"cannot read {path}: {exc.strerror}")]) from None
    return "\n".join(parts)


def session_for(site: SiteDef, environ=None) -> tuple[dict[str, str], dict[str, str]]:
    """(cookies, headers) of the site's logged-in session; empty without `[login]`."""
    login = site.login
    if login is None:
        return {}, {}
    environ = os.environ if environ is None else environ
    cookies = parse_cookies(_read(site, "cookies", login.cookies_env, login.cookies_file, environ))
    headers = parse_headers(_read(site, "headers", login.headers_env, login.headers_file, environ))
    return cookies, headers


def secret_values(site: SiteDef, environ=None) -> list[str]:
    """The values to mask in anything printed or logged about the site (cookie and header values)."""
    try:
        cookies, headers = session_for(site, environ)
    except SiteDefError:
        return []
    return [v for v in list(cookies.values()) + list(headers.values()) if v]
