"""Site definitions: how the generic spider reads one web site, written in TOML by analysts.

A definition names the pages to start from, the selector of one listing block, the selector of each
field inside a block, how to reach the next page, and optionally a detail page per listing. A
selector is CSS (parsel dialect, with ``::text`` and ``::attr(name)``) unless it starts with
``xpath:``. A field is a selector, a list of selectors (the first that matches wins), or a table
``{select = ..., regex = ...}`` whose regex keeps group 1 (or the whole match) of the text.

>>> site = parse_site('''
... name = "example-shop"
... start_urls = ["/catalog"]
... listing = "div.item"
... pagination = "a.next::attr(href)"
... [fields]
... id = {select = "xpath:@data-id"}
... text = ".desc"
... price = [".price-new", ".price"]
... [hints]
... country = "kz"
... currency = "KZT"
... ''', source="example.toml")
>>> site.name, site.fields.price.select, site.hints.country, site.politeness.obey_robots
('example-shop', ['.price-new', '.price'], 'KZ', True)
>>> site.resolve_start_urls("http://127.0.0.1:8000/")
['http://127.0.0.1:8000/catalog']
>>> try:
...     parse_site('name = "x"\\nstart_urls = ["/"]\\nlisting = "div"\\n[fields]\\ntext = "p..x"', source="bad.toml")
... except SiteDefError as exc:
...     print(exc)
bad.toml: fields.text: invalid CSS selector 'p..x': Expected ident, got <DELIM '.' at 2>

Fields (all optional, but `text` must come from the listing block or the detail page):
id, title, text, price, quantity, city, vendor, stock, posted, link. Without `id`, the external id is
the listing's link (path and query, so it survives a change of host), else a hash of its text.
"""
from __future__ import annotations

import re
import tomllib
import zoneinfo
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

from lxml import etree
from parsel.csstranslator import HTMLTranslator
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

__all__ = ["SiteDef", "FieldSpec", "Fields", "Detail", "Hints", "Politeness", "SiteDefError", "load_site",
           "load_sites", "parse_site", "FIELD_NAMES"]

FIELD_NAMES = ("id", "title", "text", "price", "quantity", "city", "vendor", "stock", "posted", "link")

_CSS = HTMLTranslator()


class SiteDefError(ValueError):
    """A site definition cannot be used; the message names the file and the field."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems  # (field path, message)
        super().__init__("; ".join(f"{source}: {loc}: {msg}" if loc else f"{source}: {msg}"
                                   for loc, msg in problems))


def check_selector(expr: str) -> str:
    """Compile a selector once at load time so a typo fails with the file and field, not mid-crawl."""
    expr = expr.strip()
    if not expr:
        raise ValueError("empty selector")
    if expr.startswith("xpath:"):
        body = expr[len("xpath:"):].strip()
        try:
            etree.XPath(body)
        except etree.XPathSyntaxError as exc:
            raise ValueError(f"invalid XPath {body!r}: {exc}") from None
        return "xpath:" + body
    body = expr.removeprefix("css:").strip()
    try:
        _CSS.css_to_xpath(body)
    except Exception as exc:  # noqa: BLE001 - cssselect raises several error types for bad syntax
        raise ValueError(f"invalid CSS selector {body!r}: {exc}") from None
    return body


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldSpec(_Strict):
    """One field: selectors tried in order (first non-empty result wins), then an optional regex."""

    select: list[str] = Field(min_length=1)
    regex: str | None = None  # keeps group 1 if the pattern has a group, else the whole match

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"select": [data]}
        if isinstance(data, list):
            return {"select": data}
        if isinstance(data, dict) and isinstance(data.get("select"), str):
            return {**data, "select": [data["select"]]}
        return data

    @field_validator("select")
    @classmethod
    def _selectors(cls, v: list[str]) -> list[str]:
        return [check_selector(s) for s in v]

    @field_validator("regex")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"invalid regex {v!r}: {exc}") from None
        return v


class Fields(_Strict):
    id: FieldSpec | None = None  # stable listing id (attribute, or link with a regex)
    title: FieldSpec | None = None
    text: FieldSpec | None = None  # the free text; an element selector takes all its text
    price: FieldSpec | None = None
    quantity: FieldSpec | None = None  # weight or count, e.g. "1 г"
    city: FieldSpec | None = None
    vendor: FieldSpec | None = None  # seller handle; stored pseudonymised
    stock: FieldSpec | None = None  # "в наличии 5" -> 5, "нет в наличии" -> 0
    posted: FieldSpec | None = None  # the date string only; parsed with dateparser
    link: FieldSpec | None = None  # permalink of the listing (becomes RawPost.url)

    def given(self) -> dict[str, FieldSpec]:
        return {k: v for k in FIELD_NAMES if (v := getattr(self, k)) is not None}


class Detail(_Strict):
    """Follow each listing block's link to its own page and read more fields there."""

    link: FieldSpec  # relative to the listing block
    fields: Fields = Fields()  # relative to the detail page; they override the block's values


