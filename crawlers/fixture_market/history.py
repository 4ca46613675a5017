"""A generated history of listing snapshots, as another scraper would have written it, with its known truth.

`History(spec)` simulates a synthetic market (`*.test` shop names, invented texts, obviously fake handles)
scraped `spec.snapshots` times, every `spec.step_hours` hours give or take a few minutes, with `spec.gaps`
gaps of one to three days. Between two scrapes each listing on the market sells some units or is restocked
(never both), and now and then changes its price. Some listings leave for good (`vanished`), others are away
for a while and come back (`returning`), selling units while away. Every snapshot lists every listing on the
market (a complete snapshot).

`rows()` yields the CSV/JSON rows in scrape order; `write_csv`/`write_jsonl` stream them to a file; `truth`
holds what happened: every sale (units and money, dated by the scrape that first shows it: sales while a
listing is away show when it returns, and it is restocked and repriced only while on show, so each stock drop
is exactly the units sold), the listings off the market at the end with the first scrape that missed them,
and every return.

>>> h = History(HistorySpec(listings=20, snapshots=30, seed=1, vanished=2, returning=2, late=2))
>>> rows = list(h.rows())
>>> len({r["scraped_at"] for r in rows}) == 30, sorted(rows[0])[:4]
(True, ['city', 'currency', 'description', 'listing'])
"""
from __future__ import annotations

import csv
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

__all__ = ["HistorySpec", "History", "Sale", "COLUMNS", "MAPPING_TOML"]

ZONE = ZoneInfo("Asia/Tbilisi")
TIME_FORMAT = "%Y-%m-%d %H:%M"
COLUMNS = ["scraped_at", "shop", "listing", "title", "description", "weight", "unit", "price", "currency", "stock",
           "city"]

# title, the key `npswatch sales` shows (canonical name, else lexicon key), quantity, unit, price, currency
PRODUCTS = [
    ("Мефедрон кристалл", "mephedrone", "1", "г", 90, "USD"),
    ("Альфа-PVP крис", "alpha-PVP", "0.5", "г", 45, "USD"),
    ("Кокаин Колумбия", "cocaine", "1", "г", 150, "USD"),
    ("MDMA таблетки Tesla", "MDMA", "1", "шт", 25, "USD"),
    ("Амфетамин", "amphetamine", "2", "г", 110, "GEL"),
    ("Гашиш Марокко", "hashish", "1", "г", 30, "USD"),
]
CITIES = ["Тбилиси", "Батуми", "Кутаиси"]
FILLER = ("Качество проверено. Клад в черте города, фото и координаты после оплаты. Отзывы на форуме. "
          "Работаем без выходных, замена при ненаходе по правилам магазина. ")

MAPPING_TOML = """source = "{source}"
complete = {complete}
country = "GE"
currency = "USD"
[time]
column = "scraped_at"
format = "%Y-%m-%d %H:%M"
timezone = "Asia/Tbilisi"
[columns]
id = ["shop", "listing"]
text = ["title", "description"]
price = "price"
currency = "currency"
quantity = "weight"
unit = "unit"
stock = "stock"
city = "city"
"""


@dataclass(frozen=True)
class HistorySpec:
    listings: int = 200
    snapshots: int = 1000
    seed: int = 16
    start: datetime = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)
    step_hours: float = 4.0
    gaps: int = 6  # pauses of the scraper of one to three days
    p_sale: float = 0.2  # per listing and scrape
    p_restock: float = 0.05
    p_price: float = 0.01  # a price change
    vanished: int = 12  # listings that leave for good
    returning: int = 20  # listings that are away for 3-40 scrapes, then back
    late: int = 20  # listings that appear after the first scrape
    description_chars: int = 200  # length of the free text (the benchmark makes it longer)


@dataclass(frozen=True)
class Sale:
    listing: str  # "shop:listing", the id the mapping makes
    substance: str
    day: date  # of the later observation
    units: int
    price: float
    currency: str


@dataclass
class Truth:
    sales: list[Sale] = field(default_factory=list)
    disappeared: dict[str, datetime] = field(default_factory=dict)  # listing off the market at the end -> the
    # first scrape it was missing from
    returns: list[tuple[str, datetime]] = field(default_factory=list)  # (listing, scrape it came back in)
    rows: int = 0


@dataclass
class _Listing:
    shop: str
    number: str
    product: tuple
    city: str
    price: int
    stock: int
    enters: int  # first scrape on the market
    leaves: int | None  # scrape from which it is gone for good
    away: tuple[int, int] | None  # scrapes [a, b) away
    text: str = ""
    seen: bool = False
    sold: int = 0  # units sold since its last observation
    sold_money: int = 0

    @property
    def key(self) -> str:
        return f"{self.shop}:{self.number}"


