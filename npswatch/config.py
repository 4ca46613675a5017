"""Configuration: one TOML file (`npswatch.toml`), overridden by environment variables.

Where the file is: `--config PATH`, else `$NPSWATCH_CONFIG`, else `./npswatch.toml` if it exists, else
built-in defaults. Environment variables override the file: `NPSWATCH_DATABASE__URL`,
`NPSWATCH_TELEGRAM__API_HASH`, ... (sections joined with a double underscore). Secrets are `SecretStr`:
they print as `**********` and are never logged or stored in the database.
"""
from __future__ import annotations

import os
import re
import secrets
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from .errors import ConfigError  # defined there, so that catching it does not load pydantic

DEFAULT_CONFIG = Path("npswatch.toml")
ENV_CONFIG = "NPSWATCH_CONFIG"




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


class TelegramDiscoveryConfig(_Section):
    """`[telegram.discovery]`: rules that add discovered channels to the watch list without a review
    (`npswatch.autodiscover`). Each addition is logged, kept with its reason and shown in the digest."""

    auto_add: bool = False  # apply the rules at each listener reconcile and before each backfill
    min_channels: int = Field(default=3, ge=1)  # forwarded from or linked to by at least this many watched channels
    min_market_score: float = Field(default=0.5, ge=0.0, le=1.0)  # share of those posts naming a drug or an offer
    languages: list[str] = Field(default_factory=list)  # ISO 639-1 codes (ru, kk, ky, uz, tg...); empty: any
    join_limit: int = Field(default=500, ge=1)  # watched channels at most (Telegram lets an account join ~500)
    max_per_round: int = Field(default=10, ge=1)  # added at most per round

    @field_validator("languages")
    @classmethod
    def _languages(cls, v: list[str]) -> list[str]:
        out = [x.strip().lower() for x in v]
        bad = [x for x in out if not re.fullmatch(r"[a-z]{2,3}", x)]
        if bad:
            raise ValueError(f"{bad[0]!r} is not an ISO 639-1 language code like ru, kk, uz")
        return out


