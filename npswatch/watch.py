"""The application context: settings, engine, pseudonymiser and writer built once per command."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from pathlib import Path

from sqlalchemy import Engine

from npswatch.pipelines.privacy import Pseudonymiser
from npswatch.storage.db import check_schema, make_engine
from npswatch.storage.writer import PostWriter

from .config import ConfigError, Settings, load_settings, parse_duration


log = logging.getLogger("npswatch")

MIN_KEY_BYTES = 32  # a new privacy key (npswatch makes 32 random bytes, hex-written); shorter keys: see pseudonymiser


@dataclass
class App:
    config_file: str | None = None
    _settings: Settings | None = field(default=None, repr=False)
    _stale_checked: bool = field(default=False, repr=False)
    interrupted_runs: list[int] = field(default_factory=list, repr=False)  # what this command found dead

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_file)
        return self._settings

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.database_url)

    def checked_engine(self, *, mark_dead: bool = True) -> Engine:
        """The engine, after checking the schema is current (raises SchemaError saying what to run). The first
        call also marks the runs whose process died (no heartbeat for `health.heartbeat_timeout`) interrupted,
        unless `mark_dead=False` (`npswatch status` only looks)."""
        check_schema(self.engine)
        if mark_dead and not self._stale_checked:
            self._stale_checked = True
            self.interrupted_runs = self.mark_dead_runs()
        return self.engine

    def heartbeat_timeout(self) -> timedelta:
        return timedelta(seconds=parse_duration(self.settings.health.heartbeat_timeout))

    def mark_dead_runs(self) -> list[int]:
        """Mark `running` rows without a recent heartbeat interrupted (see storage.runs); returns their ids."""
        from npswatch.storage.runs import mark_stale

        return mark_stale(self.engine, self.heartbeat_timeout())

    @cached_property
    def pseudonymiser(self) -> Pseudonymiser:
        """The keyed pseudonymiser. A key shorter than MIN_KEY_BYTES is refused for a database that holds no
        posts yet, and kept with a warning for one that does (changing it would change every pseudonym)."""
        key = self.settings.privacy_key()
        if len(key) < MIN_KEY_BYTES:
            if self._holds_no_posts():
                raise ConfigError(
                    f"privacy.key is {len(key)} bytes; a new database needs at least {MIN_KEY_BYTES}: leave "
                    "privacy.key empty (npswatch makes a random one in <data_dir>/privacy.key) or set 32 or more "
                    "random characters, e.g. from `python -c 'import secrets; print(secrets.token_hex(32))'`")
            log.warning("privacy.key is %d bytes, shorter than the %d a new database needs; kept because this "
                        "database's pseudonyms were made with it", len(key), MIN_KEY_BYTES)
        return Pseudonymiser(key)

    def _holds_no_posts(self) -> bool:
        from sqlalchemy import select

        from npswatch.storage.tables import T_POST

        engine = self.optional_engine()
        if engine is None:
            return True
        with engine.connect() as c:
            return c.execute(select(T_POST.c.id).limit(1)).first() is None

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
