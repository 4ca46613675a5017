"""Deterministic generator of the synthetic web market: three sites, their pages, and the ground truth.

`build_market()` draws listings from the tables in `data.py` with a seeded RNG, renders three site
layouts under their own path prefixes, and returns a `Market`: a read-only mapping from request path
(with query) to `Response(status, headers, body)`, plus `market.listings`, the ground truth.

- /shop/catalog?page=N  catalogue, 12 cards per page (title, description, price, weight, city, stock,
  date dd.mm.yyyy), newest first; /shop/item/ID is each card's permalink page.
- /forum/  thread index; /forum/thread/N?page=K  10 posts per page, oldest first (author handle, date
  absolute or relative to `now`, free-text body).
- /board/?page=N  classifieds list (title + link), 12 per page, newest first; /board/ad/ID  detail
  (full text, price, city, posted date, vendor).
- /robots.txt disallows /shop/private/, /forum/private/ and /board/private/; each is linked from a
  page where a generic spider's selectors would follow it (the trap).
- /big/ (about 5 MB of HTML) and /bomb/ (gzip body inflating to about 50 MB): not linked anywhere.

`changes=N` applies N rounds of market churn to the same seed: prices change on some shop cards and
board ads, stock drops on some cards (and from the second round on a few others are restocked), a few
listings of every site disappear and a few new ones (posted in the last three days) appear. `market.changelog` lists what differs from `changes=0`.

>>> m = build_market()
>>> len(m.listings), len({l.city for l in m.listings}) >= 8
(210, True)
>>> m["/shop/catalog"].status, m["/shop/catalog"].headers["Content-Type"]
(200, 'text/html; charset=utf-8')
>>> m.response("/nowhere").status
404
>>> build_market(changes=1).changelog["removed"] <= {(l.site, l.external_id) for l in m.listings}
True
"""
from __future__ import annotations

import functools
import html
import random
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import NamedTuple
from urllib.parse import urlsplit

from npswatch.crawlers.fixture_market import data as D

__all__ = ["build_market", "Market", "FixtureListing", "Response", "SITES", "PER_PAGE"]

UTC = timezone.utc
DEFAULT_NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
SITES = ("shop", "forum", "board")
BASE_COUNTS = {"shop": 70, "forum": 90, "board": 50}  # listings per site at scale=1
PER_PAGE = {"shop": 12, "forum": 10, "board": 12}
POSTS_PER_THREAD = 30
ID_BASE = {"shop": 100_000, "forum": 200_000, "board": 300_000}
SPAN_DAYS = 182  # dates spread over about six months before `now`

HTML_HEADERS = {"Content-Type": "text/html; charset=utf-8"}
TEXT_HEADERS = {"Content-Type": "text/plain; charset=utf-8"}

ROBOTS_TXT = """\
# Fixture market: synthetic test data, nothing here is real.
User-agent: *
Disallow: /shop/private/
Disallow: /forum/private/
Disallow: /board/private/
"""


class Response(NamedTuple):
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class FixtureListing:
    """Ground truth for one listing (shop card, forum post, board ad) as the market shows it."""

    site: str  # "shop" | "forum" | "board"
    external_id: str  # the id a correct site definition derives (data-id, post-N, /ad/N)
    path: str  # permalink path: /shop/item/ID, /forum/thread/N?page=K#post-ID, /board/ad/ID
    title: str | None
    text: str  # title and free text as shown (no separate price/weight/city fields)
    city: str | None  # English name (GeoNames style)
    country: str | None
    currency: str | None  # ISO 4217 of the price, None when the listing has no price
    posted_at: datetime  # to the precision the page shows (shop: date only)
    is_drug: bool  # an offer of a drug (not chatter, not a look-alike ordinary product)
    language: str  # language of the text: ru, en, uz, kk
    kind: str  # "offer" | "negative" | "chatter"
    substance: str | None  # data.SUBSTANCES key for offers, data.NEGATIVES key for negatives
    price: int | None
    quantity: float | None
    unit: str | None  # "g" | "piece"
    stock: int | None  # shop only
    vendor: str | None
    shown_date: str  # the date string on the page