class Hints(_Strict):
    country: str | None = None  # ISO 3166-1 alpha-2 of the site's market
    currency: str | None = None  # ISO 4217 when prices name none (USDT/BTC allowed)
    language: str | None = None  # ISO 639-1 of the site's text (dates, morphology)
    date_languages: list[str] = []  # languages of the date strings; default: language, then English
    date_order: Literal["DMY", "MDY", "YMD"] = "DMY"  # for numeric dates like 05.06.2026
    timezone: str = "UTC"  # zone of dates shown without one

    @field_validator("country")
    @classmethod
    def _country(cls, v: str | None) -> str | None:
        if v is None:
            return None
        if not re.fullmatch(r"[A-Za-z]{2}", v.strip()):
            raise ValueError(f"{v!r} is not an ISO 3166-1 alpha-2 code")
        return v.strip().upper()

    @field_validator("currency")
    @classmethod
    def _currency(cls, v: str | None) -> str | None:
        if v is None:
            return None
        if not re.fullmatch(r"[A-Za-z]{3,4}", v.strip()):
            raise ValueError(f"{v!r} is not an ISO 4217 code (or USDT/BTC)")
        return v.strip().upper()

    @field_validator("language")
    @classmethod
    def _language(cls, v: str | None) -> str | None:
        if v is None:
            return None
        if not re.fullmatch(r"[A-Za-z]{2}", v.strip()):
            raise ValueError(f"{v!r} is not an ISO 639-1 code")
        return v.strip().lower()

    @field_validator("date_languages")
    @classmethod
    def _date_languages(cls, v: list[str]) -> list[str]:
        for lang in v:
            if not re.fullmatch(r"[a-z]{2}(-[A-Za-z]+)?", lang):
                raise ValueError(f"{lang!r} is not a language code")
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            zoneinfo.ZoneInfo(v)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}") from None
        return v

    def languages_for_dates(self) -> list[str]:
        if self.date_languages:
            return list(self.date_languages)
        return list(dict.fromkeys([self.language or "ru", "en"]))


class Politeness(_Strict):
    obey_robots: bool = True
    download_delay: float = Field(1.0, ge=0, le=600)  # seconds between requests to this site
    concurrency: int = Field(2, ge=1, le=32)  # parallel requests to this site
    autothrottle: bool = True  # adapt the delay to the site's latency (never below download_delay)
    max_pages: int | None = Field(None, ge=1)  # stop following pagination/links after this many pages
    max_size_mb: float = Field(4.0, gt=0, le=64)  # larger pages (or gzip bodies inflating past it) are dropped
    timeout: float = Field(30.0, gt=0, le=600)  # seconds per request
    retries: int = Field(2, ge=0, le=10)  # extra attempts after a failure or a 429/5xx, with growing pauses


