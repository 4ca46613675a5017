"""npswatch: watch online drug markets for public-health early warning.

One import name for the whole program. The repository's top folders are its subpackages:

- `npswatch.pipelines`: the functional core (text to facts, pure);
- `npswatch.storage`: tables, engine, writers, migrations;
- `npswatch.crawlers`: Scrapy spiders, the Telegram listener and importers, the fixture market;
- `npswatch.reports`: trends, signals, exports, plots, digests;
- `npswatch.scheduler`: the scheduler service;
- this folder: the application layer (`Watch`, configuration, the use-cases) and the command line (`cli`).

The public API is `Watch` (`from npswatch import Watch; w = Watch("npswatch.toml")`), imported on first use
so that `import npswatch` (and `npswatch --help`) stays fast.
"""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["Watch", "Settings", "WatchError", "ConfigError", "__version__"]

_LAZY = {"Watch": "npswatch.watch", "Settings": "npswatch.config", "ConfigError": "npswatch.errors",
         "WatchError": "npswatch.errors"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'npswatch' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
