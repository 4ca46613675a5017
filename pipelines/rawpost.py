"""`RawPost`: the one item every collector produces (web spider, Telegram listener, export importer).

Everything downstream of a RawPost is source-independent. Validation happens here, before storage, so a
bad item is rejected with a reason and nothing already stored is touched. Text is made storable at this edge:
NUL characters (PostgreSQL refuses them) are removed and lone surrogates (not encodable as UTF-8) become U+FFFD,
in every string field and every string inside `extra`; `extra` nested deeper than a few levels is refused.

>>> p = RawPost(source="fixture-shop", external_id="42", text="меф 1г 4500₽", author="@seller")
>>> p.source, p.external_id, p.hints.currency
('fixture-shop', '42', None)
>>> RawPost(source="s", external_id="1", text="a\\x00b \\ud800").text == "ab \\ufffd"
True
>>> RawPost(source="s", external_id="1", text="   ")
Traceback (most recent call last):
...
npswatch.pipelines.rawpost.InvalidPost: post s/1 rejected: text is empty
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

__all__ = ["RawPost", "SourceHints", "Structured", "InvalidPost", "storable"]


class InvalidPost(ValueError):
    """A collector produced an item that cannot be stored; the message says why."""


class SourceHints(BaseModel):
    """What the source tells us when the text does not: used to infer currency and region."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    country: str | None = None  # ISO 3166-1 alpha-2 of the site or channel's market
    currency: str | None = None  # ISO 4217 (or USDT/BTC) used when a price names no currency
    language: str | None = None  # ISO 639-1 hint for dates and morphology

    @field_validator("country", "currency", "language")
    @classmethod
    def _upper_lower(cls, v: str | None, info) -> str | None:
        if v is None or not v.strip():
            return None
        v = v.strip()
        return v.lower() if info.field_name == "language" else v.upper()


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_MAX_DEPTH = 8  # of `extra`: collectors write flat facts and one level of forward origin


def storable(text: str) -> str:
    """The text without NUL characters and with lone surrogates replaced (so every database and UTF-8 take it)."""
    return _UNSTORABLE.sub(lambda m: "" if m.group(0) == "\x00" else "\ufffd", text) if _UNSTORABLE.search(text) else text


def _storable_value(v: Any, depth: int = 0) -> Any:
    if depth > _MAX_DEPTH:
        raise ValueError(f"is nested deeper than {_MAX_DEPTH} levels")
    if isinstance(v, str):
        return storable(v)
    if isinstance(v, dict):
        return {storable(str(k)): _storable_value(x, depth + 1) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_storable_value(x, depth + 1) for x in v]
    if isinstance(v, int) and not isinstance(v, bool) and not -(2**63) <= v < 2**63:
        raise ValueError(f"holds a number outside 64 bits ({str(v)[:24]}...)")
    if isinstance(v, float) and v != v:
        return None
    return v


class Structured(BaseModel):
    """A listing's fields that the site shows in elements of their own, as displayed (parsed by `pipelines.listed`).

    When a source has them, they make the listing's offer directly: the text only says what is sold.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    price: str | None = None  # "USD 105", "500 $", "4 500"
    currency: str | None = None  # "USD", "$", "руб." when the site shows it apart from the price
    quantity: str | None = None  # "1 г", "10", "3.5g"
    unit: str | None = None  # "г", "pills" when shown apart from the quantity
    stock: str | None = None  # "In stock", "Stock:5", "нет в наличии"
    ships_from: str | None = None
    ships_to: str | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _blank(cls, v: Any) -> Any:
        if v is None:
            return None
        v = " ".join(storable(str(v)).split())
        return v or None

    def given(self) -> dict[str, str]:
        if not self.model_fields_set:  # built without fields (every post but a web listing's): all None
            return {}
        return {k: v for k, v in self.model_dump().items() if v is not None}


_NO_STRUCTURED = Structured()  # frozen: every post without listing fields shares it (a new one per post cost a tenth
# of building the post)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class RawPost(BaseModel):
    """One post or listing as collected, before normalisation."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str  # key of the source (site name or channel username)
    external_id: str  # id unique within the source (listing id, message id)
    text: str
    url: str | None = None
    author: str | None = None  # raw handle; pseudonymised before storage, never stored as is
    posted_at: datetime | None = None
    edited_at: datetime | None = None
    collected_at: datetime = Field(default_factory=_utcnow)
    hints: SourceHints = Field(default_factory=SourceHints)
    extra: dict[str, Any] = Field(default_factory=dict)  # collector-specific facts (stock, forward origin)
    structured: Structured = _NO_STRUCTURED  # price, currency, quantity... shown apart

    @field_validator("source", "external_id", mode="before")
    @classmethod
    def _key(cls, v: Any) -> str:
        v = "" if v is None else storable(str(v)).strip()
        if not v:
            raise ValueError("is empty")
        if len(v) > 200:
            raise ValueError("is longer than 200 characters")
        return v

    @field_validator("text")
    @classmethod
    def _text(cls, v: str) -> str:
        v = storable(v) if isinstance(v, str) else v
        if not v or not v.strip():
            raise ValueError("is empty")
        return v

    @field_validator("url", "author")
    @classmethod
    def _optional_text(cls, v: str | None) -> str | None:
        return storable(v) if isinstance(v, str) else v

    @field_validator("extra")
    @classmethod
    def _extra(cls, v: dict[str, Any]) -> dict[str, Any]:
        return _storable_value(v)

    @field_validator("posted_at", "edited_at", "collected_at")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        # Naive datetimes are taken as UTC so comparisons across sources are meaningful.
        if v is not None and v.tzinfo is None:
            v = v.replace(tzinfo=timezone.utc)
        return v

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            reasons = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'post'} {e['msg'].removeprefix('Value error, ')}"
                for e in exc.errors()
            )
            raise InvalidPost(
                f"post {data.get('source', '?')}/{data.get('external_id', '?')} rejected: {reasons}"
            ) from None