@dataclass
class _Spec:
    """All random choices of one listing, so it can be re-rendered after a change."""

    site: str
    num: int
    kind: str
    key: str | None  # substance or negative key
    city: str
    lang: str
    posted_at: datetime
    qty: float | None = None
    price: int | None = None
    currency: str | None = None
    bare_price: bool = False
    form: int = 0  # index used for currency / quantity / template spellings
    name_idx: int = 0
    obf: str = "plain"
    emoji: bool = False
    grade: int = 0
    delivery: int = 0
    vendor: int = 1
    phone: int = 0
    stock: int | None = None
    thread: int = 0
    rank: int = 0


# --- choices --------------------------------------------------------------------------------------


def _weighted(rng: random.Random, pairs: tuple[tuple[str, int], ...]) -> str:
    keys, weights = zip(*pairs)
    return rng.choices(keys, weights)[0]


def _language(rng: random.Random, site: str, city: D.City) -> str:
    weights = D.LANGUAGES_BY_COUNTRY.get(city.country, D.LANGUAGES_BY_COUNTRY["*"])
    lang = _weighted(rng, weights)
    return lang if lang in D.SITE_LANGUAGES[site] else "ru"


def _round_price(value: float, currency: str) -> int:
    step = D.ROUND_TO[currency]
    return max(step, int(round(value / step)) * step)


def _price(rng: random.Random, sub: D.FixtureSubstance, qty: float, currency: str) -> int:
    bulk = 0.8 if qty >= 5 else 0.9 if qty >= 2 else 1.0
    return _round_price(sub.usd_per_unit * qty * bulk * D.RATES[currency] * rng.uniform(0.85, 1.25), currency)


def _posted(rng: random.Random, now: datetime, recent_share: float = 0.1) -> datetime:
    if rng.random() < recent_share:
        minutes = rng.randint(5, 6 * 24 * 60)  # the last six days: relative dates on the forum
    else:
        minutes = rng.randint(0, SPAN_DAYS * 24 * 60)
    return (now - timedelta(minutes=minutes)).replace(second=0, microsecond=0)


def _new_spec(rng: random.Random, site: str, num: int, now: datetime, kind: str,
              recent_only: bool = False) -> _Spec:
    city_key = rng.choice(D.SITE_CITIES[site])
    city = D.CITIES[city_key]
    lang = _language(rng, site, city)
    posted = _posted(rng, now, 1.0 if recent_only else 0.15 if site == "forum" else 0.05)
    if recent_only:
        posted = (now - timedelta(minutes=rng.randint(5, 3 * 24 * 60))).replace(second=0, microsecond=0)
    spec = _Spec(site=site, num=num, kind=kind, key=None, city=city_key, lang=lang, posted_at=posted,
                 form=rng.randrange(12), name_idx=rng.randrange(12), obf=rng.choice(D.OBFUSCATIONS),
                 emoji=rng.random() < 0.35, grade=rng.randrange(12), delivery=rng.randrange(12),
                 vendor=rng.randint(1, 24), phone=rng.randint(1, 99), rank=rng.randrange(len(D.FORUM_RANKS)))
    if kind == "offer":
        sub = D.SUBSTANCES[_weighted(rng, D.SITE_SUBSTANCES[site])]
        spec.key = sub.key
        spec.qty = rng.choice(sub.sizes)
        spec.currency = city.currency
        if site == "board" and city.country in ("KG", "UZ", "TJ") and rng.random() < 0.12:
            spec.currency = "USD"  # some Central Asian sellers quote dollars
        spec.price = _price(rng, sub, spec.qty, spec.currency)
        # A bare number is only fair where the currency can be inferred: the shop's own country
        # (site hint RUB) or a board ad whose city field names the place.
        spec.bare_price = (site == "shop" and city.country == "RU" and rng.random() < 0.2) or (
            site == "board" and spec.currency == city.currency and rng.random() < 0.1)
    elif kind == "negative":
        neg = rng.choice([n for n in D.NEGATIVES if site in n.sites and (lang in n.text or "ru" in n.text)])
        spec.key = neg.key
        if lang not in neg.text:
            spec.lang = "ru"
        spec.currency = city.currency
        spec.price = _round_price(neg.usd * D.RATES[city.currency] * rng.uniform(0.8, 1.3), city.currency)
    if site == "shop":
        spec.stock = 0 if rng.random() < 0.1 else rng.randint(1, 30)
    return spec


