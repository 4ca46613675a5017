"""npswatch: watch online drug markets for public-health early warning.

One import name for the whole program. The repository's top folders are its subpackages:

- `npswatch.pipelines`: the functional core (text to facts, pure);
- `npswatch.storage`: tables, engine, writers, migrations;
- `npswatch.crawlers`: Scrapy spiders, the Telegram listener and importers, the fixture market;
- `npswatch.reports`: trends, signals, exports, plots, digests;
- `npswatch.scheduler`: the scheduler service;
- this folder: the application layer and the command line.
"""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
