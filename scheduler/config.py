"""Configuration: one TOML file (`npswatch.toml`), overridden by environment variables.

Where the file is: `--config PATH`, else `$NPSWATCH_CONFIG`, else `./npswatch.toml` if it exists, else
built-in defaults. Environment variables override the file: `NPSWATCH_DATABASE__URL`,
`NPSWATCH_TELEGRAM__API_HASH`, ... (sections joined with a double underscore). Secrets are `SecretStr`:
they print as `**********` and are never logged or stored in the database.
"""
from __future__ import annotations

import os
import secrets
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

DEFAULT_CONFIG = Path("npswatch.toml")
ENV_CONFIG = "NPSWATCH_CONFIG"


class ConfigError(RuntimeError):
    """A configuration problem, with the file and the key in the message."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatabaseConfig(_Section):
    url: str = ""  # empty: SQLite file npswatch.db in the data directory

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if v and "://" not in v:
            raise ValueError("must be a SQLAlchemy URL like sqlite:///data/npswatch.db or postgresql+psycopg://user@host/db")
        return v


class PrivacyConfig(_Section):
    # HMAC key for pseudonyms. Empty: a random key is created once in <data_dir>/privacy.key (mode 0600).
    key: SecretStr = SecretStr("")


class WebConfig(_Section):
    sites_dir: str = "sites"  # folder of site definition TOML files, relative to the config file
    user_agent: str = "npswatch/0.1 (+public-health research)"
    contact: str = ""  # put an e-mail or URL here: it is appended to the user agent


class TelegramConfig(_Section):
    api_id: int | None = None
    api_hash: SecretStr = SecretStr("")
    channels: list[str] = Field(default_factory=list)
    session_name: str = "npswatch"


class ScheduleEntry(_Section):
    job: str  # crawl | backfill | fx | digest | retention
    cron: str | None = None  # crontab expression, e.g. "0 */6 * * *"
    every: str | None = None  # interval, e.g. "30m", "6h", "1d"
    source: str | None = None  # site or channel; empty: all


class Recipient(_Section):
    email: str | None = None
    webhook: str | None = None
    countries: list[str] = Field(default_factory=list)  # empty: all
    classes: list[str] = Field(default_factory=list)  # empty: all


class SmtpConfig(_Section):
    host: str = "localhost"
    port: int = 25
    starttls: bool = False
    ssl: bool = False
    username: str = ""
    password: SecretStr = SecretStr("")
    sender: str = "npswatch@localhost"


class DigestConfig(_Section):
    recipients: list[Recipient] = Field(default_factory=list)
    smtp: SmtpConfig = Field(default_factory=SmtpConfig)


class RetentionConfig(_Section):
    post_text_days: int = 365
    snapshot_days: int = 90


class Settings(BaseSettings):
    """Everything npswatch reads from its configuration."""

    model_config = SettingsConfigDict(env_prefix="NPSWATCH_", env_nested_delimiter="__", extra="forbid")

    data_dir: str = "data"  # relative paths are relative to the config file's folder (or the working folder)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = False
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    telegram: TelegramConfig = Field(default_factory=TelegramConfig)
    schedules: list[ScheduleEntry] = Field(default_factory=list)
    digest: DigestConfig = Field(default_factory=DigestConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)

    # Where the settings came from (not a setting).
    _path: Path | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = _CURRENT_FILE.get("path")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml))
        return tuple(sources)

    # --- derived values -------------------------------------------------------------------------
    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def base_dir(self) -> Path:
        return self._path.parent if self._path else Path.cwd()

    @property
    def data_path(self) -> Path:
        p = Path(self.data_dir).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.data_path / 'npswatch.db'}"

    @property
    def sites_path(self) -> Path:
        p = Path(self.web.sites_dir).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    def privacy_key(self) -> bytes:
        """The pseudonymisation key; created once in the data directory when the config has none."""
        if self.privacy.key.get_secret_value():
            return self.privacy.key.get_secret_value().encode()
        keyfile = self.data_path / "privacy.key"
        if not keyfile.exists():
            keyfile.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(keyfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
        return keyfile.read_text().strip().encode()

    def safe_dict(self) -> dict[str, Any]:
        """The settings as plain data with secrets masked: safe to print or log."""
        return self.model_dump(mode="json")  # SecretStr dumps as '**********'


_CURRENT_FILE: dict[str, Path | None] = {}


def config_path(explicit: str | Path | None = None) -> Path | None:
    """The config file to read: explicit > $NPSWATCH_CONFIG > ./npswatch.toml if present > none."""
    if explicit:
        return Path(explicit)
    if os.environ.get(ENV_CONFIG):
        return Path(os.environ[ENV_CONFIG])
    return DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None


def load_settings(explicit: str | Path | None = None) -> Settings:
    """Read the configuration; raise ConfigError with the file and the key on any problem."""
    path = config_path(explicit)
    where = str(path) if path else "environment/defaults"
    if path is not None:
        if not path.exists():
            raise ConfigError(f"config file {path} does not exist (run `npswatch init {path}` to write an example)")
        try:
            tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"config file {path} is not UTF-8 text") from None
    _CURRENT_FILE["path"] = path
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "is not a known setting (misspelt?)"
            problems.append(f"{key}: {msg}")
        raise ConfigError(f"config error in {where}: " + "; ".join(problems)) from None
    finally:
        _CURRENT_FILE.pop("path", None)
    settings._path = path.resolve() if path else None
    return settings


EXAMPLE_CONFIG = '''\
# npswatch configuration. Every key can also be set by environment variable:
# NPSWATCH_<SECTION>__<KEY>, e.g. NPSWATCH_DATABASE__URL or NPSWATCH_TELEGRAM__API_HASH.

# Folder for the SQLite database, the pseudonymisation key, Telegram sessions, snapshots and reports.
# Relative paths are relative to this file.
data_dir = "data"
log_level = "INFO"      # DEBUG | INFO | WARNING | ERROR
log_json = false        # one JSON object per log line

[database]
# Empty: SQLite file <data_dir>/npswatch.db. For several machines use PostgreSQL:
# url = "postgresql+psycopg://npswatch@db.example.org/npswatch"
url = ""

[privacy]
# HMAC key that pseudonymises author handles, phone numbers and wallets before storage.
# Empty: a random key is created once in <data_dir>/privacy.key. Keep it secret and keep it stable:
# a new key gives every vendor a new pseudonym.
key = ""

[web]
sites_dir = "sites"     # one TOML site definition per file
user_agent = "npswatch/0.1 (+public-health research)"
contact = ""            # an address site owners can write to; appended to the user agent

[telegram]
# From https://my.telegram.org; keep api_hash out of this file and set NPSWATCH_TELEGRAM__API_HASH instead.
# api_id = 12345
api_hash = ""
channels = []           # public channel usernames, e.g. ["example_channel"]

# Schedules: cron (crontab syntax) or every ("30m", "6h", "1d").
# [[schedules]]
# job = "crawl"
# cron = "0 */6 * * *"

[digest]
# [[digest.recipients]]
# email = "ews@example.org"
# countries = ["KZ", "KG"]
# classes = ["synthetic_cathinone"]

[digest.smtp]
host = "localhost"
port = 25
starttls = false
username = ""
password = ""           # or NPSWATCH_DIGEST__SMTP__PASSWORD
sender = "npswatch@localhost"

[retention]
post_text_days = 365    # post texts older than this are removed; offers and mentions are kept
snapshot_days = 90
'''