class SiteDef(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$")  # source key in storage
    description: str = ""
    enabled: bool = True
    base_url: str | None = None  # for relative start_urls; a base_url given at run time wins
    start_urls: list[str] = Field(min_length=1)
    listing: str  # selector of one listing block
    fields: Fields = Fields()
    pagination: FieldSpec | None = None  # next page(s) of the listing
    follow: FieldSpec | None = None  # other listing pages to enter (threads, categories)
    follow_detail: Detail | None = None
    hints: Hints = Hints()
    politeness: Politeness = Politeness()
    proxy: str | None = None  # http(s)://host:port for every request of this site (Tor: via privoxy)
    js: bool = False  # pages need JavaScript; the generic spider cannot render them and skips the site
    snapshots: bool = False  # keep every parsed page (gzip, by sha256) so `npswatch reparse` can rerun parsing
    snapshot_days: int | None = Field(None, ge=1)  # keep them this long (default: retention.snapshot_days)

    @field_validator("listing")
    @classmethod
    def _listing(cls, v: str) -> str:
        return check_selector(v)

    @field_validator("base_url", "proxy")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is None:
            return None
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{v!r} is not an http(s) URL")
        return v

    @field_validator("start_urls")
    @classmethod
    def _starts(cls, v: list[str]) -> list[str]:
        for u in v:
            parts = urlsplit(u)
            if parts.scheme and parts.scheme not in ("http", "https"):
                raise ValueError(f"{u!r}: only http(s) URLs or paths")
            if not parts.scheme and not u.startswith("/"):
                raise ValueError(f"{u!r}: a relative start URL must start with '/'")
        return v

    @model_validator(mode="after")
    def _has_text(self) -> "SiteDef":
        detail_text = self.follow_detail is not None and self.follow_detail.fields.text is not None
        if self.fields.text is None and not detail_text:
            raise ValueError("fields.text (or follow_detail.fields.text) is required")
        return self

    def resolve_start_urls(self, base_url: str | None = None) -> list[str]:
        """Absolute start URLs; relative ones are joined to `base_url` (run time) or the file's base_url."""
        base = base_url or self.base_url
        out = []
        for u in self.start_urls:
            if urlsplit(u).scheme:
                out.append(u)
            elif base is None:
                raise SiteDefError(self.name, [("start_urls", f"{u!r} is relative and no base_url is given")])
            else:
                out.append(urljoin(base if base.endswith("/") else base + "/", u.lstrip("/")))
        return out


def _problems(exc: ValidationError) -> list[tuple[str, str]]:
    out = []
    for e in exc.errors():
        loc = ""
        for p in e["loc"]:
            if p == "select":  # a FieldSpec's inner list: report the field itself
                continue
            loc += f"[{p}]" if isinstance(p, int) else (f".{p}" if loc else str(p))
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling)"
        elif e["type"] == "missing":
            msg = "required"
        out.append((loc, msg))
    return out


def parse_site(text: str, source: str = "<string>", default_name: str | None = None) -> SiteDef:
    """Parse and validate one definition from TOML text; errors name `source` and the field."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SiteDefError(source, [("", f"TOML syntax error: {exc}")]) from None
    if default_name and "name" not in raw:
        raw["name"] = default_name
    try:
        return SiteDef.model_validate(raw)
    except ValidationError as exc:
        raise SiteDefError(source, _problems(exc)) from None


def load_site(path: str | Path) -> SiteDef:
    """Load `path`; without a `name` key the file stem is the name (underscores become dashes)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SiteDefError(str(path), [("", f"cannot read: {exc.strerror}")]) from None
    return parse_site(text, source=str(path), default_name=path.stem.replace("_", "-").lower())


def load_sites(folder: str | Path, pattern: str = "*.toml") -> list[SiteDef]:
    """All definitions in `folder` (sorted by file name). Names must be unique."""
    sites: list[SiteDef] = []
    seen: dict[str, Path] = {}
    for path in sorted(Path(folder).glob(pattern)):
        site = load_site(path)
        if site.name in seen:
            raise SiteDefError(str(path), [("name", f"{site.name!r} is already used by {seen[site.name]}")])
        seen[site.name] = path
        sites.append(site)
    return sites


# The definitions of the built-in fixture market's three layouts (used by `npswatch demo` and the tests).
FIXTURE_SITES_DIR = Path(__file__).with_name("sites")
