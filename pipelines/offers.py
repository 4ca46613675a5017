"""Price points in a post: a quantity paired with the price asked for it, and which substance it belongs to.

`find_price_points(cleaned)` tokenizes the lower-cased text with one regex for numbers (with the unit,
currency or multiplier glued to them, skipping phones and dates) and one Aho-Corasick automaton for the
few words that change what a number means (labels, discounts, salaries, per-unit words, declared
currencies), then pairs quantities with prices in one left-to-right pass. `link(points, hits)` says which
substance hit each point belongs to. The input is text cleaned by `pipelines.text.clean`; spans index
into that text. Everything is linear in the text length. (Speed: the extractor passes the lowered text and
the word matches of its own Aho-Corasick pass, `price_tuples(cleaned, low, words)`; texts without characters
beyond the BMP get a number scanner with explicit character classes, which re tests in one table lookup.)

>>> [(p.quantity, p.unit, p.price, p.currency) for p in find_price_points("Меф 1г - 4500₽, 2г 8500₽")]
[(1.0, 'g', 4500.0, 'RUB'), (2.0, 'g', 8500.0, 'RUB')]
>>> [(p.quantity, p.price, p.currency) for p in find_price_points("Nasha 2 gramm 480 ming so'm")]
[(2.0, 480000.0, 'UZS')]
>>> [(p.quantity, p.price, p.currency) for p in find_price_points("货到 每克 420元")]
[(1.0, 420.0, 'CNY')]
>>> [(p.quantity, p.price, p.currency) for p in find_price_points("Цены в тенге\\n0.5 = 9000\\n1 = 16000")]
[(0.5, 9000.0, 'KZT'), (1.0, 16000.0, 'KZT')]
>>> [(p.quantity, p.unit, p.price) for p in find_price_points("Вес: 0.5 гр\\nЦена: 186 $")]
[(0.5, 'g', 186.0)]
>>> find_price_points("скидка 500₽, ЗП от 150 000₽ в неделю, звони +7 000 000 00 01, таблетка 1мг")
[]

Rules, in the order the pass applies them:

| what the text says                        | reading                                                   |
|-------------------------------------------|-----------------------------------------------------------|
| number + unit (г, гр, gramm, 克, мл, шт…)  | quantity; mg/kg/oz/lb/QP/HP/литр converted (in g/ml)      |
| "1/8 oz", "an eighth", "quarter", "half oz"| quantity in grams (fractions of an ounce, pound, kilo)    |
| "x100", "100x", "50 x", "box of 28",      | a count of pieces                                         |
| "1000 … pills", line-start "10 … 250mg"   |                                                           |
| number + мкг/mcg/ug, mg under 50, "mg/ml",| a dose (strength): the point's `dose`, never its quantity |
| "5/325mg", ".08g/capsule", mg next to a   | ("таблетка 1мг", "10шт по 200мг", "x100 tabs 225ug")      |
| piece word or count                       |                                                           |
| digits inside names                       | no number ("4-MMC", "4MMC", "2C-B", "#3", "AK-47", "B707")|
| "В наличии: 3 шт", "Stock: 500", "продаж" | a stock or sales count: no number of the offer            |
| "1 - 100 grams"                           | a range of sizes: no quantity                             |
| "14g (1/2oz)"                             | one weight restated: the first                            |
| 1900–2100 + г                             | a year ("2026г."): ignored                                |
| number + currency / multiplier            | price ("4500₽", "17 000 тг", "4.5к", "550 тыс. сум")      |
| "4000-4500₽"                              | a range: its low end (when high <= 3 x low)               |
| number + %                                | percent: never a price                                    |
| phone numbers, dates, times, "24/7"       | skipped whole                                             |
| quantity then price on the same line      | a pair ("1г - 4500₽", "1гр-18000тг", "0,5г крупный 2700р")|
| price then quantity, tight ("за", "/")    | a pair ("4500₽ за 1г", "4500/г", "500元/克")              |
| "за/per/每/a" + unit, "грамм", "пол грамма"| quantity 1 (or 0.5) of that unit ("4500 за грамм")        |
| quantity, then the price opening one of   | a pair: a listing's fields one per line ("Мефедрон 1г" /  |
| the next three lines (no blank line)      | "4500₽", "2g X" / "In stock" / "EUR 25"; "Альфа 0,5" /    |
|                                           | "Цена 2100 руб." with a bare decimal ending its line)     |
| bare number right after a quantity        | price in the post's currency ("1г - 4500", "2г/7000");    |
|                                           | not when a lower-case word follows ("1г 3 дня")           |
| bare number before "=", "-", ":", "/" and | quantity in the post's usual unit (g unless its quantities|
| a price >= 20x it and >= 10: a decimal    | are all pieces or ml): "0.5 = 2500", line-start "1 - 4500"|
| anywhere, an integer <= 100 at line start |                                                           |
| "Цена:/Price:/Narxi:/Баға:" + number      | price; "Вес:/Weight:/Фасовка:" + number: quantity (g)     |
|                                           | labelled fields pair across up to 3 lines, in any order   |
| скидка/discount/доставка/залог + price    | not a price (the next price in the clause, unless a       |
|                                           | quantity comes first)                                     |
| зарплата/ЗП/доход/работа/курьер/вакансия  | no price until the clause ends (newline, !?;, ". X")      |
| price + "в неделю", "/день", "за смену"   | a rate, not a price                                       |
| "от 3000₽" without quantity               | no offer (a price alone is never an offer); "1г от 3000₽" |
|                                           | is an offer at 3000                                       |
| a price point without currency            | the post's one currency if it names exactly one           |
|                                           | ("Цены в тенге", "all prices in USD", "… руб" on the last |
|                                           | line); with several, the nearest on the same line, after  |
|                                           | then before; else None (the caller infers from the city)  |
| "1г 20000₸ / 3000 сом" (or "или")         | two points, one per currency; "4300₽ (≈ 47$)" is one      |
| Latin "som"                               | UZS, but KGS under 10 000 without a multiplier            |
| "worth $120,000", "стоимостью 3 млн тг"   | a seizure's value in the news: not a price                |

Linking (`link`): a point belongs to the nearest substance hit starting before its end (on its line,
or above it: a price-list heading), looking up past list lines and blank lines but through at most two
lines of other text; failing that, the nearest hit after it on the same line; else None.
"""
from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Protocol

import ahocorasick

try:
    import cython  # the type annotations below are read by Cython only (see setup.py); Python ignores them
except ImportError:  # pragma: no cover - pure Python without Cython installed
    cython = None

from .money import (CURRENCIES, CURRENCY_RE, DECL_CURRENCY_FORMS, HOT_AFTER_NUMBER, MULTIPLIER_RE,
                    NOT_LETTER_AFTER as NLA, NUMBER_RE, NUMBER_REST_RE, PREFIX_FORMS, alternation,
                    amount_currency, currency_of, form_key, parse_number,
                    spellings, yen_or_yuan)
from .quantities import (CJK_COUNT, CJK_UNIT_RE, DOSE, DOSE_FORMS, FRACTION_UNITS, PIECE_FORMS, SHORT_UNIT_RE,
                         SINGULAR_PIECE_WORDS, UNITS, WORD_AMOUNTS, unit_of)
from .text import _char_class, bmp_chars, is_bmp

__all__ = ["PricePoint", "HitLike", "find_price_points", "price_tuples", "link", "link_sorted", "word_keys"]


