"""The extractor: one post's text in, `Facts` out (substances, offers, regions, new-name candidates).

It strings the pure modules together and adds the decisions that need more than one of them:
- a price point becomes an offer only when it is linked to a substance named in the post;
- an offer's currency is the one written, else the currency of the city (or country) the offer is
  written under, else of the post's only country, else the source's default, else null;
- price per gram in USD uses the rate of the post's day (`RateBook`), never a guess;
- a new-name candidate also counts as a substance (its own name is its canonical), so its prices are
  recorded from the first post that names it.

>>> x = Extractor.default()
>>> f = x.extract("меф 1г 4500₽ Москва")
>>> [(o.substance.canonical, o.quantity, o.price, o.currency) for o in f.offers]
[('mephedrone', 1.0, 4500.0, 'RUB')]
>>> [r.name for r in f.regions]
['Moscow']
"""
from __future__ import annotations

from bisect import bisect_right
from datetime import date, datetime
from functools import lru_cache

from .candidates import find_candidates
from .facts import EMPTY, CandidateFact, Facts, OfferFact, RegionFact, SubstanceFact
from .fx import RateBook
from .offers import find_price_points, link
from .rawpost import SourceHints
from .regions import Gazetteer, RegionHit, country_currency, summarise
from .substances import SubstanceHit, SubstanceMatcher
from .text import clean

_NO_HINTS = SourceHints()


@lru_cache(maxsize=8192)
def _region_fact_cached(level: str, geonameid: int | None, name: str, country: str) -> RegionFact:
    return RegionFact(level, geonameid, name, country)


def _region_fact(h: RegionHit) -> RegionFact:
    return _region_fact_cached(h.level, h.geonameid, h.name, h.country)


@lru_cache(maxsize=65536)
def _substance_fact_cached(key: str, canonical: str | None, cls: str, matched: str) -> SubstanceFact:
    return SubstanceFact(key, canonical, cls, matched)


def _substance_fact(h: SubstanceHit) -> SubstanceFact:
    # Facts are immutable, so equal ones can be shared: this spares an allocation per hit on the hot path.
    return _substance_fact_cached(h.key, h.canonical, h.cls, h.matched)


class Extractor:
    """Loads the lexicon, gazetteer and rates once; `extract()` is pure and thread-safe."""

    def __init__(self, matcher: SubstanceMatcher, gazetteer: Gazetteer, rates: RateBook) -> None:
        self.matcher = matcher
        self.gazetteer = gazetteer
        self.rates = rates

    @classmethod
    def default(cls) -> "Extractor":
        return default_extractor()

    def with_rates(self, rates: RateBook) -> "Extractor":
        return Extractor(self.matcher, self.gazetteer, rates)

    def with_overlay(self, extra: list[dict]) -> "Extractor":
        return Extractor(self.matcher.with_overlay(extra), self.gazetteer, self.rates)

    def for_storage(self, text: str, hints: SourceHints, posted_at: datetime | None) -> Facts:
        """The signature the storage writer calls."""
        return self.extract(text, posted_at=posted_at, hints=hints)

    def extract(self, text: str, posted_at: datetime | date | None = None, hints: SourceHints | None = None) -> Facts:
        hints = hints or _NO_HINTS
        cleaned = clean(text)
        # Hits as if prices were present (the most an ambiguous word can get). A post with no hit and no
        # candidate can have no offer, so its price points are never computed: that spares the costliest
        # step on chatter, news without prices and negatives.
        hits = self.matcher.find(cleaned, has_price_pairs=True)
        cands = find_candidates(cleaned, self.matcher)
        points = find_price_points(cleaned) if hits or cands else []
        if not points and any(h.ambiguous for h in hits):
            hits = self.matcher.find(cleaned, has_price_pairs=False)
        region_hits = self.gazetteer.find(cleaned)
        regions = tuple(_region_fact(h) for h in summarise(region_hits)) if region_hits else ()

        # Substances in text order: lexicon hits and new-name candidates (a candidate is its own canonical).
        named: list[tuple[int, int, SubstanceFact]] = [(h.start, h.end, _substance_fact(h)) for h in hits]
        if cands:
            named += [(c.start, c.end, SubstanceFact(f"candidate:{c.name.casefold()}", c.name, c.cls, c.name))
                      for c in cands]
            named.sort(key=lambda t: t[0])
        if not named:
            return Facts(regions=regions) if regions else EMPTY
        substances: dict[str, SubstanceFact] = {}
        for _, _, s in named:
            substances.setdefault(s.key, s)

        offers = self._offers(points, named, region_hits, regions, hints, posted_at) if points else ()
        cities = tuple(r for r in regions if r.level == "city") or regions
        return Facts(
            substances=tuple(substances.values()),
            offers=offers,
            regions=regions,
            candidates=tuple(CandidateFact(c.name, c.cls) for c in {c.name: c for c in cands}.values()),
            mention_regions={k: cities for k in substances},
        )

    def _offers(self, points, named, region_hits, regions, hints, posted_at) -> tuple[OfferFact, ...]:
        day = posted_at.date() if isinstance(posted_at, datetime) else posted_at
        city_hits = [h for h in region_hits if h.level == "city"]
        starts = [h.start for h in city_hits]
        countries = {r.country for r in regions}
        only_country = next(iter(countries)) if len(countries) == 1 else None
        only_region = regions[0] if len(regions) == 1 else None
        spans = [_Span(s, e) for s, e, _ in named]
        out = []
        for idx, p in link(points, spans):
            if idx is None:
                continue
            substance = named[idx][2]
            # the city the offer is written under: the nearest one before it, else the post's only region
            i = bisect_right(starts, p.start) - 1
            region = _region_fact(city_hits[i]) if i >= 0 else only_region
            currency = (
                p.currency
                or (region and country_currency(region.country))
                or (only_country and country_currency(only_country))
                or hints.currency
            )
            per_gram = round(p.price / p.grams, 4) if p.grams else None
            usd = None
            if per_gram is not None and currency and day is not None:
                v = self.rates.to_usd(per_gram, currency, day)
                usd = round(v, 4) if v is not None else None
            out.append(OfferFact(substance, p.quantity, p.unit, p.grams, p.price, currency, per_gram, usd, region))
        return tuple(out)


class _Span:
    __slots__ = ("start", "end")

    def __init__(self, start: int, end: int) -> None:
        self.start, self.end = start, end


@lru_cache(maxsize=1)
def default_extractor() -> Extractor:
    return Extractor(SubstanceMatcher.default(), Gazetteer.default(), RateBook())
