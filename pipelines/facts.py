"""Result types of extraction: what one post says, source-independent.

`Facts.to_json()` is the `npswatch extract` contract of DESIGN.md; the storage writer reads the same
objects (it needs the lexicon key of each substance, which the JSON leaves out).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CLASSES = (
    "synthetic_cathinone",
    "synthetic_cannabinoid",
    "cannabis",
    "opioid",
    "stimulant",
    "hallucinogen",
    "dissociative",
    "sedative",
    "other",
)


@dataclass(frozen=True, slots=True)
class SubstanceFact:
    key: str  # lexicon entry id, the `substance` row key
    canonical: str | None
    cls: str
    matched: str
    origins: tuple[str, ...] = ()  # countries the listing claims the product comes from ("Afghan hash": AF)

    def to_json(self) -> dict[str, Any]:
        out = {"canonical": self.canonical, "class": self.cls, "matched": self.matched}
        if self.origins:
            out["origins"] = list(self.origins)
        return out


@dataclass(frozen=True, slots=True)
class RegionFact:
    level: str  # "city" | "country"
    geonameid: int | None
    name: str
    country: str

    @property
    def key(self) -> str:
        return f"city:{self.geonameid}" if self.level == "city" else f"country:{self.country}"

    def to_json(self) -> dict[str, Any]:
        return {"level": self.level, "geonameid": self.geonameid, "name": self.name, "country": self.country}


@dataclass(frozen=True, slots=True)
class OfferFact:
    substance: SubstanceFact
    quantity: float
    unit: str  # "g" | "ml" | "piece"
    grams: float | None
    price: float
    currency: str | None
    price_per_gram: float | None
    price_per_gram_usd: float | None
    region: RegionFact | None = None
    dose: tuple[float, str] | None = None  # strength per piece or ml of a count or volume: (2.0, "mg")

    def to_json(self) -> dict[str, Any]:
        out = {
            "canonical": self.substance.canonical,
            "class": self.substance.cls,
            "quantity": self.quantity,
            "unit": self.unit,
            "grams": self.grams,
            "price": self.price,
            "currency": self.currency,
            "price_per_gram": self.price_per_gram,
            "price_per_gram_usd": self.price_per_gram_usd,
            **({"origins": list(self.substance.origins)} if self.substance.origins else {}),
        }
        if self.dose is not None:
            out["dose"] = {"amount": self.dose[0], "unit": self.dose[1]}
        return out


@dataclass(frozen=True, slots=True)
class CandidateFact:
    name: str
    cls: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "class": self.cls}


@dataclass(frozen=True, slots=True)
class Facts:
    substances: tuple[SubstanceFact, ...] = ()
    offers: tuple[OfferFact, ...] = ()
    regions: tuple[RegionFact, ...] = ()
    candidates: tuple[CandidateFact, ...] = ()
    # Regions per substance mention (post x substance x region); empty tuple means "no region".
    mention_regions: dict[str, tuple[RegionFact, ...]] = field(default_factory=dict)

    def to_json(self, id_: Any = None) -> dict[str, Any]:
        out: dict[str, Any] = {} if id_ is None else {"id": id_}
        out["substances"] = [s.to_json() for s in self.substances]
        out["offers"] = [o.to_json() for o in self.offers]
        out["regions"] = [r.to_json() for r in self.regions]
        out["candidates"] = [c.to_json() for c in self.candidates]
        return out


EMPTY = Facts()