@dataclass(frozen=True, slots=True)
class PricePoint:
    start: int
    end: int            # span in the cleaned text covering quantity and price
    quantity: float     # in `unit` (mg and kg are converted to g, litres to ml)
    unit: str           # "g" | "ml" | "piece"
    grams: float | None  # set for mass units
    price: float
    currency: str | None  # ISO 4217 (+ "USDT", "BTC"); None when the text names none
    # Linking hints: where a preceding substance may start, where this point's line ends.
    scope_start: int = field(default=-1, compare=False, repr=False)
    line_end: int = field(default=-1, compare=False, repr=False)
    dose: tuple[float, str] | None = None  # a count's or volume's strength per piece or ml: (2.0, "mg"), (10.0, "mg/ml")


class HitLike(Protocol):
    start: int
    end: int


# ---------------------------------------------------------------------------------------------- tokens
# Word tokens: (kind, forms), found by one Aho-Corasick automaton (`_build_automaton`). "." and " " in a
# form are optional; a trailing "*" stands for any further letters (inflections).
_WORD_TABLE: list[tuple[str, tuple[str, ...]]] = [
    ("half", ("пол грамма", "пол грамм", "пол гр", "пол-грамма", "пол-грамм", "пол-гр", "half gram",
              "half a gram")),
    ("qw", ("грамм", "грам", "gram", "gramm")),   # a unit word alone: one of it ("Грамм - 4500")
    ("pw", PIECE_FORMS),
    ("lp", ("цена", "цены", "цене", "ценник", "стоимость", "price", "prices", "cost", "narxi", "narx",
            "нархи", "нарх", "баға", "бағасы", "баасы")),
    ("lq:g", ("вес", "weight", "фасовка", "фасовки", "масса", "vazni", "vazn", "салмағы", "салмагы")),
    ("lq:ml", ("объем", "объём", "volume")),
    ("lq:piece", ("количество", "кол-во", "qty", "quantity")),
    *((f"amt:{grams!r}", forms) for grams, forms in WORD_AMOUNTS),
    # a price right before these is a rate (pay, rent), not an offer
    ("rate", ("в неделю", "в день", "в сутки", "в месяц", "в час", "за смену", "за клад", "за закладку",
              "за неделю", "за месяц", "per week", "per day", "per month", "a week", "a day", "a month",
              "ежедневно", "еженедельно", "daily", "weekly", "monthly", "haftasiga", "kuniga", "oyiga",
              "айына", "аптасына")),
    # salary and recruitment vocabulary: no price until the clause ends
    ("negc", ("зарплат*", "зп", "з/п", "з.п.", "заработ*", "зарабат*", "доход*", "платим",
              "выплат*", "выплачива*", "оклад*", "salary", "wage", "wages", "ish haqi", "maosh", "маош",
              "жалақы", "айлык", "daromad", "ваканси*", "требу*", "работа", "курьер*", "закладчик*",
              "кладмен*")),
    # discounts, delivery fees, deposits, minimum orders: the next price in the clause is not an offer
    ("negn", ("скидк*", "скидос*", "discount*", "sale", "кэшбэк*", "кешбэк*", "кэшбек*", "кешбек*",
              "cashback", "бонус*", "доставк*", "delivery", "залог*", "депозит*", "deposit", "штраф*",
              "минималк*", "мин. заказ", "минимальный заказ", "минимальная сумма", "min order",
              "min. order", "chegirma*", "жеңілдік*", "комисси*", "экономи*", "выгод*",
              # news: the value of a seizure is no price
              "стоимостью", "на сумму", "оценив*", "worth", "valued", "street value",
              # a shop card's crossed-out price
              "старая цена", "старой цене", "цена без скидки", "было", "old price", "regular price")),
    # a stock or sales count: the number right after it is neither a quantity nor a price ("В наличии: 3 шт")
    ("stk", ("в наличии", "наличие", "наличии", "остаток", "осталось", "продано", "продаж", "stock", "in stock",
             "sold", "left")),
    ("dcur", DECL_CURRENCY_FORMS),
]
_PREFIX_KEYS = frozenset(form_key(f) for f in PREFIX_FORMS)
_RATE_UNITS = alternation(("неделю", "неделя", "нед", "день", "сутки", "месяц", "мес", "час", "смену", "клад",
                           "закладку", "week", "day", "month", "hour", "hr", "wk", "mo", "shift"))

# A token is a list [start, end, kind, value, unit_or_currency, raw_number, flags] (lists are ~5x cheaper
# to make than slotted objects, and this runs ~10 times a post). `value` is the quantity in its unit or
# the price; `raw_number` is kept for bare numbers, whose reading depends on their role.
_S, _E, _K, _V, _U, _RAW, _F = range(7)
_Q, _P, _B, _LP, _LQ, _NEGN, _NEGC, _RATE, _PCT, _PW, _CUR, _STK, _DOSE = range(13)   # kinds
_LAB, _MG, _PER, _PRE, _RATED = 1, 2, 4, 8, 16                           # flags
_SINGULAR_PIECES = frozenset(SINGULAR_PIECE_WORDS)

# What may be glued after a number: a unit (or dose), "%" or a currency. One trie for all (three tries
# tried one after another cost three times as much); `_read_amount` says which it was.
_GLUED_FORMS = ([f for _, _, forms in UNITS for f in forms] + list(DOSE_FORMS) + ["%"]
                + [f for _, _, forms in CURRENCIES for f in forms])
_AMOUNT_MEMO: dict[str, tuple] = {}


# Under this many milligrams an amount is a pill's strength ("Xanax 2mg", "oxycodone 30mg"), never a quantity sold.
_DOSE_MG = 50.0


def _read_amount(num: str, mult: str | None, g1: str | None, g2: str | None, num2: str | None,
                 den: str | None = None) -> tuple | None:
    """What a number and the words glued to it say, as (kind, value, unit_or_iso, flags, range_high):
    a quantity (_Q), a price (_P), a bare number (_B), a percent (_PCT), a dose (_DOSE: amount, "mg" or "ug");
    None for a year."""
    cur = g2 if mult else g1
    if g1:
        if g1 == "%":
            return (_PCT, 0.0, None, 0, None)
        uf = unit_of(g1)
        if uf is DOSE:
            return (_DOSE, parse_number(num, price=False), "ug", 0, None)
        if uf is not None:
            u, fac = uf
            v = parse_number(num, price=False)
            if den:  # "1/8 oz"
                v /= int(den)
            # "2026г." is a year, not two kilos
            elif fac == 1.0 and g1[0] == "г" and 1900 <= v <= 2100 and v.is_integer():
                return None
            if fac == 0.001 and v < _DOSE_MG:
                return (_DOSE, v, "mg", 0, None)
            return (_Q, v * fac, u, _MG if fac == 0.001 else 0, None)
    if not (cur or mult):
        return (_B, 0.0, None, 0, None)
    v, iso = amount_currency(num, mult, cur)
    hi = amount_currency(num2, mult, cur)[0] if num2 else None
    return (_P, v, iso, 0, hi)


