"""The application context: settings, engine, pseudonymiser and writer built once per command."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import Engine

from pipelines.privacy import Pseudonymiser
from storage.db import check_schema, make_engine
from storage.writer import PostWriter

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

    def writer(self, extract: bool = True) -> PostWriter:
        extractor = None
        if extract:
            from pipelines.extract import default_extractor

            extractor = default_extractor().for_storage
        return PostWriter(self.checked_engine(), self.pseudonymiser, extractor)
