"""Field extraction for the generic spider: selectors, element text, stock counts, dates, post text.

Pure functions over parsel selectors and strings (no Scrapy), so they are testable on their own.

>>> from parsel import Selector
>>> page = Selector(text='<div class="c" data-id="7"><p>Меф<br>1 г</p><b>в наличии 5</b></div>')
>>> block = select(page, "div.c")[0]
>>> extract(block, FieldSpec(select=["p"])), extract(block, FieldSpec(select=["xpath:@data-id"]))
('Меф\\n1 г', '7')
>>> parse_stock("в наличии 5"), parse_stock("нет в наличии"), parse_stock("в наличии")
(5, 0, None)
>>> compose_text(title="Меф", text="Меф кристалл", price="4 500 ₽", quantity="1 г", city="Москва")
'Меф кристалл\\n1 г\\n4 500 ₽\\nМосква'
>>> compose_text(title=None, text="Всё хорошо", city="Ош")
'Всё хорошо\\nОш'
"""
from __future__ import annotations

import functools
import re
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from parsel import Selector, SelectorList

from npswatch.crawlers.sitedef import FieldSpec

__all__ = ["select", "node_text", "extract", "extract_all", "compose_text", "compose_listing", "TEXT_FIELDS",
           "parse_stock", "parse_posted"]

# Elements whose start and end break a line when a page is read as text.
_BLOCK_TAGS = frozenset("""address article aside blockquote dd div dl dt fieldset figcaption figure footer
form h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section table tbody td tfoot th thead tr ul""".split())
_SKIP_TAGS = frozenset({"script", "style", "noscript", "template"})
_SPACES = re.compile(r"[ \t\r\f\v\n]+")  # not \s: keep NBSP and zero-width marks, the extractor sees them


def select(sel: Selector, expr: str) -> SelectorList:
    """Apply a site-definition selector: CSS, or XPath after an ``xpath:`` prefix."""
    if expr.startswith("xpath:"):
        return sel.xpath(expr[6:])
    return sel.css(expr)


def _walk(el, out: list[str]) -> None:
    # Source newlines are ordinary whitespace in HTML; only <br> and block elements break lines.
    tag = el.tag if isinstance(el.tag, str) else None  # comments and PIs have a callable tag
    if tag is None or tag in _SKIP_TAGS:
        return
    if tag == "br" or tag in _BLOCK_TAGS:
        out.append("\n")
    if el.text:
        out.append(el.text.replace("\n", " "))
    for child in el:
        _walk(child, out)
        if child.tail:
            out.append(child.tail.replace("\n", " "))
    if tag in _BLOCK_TAGS:
        out.append("\n")


def node_text(result: Selector) -> str:
    """Text of one selector result: a string result as is, an element as its lines of text."""
    root = result.root
    if isinstance(root, str):
        return _SPACES.sub(" ", root).strip()
    out: list[str] = []
    _walk(root, out)
    lines = (_SPACES.sub(" ", line).strip() for line in "".join(out).split("\n"))
    return "\n".join(line for line in lines if line)


def _apply_regex(value: str, regex: str | None) -> str | None:
    if regex is None:
        return value
    m = _compiled(regex).search(value)
    if m is None:
        return None
    return (m.group(1) if m.re.groups else m.group(0)).strip() or None


@functools.lru_cache(maxsize=256)
def _compiled(regex: str) -> re.Pattern[str]:
    return re.compile(regex)


def extract(sel: Selector, spec: FieldSpec | None) -> str | None:
    """The field's value: the first selector with a non-empty result, all its results joined.

    String results (``::text``, attributes) are joined with spaces, elements with line breaks.
    """
    if spec is None:
        return None
    for expr in spec.select:
        results = select(sel, expr)
        if not results:
            continue
        texts = [t for t in (node_text(r) for r in results) if t]
        if not texts:
            continue
        strings = all(isinstance(r.root, str) for r in results)
        value = _SPACES.sub(" ", " ".join(texts)).strip() if strings else "\n".join(texts)
        return _apply_regex(value, spec.regex)
    return None


def extract_all(sel: Selector, spec: FieldSpec | None) -> list[str]:
    """Every result of every selector, one value each (for links: pagination, follow, detail)."""
    if spec is None:
        return []
    out: list[str] = []
    for expr in spec.select:
        for r in select(sel, expr):
            value = _apply_regex(node_text(r), spec.regex)
            if value and value not in out:
                out.append(value)
    return out