# The number scanner starts by consuming one character of a class, so sre skips to candidates at C speed
# (a pattern that can start anywhere costs ~25 ns per character of text).
_NUM_SCAN = re.compile(
    r"[\d+每一二两三五十半](?:"
    # phone numbers, dates, times, "24/7": skipped whole (the first digit is already consumed). Behind
    # cheap lookaheads (8+ more digits; a date or time separator), as they are tried at every number.
    r"(?:(?<=\+)\d{1,3}(?:[ \-()]{0,2}\d{2,4}){2,5}(?!\d)"                         # +7 …, +996 …, +86 …
    r"|(?=[\d \-()]{8})(?=(?:[ \-()]{0,2}\d){8})"  # (the first: a cheap necessary condition of the second)
    r"(?:(?<![\d.,]8)(?<=8)[ \-(]{0,2}\d{3}[ \-)]{0,2}\d{3}[ \-]?\d{2}[ \-]?\d{2}(?!\d)"  # 8-700-123-45-67
    r"|(?<![\d.,]0)(?<=0)\d{2,3}[ \-]?\d{3}[ \-]?\d{3}(?!\d)"                       # 0555 123 456
    r"|(?<=\d)\d{9,})"                                                             # ids, long runs
    r"|(?=\d{0,3}[./:\-])"
    r"(?:(?<![\d.,]\d)(?<=\d)\d?(?P<ds>[./-])\d{1,2}(?P=ds)(?:\d{4}|\d{2})(?![\d.,])"  # 12.05.2026
    r"|(?<=\d)\d{3}-\d{2}-\d{2}"                                                    # 2026-05-12
    r"|(?<![\d.,:]\d)(?<=\d)\d?:\d{2}(?!\d)"                                        # 15:30
    r"|(?<![\d.,:]\d)(?<=\d):\d(?!\d|[.,]\d)"                                         # 3:1 (a score)
    r"|(?<=2)4/7))(?P<skip>)"
    # 每克 (per gram), 一克, 半克, 两粒
    rf"|(?<=[每一二两三五十半])(?P<cjku>{CJK_UNIT_RE})(?P<cjk>)"
    # an amount: the rest of the number, then what is glued to it
    rf"|(?<=\d)(?P<rest>{NUMBER_REST_RE})"
    # "1/8 oz", "1/2lb": a fraction, only before a unit it may count
    rf"(?:/(?P<den>16|2|4|8)(?:th|)(?= ?{alternation(FRACTION_UNITS)}{NLA})|)"
    # "4000-4500₽": a range only when money follows
    # (The optional parts are written (?:X|), not (?:X)?: the same match, but re saves the capture marks on
    # every try of an optional group, and a branch costs less.)
    rf"(?: ?- ?(?P<num2>{NUMBER_RE})(?= ?{CURRENCY_RE}{NLA}|[кk]{NLA}| ?{MULTIPLIER_RE}{NLA})|)"
    # a multiplier, then maybe a currency ("4к", "550 тыс. сум"); or a unit, "%" or a currency
    rf"(?:(?:(?P<k>[кk]){NLA}| ?(?P<mult>{MULTIPLIER_RE}){NLA})(?: ?(?P<g2>{CURRENCY_RE}){NLA}|)"
    # ("47 $40": a symbol right before a digit is that number's, not this one's)
    rf"| ?(?P<g1>{alternation(_GLUED_FORMS, HOT_AFTER_NUMBER)}){NLA}(?!(?<=[$€£¥₽₸₴₾₿₺₹])\d)|)"
    # after a price: "/г", "за грамм", "per gram" (one unit; "/ 1г" is left to the next amount, it
    # may start the next item of a list) or "в неделю", "/день" (a rate)
    rf"(?:(?P<sfx>(?=[ /][/зpafвe]|/) ?(?:(?:/ ?|(?:за|per|a|for|в) )(?:(?P<rate>{_RATE_UNITS})"
    rf"|(?P<perunit>{SHORT_UNIT_RE}))|(?P<each>each|apiece))){NLA}|)"
    r"(?P<amt>))"
)


def _bmp_pattern(pattern: str) -> str:
    """`pattern` with \\d and the not-a-letter class written out for the Basic Multilingual Plane (see
    `pipelines.text.bmp_chars`): in a text without characters beyond the BMP it matches as `pattern` does, faster."""
    digits, letters = bmp_chars()
    digits = _char_class(digits)[1:-1]
    not_cjk = _char_class(c for c in letters if not ("\u3400" <= c <= "\u4dbf" or "\u4e00" <= c <= "\u9fff"))
    pattern = pattern.replace(r"[^\W\d_\u3400-\u4dbf\u4e00-\u9fff]", not_cjk)
    out, i, in_class = [], 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            esc = pattern[i:i + 2]
            out.append((digits if in_class else f"[{digits}]") if esc == r"\d" else esc)
            i += 2
            continue
        if ch == "[" and not in_class:
            in_class = True
        elif ch == "]" and in_class:
            in_class = False
        out.append(ch)
        i += 1
    return "".join(out)


# The scanner for the texts of 1- and 2-byte characters (sys.getsizeof tells them in O(1)), nearly all.
_NUM_SCAN_BMP = re.compile(_bmp_pattern(_NUM_SCAN.pattern))


def _word_template(form: str, kind: str) -> tuple | None:
    """(kind, value, unit_or_currency, flags) of a word token."""
    key = form_key(form)
    if kind in ("negn", "negc", "lp", "rate", "stk"):
        return ({"negn": _NEGN, "negc": _NEGC, "lp": _LP, "rate": _RATE, "stk": _STK}[kind], 0.0, None, 0)
    if kind == "dcur":
        return (_CUR, 0.0, currency_of(form), _PRE if key in _PREFIX_KEYS else 0)
    if kind == "pw":
        return (_PW, 1.0 if form in _SINGULAR_PIECES else 0.0, "piece", 0)
    if kind == "half":
        return (_Q, 0.5, "g", 0)
    if kind == "qw":
        return (_Q, 1.0, "g", 0)
    if kind.startswith("amt:"):  # "an eighth", "QP": that many grams
        return (_Q, float(kind[4:]), "g", 0)
    return (_LQ, 0.0, kind[3:], 0)  # lq:<unit>


def _word_spellings() -> dict[str, tuple[int, bool, tuple]]:
    """Every literal the word tokens are found by: spelling -> (length, is_stem, template); first listing wins."""
    table: dict[str, tuple[int, bool, tuple]] = {}

    def add(spelling: str, stem: bool, tpl) -> None:
        if tpl is not None and spelling not in table:
            table[spelling] = (len(spelling), stem, tpl)

    for kind, forms in _WORD_TABLE:
        for f in forms:
            stem = f.endswith("*")
            for sp in spellings(f[:-1] if stem else f):
                add(sp, stem, _word_template(sp, kind))
    # "за грамм", "per gram", "a gram", "за 1 шт": one unit
    for _, _, forms in UNITS:
        for f in forms:
            for sp in spellings(f):
                uf = unit_of(sp)
                tpl = (_Q, uf[1], uf[0], _PER)
                for pre in ("за ", "per ", "a ", "for ", "each "):
                    for mid in ("", "1", "1 ", "один ", "одну ", "one "):
                        add(pre + mid + sp, False, tpl)
    for sym in PREFIX_FORMS:
        if len(sym) == 1 and not sym.isalpha():
            add(sym, False, (_CUR, 0.0, currency_of(sym), _PRE))
    return table


def word_keys() -> list[tuple[str, tuple]]:
    """The word tokens' literals with ё read as е, as (key, payload) for an Aho-Corasick automaton that scans the
    lowered text with ё folded to е. `pipelines.substances` puts them into its own automaton, so that one pass
    over a post finds both substance names and these words (see `find_price_points(words=...)`).

    Payload: (length, is_stem, template, variants); variants is None when the key is its only spelling, else
    {spelling: (is_stem, template)}, and the text's own spelling decides ("колёс" is a piece word, "колес" not).
    """
    grouped: dict[str, dict[str, tuple[int, bool, tuple]]] = {}
    for sp, v in _word_spellings().items():
        grouped.setdefault(sp.replace("ё", "е"), {})[sp] = v
    out = []
    for key, sps in grouped.items():
        if len(sps) == 1 and key in sps:
            n, stem, tpl = sps[key]
            out.append((key, (n, stem, tpl, None)))
        else:
            out.append((key, (len(key), False, None, {sp: (stem, tpl) for sp, (_, stem, tpl) in sps.items()})))
    return out


