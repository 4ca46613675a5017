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
'Меф кристалл\\n1 г — 4 500 ₽\\nМосква'
>>> compose_text(title=None, text="Всё хорошо", city="Ош")
'Всё хорошо\\nОш'
"""
from __future__ import annotations

import functools
import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from parsel import Selector, SelectorList

from crawlers.sitedef import FieldSpec

__all__ = ["select", "node_text", "extract", "extract_all", "compose_text", "parse_stock", "parse_posted"]

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
        return int(m.group())
    return 0 if _NO_STOCK.search(value) else None


def compose_text(*, title: str | None, text: str | None, price: str | None = None,
                 quantity: str | None = None, city: str | None = None) -> str:
    """One text for the extractor: title, text, "quantity — price", city; parts already present are skipped."""
    offer = " — ".join(p for p in (quantity, price) if p)
    lines: list[str] = []
    for part in (title, text, offer, city):
        part = (part or "").strip()
        if not part:
            continue
        if any(_contains(line, part) for line in lines):
            continue
        lines = [line for line in lines if not _contains(part, line)]  # a longer part wins
        lines.append(part)
    return "\n".join(lines)


def _contains(haystack: str, needle: str) -> bool:
    """Whole-word containment, so the city "Ош" is not found inside "хорошо"."""
    return re.search(rf"(?<![\w.,]){re.escape(needle)}(?!\w)", haystack, re.IGNORECASE) is not None


# --- dates ----------------------------------------------------------------------------------------


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
    })


@functools.lru_cache(maxsize=16384)
def parse_posted(value: str, languages: tuple[str, ...], tz: str = "UTC", order: str = "DMY",
                 base: datetime | None = None) -> datetime | None:
    """Parse the cut-out date string of a listing; relative dates count from `base` (aware, UTC).

    >>> base = datetime(2026, 6, 30, 12, 0, tzinfo=timezone.utc)
    >>> parse_posted("вчера в 15:30", ("ru", "en"), base=base).isoformat()
    '2026-06-29T15:30:00+00:00'
    >>> parse_posted("05.06.2026", ("ru", "en"), base=base).date().isoformat()
    '2026-06-05'
    >>> parse_posted("когда-нибудь", ("ru",), base=base) is None
    True
    """
    value = _SPACES.sub(" ", value).strip()[:80]  # dateparser is slow on long strings; dates are short
    if not value:
        return None
    if base is None:
        base = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    try:
        found = _date_parser(languages, tz, order, base).get_date_data(value).date_obj
    except (ValueError, OverflowError):
        return None
    return found.astimezone(timezone.utc) if found is not None else None
