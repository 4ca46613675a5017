"""The extractor: one post's text in, `Facts` out (substances, offers, regions, new-name candidates).

It strings the pure modules together and adds the decisions that need more than one of them:
- a price point becomes an offer only when it is linked to a substance named in the post;
- an offer's currency is the one written, else the currency of the city (or country) the offer is
  written under, else of the post's only country, else the source's default, else null;
- price per gram in USD uses the rate of the post's day (`RateBook`), never a guess;
- a new-name candidate also counts as a substance (its own name is its canonical), so its prices are
  recorded from the first post that names it.

Speed (benchmarks/bench_extract.py): the post is cleaned and lowered once, and one Aho-Corasick pass of the
matcher's automaton finds the substance names together with the words of offers, the fragments that wake the
new-name grammars and the place names (`SubstanceMatcher.scan`, made `with_places` by `default_extractor`); each
module then reads its own matches. Facts are built from plain tuples and shared when equal.

>>> x = Extractor.default()
>>> f = x.extract("меф 1г 4500₽ Москва")
>>> [(o.substance.canonical, o.quantity, o.price, o.currency) for o in f.offers]
[('mephedrone', 1.0, 4500.0, 'RUB')]
>>> [r.name for r in f.regions]
['Moscow']
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import fields
from datetime import date, datetime
from functools import lru_cache

try:
    import cython  # the type annotations below are read by Cython only (see setup.py); Python ignores them
except ImportError:  # pragma: no cover - pure Python without Cython installed
    cython = None

from .candidates import find_candidates
from .facts import EMPTY, CandidateFact, Facts, OfferFact, RegionFact, SubstanceFact
from .fx import RateBook
from .lexicon import load_lexicon, lower_same_length
from .offers import price_tuples
from .listed import structured_offers
from .places import has_flag, read_places
from .rawpost import SourceHints, Structured
from .regions import Gazetteer, country_currency
from .substances import FORM_WORD, SubstanceMatcher, drop_attached_form_words
from .text import clean

_NO_HINTS = SourceHints()
_MEMO_MAX = 65536  # memos of facts by lexicon entry or place and surface form: bounded, though forms are few


def _offer_constructor():
    new = object.__new__
    s0, s1, s2, s3, s4, s5, s6, s7, s8, s9 = (getattr(OfferFact, f.name).__set__ for f in fields(OfferFact))

    def offer(substance, quantity, unit, grams, price, currency, per_gram, usd, region, dose) -> OfferFact:
        o = new(OfferFact)
        s0(o, substance), s1(o, quantity), s2(o, unit), s3(o, grams), s4(o, price), s5(o, currency)
        s6(o, per_gram), s7(o, usd), s8(o, region), s9(o, dose)
        return o

    return offer


def _facts_constructor():
    new = object.__new__
    s0, s1, s2, s3, s4 = (getattr(Facts, f.name).__set__ for f in fields(Facts))

    def facts(substances, offers, regions, candidates, mention_regions) -> Facts:
        o = new(Facts)
        s0(o, substances), s1(o, offers), s2(o, regions), s3(o, candidates), s4(o, mention_regions)
        return o

    return facts


_new_offer = _offer_constructor()
_new_facts = _facts_constructor()


class Extractor:
    """Loads the lexicon, gazetteer and rates once; `extract()` is pure and thread-safe."""

    def __init__(self, matcher: SubstanceMatcher, gazetteer: Gazetteer, rates: RateBook) -> None:
        self.matcher = matcher
        self.gazetteer = gazetteer
        self.rates = rates
        # Facts are immutable, so equal ones are shared: (entry index, surface form) -> SubstanceFact, and
        # place index -> (is a city, country, summary key, RegionFact). Spares allocations on the hot path.
        self._substance_facts: dict[tuple[int, str], SubstanceFact] = {}
        self._places: dict[int, tuple[bool, str, tuple, RegionFact]] = {}

    @classmethod
    def default(cls) -> "Extractor":
        return default_extractor()

    def with_rates(self, rates: RateBook) -> "Extractor":
        return Extractor(self.matcher, self.gazetteer, rates)

    def with_overlay(self, extra: list[dict]) -> "Extractor":
        return Extractor(self.matcher.with_overlay(extra), self.gazetteer, self.rates)

    def for_storage(self, text: str, hints: SourceHints, posted_at: datetime | None,
                    structured: Structured | None = None) -> Facts:
        """The signature the storage writer calls."""
        if structured is not None and structured.price:
            return self.extract_listing(text, structured, posted_at=posted_at, hints=hints)
        return self.extract(text, posted_at=posted_at, hints=hints)

    def extract_listing(self, text: str, structured: Structured, posted_at: datetime | date | None = None,
                        hints: SourceHints | None = None) -> Facts:
        """A web listing: its text, and the offer its structured fields make (`pipelines.listed`)."""
        hints = hints or _NO_HINTS
        facts = self.extract(text, posted_at=posted_at, hints=hints)
        return structured_offers(facts, structured, clean(text), hints, posted_at, self.rates)

    def extract(self, text: str, posted_at: datetime | date | None = None, hints: SourceHints | None = None) -> Facts:
        hints = hints or _NO_HINTS
        cleaned = clean(text)
        # Lowered once for every module (same length, so offsets stay those of `cleaned`); ё is е for names.
        low = cleaned.lower()
        if len(low) != len(cleaned):
            low = lower_same_length(cleaned)
        folded = low.replace("ё", "е") if "ё" in low else low
        matcher = self.matcher
        # Hits as if prices were present (the most an ambiguous word can get). A post with no hit and no
        # candidate can have no offer, so its price points are never computed: that spares the costliest
        # step on chatter, news without prices and negatives.
        # One pass of the matcher's automaton also finds the words of offers and the fragments of new names.
        words: list = []
        anchors: list = []
        places: list | None = [] if matcher.places is self.gazetteer else None
        scan = matcher.scan(cleaned, folded, words, anchors, places)
        hits = matcher.select(scan, True) if scan is not None else ()
        mentions: list = []
        cands = find_candidates(cleaned, matcher, low, anchors, mentions) if anchors else ()
        points = price_tuples(cleaned, low, words) if hits or cands else ()
        if not points and hits:
            for h in hits:
                if h[3]:  # an ambiguous word counted only thanks to the price pairs assumed above
                    hits = matcher.select(scan, False)
                    break
        if cands and hits and any(h[3] >= FORM_WORD for h in hits):
            # a form word ("кристаллы") attached to a new name is that substance's form (SubstanceMatcher rule 7)
            hits = drop_attached_form_words(hits, folded, mentions)
        demonyms: list = []
        ship_words: list = []
        spans = self.gazetteer.spans(cleaned, folded, places, demonyms, ship_words)
        origins = None
        hint = bool(ship_words) or has_flag(folded)
        if spans or hint or (demonyms and (hits or cands)):
            # how the listing uses each place: ships-from/-to conventions, product names, origin claims
            spans, origins = self._read_places(cleaned, folded, spans, hits, cands, demonyms, hint)
        if spans:
            regions, cities, city_starts, city_facts = self._regions(spans)
        else:
            regions = cities = ()
            city_starts = city_facts = ()

        # Substances in text order: lexicon hits and new-name candidates (a candidate is its own canonical).
        if hits:
            memo = self._substance_facts
            entries = matcher.entries
            named: list[tuple[int, SubstanceFact]] = []
            text: str = cleaned
            start: cython.Py_ssize_t
            end: cython.Py_ssize_t
            for start, end, entry, _ in hits:
                matched = text[start:end]
                fact = memo.get((entry, matched))
                if fact is None:
                    if len(memo) >= _MEMO_MAX:
                        memo.clear()
                    e = entries[entry]
                    fact = memo[(entry, matched)] = SubstanceFact(e.key, e.canonical, e.cls, matched)
                named.append((start, fact))
        elif not cands:
            return _new_facts((), (), regions, (), {}) if regions else EMPTY
        else:
            named = []
        if cands:
            named += [(c.start, SubstanceFact(f"candidate:{c.name.casefold()}", c.name, c.cls, c.name))
                      for c in cands]
            named.sort(key=lambda t: t[0])
        if origins:
            named = _with_origins(named, origins)
        substances: dict[str, SubstanceFact] = {}
        for _, s in named:
            if s.key not in substances:
                substances[s.key] = s

        offers = self._offers(points, named, city_starts, city_facts, regions, hints, posted_at, cleaned) if points else ()
        return _new_facts(
            tuple(substances.values()),
            offers,
            regions,
            tuple(CandidateFact(c.name, c.cls) for c in {c.name: c for c in cands}.values()) if cands else (),
            {k: cities for k in substances},
        )

    def _read_places(self, cleaned: str, folded: str, spans: list, hits, cands, demonyms: list,
                     hint: bool) -> tuple[list, dict]:
        """The spans that stay regions (plus the ships-from countries given by a code or a flag) and the origin
        claims by substance start (`pipelines.places`)."""
        mentions = hits  # (start, end, ...) tuples in text order
        if cands:
            mentions = sorted([(h[0], h[1]) for h in hits] + [(c.start, c.end) for c in cands])
        kept, shipped, claims = read_places(cleaned, folded, spans, self.gazetteer.place, mentions, demonyms, hint)
        if shipped:
            index = self.gazetteer.country_index
            kept = sorted(kept + [(s, e, i) for s, e, cc in shipped if (i := index(cc)) is not None])
        if not claims:
            return kept, None
        origins: dict[int, list[str]] = {}
        for s, _, cc in claims:
            origins.setdefault(s, []).append(cc)
        return kept, origins

    def _place(self, index: int) -> tuple[bool, str, tuple, RegionFact]:
        p = self._places.get(index)
        if p is None:
            level, geonameid, name, country = self.gazetteer.place(index)
            if len(self._places) >= _MEMO_MAX:
                self._places.clear()
            p = self._places[index] = (level == "city", country, (level, geonameid, country),
                                       RegionFact(level, geonameid, name, country))
        return p

    def _regions(self, spans: list[tuple[int, int, int]]) -> tuple:
        """(the post's regions, the cities among them or else all of them, the start and fact of every city
        mention in text order). The regions are those of `pipelines.regions.summarise`: every city once, in
        order of first mention; a country only when none of its cities is named."""
        get = self._places.get
        if len(spans) == 1:
            s, _, i = spans[0]
            is_city, _, _, fact = get(i) or self._place(i)
            regions = (fact,)
            return (regions, regions, [s], [fact]) if is_city else (regions, regions, (), ())
        infos = []
        city_starts = []
        city_facts = []
        for s, _, i in spans:
            info = get(i) or self._place(i)
            infos.append(info)
            if info[0]:
                city_starts.append(s)
                city_facts.append(info[3])
        seen: set[tuple] = set()
        out = []
        if len(city_facts) == len(infos):  # cities only, the usual case
            for _, _, key, fact in infos:
                if key not in seen:
                    seen.add(key)
                    out.append(fact)
            regions = tuple(out)
            return regions, regions, city_starts, city_facts
        with_city = {info[1] for info in infos if info[0]}
        cities = []
        for is_city, country, key, fact in infos:
            if not is_city and country in with_city:
                continue
            if key not in seen:
                seen.add(key)
                out.append(fact)
                if is_city:
                    cities.append(fact)
        regions = tuple(out)
        return regions, tuple(cities) or regions, city_starts, city_facts

    def _offers(self, points, named, starts, city_facts, regions, hints, posted_at, text) -> tuple[OfferFact, ...]:
        day = posted_at.date() if isinstance(posted_at, datetime) else posted_at
        if len(regions) == 1:
            only_region = regions[0]
            only_country = only_region.country
        else:
            only_region = None
            countries = {r.country for r in regions}
            only_country = next(iter(countries)) if len(countries) == 1 else None
        out = []
        hit_starts = [s for s, _ in named]
        n_hits = len(hit_starts)
        # points: tuples (start, end, quantity, unit, grams, price, currency, scope start, line end, dose); the substance
        # of each is that of `pipelines.offers.link` (inlined: this runs for every offer)
        for start, end, quantity, unit, grams, price, currency, scope, line_end, dose in points:
            j = bisect_left(hit_starts, end) - 1
            if j < 0 or hit_starts[j] < (scope if scope >= 0 else max(0, start - 300)):
                j += 1
                if not (j < n_hits and hit_starts[j] < (line_end if line_end >= 0 else end + 40)):
                    continue
            idx = j
            # the city the offer is written under: the nearest one before it, else the post's only region
            i = bisect_right(starts, start) - 1 if starts else -1
            region = city_facts[i] if i >= 0 else only_region
            if currency == "JPY" and (hints.country == "CN" or hints.currency == "CNY") \
                    and "¥" in text[max(0, start - 2):end]:
                currency = "CNY"  # "¥" on a Chinese source is yuan (`pipelines.money.yen_or_yuan`)
            currency = (
                currency
                or (region and country_currency(region.country))
                or (only_country and country_currency(only_country))
                or hints.currency
            )
            per_gram = round(price / grams, 4) if grams else None
            usd = None
            if per_gram is not None and currency and day is not None:
                v = self.rates.to_usd(per_gram, currency, day)
                usd = round(v, 4) if v is not None else None
            out.append(_new_offer(named[idx][1], quantity, unit, grams, price, currency, per_gram, usd, region, dose))
        return tuple(out)


def _with_origins(named: list, origins: dict[int, list[str]]) -> list:
    """`named` with each substance's origin claims (every mention of a substance carries all of its claims)."""
    by_key: dict[str, list[str]] = {}
    for start, fact in named:
        for cc in origins.get(start, ()):
            if cc not in by_key.setdefault(fact.key, []):
                by_key[fact.key].append(cc)
    return [(start, SubstanceFact(f.key, f.canonical, f.cls, f.matched, tuple(by_key[f.key]))
             if by_key.get(f.key) else f) for start, f in named]


@lru_cache(maxsize=1)
def default_extractor() -> Extractor:
    gazetteer = Gazetteer.default()
    # the matcher's scan of a post also finds the place names (one pass over the text, see SubstanceMatcher.scan)
    return Extractor(SubstanceMatcher(load_lexicon(), places=gazetteer), gazetteer, RateBook())