_NO_STOCK = re.compile(r"\bнет\b|закончил|out of stock|sold out|mavjud emas|жоқ", re.IGNORECASE)
_COUNT = re.compile(r"\d+")


def parse_stock(value: str | None) -> int | None:
    """Units in stock from a stock label: the first number, 0 for "out of stock", else unknown."""
    if not value:
        return None
    m = _COUNT.search(value)
    if m:
        # beyond 64 bits no shop holds that many (and int() refuses 4,300 digits): unknown, the listing kept
        return int(m.group()) if len(m.group()) <= 18 else None
    return 0 if _NO_STOCK.search(value) else None


# The fields that are visible text of a listing, in the order they are stored when the page gives none.
TEXT_FIELDS = ("category", "title", "text", "quantity", "unit", "price", "currency", "stock", "city", "ships_from",
               "ships_to")
_LABELS = {"ships_from": ("Ships from: ", re.compile(r"ships?\s+from|отправк|из\b", re.IGNORECASE)),
           "ships_to": ("Ships to: ", re.compile(r"ships?\s+to|доставк|\bв\b", re.IGNORECASE))}


def compose_listing(values: dict[str, str | None], page_text: str | None = None, above: tuple[str, ...] = ()) -> str:
    """The stored text of a listing: its visible fields, one per line, in page order.

    Page order is where each value first appears in `page_text` (the listing block's text); values it does not
    contain follow in `TEXT_FIELDS` order. A part already contained in an earlier line is not repeated (a longer
    part replaces the shorter one); a currency or unit shown apart joins its price or quantity line; ships-from
    and ships-to values without their label get one, so the extractor can tell an origin from a destination.
    Fields named in `above` (page-level values: a city menu, a breadcrumb) come first, in that order.

    >>> compose_listing({"title": "Меф", "text": "Меф кристалл", "price": "4 500", "currency": "₽", "quantity": "1 г"})
    'Меф кристалл\\n1 г\\n4 500 ₽'
    >>> compose_listing({"title": "1g Coke", "price": "USD 60", "ships_from": "Spain", "stock": "In stock"},
    ...                 page_text="1g Coke\\nIn stock\\nUSD 60\\nShips from Spain")
    '1g Coke\\nIn stock\\nUSD 60\\nShips from: Spain'
    """
    vals = {k: (v or "").strip() for k, v in values.items()}
    for joined, into in (("currency", "price"), ("unit", "quantity")):
        if vals.get(joined) and vals.get(into) and not _contains(vals[into], vals[joined]):
            vals[into] = f"{vals[into]} {vals[joined]}"
            vals[joined] = ""
        elif vals.get(joined) and vals.get(into):
            vals[joined] = ""
    for key, (label, marked) in _LABELS.items():
        if vals.get(key) and not marked.search(vals[key]):
            vals[key] = label + vals[key]
    names = [k for k in above if k in vals] + [k for k in TEXT_FIELDS if k in vals and k not in above]
    order = {k: i for i, k in enumerate(names)}
    if page_text:
        folded = page_text.casefold()

        def where(key: str) -> tuple[int, int]:
            if key in above:
                return (-1, order[key])
            first = vals[key].split("\n", 1)[0].casefold()
            for probe in (first, first.split(": ", 1)[-1]):
                i = folded.find(probe)
                if i >= 0:
                    return (i, order[key])
            return (len(folded), order[key])

        names.sort(key=where)
    lines: list[str] = []
    for key in names:
        part = vals[key]
        if not part:
            continue
        if any(_contains(line, part) for line in lines):
            continue
        lines = [line for line in lines if not _contains(part, line)]  # a longer part wins
        lines.append(part)
    return "\n".join(lines)


def compose_text(*, title: str | None, text: str | None, price: str | None = None,
                 quantity: str | None = None, city: str | None = None) -> str:
    """`compose_listing` of these fields, in their default order (no page to order them by)."""
    return compose_listing({"title": title, "text": text, "quantity": quantity, "price": price, "city": city})


def _contains(haystack: str, needle: str) -> bool:
    """Whole-word containment, so the city "Ош" is not found inside "хорошо"."""
    return re.search(rf"(?<![\w.,]){re.escape(needle)}(?!\w)", haystack, re.IGNORECASE) is not None


