"""The application context: settings, engine, pseudonymiser and writer built once per command."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from sqlalchemy import Engine

from npswatch.pipelines.privacy import Pseudonymiser
from npswatch.storage.db import check_schema, make_engine
from npswatch.storage.writer import PostWriter

from .config import Settings, load_settings


@dataclass
class App:
    config_file: str | None = None
    _settings: Settings | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_file)
        return self._settings

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.database_url)

    def checked_engine(self) -> Engine:
        """The engine, after checking the schema is current (raises SchemaError saying what to run)."""
        check_schema(self.engine)
        return self.engine

    @cached_property
    def pseudonymiser(self) -> Pseudonymiser:
        return Pseudonymiser(self.settings.privacy_key())

    def extractor(self, engine: Engine | None = None):
        """The default extractor, with the central-bank rates imported into `engine` (if any) and the lexicon
        overlay of confirmed candidates stored there (`npswatch candidates confirm`) added."""
        from npswatch.pipelines.extract import default_extractor
        from npswatch.pipelines.fx import RateBook
        from npswatch.reports.candidates import load_overlay
        from npswatch.storage.fxstore import load_rates

        x = default_extractor()
        rates = load_rates(engine) if engine is not None else []
        if rates:
            x = x.with_rates(RateBook(rates))
        overlay = load_overlay(engine) if engine is not None else []
        return x.with_overlay(overlay) if overlay else x

    def optional_engine(self) -> Engine | None:
        """The engine if the configured database exists with a current schema, else None (no side effects)."""
        from sqlalchemy.engine import make_url

        url = make_url(self.settings.database_url)
        if url.get_backend_name() == "sqlite" and not (url.database and Path(url.database).exists()):
            return None
        try:
            check_schema(self.engine)
        except Exception:  # noqa: BLE001 - unreachable or old database: work without it
            return None
        return self.engine

    def writer(self, extract: bool = True) -> PostWriter:
        engine = self.checked_engine()
        extractor = self.extractor(engine).for_storage if extract else None
        return PostWriter(engine, self.pseudonymiser, extractor)