class TelegramConfig(_Section):
    api_id: int | None = None
    api_hash: SecretStr = SecretStr("")
    channels: list[str] = Field(default_factory=list)
    session_name: str = "npswatch"
    join: bool = True  # join watched channels: Telegram pushes live updates only to members
    reconcile_minutes: float = Field(default=10.0, gt=0)  # gap repair from checkpoints, this often
    recheck_days: int = Field(default=7, ge=0)  # re-read this many recent days for edits/deletions missed (0: off)
    recheck_minutes: float = Field(default=360.0, gt=0)  # ... on start and this often
    initial_days: int = Field(default=30, ge=0)  # first read of a channel without checkpoint (0: whole history)
    metrics_days: int = Field(default=7, ge=0)  # the metrics job re-samples views/forwards/reactions of this many days
    batch_size: int = Field(default=500, ge=1)  # rows per bulk write
    flush_seconds: float = Field(default=0.2, gt=0)  # ... or after this long, whichever comes first
    discovery: TelegramDiscoveryConfig = Field(default_factory=TelegramDiscoveryConfig)
    ocr: bool = True  # read the text of pictures (photos, image files) with Tesseract; false: captions only
    ocr_languages: list[str] = Field(default_factory=lambda: ["rus", "kaz", "kir", "uzb", "uzb_cyrl", "tgk", "eng"])
    ocr_max_mb: float = Field(default=10.0, gt=0)  # larger pictures are not read
    ocr_workers: int = Field(default=2, ge=1)  # pictures read at once (one Tesseract process each)


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str | float | int) -> float:
    """Seconds in a span like "90s", "30m", "6h", "1d", "1h30m" (a bare number is seconds).

    >>> parse_duration("1h30m"), parse_duration("2s"), parse_duration(5)
    (5400.0, 2.0, 5.0)
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        if text < 0:
            raise ValueError(f"{text!r} is negative")
        return float(text)
    s = str(text).strip().lower()
    try:
        return parse_duration(float(s))
    except ValueError:
        pass
    pos, total = 0, 0.0
    for m in _DURATION.finditer(s):
        if s[pos:m.start()].strip():
            break
        total += float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
        pos = m.end()
    if pos == 0 or s[pos:].strip():
        raise ValueError(f"{text!r} is not a duration like 90s, 30m, 6h, 1d or 1h30m")
    return total


def _duration(v: str | None) -> str | None:
    if v is not None:
        parse_duration(v)
    return v


JOB_KINDS = ("crawl", "backfill", "metrics", "fx", "digest", "retention", "extract-pending", "command")


class ScheduleEntry(_Section):
    job: str  # crawl | backfill | fx | digest | retention | command
    cron: str | None = None  # crontab expression, e.g. "0 */6 * * *"
    every: str | None = None  # interval, e.g. "30m", "6h", "1d"
    source: str | None = None  # site or channel; empty: all
    name: str | None = None  # job name (default: job, or job:source), for `npswatch jobs run NAME`
    args: list[str] = Field(default_factory=list)  # extra arguments of the job's npswatch command
    command: list[str] | None = None  # job = "command": the program and its arguments
    time_limit: str | None = None  # stop the job after this long (default: service.crawl_time_limit / job_time_limit)

    @field_validator("job")
    @classmethod
    def _job(cls, v: str) -> str:
        if v not in JOB_KINDS:
            raise ValueError(f"{v!r} is not a job; one of {', '.join(JOB_KINDS)}")
        return v

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        if v is not None:
            from apscheduler.triggers.cron import CronTrigger

            try:
                CronTrigger.from_crontab(v, timezone="UTC")
            except ValueError as exc:
                raise ValueError(f"{v!r} is not a crontab expression like \"0 */6 * * *\" ({exc})") from None
        return v

    @field_validator("every", "time_limit")
    @classmethod
    def _span(cls, v: str | None) -> str | None:
        return _duration(v)

    @model_validator(mode="after")
    def _when(self) -> "ScheduleEntry":
        if (self.cron is None) == (self.every is None):
            raise ValueError(f"job {self.job!r}: give exactly one of cron or every")
        if self.every is not None and parse_duration(self.every) <= 0:
            raise ValueError(f"job {self.job!r}: every must be longer than 0")
        if self.job == "command" and not self.command:
            raise ValueError("job \"command\" needs command = [\"program\", \"arg\", ...]")
        if self.job != "command" and self.command:
            raise ValueError(f"job {self.job!r}: command is only for job = \"command\"")
        return self

    @property
    def job_name(self) -> str:
        return self.name or (f"{self.job}:{self.source}" if self.source else self.job)


class ServiceConfig(_Section):
    """`npswatch run`: the scheduler service (scheduler/service.py explains each choice)."""

    timezone: str = ""  # zone of cron expressions; empty: the machine's local zone
    misfire_grace: str = "1d"  # a run missed by less than this (service down) still runs once on start
    shutdown_grace: str = "5m"  # SIGTERM: running jobs get this long to finish ...
    kill_after: str = "30s"  # ... then SIGTERM to the job, and SIGKILL this long after that
    max_parallel: int = Field(2, ge=1)  # jobs running at the same time
    crawl_time_limit: str = "6h"  # a crawl running longer is stopped
    job_time_limit: str = "1h"  # any other job running longer is stopped
    rerun_interrupted: bool = True  # on start, run a job again at once if the service died during it
    listen: bool = False  # also run `npswatch listen` (Telegram live), restarted when it exits
    fx_inbox: str = "fx-inbox"  # folder the fx job imports rate files from (relative to data_dir)

    @field_validator("misfire_grace", "shutdown_grace", "kill_after", "crawl_time_limit", "job_time_limit")
    @classmethod
    def _span(cls, v: str) -> str:
        return _duration(v)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        if v:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                ZoneInfo(v)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"{v!r} is not a time zone like Asia/Almaty or UTC") from None
        return v


class HealthConfig(_Section):
    """`npswatch status`: when a job or source counts as unhealthy."""

    max_failures: int = Field(2, ge=1)  # this many failed runs in a row
    stale_after: str = "3d"  # or nothing new from a source for this long (at least 2 schedule periods)
    stale_after_by_source: dict[str, str] = Field(default_factory=dict)  # per source, e.g. {"slow-forum" = "14d"}
    heartbeat_timeout: str = "10m"  # a running run whose process has not beaten for this long died: interrupted

    @field_validator("stale_after", "heartbeat_timeout")
    @classmethod
    def _span(cls, v: str) -> str:
        return _duration(v)

    @field_validator("stale_after_by_source")
    @classmethod
    def _stale_map(cls, v: dict[str, str]) -> dict[str, str]:
        for d in v.values():
            parse_duration(d)
        return v


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


class SignalsConfig(_Section):
    """Thresholds of the early-warning signals (reports/signals.py explains each)."""

    min_history_days: int = Field(28, ge=0)  # "new" signals need this much stored history before the window
    new_min_posts: int = Field(2, ge=1)  # posts needed for a new-substance or new-in-region signal
    baseline_weeks: int = Field(8, ge=1)  # weeks of the series a spike signal shows before its week
    spike_min_baseline_weeks: int = Field(4, ge=1)  # ... of which at least this many since the first mention
    spike_min_mentions: int = Field(5, ge=1)  # fewer distinct ads in a week are never a spike
    spike_ratio: float = Field(1.5, gt=1)  # and at least this many times the expected count
    spike_p: float = Field(0.002, gt=0, lt=1)  # negative-binomial upper-tail p-value below which a week is a spike
    spike_window_p: float = Field(0.003, gt=0, lt=1)  # ... or below which the week with the one before it is
    spike_history_weeks: int = Field(104, ge=4)  # weeks the baseline model (reports/spikes.py) is fitted to
    spike_trend_p: float = Field(0.05, gt=0, lt=1)  # the trend term is kept when significant at this level
    price_window_weeks: int = Field(4, ge=1)  # recent weeks whose median price per gram is compared ...
    price_baseline_weeks: int = Field(12, ge=1)  # ... with the median of this many weeks before them
    price_shift: float = Field(0.25, gt=0)  # relative change of the median that is a shift (0.25 = 25 %)
    price_p: float = Field(0.001, gt=0, lt=1)  # ... and a rank-test p-value below this (noise is not a shift)
    price_min_offers: int = Field(8, ge=1)  # priced offers needed on each side
    sales_min_units: int = Field(1, ge=1)  # units gone from stock needed for a sales estimate
    examples: int = Field(3, ge=0)  # example posts per signal
    snippet_chars: int = Field(160, ge=40)  # length of an example snippet


class TrendsConfig(_Section):
    """How trend tables group prices (reports/trends.py)."""

    # quantity tiers per unit: (retail upper bound, wholesale lower bound), e.g. g = [1, 10] makes
    # <= 1 g retail, 1-10 g middle and > 10 g wholesale
    tiers: dict[str, tuple[float, float]] = Field(
        default_factory=lambda: {"g": (1.0, 10.0), "piece": (1.0, 10.0), "ml": (1.0, 10.0)})

    @field_validator("tiers")
    @classmethod
    def _ordered(cls, v: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        for unit, (lo, hi) in v.items():
            if not 0 < lo <= hi:
                raise ValueError(f"trends.tiers.{unit}: need 0 < retail bound <= wholesale bound, not {lo}, {hi}")
        return v


class RetentionConfig(_Section):
    post_text_days: int = Field(365, ge=1)
    snapshot_days: int = Field(90, ge=1)
    job_log_days: int = Field(30, ge=1)  # output of scheduled jobs, <data_dir>/logs/jobs


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
    service: ServiceConfig = Field(default_factory=ServiceConfig)
    health: HealthConfig = Field(default_factory=HealthConfig)
    digest: DigestConfig = Field(default_factory=DigestConfig)
    signals: SignalsConfig = Field(default_factory=SignalsConfig)
    trends: TrendsConfig = Field(default_factory=TrendsConfig)
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
        """The settings as plain data with secrets masked: safe to print or log. SecretStr fields dump as
        '**********'; a password in the database URL and the path and query of webhook URLs (where tokens
        live) are masked too."""
        d = self.model_dump(mode="json")
        if d["database"].get("url"):
            d["database"]["url"] = mask_url(d["database"]["url"])
        for r in d["digest"].get("recipients") or []:
            if r.get("webhook"):
                r["webhook"] = mask_url(r["webhook"], keep_path=False)
        return d


_SECRET_PARAM = re.compile(r"pass|token|secret|key|auth|sig|pwd", re.I)


def mask_url(url: str, keep_path: bool = True) -> str:
    """The URL with its password (and secret-looking query values) replaced by ***; without `keep_path`, the
    path and query are masked whole (a webhook's token is usually there).

    >>> mask_url("postgresql+psycopg://ews:s3cret@db.example.org/npswatch?sslpassword=x&sslmode=require")
    'postgresql+psycopg://ews:***@db.example.org/npswatch?sslpassword=***&sslmode=require'
    >>> mask_url("https://hooks.example.org/services/T000/B000/XXXXSECRET?token=abc", keep_path=False)
    'https://hooks.example.org/***'
    """
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{host}" if ":" in userinfo else f"{user}@{host}"
    if not keep_path:
        masked = "/***" if parts.path.strip("/") or parts.query or parts.fragment else parts.path
        return urlunsplit((parts.scheme, netloc, masked, "", ""))
    query = urlencode([(k, "***" if _SECRET_PARAM.search(k) else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)],
                      safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


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
            raise ConfigError(f"config file {path} is not UTF-8 text (a binary file?); give the npswatch.toml "
                              "written by `npswatch init`") from None
        except IsADirectoryError:
            raise ConfigError(f"config file {path} is a folder; give the npswatch.toml file in it") from None
        except OSError as exc:
            raise ConfigError(f"config file {path} cannot be read ({exc.strerror or exc}); check its "
                              "permissions") from None
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
    _check_paths(settings, where)
    return settings


_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def _check_paths(settings: Settings, where: str) -> None:
    """Every path npswatch writes to that the config names stays inside the data folder."""
    data = settings.data_path.resolve()
    name = settings.telegram.session_name
    if not _PLAIN_NAME.fullmatch(name) or ".." in name:
        raise ConfigError(f"config error in {where}: telegram.session_name: {name[:80]!r} is not a plain name; use "
                          "letters, digits, '_', '.' and '-' (the session is <data_dir>/telegram/NAME.session)")
    inbox = Path(settings.service.fx_inbox).expanduser()
    inbox = (inbox if inbox.is_absolute() else data / inbox).resolve()
    if not inbox.is_relative_to(data):
        raise ConfigError(f"config error in {where}: service.fx_inbox: {settings.service.fx_inbox!r} leads outside "
                          f"the data folder {data}; name a folder inside it")


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
channels = []           # public channel usernames, e.g. ["example_channel"]; `npswatch telegram add` adds more
session_name = "npswatch"   # session file <data_dir>/telegram/<session_name>.session (mode 0600)
join = true             # join watched channels (Telegram pushes live updates only to members)
reconcile_minutes = 10  # re-read each channel from its checkpoint this often (repairs dropped updates)
recheck_days = 7        # on start and every recheck_minutes, re-read the last N days: edits and deletions missed
recheck_minutes = 360
initial_days = 30       # how far back the first read of a new channel goes (0: whole history)
metrics_days = 7        # the metrics job re-samples views, forwards and reactions of the posts of the last N days
batch_size = 500        # rows per bulk write ...
flush_seconds = 0.2     # ... or after this many seconds, whichever comes first
ocr = true              # read price lists posted as pictures (Tesseract); false: captions only, nothing downloaded
ocr_languages = ["rus", "kaz", "kir", "uzb", "uzb_cyrl", "tgk", "eng"]   # Tesseract language packs (apt: tesseract-ocr-rus ...)
ocr_max_mb = 10         # pictures larger than this are not read
ocr_workers = 2         # pictures read at once

[telegram.discovery]
# Add discovered channels (forwarded from or linked to by watched ones) to the watch list by rule: at each
# listener reconcile and before each backfill when auto_add = true, or on demand: `npswatch telegram auto-add`.
# Each addition is logged, kept with its reason (`npswatch telegram channels`) and listed in the digest.
auto_add = false
min_channels = 3        # named by at least this many watched channels
min_market_score = 0.5  # share of the posts naming it that name a drug or an offer
languages = []          # the language of those posts, e.g. ["ru", "kk", "ky", "uz", "tg"]; empty: any
join_limit = 500        # watched channels at most (Telegram lets an account join ~500)
max_per_round = 10

# Schedules of `npswatch run`: cron (crontab syntax, in service.timezone) or every ("30m", "6h", "1d").
# job: crawl (source = a site; none: every enabled site), backfill (Telegram, from the checkpoints;
# source = one channel), metrics (Telegram subscribers and post views over time; source = one channel), fx (imports the rate files put into <data_dir>/fx-inbox), digest, retention,
# command (any program: command = ["/usr/local/bin/x", "arg"]). Optional: name, args (extra arguments of
# the npswatch command), time_limit. `npswatch jobs list` shows them, `npswatch jobs run NAME` runs one now.
# [[schedules]]
# job = "crawl"
# cron = "0 */6 * * *"
# [[schedules]]
# job = "backfill"
# every = "1h"
# [[schedules]]
# job = "metrics"
# every = "6h"
# [[schedules]]
# job = "fx"
# cron = "30 7 * * *"
# [[schedules]]
# job = "digest"
# cron = "0 8 * * 1"
# args = ["--since", "7d", "--send"]
# [[schedules]]
# job = "retention"
# cron = "15 3 * * *"

[service]
timezone = ""           # zone of the cron expressions; empty: this machine's
misfire_grace = "1d"    # after a stop or crash, a run missed by less than this runs once on start
shutdown_grace = "5m"   # on SIGTERM running jobs get this long to finish, then are stopped
kill_after = "30s"      # ... and killed if still there this long after
max_parallel = 2        # jobs at the same time
crawl_time_limit = "6h" # a crawl running longer is stopped (it resumes next time)
job_time_limit = "1h"   # the same for every other job
rerun_interrupted = true    # a job the service died during runs again on start
listen = false          # also run `npswatch listen` (Telegram live), restarted if it exits
fx_inbox = "fx-inbox"   # under data_dir; imported files go to fx-inbox/done, unreadable ones to fx-inbox/failed

[health]
# `npswatch status` exits 1 when a job or source failed max_failures times in a row or a source brought
# nothing new for stale_after (at least two of its schedule periods).
max_failures = 2
stale_after = "3d"
# A run whose process has shown no heartbeat for this long (killed, machine lost) is marked interrupted by the
# next command, on any host; `npswatch status` is unhealthy while such a run exists.
heartbeat_timeout = "10m"
# stale_after_by_source = { "slow-forum" = "14d" }

[digest]
# [[digest.recipients]]
# email = "ews@example.org"
# countries = ["KZ", "KG"]
# classes = ["synthetic_cathinone"]
# [[digest.recipients]]
# webhook = "https://ews.example.org/hooks/npswatch"   # receives the digest as JSON (POST)
# Each signal is sent once per recipient; failed deliveries are retried by the next `npswatch digest --send`.

[digest.smtp]
host = "localhost"
port = 25
starttls = false        # STARTTLS on a plain port (587)
ssl = false             # implicit TLS (465)
username = ""
password = ""           # or NPSWATCH_DIGEST__SMTP__PASSWORD
sender = "npswatch@localhost"

[signals]
# Early-warning thresholds; see README "Signals". A spike needs all of: spike_min_mentions distinct ads in a
# week, spike_ratio x the count expected by a quasi-Poisson model with trend (and yearly season) fitted to the
# spike_history_weeks before, and a negative-binomial p-value below spike_p (the week alone) or spike_window_p
# (the week with the one before it).
min_history_days = 28   # no "new substance/region" signals until this much history is stored
new_min_posts = 2
baseline_weeks = 8
spike_min_mentions = 5
spike_ratio = 1.5
spike_p = 0.002         # together with spike_window_p: about 0.7 false alarms per 100 series-weeks (README)
spike_window_p = 0.003  # the week together with the one before: a rise over two weeks
spike_history_weeks = 104
spike_trend_p = 0.05
price_window_weeks = 4  # median price per gram of the last 4 weeks ...
price_baseline_weeks = 12  # ... against the 12 weeks before: a shift is a change of at least price_shift
price_shift = 0.25
price_p = 0.001         # Mann-Whitney p-value the two samples must reach: dispersed prices move by chance
price_min_offers = 8

[trends]
# Quantity tiers (`npswatch trends --tiers`): per unit, [retail upper bound, wholesale lower bound].
tiers = { g = [1, 10], piece = [1, 10], ml = [1, 10] }

[retention]
# `npswatch retention apply` (a job of its own, see [[schedules]]); --dry-run says what would go.
post_text_days = 365    # post texts older than this are removed; offers and mentions are kept
snapshot_days = 90      # raw page snapshots (a site definition's snapshot_days wins for its pages)
job_log_days = 30       # output of scheduled jobs in <data_dir>/logs/jobs
'''