# --- dates ----------------------------------------------------------------------------------------
# dateparser reads "вчера в 15:30", "2 дня назад", "12 мая" in many languages, but it is slow (about a
# millisecond a call, far more on odd input) and has hung on some strings. So: only the cut-out date string
# reaches it, capped in length and words; plain numeric dates take a regex fast path; results are cached;
# and it runs with the site's languages only and without its timestamp parser (a bare number is no date).

_MAX_DATE_CHARS = 64
_MAX_DATE_WORDS = 12
# 05.06.2026, 05/06/26, 05-06-2026 14:30, 2026-06-05, 2026-06-05T14:30:00 (+ optional seconds)
_NUMERIC_DATE = re.compile(
    r"(?:(?P<a>\d{1,2})[./-](?P<b>\d{1,2})[./-](?P<y>\d{4}|\d{2})|(?P<iy>\d{4})-(?P<im>\d{2})-(?P<id>\d{2}))"
    r"(?:(?:,?\s*|T)(?:в\s+|at\s+)?(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?)?")


def _numeric_date(value: str, tz: str, order: str) -> datetime | None:
    """The fast path: a purely numeric date (and time); None when `value` is anything else."""
    m = _NUMERIC_DATE.fullmatch(value)
    if m is None:
        return None
    if m["iy"]:
        y, mo, d = int(m["iy"]), int(m["im"]), int(m["id"])
    else:
        a, b, y = int(m["a"]), int(m["b"]), int(m["y"])
        y += 2000 if y < 100 else 0
        d, mo = (b, a) if order == "MDY" else (a, b)  # YMD does not occur with a two-part day.month prefix
    try:
        local = datetime(y, mo, d, int(m["H"] or 0), int(m["M"] or 0), int(m["S"] or 0), tzinfo=ZoneInfo(tz))
    except ValueError:
        return None
    return local.astimezone(timezone.utc)


# The common worded forms, read with dateparser's own word lists for the site's languages but without its
# search over every parser and locale (about 100 times faster): "вчера в 15:30", "сегодня, 09:05",
# "2 дня назад", "3 hours ago", "29 июня, 08:48", "12 мая 2026 г. в 14:05", "May 12, 2026 at 2:05".
# Anything else goes to dateparser.
_MONTH_KEYS = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
               "october", "november", "december")
_UNIT_KEYS = {"minute": "minutes", "hour": "hours", "day": "days", "week": "weeks"}


def _alternation(forms) -> str:
    return "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))


@functools.lru_cache(maxsize=32)
def _word_forms(languages: tuple[str, ...]):
    """Compiled patterns and word tables for `languages`, from dateparser's translation data; None if none."""
    import importlib

    months: dict[str, int] = {}
    days_back: dict[str, int] = {}
    units: dict[str, str] = {}
    ago: set[str] = set()
    for lang in languages:
        try:
            info = importlib.import_module(f"dateparser.data.date_translation_data.{lang.split('-')[0]}").info
        except ImportError:
            continue
        for n, key in enumerate(_MONTH_KEYS, 1):
            months.update((f.casefold(), n) for f in info.get(key, ()) if f.isalpha())
        for n in (0, 1, 2):
            days_back.update((f.casefold(), n) for f in info.get("relative-type", {}).get(f"{n} day ago", ()))
        for key, unit in _UNIT_KEYS.items():
            units.update((f.casefold(), unit) for f in info.get(key, ()) if f.isalpha())
        ago.update(f.casefold() for f in info.get("ago", ()))
    if not months:
        return None
    time = r"(?:(?:,\s*|\s+)(?:(?:в|во|at|um|à|saat)\s+)?(?P<H>\d{1,2})[:.](?P<M>\d{2}))?"
    month = rf"(?P<mon>{_alternation(months)})\.?"
    year = r"(?:,?\s+(?P<y>\d{4})(?:\s*(?:г\.?|года|year))?)?"
    patterns = [rf"(?P<d>\d{{1,2}})\s+{month}{year}{time}",  # 12 мая 2026, 14:05
                rf"{month}\s+(?P<d>\d{{1,2}}){year}{time}"]  # May 12, 2026 at 14:05
    if days_back:
        patterns.append(rf"(?P<back>{_alternation(days_back)}){time}")  # вчера в 15:30
    if units and ago:
        patterns.append(rf"(?P<n>\d{{1,4}})\s*(?P<unit>{_alternation(units)})\s+(?:{_alternation(ago)})")
    return [re.compile(p, re.IGNORECASE) for p in patterns], months, days_back, units