def _build_automaton():
    """Word tokens by Aho-Corasick (pyahocorasick): ~4x faster than a regex trying every word start.
    It scans the lowered text with ё as е; its values are the payloads of `word_keys()`."""
    ac = ahocorasick.Automaton()
    for key, payload in word_keys():
        ac.add_word(key, payload)
    ac.make_automaton()
    return ac


_AC = None


def _word_tokens(low: str, out: list, matches=None) -> None:
    """Word tokens of `low` (lowered, ё kept) into `out`. `matches`: the (end, payload) matches of `word_keys()`
    over `low` with ё as е, in the order an Aho-Corasick scan yields them, when the caller has them already."""
    global _AC
    if matches is None:
        if _AC is None:
            _AC = _build_automaton()
        matches = _AC.iter(low.replace("ё", "е") if "ё" in low else low)
    text: str = low
    has_yo = "ё" in text
    last_s: cython.Py_ssize_t = -1
    size: cython.Py_ssize_t = len(text)
    end: cython.Py_ssize_t
    n: cython.Py_ssize_t
    s: cython.Py_ssize_t
    e: cython.Py_ssize_t
    c: cython.Py_UCS4
    for end, (n, stem, tpl, variants) in matches:
        s = end - n + 1
        e = end + 1
        if variants is not None:  # a key standing for spellings with ё: the text's spelling must be one of them
            v = variants.get(text[s:e])
            if v is None:
                continue
            stem, tpl = v
        elif has_yo and "ё" in text[s:e]:  # and a key without ё does not match a spelling with it
            continue
        if s:
            c = text[s - 1]
            # not inside a word; and a word right after "<digit> " is the unit or currency of an amount
            if c.isalnum() and n > 1 or c == " " and s > 1 and text[s - 2].isdigit() and n > 1:
                continue
        if not stem and e < size and text[e].isalpha() and n > 1:
            continue
        if s == last_s:  # "usdt" after "usd": keep the longer
            out.pop()
        last_s = s
        out.append([s, e, tpl[0], tpl[1], tpl[2], None, tpl[3]])


_GI = _NUM_SCAN.groupindex
_I_AMT, _I_CJK, _I_REST, _I_NUM2, _I_K, _I_MULT, _I_G1, _I_G2, _I_SFX, _I_RATE, _I_PER, _I_DEN, _I_EACH = (
    _GI["amt"], _GI["cjk"], _GI["rest"], _GI["num2"], _GI["k"], _GI["mult"], _GI["g1"], _GI["g2"], _GI["sfx"],
    _GI["rate"], _GI["perunit"], _GI["den"], _GI["each"])


def _amount_templates(m: re.Match) -> tuple:
    """Tokens of one amount match, offsets relative to its start: ((start, end, kind, value, unit, raw,
    flags), ...). A function of the matched text only, so `_num_tokens` memoizes it on that text."""
    rest, k, mult, g1, g2, num2, sfx, rated, per, den, each = m.group(
        _I_REST, _I_K, _I_MULT, _I_G1, _I_G2, _I_NUM2, _I_SFX, _I_RATE, _I_PER, _I_DEN, _I_EACH)
    s0 = m.start()
    num = m.group(0)[:1 + len(rest)]
    a = _read_amount(num, k or mult, g1, g2, num2, den)
    if a is None:
        return ()
    kind = a[0]
    if kind == _DOSE:
        uf = unit_of(per) if per else None
        if uf is not None and uf is not DOSE and uf[0] == "ml":  # "10mg/ml"
            return ((0, m.end() - s0, _DOSE, a[1], a[2] + "/ml", None, 0),)
        return ((0, m.end(_I_G1) - s0, _DOSE, a[1], a[2], None, 0),)
    if kind == _Q and per and a[2] == "g":
        uf = unit_of(per)
        if uf is not None and uf is not DOSE and uf[0] != "g":  # "10mg/ml", ".08g/capsule": a strength
            mg = a[3] & _MG
            unit = ("mg" if mg else "g") + ("/ml" if uf[0] == "ml" else "")
            return ((0, m.end() - s0, _DOSE, round(a[1] * 1000 if mg else a[1], 6), unit, None, 0),)
    if kind == _Q or kind == _PCT:
        return ((0, m.end(_I_G1) - s0, kind, a[1], a[2], None, a[3]),)
    end = m.end() - s0 - (len(sfx) if sfx else 0)
    flags = _RATED if rated else 0
    if kind == _B:
        out = [(0, end, _B, 0.0, None, num, flags)]
    else:
        v, hi = a[1], a[4]
        out = []
        start = 0
        if hi is not None and not v <= hi <= 3 * v:  # "1 - 4500₽": a quantity and a price, not a range
            out.append((0, len(num), _B, 0.0, None, num, 0))
            start, v = m.start(_I_NUM2) - s0, hi
        out.append((start, end, _P, v, a[2], None, flags))
    if per:
        uf = unit_of(per)
        if uf and uf is not DOSE:
            out.append((end, m.end() - s0, _Q, uf[1], uf[0], None, _PER))
    elif each:  # "3$ each": one piece
        out.append((end, m.end() - s0, _Q, 1.0, "piece", None, _PER))
    return tuple(out)


def _leading_dot(low: str, s: int, tpl: tuple) -> tuple:
    rs, re_, kind, v, u, raw, f = tpl[0]
    digits = len(low[s:s + re_]) - len(low[s:s + re_].lstrip("0123456789"))
    v = v / 10 ** digits  # the value was read as an integer of `digits` digits
    return ((rs, re_ + 1, kind, v, u, raw, f),) + tpl[1:]


def _num_tokens(low: str, add, doses: list) -> None:
    # Hot loop: one group(0) and a memo lookup per amount. (Each group()/start()/end() call costs
    # 60-270 ns on Cyrillic text and this runs for every number of every post.)
    memo = _AMOUNT_MEMO
    scan = _NUM_SCAN_BMP if is_bmp(low) else _NUM_SCAN
    for m in scan.finditer(low):
        li = m.lastindex
        if li == _I_AMT:
            s, e = m.span()
            text = low[s:e]
            tpl = memo.get(text)
            if tpl is None:
                tpl = memo[text] = _amount_templates(m)
                if len(memo) > 8192:  # bounded: prices repeat, but not forever
                    memo.clear()
            if not tpl:  # a year
                continue
            kind = tpl[0][2]
            if (kind == _Q or kind == _DOSE) and s and low[s - 1] in ".," and (s == 1 or not low[s - 2].isalnum()):
                tpl = _leading_dot(low, s, tpl)  # ".5г": half a gram, not five
                s -= 1
            if kind == _DOSE:
                doses.append([s + tpl[0][0], s + tpl[0][1], _DOSE, tpl[0][3], tpl[0][4], None, 0])
                continue
            if len(tpl) == 1:
                rs, re_, kind, v, u, raw, f = tpl[0]
                add([s + rs, s + re_, kind, v, u, raw, f])
            else:
                for rs, re_, kind, v, u, raw, f in tpl:
                    add([s + rs, s + re_, kind, v, u, raw, f])
        elif li == _I_CJK:
            uf = unit_of(m.group("cjku"))
            add([m.start(), m.end(), _Q, CJK_COUNT.get(low[m.start()], 1.0) * uf[1], uf[0], None, _PER])
        # otherwise "skip": phones, dates, times


