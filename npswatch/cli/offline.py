"""`python -m npswatch.cli.offline NETWORK.sqlite -- <npswatch args>`: any npswatch command against the offline
Telegram of `npswatch.crawlers.telegram.offline` (one SQLite file instead of Telegram's servers)."""
from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) < 2 or "--" not in argv:
        raise SystemExit("usage: python -m npswatch.cli.offline NETWORK.sqlite -- <npswatch arguments>")
    sep = argv.index("--")
    from npswatch.crawlers.telegram import client as client_mod
    from npswatch.crawlers.telegram.offline import OfflineNetwork

    client_mod.CLIENT_FACTORY = OfflineNetwork(argv[0]).factory
    from npswatch.cli.app import app

    app(argv[sep + 1:], prog_name="npswatch")


if __name__ == "__main__":
    main()