def _worded_date(value: str, languages: tuple[str, ...], tz: str, base: datetime) -> datetime | None:
    forms = _word_forms(languages)
    if forms is None:
        return None
    patterns, months, days_back, units = forms
    for pattern in patterns:
        m = pattern.fullmatch(value)
        if m is not None:
            break
    else:
        return None
    zone = ZoneInfo(tz)
    local_base = base.astimezone(zone).replace(tzinfo=None)
    g = m.groupdict()
    if g.get("unit"):  # "2 дня назад": exactly that long before the page's time
        found = local_base - timedelta(**{units[g["unit"].casefold()]: int(g["n"])})
    else:
        hour, minute = (int(g["H"]), int(g["M"])) if g.get("H") else (local_base.hour, local_base.minute)
        if g.get("back"):
            day = local_base.date() - timedelta(days=days_back[g["back"].casefold()])
        else:
            mon, d = months[g["mon"].casefold()], int(g["d"])
            y = int(g["y"]) if g.get("y") else local_base.year
            try:
                day = date(y, mon, d)
                # "5 июня" on 1 June: last year's. Dates, not times, are compared: "30 июня, 14:00" seen at
                # 12:00 on 30 June is today (a clock off by hours), where dateparser would say last year.
                if not g.get("y") and day > local_base.date():
                    day = date(y - 1, mon, d)
            except ValueError:
                return None
            if not g.get("H"):
                hour = minute = 0
        if hour > 23 or minute > 59:
            return None
        found = datetime(day.year, day.month, day.day, hour, minute)
    return found.replace(tzinfo=zone).astimezone(timezone.utc)


@functools.lru_cache(maxsize=16)
def _date_parser(languages: tuple[str, ...], tz: str, order: str, base: datetime):
    from dateparser.date import DateDataParser  # imported on first use: it takes ~0.3 s to load

    local_base = base.astimezone(ZoneInfo(tz)).replace(tzinfo=None)
    return DateDataParser(languages=list(languages), settings={
        "RELATIVE_BASE": local_base,  # "вчера", "2 дня назад", and the year of "12 мая"
        "TIMEZONE": tz,
        "TO_TIMEZONE": "UTC",
        "RETURN_AS_TIMEZONE_AWARE": True,
        "PREFER_DATES_FROM": "past",  # listings are never posted in the future
        "DATE_ORDER": order,
        "PARSERS": ["relative-time", "absolute-time"],  # no "timestamp": 1719000000 is a price, not a date
    })


def parse_posted(value: str, languages: tuple[str, ...], tz: str = "UTC", order: str = "DMY",
                 base: datetime | None = None) -> datetime | None:
    """Parse the cut-out date string of a listing; relative dates count from `base` (aware, UTC; default now).

    >>> base = datetime(2026, 6, 30, 12, 0, tzinfo=timezone.utc)
    >>> parse_posted("вчера в 15:30", ("ru", "en"), base=base).isoformat()
    '2026-06-29T15:30:00+00:00'
    >>> parse_posted("05.06.2026", ("ru", "en"), base=base).date().isoformat()
    '2026-06-05'
    >>> parse_posted("05.06.2026 14:30", ("ru",), tz="Asia/Almaty", base=base).isoformat()
    '2026-06-05T09:30:00+00:00'
    >>> parse_posted("12 мая, 09:15", ("ru",), base=base).isoformat()
    '2026-05-12T09:15:00+00:00'
    >>> parse_posted("когда-нибудь", ("ru",), base=base) is None, parse_posted("1719000000", ("en",), base=base)
    (True, None)
    """
    value = _SPACES.sub(" ", value).strip()
    if not value or len(value) > _MAX_DATE_CHARS * 2 or value.count(" ") >= _MAX_DATE_WORDS:
        return None  # not a cut-out date string: a selector took too much
    fast = _numeric_date(value, tz, order)
    if fast is not None:
        return fast
    if base is None:
        base = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    worded = _worded_date(value, languages, tz, base)
    if worded is not None:
        return worded
    return _parse_with_dateparser(value[:_MAX_DATE_CHARS], languages, tz, order, base)


@functools.lru_cache(maxsize=16384)
def _parse_with_dateparser(value: str, languages: tuple[str, ...], tz: str, order: str,
                           base: datetime) -> datetime | None:
    try:
        found = _date_parser(languages, tz, order, base).get_date_data(value).date_obj
    except (ValueError, OverflowError, RecursionError):
        return None
    return found.astimezone(timezone.utc) if found is not None else None