def _tokens(low: str, word_matches=None, doses: list | None = None) -> list[list]:
    """Number and word tokens in text order; doses (strengths: "2mg", "225ug", "10mg/ml") go to `doses`."""
    toks: list[list] = []
    if doses is None:
        doses = []
    _num_tokens(low, toks.append, doses)
    # no price and no bare number: no pair can come out of this post
    for t in toks:
        if t[_K] == _P or t[_K] == _B:
            break
    else:
        return []
    words: list[list] = []
    _word_tokens(low, words, word_matches)
    if doses and words:  # a word inside a strength (".08g/capsule") is read with it
        words = [w for w in words if not any(d[_S] < w[_E] and w[_S] < d[_E] for d in doses)]
    if len(words) <= 8:
        starts = [t[_S] for t in toks]
        for w in words:  # usually 0-3 words: insert each rather than sort everything
            ws = w[_S]
            i = bisect_left(starts, ws)
            # a word inside an amount ("тг" of "17 000 тг") is already read
            if (i and toks[i - 1][_E] > ws) or (i < len(toks) and toks[i][_S] < w[_E]):
                continue
            toks.insert(i, w)
            starts.insert(i, ws)
        return toks
    toks += words
    toks.sort(key=_start)
    out = [toks[0]]
    for t in toks[1:]:
        if t[_S] >= out[-1][_E]:
            out.append(t)
    return out


def _start(t: list) -> int:
    return t[0]


# ---------------------------------------------------------------------------------------------- pairing
# Gaps between two tokens, tested on the lower-cased text; every test is bounded by the gap.
_TIGHT = re.compile(r"[^\w\n]*(?:(?:за|по|for|at|x|х)(?![^\W\d_])[^\w\n]*)?")    # "1г - 4500", "1г за 4500"
_NEAR = re.compile(r"[^\n!?;]{0,48}")                                           # "1г крупный кристалл 4500₽"
_PRICE_FIRST = re.compile(r"[^\w\n]*(?:/|(?:за|for|per)(?![^\W\d_]))[^\w\n]*")  # "4500 за 2г"
_QSEP = re.compile(r"[^\w\n]{0,3}(?:[=:/→>~-]|за )[^\w\n]{0,3}")                # "0.5 = 2500", "0.5 за 2600₽"
# "20000₸ / 3000 сом": the same quantity priced in another market's currency (a converted price in
# parentheses or after "≈", "4300₽ (≈ 47$)", is the same offer and is not repeated)
_ALT_PRICE = re.compile(r"[ =/|]{0,5}|[ ]{0,2}(?:или|or)[ ]{0,2}")
_NONWORD = re.compile(r"[^\w\n]*")
_CLAUSE_BREAK = re.compile(r"[\n!?;]|\. +(?=[A-ZА-ЯЁ])")
_NEXT_WORD = re.compile(r"[ \t]*([^\W\d_]+)")
_CONNECTORS = frozenset(("за", "по", "per", "for", "at", "x", "х", "a"))


_COMMON_TIGHT = frozenset(("", " ", "-", " - ", "=", " = ", " — ", ": ", "/", " / ", ", ", " за ", " по "))


def _tight(low: str, a: int, b: int) -> bool:
    if b - a > 24:
        return False
    return low[a:b] in _COMMON_TIGHT or _TIGHT.fullmatch(low, a, b) is not None


# A listing's fields one per line (how shops show a card and how crawled listings are stored): the rest of the
# quantity's line, at most two other non-blank lines, then a line that opens with the price (after at most three
# words: a label, a currency code, "From"). A blank line ends the listing.
_FIELD_GAP = re.compile(r"[^\n]*(?:\n[ \t]*[^\s][^\n]*){0,2}\n[^\w\n]*(?:[^\W\d_]+[^\w\n]*){0,3}")
_LINE_REST = re.compile(r"[^\w\n]*(?:\n|$)")


def _next_field(low: str, a: int, b: int) -> bool:
    """The price starting at b opens a later field line of the listing whose quantity ends at a."""
    return b - a <= 200 and low.find("\n", a, b) >= 0 and _FIELD_GAP.fullmatch(low, a, b) is not None


def _labelled_near(low: str, a: int, b: int) -> bool:
    """Labelled fields ("Вес: …", "Цена: …") pair across up to three lines."""
    return b - a <= 200 and low.count("\n", a, b) <= 3


def _bare_price_ok(text: str, end: int) -> bool:
    """A bare number is no price when a lower-case word follows it ("1г 3 дня")."""
    if end == len(text) or text[end] in "\n,.;)!":
        return True
    m = _NEXT_WORD.match(text, end)
    if m is None:
        return True
    w = m.group(1)
    return not w[0].islower() or w in _CONNECTORS


def _line_start(low: str, s: int) -> bool:
    a = max(0, s - 13)
    i = low.rfind("\n", a, s)
    if i < 0 and a > 0:
        return False
    return _NONWORD.fullmatch(low, i + 1, s) is not None


def _bare_quantity(low: str, text: str, toks: list, i: int) -> float | None:
    """ "0.5 = 2500", line-start "1 - 4500": bare number i is a quantity (its value), else None."""
    t = toks[i]
    if i + 1 >= len(toks):
        return None
    nx = toks[i + 1]
    if (nx[_K] != _B and nx[_K] != _P) or nx[_S] - t[_E] > 10 or not _QSEP.fullmatch(low, t[_E], nx[_S]):
        return None
    raw = t[_RAW]
    q = parse_number(raw, price=False)
    if not 0 < q <= 100:
        return None
    if "." not in raw and "," not in raw and not _line_start(low, t[_S]):
        return None
    if nx[_K] == _B:
        if not _bare_price_ok(text, nx[_E]):
            return None
        p = parse_number(nx[_RAW])
    else:
        p = nx[_V]
    return q if p >= 10 and p >= 20 * q else None


def _field_quantity(low: str, toks: list, i: int) -> float | None:
    """ "Альфа 0,5" / "Цена 2100 руб.": a bare decimal ending its line, the price opening a next field line of the
    listing (with its currency or label), >= 20x it and >= 10: the quantity (its value), else None."""
    t = toks[i]
    raw = t[_RAW]
    if "." not in raw and "," not in raw:
        return None
    q = parse_number(raw, price=False)
    if not 0 < q <= 100 or _LINE_REST.match(low, t[_E]) is None:
        return None
    j = i + 1
    n = len(toks)
    labelled = False
    while j < n and (toks[j][_K] == _LP or toks[j][_K] == _CUR):
        labelled = labelled or toks[j][_K] == _LP or bool(toks[j][_F] & _PRE)
        j += 1
    if j == n:
        return None
    nx = toks[j]
    if nx[_K] == _P:
        p = nx[_V]
    elif nx[_K] == _B and labelled:
        p = parse_number(nx[_RAW])
    else:
        return None
    return q if p >= 10 and p >= 20 * q and _next_field(low, t[_E], nx[_S]) else None