def _generate(seed: int, now: datetime, scale: int) -> list[_Spec]:
    specs: list[_Spec] = []
    for site_index, site in enumerate(SITES):
        rng = random.Random(seed * 1000 + site_index)
        n = BASE_COUNTS[site] * scale
        for i in range(n):
            r = rng.random()
            if site == "shop":
                kind = "negative" if r < 0.08 else "offer"
            elif site == "forum":
                kind = "chatter" if r < 0.3 else "negative" if r < 0.38 else "offer"
            else:
                kind = "negative" if r < 0.2 else "offer"
            spec = _new_spec(rng, site, ID_BASE[site] + 1 + i, now, kind)
            if site == "forum":
                spec.thread = 1 + i // POSTS_PER_THREAD
                if kind != "offer":
                    spec.vendor = 0  # ordinary users write chatter, not vendors
            specs.append(spec)
    _ensure_coverage(specs)
    return specs


def _ensure_coverage(specs: list[_Spec]) -> None:
    """Make every drug emoji and every obfuscation appear on every site, whatever the seed."""
    for site in SITES:
        offers = [s for s in specs if s.site == site and s.kind == "offer"]
        for key in sorted({s.key for s in offers}):
            same = [s for s in offers if s.key == key]
            if D.SUBSTANCES[key].emoji and not any(s.emoji for s in same):
                same[0].emoji = True
        for how in sorted(set(D.OBFUSCATIONS) - {"plain"}):
            if any(s.obf == how and _obfuscated(s) for s in offers):
                continue
            for s in offers:
                if s.obf == "plain":
                    s.obf = how
                    if _obfuscated(s):
                        break
                    s.obf = "plain"


def _obfuscated(s: _Spec) -> bool:
    name = _pick(D.SUBSTANCES[s.key].names[s.lang], s.name_idx)
    return D.obfuscate(name, s.obf) != name


