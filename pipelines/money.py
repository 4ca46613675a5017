"""Currencies and amounts as shops write them: symbols, words (inflected, abbreviated), multipliers.

This module owns the tables (lower-case); `pipelines.offers` builds its tokenizer from them.
`find_money` takes text cleaned by `pipelines.text.clean` (any case) and lower-cases it itself.

>>> [(m.amount, m.currency) for m in find_money("2г - 21 000 тг, 3г 480 тыс. сум, 0.5г 3.5к₽")]
[(21000.0, 'KZT'), (480000.0, 'UZS'), (3500.0, 'RUB')]
>>> [m.currency for m in find_money("320 ming so'm; 75 BYN; 140 лари; $95; 380元; 18 USDT; 55 бел. руб.")]
['UZS', 'BYN', 'GEL', 'USD', 'CNY', 'USDT', 'BYN']
>>> currency_of("рублей"), currency_of("Сомони"), currency_of("сом"), currency_of("тенге")
('RUB', 'TJS', 'KGS', 'KZT')
>>> parse_number("17.000"), parse_number("17.000", price=False), parse_number("1 500 000"), parse_number("0,5")
(17000.0, 17.0, 1500000.0, 0.5)

Number rules (`parse_number`):
- spaces group thousands: "17 000", "1 500 000";
- both "," and "." present: the last one is the decimal mark ("1,500.50", "1.500,50");
- one mark used more than once: thousands ("1.500.000");
- one mark once: decimal, except in a price when exactly three digits follow and the integer part is
  not 0 ("17.000", "17,000" -> 17000; "0.500", "186.50", "4.5" stay decimal). Quantities never use
  a thousands mark ("1.500 кг" is 1.5 kg).

price-parser is not used: it reads the first number of "1г - 4500₽" (1), knows no тг/сом/сум nor
multipliers (тыс, к, ming), costs ~4 µs a call, and cannot tell a price from a quantity, which is what
decides whether "17.000" is 17000 or 17.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

__all__ = ["Money", "find_money", "yen_or_yuan", "currency_of", "currency_entry", "multiplier_of", "parse_number",
           "amount_currency", "alternation", "spellings", "form_key", "CURRENCIES", "MULTIPLIERS",
           "GLUED_MULTIPLIERS", "PREFIX_FORMS", "DECL_CURRENCY_FORMS", "CURRENCY_RE", "MULTIPLIER_RE",
           "PREFIX_CURRENCY_RE", "CRYPTO", "NUMBER_RE", "NUMBER_REST_RE", "HOT_AFTER_NUMBER", "NOT_LETTER_AFTER"]

# Apostrophes Uzbek Latin uses in so'm (ASCII, typographic, modifier letters, backtick).
_APOSTROPHES = "'’‘`ʻʼ"

# (ISO code, factor, forms). Forms are lower-case literals; in a form "." is optional and " " is an
# optional space ("бел. руб." matches "бел.руб", "бел руб." ...), "'" is any apostrophe.
# "!" after a "." makes that dot required ("т.!" is "т." but never a bare "т").
# Ordered: the first table entry that lists a form wins; longer forms are tried first by the regex.
CURRENCIES: list[tuple[str, float, tuple[str, ...]]] = [
    # Belarusian roubles before Russian ones: "бел. руб." must not read as RUB
    ("BYN", 1, ("бел. руб.", "бел. рублей", "бел. рубля", "бел. р.", "белорусских рублей",
                "белорусских руб.", "byn", "byr")),
    # "тр", "т.р." = thousand roubles (RU slang)
    ("RUB", 1000, ("т. р.", "тыр", "т. руб.")),
    ("RUB", 1, ("₽", "руб.", "рубль", "рубля", "рублей", "рублях", "рублями", "rub", "rur", "р.")),
    ("KZT", 1, ("₸", "тг.", "тенге", "теңге", "тңг", "kzt", "tenge", "tg")),
    # сомони (TJS) before сом (KGS): the longer form wins in the regex, the table keeps them apart
    ("TJS", 1, ("сомони", "сомонӣ", "смн.", "tjs", "somoni")),
    ("KGS", 1, ("сом", "сомов", "сома", "kgs")),
    # "som" in Latin script: Uzbek (so'm) by default; see `amount_currency` for the magnitude rule
    ("UZS", 1, ("сум", "сумов", "сўм", "so'm", "som", "sum", "uzs")),
    ("MDL", 1, ("лей", "леев", "лея", "леи", "lei", "mdl")),
    ("GEL", 1, ("₾", "лари", "lari", "gel")),
    ("UAH", 1, ("₴", "грн.", "гривен", "гривна", "гривны", "гривень", "uah")),
    ("USD", 1, ("$", "us$", "usd", "долл.", "дол.", "доллар", "доллара", "долларов", "долларах",
                "бакс", "бакса", "баксов", "у. е.", "dollar", "dollars")),
    ("EUR", 1, ("€", "eur", "евро", "euro", "euros")),
    # the dollars of other markets, before plain "$"
    ("CAD", 1, ("c$", "ca$", "can$", "cad")),
    ("AUD", 1, ("a$", "au$", "aud")),
    ("NZD", 1, ("nz$", "nzd")),
    ("HKD", 1, ("hk$", "hkd")),
    ("SGD", 1, ("s$", "sgd")),
    ("GBP", 1, ("£", "gbp", "фунтов стерлингов", "фунта стерлингов")),
    ("CHF", 1, ("chf", "sfr.", "франков")),
    ("PLN", 1, ("zł", "pln", "злотых", "злотый")),
    ("CZK", 1, ("kč", "czk", "чешских крон")),
    ("HUF", 1, ("huf", "форинтов")),
    ("TRY", 1, ("₺", "try", "tl", "лир", "лиры", "lira")),
    ("INR", 1, ("₹", "inr", "рупий")),
    ("SEK", 1, ("sek",)),
    ("NOK", 1, ("nok",)),
    ("DKK", 1, ("dkk",)),
    ("AMD", 1, ("֏", "amd", "драм", "драмов")),
    ("AZN", 1, ("₼", "azn")),
    # "¥" is yuan in Chinese text or on a Chinese source, else yen: `yen_or_yuan` and the extractor decide
    ("JPY", 1, ("¥", "jpy", "円", "yen", "иен", "йен")),
    # 块 is colloquial yuan
    ("CNY", 1, ("元", "块", "人民币", "cny", "rmb", "юань", "юаня", "юаней", "юанях")),
    ("USDT", 1, ("usdt", "юсдт", "тезер", "tether")),
    ("BTC", 1, ("₿", "btc", "биткоин", "биткоина", "биткоинов", "bitcoin")),
    ("XMR", 1, ("ɱ", "xmr", "monero", "монеро")),
    ("LTC", 1, ("ltc", "litecoin", "лайткоин")),
    ("ETH", 1, ("eth", "ether", "ethereum")),
    ("RSD", 1, ("rsd", "дин.", "динар", "динара", "динаров", "dinara", "din.")),
    # bare "р" last among roubles: only after a number (never a declaration)
    ("RUB", 1, ("р",)),
]

# Forms too ambiguous to declare a post's currency on their own ("сом" is also a catfish, "лей" an
# imperative, "дин"/"сум" short words): they count only right after a number.
_NOT_DECLARATIONS = {"р", "р.", "сом", "сома", "лей", "лея", "леи", "дол.", "дин.", "din.", "сум", "sum",
                     "som", "gel", "tg", "lei", "块", "тыр", "т. р.", "try", "tl", "ether", "драм", "lira", "лир",
                     "лиры", "франков"}

# Written before the number ("$186", "USD 186", "₽ 4500").
PREFIX_FORMS = ("$", "us$", "€", "₽", "₸", "₴", "₾", "¥", "₿", "£", "₺", "₹", "₼", "֏", "c$", "ca$", "can$", "a$",
                "au$", "nz$", "hk$", "s$", "usd", "usdt", "eur", "rub", "kzt", "kgs", "uzs", "cny", "rmb", "btc",
                "gel", "byn", "gbp", "cad", "aud", "nzd", "hkd", "sgd", "chf", "pln", "czk", "huf", "inr", "sek",
                "nok", "dkk", "jpy", "amd", "azn", "xmr", "ltc", "eth")

# Crypto-currency amounts are small decimals: "0.015" stays 0.015, never 15 thousandths grouped.
CRYPTO = frozenset({"BTC", "USDT", "XMR", "LTC", "ETH"})

# Multipliers of a price: (factor, forms). "к"/"k" only glued to the number ("4к", "4.5k"); "т." needs
# its dot (a bare "т" starts too many words).
MULTIPLIERS: list[tuple[float, tuple[str, ...]]] = [
    (1e3, ("тыс.", "тысяч", "тысячи", "тысяча", "тыщ", "тыщи", "т.!", "ming", "минг", "мың", "миң", "thousand")),
    (1e6, ("млн.", "миллион", "миллиона", "миллионов", "mln", "million", "mio")),
]
GLUED_MULTIPLIERS = {"к": 1e3, "k": 1e3}

# next char is not a letter (digits, punctuation, end are fine; so are CJK ideographs: "500元一克")
NOT_LETTER_AFTER = r"(?![^\W\d_\u3400-\u4dbf\u4e00-\u9fff])"


_KEY_DROP = str.maketrans("", "", ". !" + _APOSTROPHES)


def form_key(form: str) -> str:
    """A form without its optional marks: the dictionary key of a matched or listed form."""
    return form.translate(_KEY_DROP)


def _atoms(form: str) -> list[str]:
    """A form as regex atoms: "." optional (required if "!" follows), " " optional, "'" any apostrophe,
    a final "*" any further letters."""
    out = []
    for i, ch in enumerate(form):
        if ch == "!":
            continue
        if ch == "." and form[i + 1:i + 2] == "!":
            out.append(r"\.")
        elif ch == ".":
            out.append(r"\.?")
        elif ch == " ":
            out.append(" ?")
        elif ch in _APOSTROPHES:
            out.append(f"[{_APOSTROPHES}]?")
        elif ch == "*" and i == len(form) - 1:
            out.append(r"[^\W\d_]*")
        else:
            out.append(re.escape(ch))
    return out


def spellings(form: str) -> list[str]:
    """Every literal spelling of a form (for exact-string matchers such as Aho-Corasick)."""
    out = [""]
    for i, ch in enumerate(form):
        if ch == "!":
            continue
        if ch == "." and form[i + 1:i + 2] == "!":
            opts = (".",)
        elif ch in ". ":
            opts = (ch, "")
        elif ch in _APOSTROPHES:
            opts = tuple(_APOSTROPHES) + ("",)
        else:
            opts = (ch,)
        out = [o + x for o in out for x in opts]
    return out


def alternation(forms, hot: str = "") -> str:
    """Regex matching any of the forms, built as a trie so that sre tries one branch per next char
    (a flat alternation of 150 words costs ~10x more per position). Longer forms win: at each node
    the continuation is tried before stopping. sre tests branches one by one, so first characters
    listed in `hot` (the common ones) come first."""
    root: dict = {}
    forms_list = list(forms)
    for f in forms_list:
        node = root
        for a in _atoms(f):
            node = node.setdefault(a, {})
        node[""] = {}

    def order(a: str) -> tuple:
        i = hot.find(a[-1:]) if len(a) <= 2 else -1
        return (i if i >= 0 else len(hot), a)

    def emit(node: dict, top: bool = False) -> str:
        alts = [a + emit(sub) for a, sub in sorted(node.items(), key=lambda kv: order(kv[0]) if top else kv[0])
                if a]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        if "" in node:
            return body + "?" if len(alts) == 1 and len(alts[0]) == 1 else f"(?:{body})?"
        return body

    # a one-class lookahead on the possible first characters: sre rejects a non-starter in one test
    # instead of walking every first-level branch
    firsts = {f[0] for f in forms_list}
    guard = "(?=[" + "".join(sorted(re.escape(c) for c in firsts)) + "])" if len(firsts) > 3 else ""
    return "(?:" + guard + emit(root, True) + ")"


_CURRENCY_BY_KEY: dict[str, tuple[str, float]] = {}
for _iso, _factor, _forms in CURRENCIES:
    for _f in _forms:
        _CURRENCY_BY_KEY.setdefault(form_key(_f), (_iso, _factor))
_MULT_BY_KEY: dict[str, float] = {form_key(f): fac for fac, forms in MULTIPLIERS for f in forms}

# First characters of what most often follows a number in these posts, most common first.
HOT_AFTER_NUMBER = "гт₽р$шсkк€мgu元лб"
_ALL_FORMS = [f for _, _, forms in CURRENCIES for f in forms]
CURRENCY_RE = alternation(_ALL_FORMS, HOT_AFTER_NUMBER)
DECL_CURRENCY_FORMS = tuple(f for f in _ALL_FORMS if f not in _NOT_DECLARATIONS)
PREFIX_CURRENCY_RE = alternation(PREFIX_FORMS)
MULTIPLIER_RE = alternation(f for _, forms in MULTIPLIERS for f in forms)
# A number: space-grouped thousands ("1 500 000", groups of exactly 3), else digits with any run of
# "."/"," groups ("17.000", "0,5", "1.500.000"), else a leading-dot decimal (".5"). All linear.
# Two numbers side by side are no grouped one when the second has a fraction other than cents or a strength
# unit of its own: "Box of 28 260.1 $" is 28 and 260.1, "Pack of 10 250mg" is 10 and 250 mg.
_GROUPED_END = r"(?:[.,]\d\d(?![\d.,])|(?![.,]\d))(?! ?(?:mg|мг|mcg|ug|μg|мкг)(?![^\W\d_]))"
NUMBER_RE = rf"(?:\d{{1,3}}(?: \d{{3}}(?!\d))+{_GROUPED_END}|\d+(?:[.,]\d+)*|(?<![\w.,])[.,]\d+)"
# The same after its first digit (for scanners that consume that digit to let sre skip ahead).
# A crawler's float in exponent form ("1.49e+06", a platform's price field) is read too.
NUMBER_REST_RE = rf"(?:\d{{0,2}}(?: \d{{3}}(?!\d))+{_GROUPED_END}|\d*(?:[.,]\d+)*(?:e\+\d\d(?!\d)|))"


_MEMO_MAX = 4096  # memo of matched spellings -> entry; the regexes only yield finitely many spellings
_CURRENCY_MEMO: dict[str, tuple[str, float] | None] = {}


def currency_entry(form: str) -> tuple[str, float] | None:
    """(ISO code, factor) of a matched currency form, e.g. ("RUB", 1000.0) for "т.р."."""
    try:
        return _CURRENCY_MEMO[form]
    except KeyError:
        e = _CURRENCY_BY_KEY.get(form_key(form.lower()))
        if len(_CURRENCY_MEMO) < _MEMO_MAX:
            _CURRENCY_MEMO[form] = e
        return e


def currency_of(word: str) -> str | None:
    """ISO code of a currency word or symbol, any case; None if it is not one."""
    e = currency_entry(word)
    return e[0] if e else None


def multiplier_of(form: str) -> float:
    f = form.lower()
    return GLUED_MULTIPLIERS.get(f) or _MULT_BY_KEY.get(form_key(f), 1.0)


def parse_number(raw: str, price: bool = True) -> float:
    """Value of a matched number; `price` allows a single "." or "," to group thousands (see above)."""
    s = raw.replace(" ", "") if " " in raw else raw
    if s.isdigit():
        return float(s)
    has_dot, has_comma = "." in s, "," in s
    if has_dot and has_comma:
        dec = max(s.rfind("."), s.rfind(","))
        s = s[:dec].replace(".", "").replace(",", "") + "." + s[dec + 1:]
    elif has_dot or has_comma:
        mark = "." if has_dot else ","
        if s.count(mark) > 1:
            s = s.replace(mark, "")
        else:
            head, _, tail = s.partition(mark)
            if price and len(tail) == 3 and head.strip("0"):
                s = head + tail
            else:
                s = (head or "0") + "." + tail
    try:
        v = float(s)
    except ValueError:  # pragma: no cover - the regex only hands over digits and marks
        return math.nan
    return v


@dataclass(frozen=True, slots=True)
class Money:
    start: int
    end: int
    amount: float
    currency: str | None


_MONEY = re.compile(
    rf"(?:(?P<pcur>{PREFIX_CURRENCY_RE}) ?)?(?P<num>{NUMBER_RE})"
    rf"(?:(?P<k>[кk]){NOT_LETTER_AFTER}| ?(?P<mult>{MULTIPLIER_RE}){NOT_LETTER_AFTER})?"
    rf"(?: ?(?P<cur>{CURRENCY_RE}){NOT_LETTER_AFTER})?"
)


def amount_currency(raw_num: str, mult: str | None, cur: str | None) -> tuple[float, str | None]:
    """Value and ISO code of a price written as number [+ multiplier] [+ currency form]."""
    entry = currency_entry(cur) if cur else None
    iso = entry[0] if entry else None
    # BTC and USDT amounts are small decimals: "0.015" must stay 0.015
    value = parse_number(raw_num, price=iso not in CRYPTO)
    if mult:
        value *= multiplier_of(mult)
    if entry:
        value *= entry[1]
        # Latin "som" is Uzbek so'm by default, but an amount under 10 000 without multiplier is no
        # Uzbek price (10 000 UZS < 1 USD): then it is the Kyrgyz som.
        if iso == "UZS" and not mult and value < 10_000 and form_key(cur.lower()) == "som":
            iso = "KGS"
    return value, iso


_KANA = re.compile(r"[\u3040-\u30ff]")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


def yen_or_yuan(text: str, chinese_source: bool = False) -> str:
    """The currency of "¥": yuan (CNY) in Chinese text (Han characters, no kana) or on a Chinese source, else yen.

    >>> yen_or_yuan("冰毒 1克 ¥500"), yen_or_yuan("1g ¥500"), yen_or_yuan("1g ¥500", chinese_source=True)
    ('CNY', 'JPY', 'CNY')
    """
    if chinese_source or (_HAN.search(text) is not None and _KANA.search(text) is None):
        return "CNY"
    return "JPY"


def find_money(cleaned: str) -> list[Money]:
    """Every amount that names a currency (or carries a multiplier), in text order."""
    low = cleaned.replace("\u0130", "i").lower()  # İ is the one char whose lower() is 2 chars long
    out = []
    for m in _MONEY.finditer(low):
        pcur, cur, mult = m.group("pcur"), m.group("cur"), m.group("k") or m.group("mult")
        if not (pcur or cur or mult):
            continue
        value, iso = amount_currency(m.group("num"), mult, cur or pcur)
        if iso == "JPY" and "¥" in m.group(0):
            iso = yen_or_yuan(cleaned)
        if value > 0 and math.isfinite(value):
            out.append(Money(m.start(), m.end(), value, iso))
    return out