def _in_name(low: str, s: int, e: int) -> bool:
    """Digits of a name, neither price nor quantity: glued to letters ("4MMC", "2C-B", "25I-NBOMe", "B707"),
    joined to a word by a hyphen ("4-MMC", "AK-47", "JWH-018") or numbered ("#3 heroin")."""
    if e < len(low):
        c = low[e]
        if c.isalpha() and c < "\u3000" or c == "-" and e + 1 < len(low) and low[e + 1].isalpha():
            return True
    if s:
        c = low[s - 1]
        if c == "#" or (c.isalpha() and c < "\u3000" and c != "x"):
            return True
        if c == "-" and s > 1 and low[s - 2].isalpha() and low[s - 2] < "\u3000":
            j = s - 2
            while j > 0 and low[j - 1].isalpha():
                j -= 1
            return j == 0 or not low[j - 1].isdigit()  # ("1г-4500": the "г" is the unit of "1")
    return False


_AMOUNT_BEFORE = re.compile(r"\d[^\W\d_]{0,6} *$")
_COUNT_GAP = re.compile(r"[ \t]+(?:[^\s]+[ \t]+){0,3}")


_OF_COUNT = re.compile(r"(?:box|pack|packet|bottle|strip|sheet|bag|jar|blister)(?:e?s)? of $")


def _x_count(low: str, s: int, e: int) -> bool:
    """ "x100", "x 25", "blotter-x50", "box of 28", "1G x 10 Darts": a count of pieces (not "1g x 4500", a quantity
    times a price)."""
    if s > 7 and low[s - 3:s] == "of " and _OF_COUNT.search(low, max(0, s - 16), s):
        return True
    j = s - 1
    if j >= 0 and low[j] == " ":
        j -= 1
    if j < 0 or low[j] not in "x×":
        return False
    if j and low[j - 1].isalnum():
        return False
    return _AMOUNT_BEFORE.search(low, max(0, j - 10), j) is None or low[e:e + 2].strip(" ")[:1].isalpha()


def _count_before_pieces(low: str, toks: list, i: int, line_end: int, doses: list) -> bool:
    """A bare integer counting the pieces a piece word names a few words on ("1000 Example Pills"), or leading
    its line before a strength ("10 XTC Example 250mg")."""
    t = toks[i]
    if not t[_RAW].isdigit():
        return False
    j = i + 1
    n = len(toks)
    while j < n and toks[j][_K] == _B and _in_name(low, toks[j][_S], toks[j][_E]):
        j += 1
    if j < n and toks[j][_K] == _PW and toks[j][_S] - t[_E] <= 40 and toks[j][_S] < line_end \
            and _COUNT_GAP.fullmatch(low, t[_E], toks[j][_S]):
        return True
    if not _line_start(low, t[_S]) or not low[t[_E]:t[_E] + 2].strip(" ")[:1].isalpha():
        return False
    for d in doses:
        if t[_E] < d[_S] < line_end:
            return True
    while j < n and toks[j][_S] < line_end:
        if toks[j][_F] & _MG:
            return True
        j += 1
    return False


_RANGE = re.compile(r" ?[-–—] ?| to | до ")
_STOCK_GAP = re.compile(r" ?[:=]? ?")


def _price_first(low: str, toks: list, i: int) -> bool:
    """Bare number i followed by "за 2г", "/г", "за грамм", "一克": a price."""
    if i + 1 >= len(toks):
        return False
    t, nx = toks[i], toks[i + 1]
    if nx[_K] != _Q or nx[_S] - t[_E] > 16 or nx[_F] & _MG and low[t[_E]:nx[_S]] == "/":  # "5/325mg": a strength
        return False
    if nx[_F] & _PER:
        return not low[t[_E]:nx[_S]].strip(" ")
    return _PRICE_FIRST.fullmatch(low, t[_E], nx[_S]) is not None


def _mg_is_dose(low: str, toks: list, i: int, pend_q, last_pw) -> bool:
    """mg next to pieces is a pill's strength: "таблетка 1мг", "10шт по 200мг", "200мг 10 таблеток"."""
    t = toks[i]
    if pend_q is not None and pend_q[_U] == "piece" and low.find("\n", pend_q[_E], t[_S]) < 0:
        return True
    if last_pw is not None and t[_S] - last_pw[_E] <= 16 and low.find("\n", last_pw[_E], t[_S]) < 0:
        return True
    for nx in toks[i + 1:i + 3]:
        if nx[_K] == _P or nx[_K] == _B or nx[_S] - t[_E] > 24 or low.find("\n", t[_E], nx[_S]) >= 0:
            break
        if nx[_K] == _PW or (nx[_K] == _Q and nx[_U] == "piece"):
            return True
    return False


def _qty_first_follows(low: str, toks: list, i: int) -> bool:
    """Quantity i has a price right after it and that price no quantity after it ("X 1г 4500₽"): the
    line reads quantity-then-price, so a price pending before the quantity is not its price."""
    if i + 1 >= len(toks):
        return False
    t, nx = toks[i], toks[i + 1]
    if (nx[_K] != _P and nx[_K] != _B) or not _tight(low, t[_E], nx[_S]):
        return False
    if i + 2 < len(toks):
        after = toks[i + 2]
        if after[_K] == _Q and _tight(low, nx[_E], after[_S]):
            return False
    return True


def _slash(low: str, a: int, b: int) -> bool:
    return b - a <= 3 and low[a:b].strip(" ") == "/"


def _slash_prices(low: str, toks: list, i: int, k: int) -> list | None:
    """The k prices of "2500/4500/8500₽" starting at token i (bare ones read as prices), else None."""
    out = [toks[i]]
    j = i + 1
    while len(out) < k and j < len(toks) and toks[j][_K] in (_P, _B) and _slash(low, toks[j - 1][_E], toks[j][_S]):
        out.append(toks[j])
        j += 1
    if len(out) < k:
        return None
    cur = next((t[_U] for t in reversed(out) if t[_K] == _P and t[_U]), None)
    for t in out:
        if t[_K] == _B:
            t[_K], t[_V], t[_U] = _P, parse_number(t[_RAW]), cur
    return out