class History:
    def __init__(self, spec: HistorySpec = HistorySpec()) -> None:
        self.spec = spec
        self.truth = Truth()

    def times(self) -> list[datetime]:
        s, rng = self.spec, random.Random(self.spec.seed * 7 + 1)
        gaps = set(rng.sample(range(1, s.snapshots), min(s.gaps, s.snapshots - 1)))
        at, out = s.start, []
        for i in range(s.snapshots):
            if i:
                at += timedelta(hours=s.step_hours, minutes=rng.randint(-20, 20))
                if i in gaps:
                    at += timedelta(days=rng.randint(1, 3))
            out.append(at.replace(second=0, microsecond=0))
        return out

    def _listings(self, rng: random.Random) -> list[_Listing]:
        s = self.spec
        n = s.listings
        out = []
        for i in range(n):
            product = PRODUCTS[i % len(PRODUCTS)]
            shop = f"shop{i % 7:02d}.test"
            text = (f"{product[0]} от {shop}. Оператор @synthetic_op_{i % 7:02d}. "
                    + (FILLER * (s.description_chars // len(FILLER) + 1))[: s.description_chars])
            out.append(_Listing(shop, f"L{i:05d}", product, CITIES[i % len(CITIES)], product[4],
                                rng.randint(3, 30), 0, None, None, text=text))
        order = list(range(n))
        rng.shuffle(order)
        it = iter(order)
        last = s.snapshots
        for _ in range(min(s.late, n)):
            out[next(it)].enters = rng.randint(1, last // 2)
        for _ in range(min(s.vanished, n - s.late)):
            lst = out[next(it)]
            lst.leaves = rng.randint(last // 3, last - 2)
        for _ in range(min(s.returning, n - s.late - s.vanished)):
            a = rng.randint(1, max(1, last * 3 // 4))
            out[next(it)].away = (a, a + rng.randint(3, max(3, min(40, last // 5))))
        return out

    def _present(self, lst: _Listing, i: int) -> bool:
        if i < lst.enters or (lst.leaves is not None and i >= lst.leaves):
            return False
        return not (lst.away and lst.away[0] <= i < lst.away[1])

    def rows(self) -> Iterator[dict[str, str]]:
        """The rows of every scrape, in scrape order (the truth fills as they are made)."""
        s = self.spec
        rng = random.Random(s.seed)
        listings = self._listings(rng)
        self.truth = truth = Truth()
        missing_since: dict[str, datetime] = {}
        for i, at in enumerate(self.times()):
            stamp = at.astimezone(ZONE).strftime(TIME_FORMAT)
            for lst in listings:
                present = self._present(lst, i)
                on_market = i >= lst.enters and (lst.leaves is None or i < lst.leaves)
                if on_market and i > lst.enters:  # trade since the scrape before (sales go on while it is away)
                    if rng.random() < s.p_sale and lst.stock > 0:
                        n = rng.randint(1, min(3, lst.stock))
                        lst.stock -= n
                        lst.sold += n
                        lst.sold_money += n * lst.price
                    elif present and self._present(lst, i - 1) and (rng.random() < s.p_restock or lst.stock == 0 and rng.random() < 0.3):
                        lst.stock += rng.randint(5, 20)
                    if present and rng.random() < s.p_price:  # after the sale: it was made at the old price
                        lst.price = max(5, lst.price + rng.choice((-5, 5, 10)))
                if not present:
                    if lst.seen and lst.key not in missing_since:
                        missing_since[lst.key] = at
                    continue
                if missing_since.pop(lst.key, None) is not None:
                    truth.returns.append((lst.key, at))
                if lst.sold:
                    truth.sales.append(Sale(lst.key, lst.product[1], at.date(), lst.sold,
                                            lst.sold_money / lst.sold, lst.product[5]))
                    lst.sold, lst.sold_money = 0, 0
                lst.seen = True
                truth.rows += 1
                title, _, qty, unit, _, currency = lst.product
                yield {"scraped_at": stamp, "shop": lst.shop, "listing": lst.number, "title": title,
                       "description": lst.text, "weight": qty, "unit": unit, "price": str(lst.price),
                       "currency": currency, "stock": f"в наличии {lst.stock}" if lst.stock else "нет в наличии",
                       "city": lst.city}
        truth.disappeared = dict(missing_since)

    def write_csv(self, path: Path) -> Path:
        with open(path, "w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, COLUMNS)
            w.writeheader()
            for row in self.rows():
                w.writerow(row)
        return path

    def write_jsonl(self, path: Path) -> Path:
        with open(path, "w", encoding="utf-8") as fh:
            for row in self.rows():
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        return path

    def mapping(self, source: str = "history-market.test", complete: bool = True) -> str:
        return MAPPING_TOML.format(source=source, complete=str(complete).lower())