def _apply_changes(specs: list[_Spec], seed: int, now: datetime, rounds: int) -> list[_Spec]:
    for r in range(1, rounds + 1):
        rng = random.Random(seed * 7919 + r)
        kept: list[_Spec] = []
        for site in SITES:
            site_specs = [s for s in specs if s.site == site]
            n_churn = max(1, len(site_specs) * 3 // 100)
            removed = set(rng.sample(range(len(site_specs)), n_churn))
            site_specs = [s for i, s in enumerate(site_specs) if i not in removed]
            if site in ("shop", "board"):
                offers = [s for s in site_specs if s.kind == "offer"]
                for s in rng.sample(offers, max(1, len(offers) // 10)):
                    factor = rng.choice((0.8, 0.9, 1.1, 1.2, 1.25))
                    new = _round_price(s.price * factor, s.currency)
                    s.price = new if new != s.price else s.price + D.ROUND_TO[s.currency]
            if site == "shop":
                stocked = [s for s in site_specs if s.stock]
                dropped = rng.sample(stocked, max(1, len(stocked) * 15 // 100))
                for s in dropped:
                    s.stock = rng.randint(0, s.stock - 1)
                if r >= 2:  # from the second round on, a few other cards are restocked (an own RNG: the
                    # draws above stay those of earlier versions)
                    again = random.Random(seed * 104729 + r)
                    gone = {s.num for s in dropped}
                    others = sorted((s for s in site_specs if s.kind == "offer" and s.num not in gone),
                                    key=lambda s: s.num)
                    for s in again.sample(others, max(1, len(others) // 20)):
                        s.stock = (s.stock or 0) + again.randint(5, 20)
            next_num = max(s.num for s in specs if s.site == site) + 1
            for j in range(n_churn):
                kind = "offer" if site != "forum" or j % 2 == 0 else "chatter"
                spec = _new_spec(rng, site, next_num + j, now, kind, recent_only=True)
                if site == "forum":
                    spec.thread = rng.choice(sorted({s.thread for s in site_specs}))
                    spec.vendor = spec.vendor if kind == "offer" else 0
                site_specs.append(spec)
            kept.extend(site_specs)
        specs = kept
    return specs


# --- rendering text -------------------------------------------------------------------------------


def _cap(s: str) -> str:
    if s[:1] and "\u0370" <= s[0] <= "\u03ff":  # "α-PVP" stays lower case: "Α-PVP" is not how people write it
        return s
    return s[:1].upper() + s[1:]


def _pick(seq: tuple[str, ...], i: int) -> str:
    return seq[i % len(seq)]


def _price_text(s: _Spec) -> str:
    if s.bare_price:
        return D.format_bare_price(s.price)
    return D.format_price(s.price, s.currency, s.form)


def _fields(s: _Spec) -> dict[str, str]:
    city = D.CITIES[s.city]
    lang = s.lang
    out = {
        "city": city.ru if lang == "ru" else city.local,
        "city_loc": city.ru_loc,
        "vendor": D.vendor_handle(s.vendor),
        "phone": D.fake_phone(s.phone),
        "price": _price_text(s) if s.price is not None else "",
        "grade": _pick(D.GRADES.get(lang, D.GRADES["ru"]), s.grade),
        "delivery": _pick(D.DELIVERY.get(lang, D.DELIVERY["ru"]), s.delivery),
        "qty": "",
        "name": "",
        "Name": "",
        "e": "",
    }
    if s.kind == "offer":
        sub = D.SUBSTANCES[s.key]
        plain = _pick(sub.names[lang], s.name_idx)
        out["name"] = D.obfuscate(plain, s.obf)
        out["Name"] = _cap(plain)
        out["qty"] = D.format_qty(s.qty, sub.unit, lang, s.form)
        out["e"] = f"{sub.emoji} " if s.emoji and sub.emoji else ""
    return out


def _negative(s: _Spec) -> D.Negative:
    return next(n for n in D.NEGATIVES if n.key == s.key)


def _render_text(s: _Spec) -> tuple[str | None, str]:
    """(title, body) of a listing; the body is what the page shows as free text."""
    f = _fields(s)
    if s.kind == "chatter":
        return None, _pick(D.FORUM_CHATTER[s.lang], s.name_idx).format(**f)
    if s.kind == "negative":
        neg = _negative(s)
        lang = s.lang if s.lang in neg.text else "ru"
        title = neg.title.get(lang, neg.title["ru"])
        body = neg.text[lang].format(**f)
        return title, body
    if s.site == "shop":
        title = _pick(D.SHOP_TITLES[s.lang], s.grade).format(**f).strip()
        return title, _pick(D.SHOP_DESCRIPTIONS[s.lang], s.delivery).format(**f)
    body = _pick(D.OFFER_TEMPLATES[s.lang], s.grade + s.delivery).format(**f)
    if s.site == "board":
        title = _pick(D.BOARD_TITLES[s.lang], s.name_idx).format(**f).strip()
        return title, body
    return None, body


# --- dates as each site shows them ----------------------------------------------------------------

RU_MONTHS_GEN = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября",
                 "октября", "ноября", "декабря")


def _ru_plural(n: int, one: str, few: str, many: str) -> str:
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def _shop_date(t: datetime) -> tuple[str, datetime]:
    return t.strftime("%d.%m.%Y"), t.replace(hour=0, minute=0)


def _forum_date(t: datetime, now: datetime) -> tuple[str, datetime]:
    """Recent posts get relative dates; the ground truth is what a reader computes from `now`."""
    age = now - t
    if age < timedelta(hours=1):
        m = max(1, int(age.total_seconds() // 60))
        return f"{m} {_ru_plural(m, 'минуту', 'минуты', 'минут')} назад", now - timedelta(minutes=m)
    if age < timedelta(hours=5):
        h = int(age.total_seconds() // 3600)
        return f"{h} {_ru_plural(h, 'час', 'часа', 'часов')} назад", now - timedelta(hours=h)
    if t.date() == now.date():
        return f"сегодня в {t:%H:%M}", t
    if t.date() == (now - timedelta(days=1)).date():
        return f"вчера в {t:%H:%M}", t
    if age < timedelta(days=7):
        d = (now.date() - t.date()).days
        return f"{d} {_ru_plural(d, 'день', 'дня', 'дней')} назад", now - timedelta(days=d)
    return f"{t.day} {RU_MONTHS_GEN[t.month - 1]} {t.year} в {t:%H:%M}", t


def _board_date(t: datetime, now: datetime) -> tuple[str, datetime]:
    year = f" {t.year}" if t.year != now.year else ""  # the year only when it is not the current one
    return f"{t.day} {RU_MONTHS_GEN[t.month - 1]}{year}, {t:%H:%M}", t


# --- rendering pages ------------------------------------------------------------------------------

esc = functools.partial(html.escape, quote=True)


def _multiline(text: str) -> str:
    return "<br>\n".join(esc(line) for line in text.split("\n"))


def _page(title: str, body: str, lang: str = "ru") -> bytes:
    return (f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{esc(title)}</title>\n</head>\n<body>\n{body}\n</body>\n</html>\n").encode()


def _pages_of(items: list, per_page: int) -> list[list]:
    return [items[i:i + per_page] for i in range(0, len(items), per_page)] or [[]]


def _shop_page_url(n: int) -> str:
    return "/shop/catalog" if n == 1 else f"/shop/catalog?page={n}"


SHOP_HEADER = (f'<header><h1 class="shop-name">{esc(D.SHOP_NAME)}</h1>\n'
               '<nav class="sections"><a href="/shop/catalog">Каталог</a> '
               '<a href="/shop/private/wholesale">Оптовым клиентам</a> '
               '<a href="/shop/about">О магазине</a></nav></header>')


def _shop_card(s: _Spec, title: str, desc: str, shown_date: str) -> str:
    f = _fields(s)
    weight = f["qty"] if s.kind == "offer" else ""
    stock = f"в наличии {s.stock}" if s.stock else "нет в наличии"
    return (f'<article class="card" data-id="{s.num}">\n'
            f'  <a class="card-link" href="/shop/item/{s.num}"><h3 class="card-title">{esc(title)}</h3></a>\n'
            f'  <p class="card-desc">{_multiline(desc)}</p>\n'
            f'  <ul class="props"><li class="price">{esc(f["price"])}</li>'
            f'<li class="weight">{esc(weight)}</li>'
            f'<li class="city">{esc(D.CITIES[s.city].ru)}</li>'
            f'<li class="stock">{stock}</li></ul>\n'
            f'  <span class="date">{shown_date}</span>\n</article>')


def _shop_pager(n: int, total: int) -> str:
    links = []
    for k in range(1, total + 1):
        links.append(f'<span class="current">{k}</span>' if k == n else f'<a href="{_shop_page_url(k)}">{k}</a>')
    if n < total:
        links.append(f'<a class="next" rel="next" href="{_shop_page_url(n + 1)}">Далее →</a>')
    return f'<nav class="pager">{" ".join(links)}</nav>'


def _forum_page_url(thread: int, page: int) -> str:
    return f"/forum/thread/{thread}" if page == 1 else f"/forum/thread/{thread}?page={page}"


def _board_page_url(n: int) -> str:
    return "/board/" if n == 1 else f"/board/?page={n}"


@functools.cache
def _big_body() -> bytes:
    line = "<p>" + "Большая страница фикстуры: проверка лимита размера ответа. " * 8 + "</p>\n"
    repeat = 5 * 1024 * 1024 // len(line.encode()) + 1
    return _page("Big page", line * repeat)


@functools.cache
def _bomb_body() -> bytes:
    """A gzip stream of ~50 MB of spaces, built chunk by chunk so it never holds 50 MB in memory."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: gzip container
    chunk = b" " * (1024 * 1024)
    parts = [comp.compress(chunk) for _ in range(50)]
    parts.append(comp.flush())
    return b"".join(parts)


BOMB_INFLATED_SIZE = 50 * 1024 * 1024


def _special(path: str) -> Response | None:
    if path == "/big/":
        return Response(200, dict(HTML_HEADERS), _big_body())
    if path == "/bomb/":
        return Response(200, {**HTML_HEADERS, "Content-Encoding": "gzip"}, _bomb_body())
    return None


def _normalise(path: str) -> str:
    parts = urlsplit(path)
    return parts.path + (f"?{parts.query}" if parts.query else "")


# --- the market -----------------------------------------------------------------------------------


@dataclass
class Market(Mapping[str, Response]):
    """Pages of the three sites by request path, and the ground truth.

    Iterating gives the ordinary pages only; `/big/` and `/bomb/` resolve but are not listed.
    """

    seed: int
    now: datetime
    scale: int
    changes: int
    listings: list[FixtureListing]
    pages: dict[str, Response] = field(repr=False)
    changelog: dict[str, frozenset[tuple[str, str]]] = field(default_factory=dict)

    def __getitem__(self, path: str) -> Response:
        key = _normalise(path)
        if key in self.pages:
            return self.pages[key]
        special = _special(key)
        if special is None:
            raise KeyError(path)
        return special

    def __iter__(self) -> Iterator[str]:
        return iter(self.pages)

    def __len__(self) -> int:
        return len(self.pages)

    def response(self, path: str) -> Response:
        """The page at `path`, or a 404 page."""
        try:
            return self[path]
        except KeyError:
            return Response(404, dict(HTML_HEADERS), _page("404", "<h1>Not found</h1>"))

    def site_listings(self, site: str) -> list[FixtureListing]:
        return [l for l in self.listings if l.site == site]


def _listing(s: _Spec, path: str, title: str | None, body: str, shown: str, posted: datetime) -> FixtureListing:
    city = D.CITIES[s.city]
    text = f"{title}\n{body}" if title else body
    sub_unit = D.SUBSTANCES[s.key].unit if s.kind == "offer" else None
    vendor = D.vendor_handle(s.vendor) if s.vendor else None
    if s.site == "shop":
        vendor = None  # cards carry no seller; the shop is the seller
    return FixtureListing(
        site=s.site, external_id=str(s.num), path=path, title=title, text=text, city=city.name,
        country=city.country, currency=s.currency if s.price is not None else None, posted_at=posted,
        is_drug=s.kind == "offer", language=s.lang, kind=s.kind, substance=s.key, price=s.price,
        quantity=s.qty, unit=sub_unit, stock=s.stock, vendor=vendor, shown_date=shown)


def _render(specs: list[_Spec], now: datetime) -> tuple[dict[str, Response], list[FixtureListing]]:
    pages: dict[str, Response] = {}
    listings: list[FixtureListing] = []

    def put(path: str, body: bytes) -> None:
        pages[path] = Response(200, dict(HTML_HEADERS), body)

    pages["/robots.txt"] = Response(200, dict(TEXT_HEADERS), ROBOTS_TXT.encode())
    put("/", _page("Fixture market", '<h1>Fixture market (synthetic)</h1>\n<ul>'
                   '<li><a href="/shop/catalog">Shop</a></li><li><a href="/forum/">Forum</a></li>'
                   '<li><a href="/board/">Board</a></li></ul>', "en"))

    # Shop: newest first, 12 cards a page.
    shop = sorted((s for s in specs if s.site == "shop"), key=lambda s: (s.posted_at, s.num), reverse=True)
    shop_pages = _pages_of(shop, PER_PAGE["shop"])
    for n, chunk in enumerate(shop_pages, 1):
        cards = []
        for s in chunk:
            title, desc = _render_text(s)
            shown, posted = _shop_date(s.posted_at)
            cards.append(_shop_card(s, title, desc, shown))
            listings.append(_listing(s, f"/shop/item/{s.num}", title, desc, shown, posted))
            put(f"/shop/item/{s.num}", _page(title, f'{SHOP_HEADER}\n<main class="item">\n'
                                              f'{_shop_card(s, title, desc, shown)}\n</main>'))
        body = (f'{SHOP_HEADER}\n<main>\n<div class="catalog">\n' + "\n".join(cards) +
                f'\n</div>\n{_shop_pager(n, len(shop_pages))}\n</main>')
        put(_shop_page_url(n), _page(f"{D.SHOP_NAME} — каталог, стр. {n}", body))
    pages["/shop/catalog?page=1"] = pages["/shop/catalog"]
    put("/shop/about", _page(f"{D.SHOP_NAME} — о магазине",
                             f"{SHOP_HEADER}\n<main><p>Синтетический магазин для тестов.</p></main>"))
    trap_cards = "\n".join(
        f'<article class="card" data-id="99900{i}"><h3 class="card-title">Опт: меф {i * 10} г</h3>'
        f'<p class="card-desc">Оптовый прайс, только для своих.</p><ul class="props">'
        f'<li class="price">{i * 30000} ₽</li><li class="city">Москва</li></ul>'
        f'<span class="date">01.06.2026</span></article>' for i in range(1, 4))
    put("/shop/private/wholesale", _page("Опт", f'{SHOP_HEADER}\n<main><div class="catalog">{trap_cards}'
                                               f'</div></main>'))

    # Forum: threads of 30 posts, oldest first, 10 a page.
    forum = [s for s in specs if s.site == "forum"]
    threads = sorted({s.thread for s in forum})
    index_rows = []
    for t in threads:
        posts = sorted((s for s in forum if s.thread == t), key=lambda s: (s.posted_at, s.num))
        title = D.FORUM_THREADS[(t - 1) % len(D.FORUM_THREADS)] + (f" ({t})" if t > len(D.FORUM_THREADS) else "")
        index_rows.append(f'<tr><td class="t-title"><a class="thread-link" href="/forum/thread/{t}">'
                          f'{esc(title)}</a></td><td class="t-count">{len(posts)}</td></tr>')
        chunks = _pages_of(posts, PER_PAGE["forum"])
        for k, chunk in enumerate(chunks, 1):
            rows = []
            for pos, s in enumerate(chunk, 1):
                _, body = _render_text(s)
                shown, posted = _forum_date(s.posted_at, now)
                author = D.vendor_handle(s.vendor) if s.vendor else D.user_handle(s.num % 50 + 1)
                permalink = f"{_forum_page_url(t, k)}#post-{s.num}"
                rank = "Продавец" if s.vendor else D.FORUM_RANKS[s.rank % 2]
                rows.append(
                    f'<tr class="post" id="post-{s.num}">\n'
                    f'  <td class="post-author"><b class="nick">{esc(author)}</b><br>'
                    f'<span class="rank">{rank}</span></td>\n'
                    f'  <td class="post-main"><div class="post-head"><span class="post-date">{shown}</span> '
                    f'<a class="permalink" href="{permalink}">#{(k - 1) * PER_PAGE["forum"] + pos}</a></div>\n'
                    f'  <div class="post-body">{_multiline(body)}</div></td>\n</tr>')
                lst = _listing(s, permalink, None, body, shown, posted)
                listings.append(replace(lst, vendor=author))
            nav = [f"<b>{p}</b>" if p == k else f'<a href="{_forum_page_url(t, p)}">{p}</a>'
                   for p in range(1, len(chunks) + 1)]
            if k < len(chunks):
                nav.append(f'<a class="nav-next" href="{_forum_page_url(t, k + 1)}">»</a>')
            body_html = (f'<div id="forum"><h1><a href="/forum/">{esc(D.FORUM_NAME)}</a></h1>\n'
                         f'<h2 class="thread-title">{esc(title)}</h2>\n<table class="posts">\n' +
                         "\n".join(rows) + f'\n</table>\n<div class="pages">Страницы: {" ".join(nav)}</div>\n</div>')
            put(_forum_page_url(t, k), _page(f"{title} — {D.FORUM_NAME}", body_html))
    index_rows.append('<tr><td class="t-title"><a class="thread-link" href="/forum/private/thread/1">'
                      'Модераторская (закрыто)</a></td><td class="t-count">3</td></tr>')
    put("/forum/", _page(D.FORUM_NAME, f'<div id="forum"><h1>{esc(D.FORUM_NAME)}</h1>\n<table class="threads">\n'
                                       + "\n".join(index_rows) + "\n</table></div>"))
    put("/forum/private/thread/1", _page("Модераторская", '<table class="posts"><tr class="post" id="post-999001">'
                                         '<td class="post-author"><b class="nick">@test_moderator</b></td>'
                                         '<td class="post-main"><div class="post-body">меф 1г 3000₽ (служебное)'
                                         '</div></td></tr></table>'))

    # Board: newest first, 12 ads a list page, one detail page per ad.
    board = sorted((s for s in specs if s.site == "board"), key=lambda s: (s.posted_at, s.num), reverse=True)
    board_pages = _pages_of(board, PER_PAGE["board"])
    for n, chunk in enumerate(board_pages, 1):
        rows = []
        if n == 1:
            rows.append('<li class="ad-row vip"><a class="ad-title" href="/board/private/ad/399999">'
                        'VIP: оптовые поставки</a></li>')
        for s in chunk:
            title, body = _render_text(s)
            shown, posted = _board_date(s.posted_at, now)
            f = _fields(s)
            vendor = D.vendor_handle(s.vendor)
            rows.append(f'<li class="ad-row"><a class="ad-title" href="/board/ad/{s.num}">{esc(title)}</a></li>')
            detail = (f'<div class="board"><a href="/board/">{esc(D.BOARD_NAME)}</a>\n'
                      f'<article class="ad-full" data-ad="{s.num}">\n<h1 class="ad-h">{esc(title)}</h1>\n'
                      f'<div class="ad-text">{_multiline(body)}</div>\n<dl class="ad-props">\n'
                      f'<dt>Цена</dt><dd>{esc(f["price"])}</dd>\n'
                      f'<dt>Город</dt><dd>{esc(D.CITIES[s.city].ru)}</dd>\n'
                      f'<dt>Размещено</dt><dd>{shown}</dd>\n'
                      f'<dt>Продавец</dt><dd>{esc(vendor)}</dd>\n</dl>\n</article>\n</div>')
            put(f"/board/ad/{s.num}", _page(f"{title} — {D.BOARD_NAME}", detail))
            listings.append(replace(_listing(s, f"/board/ad/{s.num}", title, body, shown, posted), vendor=vendor))
        paging = (f'<div class="paging"><a class="paging-next" href="{_board_page_url(n + 1)}">Следующая страница</a>'
                  f'</div>' if n < len(board_pages) else '<div class="paging"></div>')
        put(_board_page_url(n), _page(f"{D.BOARD_NAME} — страница {n}",
                                      f'<div class="board"><h1>{esc(D.BOARD_NAME)}</h1>\n<ul class="ads">\n'
                                      + "\n".join(rows) + f"\n</ul>\n{paging}\n</div>"))
    pages["/board/?page=1"] = pages["/board/"]
    put("/board/private/ad/399999", _page("VIP", '<article class="ad-full"><h1 class="ad-h">VIP</h1>'
                                          '<div class="ad-text">Оптом альфа, 10 г — 50 000 сом, Бишкек</div>'
                                          '</article>'))
    return pages, listings


def _changelog(base: list[_Spec], now_specs: list[_Spec]) -> dict[str, frozenset[tuple[str, str]]]:
    before = {(s.site, str(s.num)): s for s in base}
    after = {(s.site, str(s.num)): s for s in now_specs}
    both = before.keys() & after.keys()
    return {
        "removed": frozenset(before.keys() - after.keys()),
        "added": frozenset(after.keys() - before.keys()),
        "price_changed": frozenset(k for k in both if before[k].price != after[k].price),
        "stock_dropped": frozenset(k for k in both if (after[k].stock or 0) < (before[k].stock or 0)),
    }


def build_market(seed: int = 0, now: datetime = DEFAULT_NOW, scale: int = 1, changes: int = 0) -> Market:
    """Generate the market. Same arguments, same bytes.

    `now` anchors the date span and the forum's relative dates ("вчера в 15:30"); naive means UTC.
    `scale` multiplies the listing count of every site (210 at scale 1). `changes` applies that
    many rounds of churn; `changelog` is relative to `changes=0` with the same seed, now and scale.
    """
    if scale < 1 or changes < 0:
        raise ValueError("scale must be >= 1 and changes >= 0")
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    now = now.astimezone(UTC)
    base = _generate(seed, now, scale)
    specs = base
    if changes:
        specs = _apply_changes([replace(s) for s in base], seed, now, changes)
    pages, listings = _render(specs, now)
    changelog = _changelog(base, specs) if changes else {k: frozenset() for k in
                                                          ("removed", "added", "price_changed", "stock_dropped")}
    return Market(seed=seed, now=now, scale=scale, changes=changes, listings=listings, pages=pages,
                  changelog=changelog)


def gzip_inflated_size(body: bytes, limit: int = 1 << 31) -> int:
    """Size of a gzip body once inflated, counted in chunks (tests use it on /bomb/)."""
    d = zlib.decompressobj(31)
    total, buf = 0, body
    while buf and total <= limit:
        total += len(d.decompress(buf, 1 << 20))
        buf = d.unconsumed_tail
    return total + len(d.flush())