def _pair(text: str, low: str, toks: list, doses: list) -> list[tuple[list, list]]:
    """The left-to-right pass: (quantity token, price token) pairs."""
    # the token fields and kinds as C constants of the compiled module (module globals are dict lookups)
    S: cython.Py_ssize_t = _S
    E: cython.Py_ssize_t = _E
    K: cython.Py_ssize_t = _K
    V: cython.Py_ssize_t = _V
    U: cython.Py_ssize_t = _U
    RAW: cython.Py_ssize_t = _RAW
    F: cython.Py_ssize_t = _F
    Q: cython.int = _Q
    P: cython.int = _P
    B: cython.int = _B
    LP: cython.int = _LP
    LQ: cython.int = _LQ
    NEGN: cython.int = _NEGN
    NEGC: cython.int = _NEGC
    RATE: cython.int = _RATE
    PCT: cython.int = _PCT
    PW: cython.int = _PW
    CUR: cython.int = _CUR
    STK: cython.int = _STK
    DOSE: cython.int = _DOSE
    LAB: cython.int = _LAB
    MG: cython.int = _MG
    PER: cython.int = _PER
    PRE: cython.int = _PRE
    RATED: cython.int = _RATED
    i: cython.Py_ssize_t
    n: cython.Py_ssize_t
    k: cython.int
    negc_until: cython.Py_ssize_t
    skip_to: cython.Py_ssize_t
    pairs: list[tuple[list, list]] = []
    pend_q = pend_p = hint = negn = last_pw = stock = held = None
    reordered = False
    last: tuple | None = None  # the last pair, for a second price in another currency
    q_run: list = []  # quantities joined by "/" ("0.5г/1г/2г - 2500/4500/8500"), the last is pend_q
    negc_until = skip_to = -1
    bare_unit = None
    n = len(toks)
    for i in range(n):
        if i < skip_to:
            continue
        t = toks[i]
        k = t[K]
        if k > B:
            if k == LP or k == LQ:
                hint = t
            elif k == NEGN:
                negn = t
            elif k == NEGC:
                if t[E] >= negc_until:  # (inside the clause already: no new search, stays linear)
                    m = _CLAUSE_BREAK.search(text, t[E])
                    negc_until = m.start() if m else len(text)
                pend_q = pend_p = None
            elif k == PCT:
                negn = None
            elif k == PW:
                last_pw = t
                if t[V] and not (pend_q is not None and pend_q[U] == "piece" and low.find("\n", pend_q[E], t[S]) < 0):
                    k = Q  # a singular piece word: one piece, until a number says otherwise ("10 x Tablet": ten)
            elif k == STK:
                stock = t
            if k != Q:
                continue
        if stock is not None:
            # the count after "В наличии:", "Stock:" (bare or in pieces) is no part of an offer
            if t[S] - stock[E] <= 3 and (k == B or t[U] == "piece") and _STOCK_GAP.fullmatch(low, stock[E], t[S]):
                stock = None
                continue
            stock = None
        # a label's hint goes to the next number, if near
        lab = None
        if hint is not None:
            if t[S] - hint[E] <= 24 and (low.find("\n", hint[E], t[S]) < 0
                                           or _NONWORD.fullmatch(low, hint[E], t[S])):
                lab = hint
                t[F] |= LAB
            hint = None
        if k == B:
            prev = toks[i - 1] if i else None
            if prev is not None and prev[K] == CUR and prev[F] & PRE and t[S] - prev[E] <= 1:
                t[K], t[V], t[U] = P, parse_number(t[RAW]), prev[U]      # "$186", "USD 186"
            elif lab is not None:
                if lab[K] == LP:
                    t[K], t[V] = P, parse_number(t[RAW])
                else:
                    t[K], t[V], t[U] = Q, parse_number(t[RAW], price=False), lab[U]
            elif _in_name(low, t[S], t[E]):
                continue
            elif _x_count(low, t[S], t[E]) and t[RAW].isdigit():
                t[K], t[V], t[U] = Q, parse_number(t[RAW], price=False), "piece"
            elif (pend_q is not None and _tight(low, pend_q[E], t[S]) and _bare_price_ok(text, t[E])) \
                    or _price_first(low, toks, i):
                t[K], t[V] = P, parse_number(t[RAW])
            else:
                q = _bare_quantity(low, text, toks, i)
                if q is None:
                    q = _field_quantity(low, toks, i)
                if q is None:
                    le = low.find("\n", t[E])
                    if not _count_before_pieces(low, toks, i, le if le >= 0 else len(low), doses):
                        continue
                    t[K], t[V], t[U] = Q, parse_number(t[RAW], price=False), "piece"
                elif bare_unit is None:
                    units = {x[U] for j, x in enumerate(toks) if x[K] == Q and not x[F] & PER
                             and not (j and toks[j - 1][K] == STK and x[S] - toks[j - 1][E] <= 3)}
                    bare_unit = units.pop() if len(units) == 1 else "g"
                if q is not None:
                    t[K], t[V], t[U] = Q, q, bare_unit
            k = t[K]
        if k == Q:
            negn = None
            if t[U] == "piece" and t[S] and t[RAW] is None and low[t[S] - 1].isalpha() \
                    and low[t[S] - 1] < "\u3000" and low[t[S] - 1] not in "x×":
                continue  # "A215 pills": a pill's imprint
            if t[F] & MG and (_mg_is_dose(low, toks, i, pend_q, last_pw)
                              or t[S] > 1 and low[t[S] - 1] == "/" and low[t[S] - 2].isdigit()):  # "5/325mg"
                doses.append([t[S], t[E], DOSE, round(t[V] * 1000, 6), "mg", None, 0])
                continue
            if i and toks[i - 1][K] == B and _RANGE.fullmatch(low, toks[i - 1][E], t[S]):
                pend_q = None  # "1 - 100 grams": a range of sizes, no one quantity
                continue
            if pend_q is not None and pend_q[U] == t[U] and abs(t[V] - pend_q[V]) <= 0.05 * pend_q[V] \
                    and low.find("\n", pend_q[E], t[S]) < 0:
                continue  # "14g (1/2oz)", "56g - 2oz": the same quantity restated
            if pend_q is not None and q_run and q_run[-1] is pend_q and _slash(low, pend_q[E], t[S]):
                q_run.append(t)
                pend_q = t
                continue
            if pend_p is not None:
                labelled = (pend_p[F] | t[F]) & LAB
                # (a price that is no field of its own, "0.5 BTC" in a title, is not that of a later "Вес:" line)
                if (_tight(low, pend_p[E], t[S]) or (labelled and _labelled_near(low, pend_p[E], t[S])
                                                     and (pend_p[F] & LAB or low.find("\n", pend_p[E], t[S]) < 0))) \
                        and (t[F] & PER or labelled or not _qty_first_follows(low, toks, i)):
                    last = (t, pend_p)
                    pairs.append(last)
                    pend_p = pend_q = None
                    if held is not None and t[F] & PER:
                        pend_q, q_run, held = held, [held], None
                        reordered = True  # its pair, if any, starts before this one
                    continue
            pend_q, pend_p, q_run = t, None, [t]
        else:  # a price
            if negn is not None:
                skip = t[S] - negn[E] <= 48 and _CLAUSE_BREAK.search(text, negn[E], t[S]) is None
                negn = None
                if skip:
                    continue
            if t[S] < negc_until or t[F] & RATED:
                continue
            if i + 1 < n and toks[i + 1][K] == RATE and toks[i + 1][S] - t[E] <= 3:
                continue
            nx = toks[i + 1] if i + 1 < n else None
            if nx is not None and nx[F] & PER and nx[S] == t[E]:
                # "10г - 3500₽/г": the price is per gram, its quantity is the "/г"; the 10г may yet have its own
                # price ("30G ... 30$ a gram" / "900 $")
                held, pend_q = pend_q, None
            if pend_q is not None:
                if ((pend_q[F] | t[F]) & LAB and _labelled_near(low, pend_q[E], t[S])) or (
                        t[S] - pend_q[E] <= 48 and (low[pend_q[E]:t[S]] in _COMMON_TIGHT
                                                      or _NEAR.fullmatch(low, pend_q[E], t[S]))) \
                        or _next_field(low, pend_q[E], t[S]):
                    if len(q_run) > 1 and q_run[-1] is pend_q:
                        prices = _slash_prices(low, toks, i, len(q_run))
                        if prices:
                            pairs.extend(zip(q_run, prices))
                            skip_to = i + len(prices)
                            pend_q = pend_p = None
                            q_run = []
                            continue
                        if not _tight(low, pend_q[E], t[S]):
                            pend_q = None  # "32oz/16oz" and one price further on: which size is it for?
                            q_run = []
                            pend_p = t
                            continue
                    last = (pend_q, t)
                    pairs.append(last)
                    pend_q = pend_p = None
                    continue
            # "1г 20000₸ / 3000 сом": the same quantity priced in another currency
            if last is not None and t[U] and last[1][U] and t[U] != last[1][U] \
                    and t[S] - last[1][E] <= 6 and _ALT_PRICE.fullmatch(low, last[1][E], t[S]):
                last = (last[0], t)
                pairs.append(last)
                continue
            pend_p, pend_q = t, None
    if reordered:
        pairs.sort(key=_pair_start)
    return pairs


