"""The analysts' web app (`npswatch web`): the signals inbox and the candidate review queue in the browser.

Built on Starlette (a small, well-kept ASGI toolkit: routing, forms, static files, test client, no ORM or
admin of its own to fight) with Jinja2 templates (autoescape on: everything scraped is shown as text) and
served by uvicorn. It calls only `npswatch.Watch`: accounts, triage and the audit log are use-cases of the
application layer. Templates and the stylesheet are vendored in this folder; no script or font is loaded from
the internet, and the Content-Security-Policy allows no inline script.
"""
from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
