"""Screenshots of the web app's pages for docs/ and the README, taken in the system Chromium (Playwright's
Python package drives /usr/bin/chromium; no browser is downloaded).

The app runs on a temporary database holding the synthetic market history of the tests
(`npswatch.reports.synthetic`, 26 weeks, planted signals), with an analyst account made for the run:

    .venv/bin/python tools/webapp_screenshots.py                    # docs/webapp-substance.png, webapp-map.png
    .venv/bin/python tools/webapp_screenshots.py --page signals=/signals --out /tmp/shots
"""
from __future__ import annotations

import argparse
import datetime as dt
import secrets
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = {
    "substance": ("/substance?substance=mephedrone&country=KZ", 1900),
    "map": ("/map?cls=synthetic_cathinone", 1250),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs")
    ap.add_argument("--page", action="append", default=[], help="NAME=PATH (default: the substance page and the map)")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args(argv)
    pages = {k: (v, 1400) for k, v in (p.split("=", 1) for p in args.page)} or PAGES

    import uvicorn
    from playwright.sync_api import sync_playwright

    from npswatch.reports.synthetic import PLANTS, History, write_history
    from npswatch.watch import Watch
    from npswatch.web import create_app

    tmp = Path(tempfile.mkdtemp(prefix="npswatch-shots-"))
    w = Watch(settings={"data_dir": str(tmp / "data")})
    w.upgrade()
    w.history = write_history(w.engine, History(start=dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc), plants=PLANTS))
    w.signals(w.history.end - dt.timedelta(days=7), w.history.end)
    password = secrets.token_urlsafe(16)
    w.add_user("analyst", password, "analyst")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(w), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    args.out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=["--headless", "--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{base}/login")
        page.fill("input[name=name]", "analyst")
        page.fill("input[name=password]", password)
        page.click("button:has-text('Log in')")
        page.wait_for_url(f"{base}/signals")
        for name, (path, height) in pages.items():
            page.set_viewport_size({"width": 1280, "height": height})
            page.goto(base + path)
            page.wait_for_load_state("networkidle")
            over = page.locator(".chart .u-over").first
            if over.count():  # hover the first chart, so that its legend shows a period's values
                box = over.bounding_box()
                page.mouse.move(box["x"] + box["width"] * 0.62, box["y"] + box["height"] / 2)
            out = args.out / f"webapp-{name}.png"
            page.screenshot(path=str(out))
            print(out)
        browser.close()
    server.should_exit = True
    return 0


if __name__ == "__main__":
    sys.exit(main())