def _pair_start(pair: tuple) -> int:
    return min(pair[0][0], pair[1][0])


# ---------------------------------------------------------------------------------------------- API
_LETTER = re.compile(r"[^\W\d_]")
_MAX_QTY = 1e7     # 10 t: beyond this a "quantity" is a misread number
_MAX_PRICE = 1e12


def find_price_points(cleaned: str, low: str | None = None, words=None) -> list[PricePoint]:
    """Every (quantity, price) pair in the text, in text order.

    A caller that has them already may pass `low`, `pipelines.lexicon.lower_same_length(cleaned)` (ё kept), and
    `words`, the (end, payload) matches of `word_keys()` over `low` with ё as е, in Aho-Corasick order.
    """
    return [_point(*r) for r in price_tuples(cleaned, low, words)]


def price_tuples(cleaned: str, low: str | None = None, words=None) -> list[tuple]:
    """`find_price_points()` as plain tuples in the order of the PricePoint fields (the extractor's hot path)."""
    # (A text without a digit needs no check of its own: its only number tokens are Chinese counts, quantities,
    # and without a price or a bare number `_tokens` returns none.)
    if low is None or len(low) != len(cleaned):
        low = (cleaned.replace("\u0130", "i") if "\u0130" in cleaned else cleaned).lower()  # İ grows in lower()
        words = None
    doses: list = []
    toks = _tokens(low, words, doses)
    if len(toks) < 2:
        return []
    pairs = _pair(cleaned, low, toks, doses)
    if not pairs:
        return []
    mentions = only_cur = None
    spans = [(q[_S] if q[_S] < p[_S] else p[_S], q[_E] if q[_E] > p[_E] else p[_E]) for q, p in pairs]
    multiline = "\n" in cleaned
    scopes = _scopes(cleaned, sorted(s for s, _ in spans)) if multiline else None
    n = len(cleaned)
    out = []
    for (q, p), (s, e) in zip(pairs, spans):
        qty, price = q[_V], p[_V]
        if not (0 < qty <= _MAX_QTY and 0 < price <= _MAX_PRICE):
            continue
        cur = p[_U]
        if cur == "JPY" and "¥" in low[p[_S] - 2 if p[_S] > 1 else 0:p[_E]]:
            cur = yen_or_yuan(cleaned)
        elif cur is None:
            if mentions is None:
                mentions = [(t[_S], t[_U]) for t in toks if (t[_K] == _P or t[_K] == _CUR) and t[_U]]
                curs = {c for _, c in mentions}
                only_cur = curs.pop() if len(curs) == 1 else None
            cur = only_cur or (_nearest_currency(cleaned, mentions, s, e) if mentions else None)
        unit = q[_U]
        dose = _dose_of(low, q, doses) if doses and unit != "g" else None
        if multiline:
            le = cleaned.find("\n", e)
            out.append((s, e, qty, unit, qty if unit == "g" else None, price, cur, scopes[s], le if le >= 0 else n,
                        dose))
        else:
            out.append((s, e, qty, unit, qty if unit == "g" else None, price, cur, 0, n, dose))
    return out


def _dose_of(low: str, q: list, doses: list) -> tuple[float, str] | None:
    """The strength written on the line of a count or volume ("x100 tabs 225ug"): the nearest one, as (amount, unit)."""
    ls = low.rfind("\n", 0, q[_S]) + 1
    le = low.find("\n", q[_E])
    if le < 0:
        le = len(low)
    best = None
    for d in doses:
        if ls <= d[_S] < le:
            dist = q[_S] - d[_E] if d[_S] < q[_S] else d[_S] - q[_E]
            if best is None or dist < best[0]:
                best = (dist, d[_V], d[_U])
    return None if best is None else (best[1], best[2])


def _fast_constructor():
    """PricePoint(...) without the frozen dataclass __init__ (which calls object.__setattr__ per field):
    slot descriptors set directly, ~2x faster. Same object, same equality."""
    new = object.__new__
    s0, s1, s2, s3, s4, s5, s6, s7, s8, s9 = (getattr(PricePoint, f.name).__set__ for f in fields(PricePoint))

    def point(start, end, quantity, unit, grams, price, currency, scope_start, line_end, dose) -> PricePoint:
        o = new(PricePoint)
        s0(o, start), s1(o, end), s2(o, quantity), s3(o, unit), s4(o, grams), s5(o, price), s6(o, currency)
        s7(o, scope_start), s8(o, line_end), s9(o, dose)
        return o

    return point


_point = _fast_constructor()


def _nearest_currency(text: str, mentions: list[tuple[int, str]], s: int, e: int) -> str | None:
    """Several currencies in the post: the nearest one after the point on its line, else before it."""
    ls = text.rfind("\n", 0, s) + 1
    le = text.find("\n", e)
    le = len(text) if le < 0 else le
    for pos, c in mentions:
        if e <= pos < le:
            return c
    before = [c for pos, c in mentions if ls <= pos < s]
    return before[-1] if before else None


def _scopes(text: str, starts: list[int]) -> dict[int, int]:
    """For each pair start (`starts`, ascending): the first offset a substance linked to it may start at.
    Looking up from the pair's line, list lines (with a price point) and blank lines are passed; at most two
    other lines of text are taken (a heading and one line of description). One pass over the lines."""
    out: dict[int, int] = {}
    near = far = -1  # starts of the nearest and second-nearest text lines above
    j, ns, ls, n = 0, len(starts), 0, len(text)
    find, letter = text.find, _LETTER.search
    while ls <= n:
        le = find("\n", ls)
        if le < 0:
            le = n
        if starts[j] <= le:
            while j < ns and starts[j] <= le:
                out[starts[j]] = far if far >= 0 else 0
                j += 1
            if j == ns:
                break
        elif letter(text, ls, le) is not None:
            near, far = ls, near
        ls = le + 1
    return out


def link(points: list[PricePoint], hits: Sequence[HitLike]) -> list[tuple[int | None, PricePoint]]:
    """For each price point, the index of the substance hit it belongs to (None if none).

    >>> class H:
    ...     def __init__(self, s, e): self.start, self.end = s, e
    >>> text = "Меф:\\n1г - 4500\\n2г - 8500\\nАльфа:\\n1г - 3000"
    >>> [i for i, _ in link(find_price_points(text), [H(0, 3), H(25, 30)])]
    [0, 0, 1]
    """
    if not hits:
        return [(None, p) for p in points]
    if len(hits) == 1:
        return link_sorted(points, [hits[0].start])
    order = sorted(range(len(hits)), key=lambda i: hits[i].start)
    return [(None if j is None else order[j], p) for j, p in link_sorted(points, [hits[i].start for i in order])]


def link_sorted(points: list[PricePoint], starts: list[int]) -> list[tuple[int | None, PricePoint]]:
    """`link()` for hits given by their start offsets, in ascending order: indexes into `starts`."""
    if not starts:
        return [(None, p) for p in points]
    out: list[tuple[int | None, PricePoint]] = []
    n = len(starts)
    for p in points:
        out.append((_link_one(starts, n, p.start, p.end, p.scope_start, p.line_end), p))
    return out


def _link_one(starts: list[int], n: int, start: int, end: int, scope: int, line_end: int) -> int | None:
    if scope < 0:
        scope = max(0, start - 300)
    j = bisect_left(starts, end) - 1
    if j >= 0 and starts[j] >= scope:
        return j
    j += 1
    if line_end < 0:
        line_end = end + 40
    return j if j < n and starts[j] < line_end else None
