"""Data tables of the fixture market: cities, currencies, substances, spellings, templates, negatives.

Everything here is invented for tests: shop names, handles and phone numbers are obviously synthetic,
prices are plausible orders of magnitude only. The generator (`generator.py`) draws from these tables
with a seeded RNG, so editing a table changes the market but keeps it deterministic.

>>> CITIES["almaty"].country, CITIES["almaty"].currency
('KZ', 'KZT')
>>> format_price(350000, "UZS", 0)
'350 тыс сум'
>>> obfuscate("меф", "dotted")
'М.Е.Ф.'
"""
from __future__ import annotations

from dataclasses import dataclass, field

# --- cities ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class City:
    name: str  # English (GeoNames) name: the ground-truth value
    country: str  # ISO 3166-1 alpha-2
    currency: str  # ISO 4217 of the local market
    ru: str  # Russian nominative, as on the sites' city fields
    ru_loc: str  # Russian prepositional ("в Москве"), used in some free-text templates
    local: str  # Latin or local-language spelling used in en/uz/kk templates


CITIES: dict[str, City] = {
    c.name.lower().replace(" ", "_"): c
    for c in (
        City("Moscow", "RU", "RUB", "Москва", "Москве", "Moscow"),
        City("Saint Petersburg", "RU", "RUB", "Санкт-Петербург", "Санкт-Петербурге", "Saint Petersburg"),
        City("Novosibirsk", "RU", "RUB", "Новосибирск", "Новосибирске", "Novosibirsk"),
        City("Yekaterinburg", "RU", "RUB", "Екатеринбург", "Екатеринбурге", "Yekaterinburg"),
        City("Almaty", "KZ", "KZT", "Алматы", "Алматы", "Алматы"),
        City("Astana", "KZ", "KZT", "Астана", "Астане", "Астана"),
        City("Karaganda", "KZ", "KZT", "Караганда", "Караганде", "Қарағанды"),
        City("Bishkek", "KG", "KGS", "Бишкек", "Бишкеке", "Bishkek"),
        City("Osh", "KG", "KGS", "Ош", "Оше", "Osh"),
        City("Tashkent", "UZ", "UZS", "Ташкент", "Ташкенте", "Toshkent"),
        City("Samarkand", "UZ", "UZS", "Самарканд", "Самарканде", "Samarqand"),
        City("Dushanbe", "TJ", "TJS", "Душанбе", "Душанбе", "Dushanbe"),
        City("Minsk", "BY", "BYN", "Минск", "Минске", "Minsk"),
        City("Tbilisi", "GE", "USD", "Тбилиси", "Тбилиси", "Tbilisi"),  # dollar prices are common there
    )
}

# Which cities each site serves (a site's market is regional, like real ones).
SITE_CITIES: dict[str, tuple[str, ...]] = {
    "shop": ("moscow", "saint_petersburg", "novosibirsk", "yekaterinburg", "almaty", "astana", "minsk"),
    "forum": ("moscow", "novosibirsk", "almaty", "astana", "karaganda", "bishkek", "tbilisi", "minsk"),
    "board": ("bishkek", "osh", "tashkent", "samarkand", "tashkent", "dushanbe", "almaty", "tbilisi"),
}

# Languages of posts, with weights, by the listing's country ("*": any other); site chrome is always
# Russian. A site only uses the languages listed for it.
LANGUAGES_BY_COUNTRY: dict[str, tuple[tuple[str, int], ...]] = {
    "UZ": (("uz", 6), ("ru", 3), ("en", 1)),
    "KZ": (("ru", 6), ("kk", 3), ("en", 1)),
    "*": (("ru", 8), ("en", 2)),
}
SITE_LANGUAGES: dict[str, frozenset[str]] = {
    "shop": frozenset({"ru", "kk"}),
    "forum": frozenset({"ru", "en", "kk"}),
    "board": frozenset({"ru", "uz", "en"}),
}

# --- currencies -----------------------------------------------------------------------------------

# Units of local currency per US dollar (fixed, invented-but-plausible; only magnitudes matter).
RATES: dict[str, float] = {
    "USD": 1.0, "RUB": 90.0, "KZT": 500.0, "KGS": 87.0, "UZS": 12700.0, "TJS": 10.9, "BYN": 3.3,
}
# Prices are rounded to a step that looks natural in each currency.
ROUND_TO: dict[str, int] = {
    "USD": 5, "RUB": 100, "KZT": 500, "KGS": 100, "UZS": 10000, "TJS": 10, "BYN": 5,
}


def _group(n: int, sep: str = " ") -> str:
    return f"{n:,}".replace(",", sep)


# Spellings per currency; the generator picks one by index. "{n}" is the amount with a thousands
# separator, "{k}" the amount in thousands (for "тыс"/"ming" forms), "{r}" the raw digits.
CURRENCY_FORMS: dict[str, tuple[str, ...]] = {
    "RUB": ("{n} ₽", "{r} руб", "{n} р.", "{r}₽"),
    "KZT": ("{n} тг", "{r} тенге", "{n} ₸", "{r}тг"),
    "KGS": ("{n} сом", "{r} сом", "{r} KGS"),
    "UZS": ("{k} тыс сум", "{k} ming so'm", "{n} сум", "{k}k so'm"),
    "TJS": ("{r} сомони", "{r} смн", "{r} TJS"),
    "BYN": ("{r} бел. руб", "{r} BYN", "{r} р. (BYN)"),
    "USD": ("${r}", "{r}$", "{r} USD", "{r} долларов"),
}


def format_price(amount: int, currency: str, form: int) -> str:
    """Render an amount in one of the currency's spellings (form is taken modulo the count)."""
    forms = CURRENCY_FORMS[currency]
    pattern = forms[form % len(forms)]
    if "{k}" in pattern and amount % 1000:
        pattern = forms[2 if currency == "UZS" else 0]  # "тыс" only for round thousands
    return pattern.format(n=_group(amount), r=str(amount), k=_group(amount // 1000))


def format_bare_price(amount: int) -> str:
    """A price with no currency (the site's or city's currency applies)."""
    return _group(amount)


# --- substances -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FixtureSubstance:
    key: str  # ground-truth label: international name, or the product kind when the text names only that
    drug_class: str
    usd_per_unit: float  # street price for one gram (or one piece)
    unit: str  # "g" or "piece"
    names: dict[str, tuple[str, ...]]  # language -> spellings used in text
    emoji: str = ""
    sizes: tuple[float, ...] = (0.5, 1, 2, 3, 5)


SUBSTANCES: dict[str, FixtureSubstance] = {
    s.key: s
    for s in (
        FixtureSubstance("mephedrone", "synthetic_cathinone", 45, "g", {
            "ru": ("мефедрон", "меф", "мяу", "4-MMC"),
            "en": ("mephedrone", "meph", "4-MMC"),
            "uz": ("mefedron", "mef"),
            "kk": ("мефедрон", "меф"),
        }, "❄️"),
        FixtureSubstance("alpha-PVP", "synthetic_cathinone", 35, "g", {
            "ru": ("альфа-PVP", "альфа", "α-PVP", "кристалл альфа"),
            "en": ("alpha-PVP", "a-PVP", "flakka"),
            "uz": ("alfa-PVP", "alfa"),
            "kk": ("альфа-PVP", "альфа"),
        }, "💎"),
        FixtureSubstance("salt", "synthetic_cathinone", 30, "g", {
            "ru": ("соль", "соли", "кристаллы соли"),
            "en": ("salt", "salt crystals"),
            "uz": ("tuz kristall", "sol"),
            "kk": ("соль", "тұз кристалл"),
        }, "🧂"),
        FixtureSubstance("spice", "synthetic_cannabinoid", 12, "g", {
            "ru": ("спайс", "микс", "курительная смесь", "химка"),
            "en": ("spice", "herbal mix"),
            "uz": ("spays", "miks"),
            "kk": ("спайс", "микс"),
        }, "🌿"),
        FixtureSubstance("hashish", "cannabis", 20, "g", {
            "ru": ("гашиш", "гаш", "шоколад"),
            "en": ("hash", "hashish"),
            "uz": ("gashish", "gash"),
            "kk": ("гашиш",),
        }, "🍫"),
        FixtureSubstance("cocaine", "stimulant", 110, "g", {
            "ru": ("кокаин", "кокс", "первый"),
            "en": ("cocaine", "coke"),
            "uz": ("kokain",),
            "kk": ("кокаин",),
        }, "❄️", (0.5, 1, 2)),
        FixtureSubstance("amphetamine", "stimulant", 25, "g", {
            "ru": ("амфетамин", "амф", "фен", "скорость"),
            "en": ("amphetamine", "speed", "amph"),
            "uz": ("amfetamin",),
            "kk": ("амфетамин", "фен"),
        }, "⚡"),
        FixtureSubstance("MDMA", "stimulant", 15, "piece", {
            "ru": ("экстази", "MDMA", "мдма таблетки", "колёса"),
            "en": ("MDMA pills", "ecstasy", "XTC"),
            "uz": ("ekstazi", "MDMA"),
            "kk": ("экстази", "MDMA"),
        }, "💊", (1, 2, 5, 10)),
        FixtureSubstance("heroin", "opioid", 60, "g", {
            "ru": ("героин", "гер", "хмурый"),
            "en": ("heroin", "H"),
            "uz": ("geroin",),
            "kk": ("героин",),
        }, "", (0.5, 1, 2)),
        FixtureSubstance("MDMB-4en-PINACA", "synthetic_cannabinoid", 18, "g", {
            "ru": ("MDMB-4en-PINACA", "4en-пинака"),
            "en": ("MDMB-4en-PINACA", "4en"),
            "uz": ("MDMB-4en-PINACA",),
            "kk": ("MDMB-4en-PINACA",),
        }, "🌿"),
        FixtureSubstance("ADB-BUTINACA", "synthetic_cannabinoid", 18, "g", {
            "ru": ("ADB-BUTINACA", "адб-бутинака"),
            "en": ("ADB-BUTINACA", "ADB-B"),
            "uz": ("ADB-BUTINACA",),
            "kk": ("ADB-BUTINACA",),
        }, "🌿"),
    )
}

# Relative frequency of each substance per site (cathinones and cannabinoids dominate, as in the
# markets the project watches).
SITE_SUBSTANCES: dict[str, tuple[tuple[str, int], ...]] = {
    "shop": (("mephedrone", 6), ("alpha-PVP", 5), ("salt", 4), ("spice", 3), ("hashish", 3), ("cocaine", 2),
             ("amphetamine", 2), ("MDMA", 2), ("MDMB-4en-PINACA", 1), ("ADB-BUTINACA", 1)),
    "forum": (("mephedrone", 4), ("alpha-PVP", 3), ("salt", 3), ("spice", 3), ("hashish", 2), ("cocaine", 1),
              ("amphetamine", 2), ("MDMA", 2), ("heroin", 1)),
    "board": (("spice", 4), ("salt", 4), ("alpha-PVP", 3), ("hashish", 3), ("mephedrone", 2), ("heroin", 2),
              ("MDMB-4en-PINACA", 1), ("ADB-BUTINACA", 1), ("amphetamine", 1)),
}

# --- obfuscation ----------------------------------------------------------------------------------

ZWSP = "\u200b"
# Cyrillic letters with a Latin twin of identical look (and the digit that replaces "о" in "с0ль").
HOMOGLYPHS = {"а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "х": "x", "у": "y", "к": "k"}

OBFUSCATIONS = ("plain", "plain", "plain", "plain", "spaced", "dotted", "homoglyph", "zwsp", "digit")


def obfuscate(name: str, how: str) -> str:
    """Disguise a substance name the way sellers do to dodge keyword filters.

    >>> obfuscate("соль", "digit"), obfuscate("меф", "spaced")
    ('с0ль', 'м е ф')
    >>> obfuscate("меф", "homoglyph") == "мeф", obfuscate("гашиш", "zwsp") == "г" + ZWSP + "ашиш"
    (True, True)
    """
    short = name.isalpha() and len(name) <= 5
    if how == "spaced" and short:
        return " ".join(name)
    if how == "dotted" and short:
        return ".".join(name.upper()) + "."
    if how == "homoglyph":
        for i, ch in enumerate(name):
            if ch in HOMOGLYPHS and i > 0:  # keep the first letter so the word still reads as Cyrillic
                return name[:i] + HOMOGLYPHS[ch] + name[i + 1:]
    if how == "zwsp" and len(name) > 2:
        return name[0] + ZWSP + name[1:]
    if how == "digit" and "о" in name:
        return name.replace("о", "0", 1)
    return name


# --- quantities -----------------------------------------------------------------------------------

QTY_FORMS: dict[str, dict[str, tuple[str, ...]]] = {
    "g": {
        "ru": ("{q} г", "{q}г", "{q} гр", "{q} грамм"),
        "en": ("{q} g", "{q}g", "{q} gram"),
        "uz": ("{q} gr", "{q} gramm", "{q}g"),
        "kk": ("{q} г", "{q} грамм"),
    },
    "piece": {
        "ru": ("{q} таб", "{q} шт", "{q} табл."),
        "en": ("{q} pills", "{q} pcs", "x{q}"),
        "uz": ("{q} dona", "{q} ta"),
        "kk": ("{q} дана", "{q} таб"),
    },
}


def format_qty(q: float, unit: str, lang: str, form: int) -> str:
    """Render a quantity in the language's spelling; Russian and Kazakh alternate decimal comma/point.

    >>> format_qty(0.5, "g", "ru", 0), format_qty(0.5, "g", "ru", 1), format_qty(2, "piece", "en", 0)
    ('0,5 г', '0.5г', '2 pills')
    """
    forms = QTY_FORMS[unit][lang]
    number = f"{q:g}"
    if lang in ("ru", "kk") and form % 2 == 0:
        number = number.replace(".", ",")  # decimal comma, as Russian speakers write it
    return forms[form % len(forms)].format(q=number)


# --- text templates -------------------------------------------------------------------------------
# Fields: {e} emoji + space or "", {name} substance spelling, {qty}, {price}, {city}, {city_loc},
# {vendor}, {phone}, {grade}, {delivery}. Shop descriptions leave out price/qty/city (own fields).

GRADES = {
    "ru": ("кристалл", "высший сорт", "VHQ", "мелкий кристалл", "чистота 98%", "проверенное качество"),
    "en": ("top grade", "VHQ", "lab tested", "fresh batch"),
    "uz": ("yuqori sifat", "toza", "VHQ"),
    "kk": ("жоғары сапа", "таза", "VHQ"),
}
DELIVERY = {
    "ru": ("закладки по всему городу", "мастер-клад", "доставка за 2 часа", "тайники в течение часа",
           "магнит/прикоп"),
    "en": ("stealth drop", "dead drop within an hour", "fast delivery"),
    "uz": ("tez yetkazib berish", "shahar bo'ylab", "bir soatda"),
    "kk": ("жылдам жеткізу", "қала бойынша"),
}

OFFER_TEMPLATES = {
    "ru": (
        "{e}{name} {grade}. {qty} — {price}. {city}, {delivery}.",
        "В наличии {name}: {qty} за {price}. Работаем в {city_loc}, {delivery}.",
        "{name} ({grade}) | {qty} = {price} | {city}",
        "Свежая партия! {e}{name} {qty} {price}, {city}. Пишите {vendor}",
        "{city}: {name}, {qty} — {price}. {delivery}. Оператор {vendor}",
        "{e}{name}\n{qty} - {price}\n{city}\nсвязь {phone}",
    ),
    "en": (
        "{e}{name}, {grade}. {qty} for {price}. {city}, {delivery}.",
        "Fresh batch of {name} in {city}: {qty} — {price}. DM {vendor}",
        "{name} | {qty} {price} | {city} | {delivery}",
    ),
    "uz": (
        "{e}{name} sotiladi: {qty} — {price}. {city}, {delivery}.",
        "{city} bo'ylab {name}, {qty} narxi {price}. Yozing {vendor}",
        "{name} {grade}, {qty} {price}. {city}",
    ),
    "kk": (
        "{e}{name} бар: {qty} — {price}. {city}, {delivery}.",
        "{city} қаласы: {name}, {qty} бағасы {price}. Жазыңыз {vendor}",
    ),
}

# Shop cards: a short title and a description; the price, weight and city have their own fields.
SHOP_TITLES = {
    "ru": ("{e}{Name} {grade}", "{Name} — {grade}", "{e}{Name}"),
    "kk": ("{e}{Name} ({grade})", "{Name}"),
}
SHOP_DESCRIPTIONS = {
    "ru": (
        "{name} {grade}, без примесей. {delivery}.",
        "Проверенный {name}, отзывы в профиле. Отправка в день оплаты, {delivery}.",
        "{e}{name} — {grade}. Фасовка от 0,5, опт обсуждается.",
        "Лучший {name} в городе, {delivery}. Гарантия перезаклада.",
    ),
    "kk": (
        "{name} — {grade}, {delivery}.",
        "Сапалы {name}, тапсырыс 24/7, {delivery}.",
    ),
}
BOARD_TITLES = {
    "ru": ("{e}{Name} {qty}", "Продам {name}", "{Name} — {city}", "{e}{Name}, опт и розница"),
    "en": ("{Name} {qty}", "Selling {name}", "{e}{Name} in {city}"),
    "uz": ("{Name} {qty}", "{Name} sotiladi", "{e}{Name} — {city}"),
}

# --- negatives: ordinary goods whose words overlap drug slang -------------------------------------


@dataclass(frozen=True)
class Negative:
    key: str
    usd: float
    title: dict[str, str]
    text: dict[str, str]  # may use {price}, {city}, {qty}
    sites: tuple[str, ...] = ("board",)
    qty: dict[str, str] = field(default_factory=dict)


NEGATIVES: tuple[Negative, ...] = (
    Negative("table_salt", 0.5,
             {"ru": "Соль поваренная пищевая", "uz": "Osh tuzi, yodlangan", "en": "Table salt, iodised"},
             {"ru": "Соль поваренная йодированная, пачка 1 кг — {price}. Самовывоз, {city}.",
              "uz": "Osh tuzi (yodlangan), 1 kg — {price}. {city}, o'zingiz olib keting.",
              "en": "Plain iodised table salt, 1 kg bag — {price}. Pickup in {city}."}),
    Negative("bath_salt", 6,
             {"ru": "Соль для ванн морская с лавандой", "en": "Bath salt, lavender", "uz": "Vanna uchun tuz"},
             {"ru": "Ароматная соль для ванн, 500 г — {price}. {city}, доставка курьером.",
              "en": "Sea bath salt with lavender oil, 500 g jar — {price}. {city}, courier delivery.",
              "uz": "Vanna uchun dengiz tuzi, 500 g — {price}. {city}."},
             ("board", "forum")),
    Negative("hair_dryer", 25,
             {"ru": "Фен Breezona HD-2000", "uz": "Fen Breezona HD-2000", "en": "Hair dryer Breezona HD-2000"},
             {"ru": "Фен для волос Breezona HD-2000, 1800 Вт, три режима, ионизация. Цена {price}. {city}.",
              "uz": "Soch quritgich (fen) Breezona HD-2000, 1800 Vt. Narxi {price}. {city}.",
              "en": "Breezona HD-2000 hair dryer, 1800 W, barely used. {price}, {city}."}),
    Negative("pine_cones", 4,
             {"ru": "Шишки сосновые для декора", "en": "Pine cones for crafts", "uz": "Qarag'ay qubbalari"},
             {"ru": "Шишки сосновые, мешок 5 кг — {price}. Для поделок и самовара. {city}.",
              "en": "Dry pine cones, 5 kg sack — {price}, great for crafts and kindling. {city}.",
              "uz": "Qarag'ay qubbalari, 5 kg qop — {price}. {city}."}),
    Negative("internet", 12,
             {"ru": "Домашний интернет 100 Мбит/с", "en": "Home internet 100 Mbit/s", "uz": "Uy interneti 100 Mbit/s"},
             {"ru": "Скорость до 100 Мбит/с, подключение бесплатно, {price} в месяц. {city}.",
              "en": "Speed up to 100 Mbit/s, free installation, {price} per month. {city}.",
              "uz": "Tezlik 100 Mbit/s gacha, ulanish bepul, oyiga {price}. {city}."},
             ("board", "forum")),
    Negative("scales", 15,
             {"ru": "Весы ювелирные 0,01 г", "kk": "Зергерлік таразы 0,01 г"},
             {"ru": "Карманные весы, точность 0,01 г, до 200 г. {delivery}.",
              "kk": "Қалта таразысы, дәлдігі 0,01 г. {delivery}."},
             ("shop",)),
    Negative("zip_bags", 3,
             {"ru": "Зип-пакеты 100 шт", "kk": "Зип-пакеттер 100 дана"},
             {"ru": "Пакеты с застёжкой, 4×6 см, 100 шт в упаковке.",
              "kk": "Құлыпты пакеттер, 100 дана."},
             ("shop",)),
)

# Forum talk that is neither an offer nor a negative listing: questions, reviews, moderation.
FORUM_CHATTER = {
    "ru": (
        "Кто знает нормальный сервис по ремонту фенов в {city_loc}? Мой Breezona сдох.",
        "Скорость интернета вечером падает до нуля, провайдер молчит. У кого так же?",
        "Всем привет, я новенький, читаю правила.",
        "Модератор: личные данные и телефоны в теме запрещены, посты удаляются.",
        "Отзыв: всё пришло вовремя, спасибо, продавцу плюс.",
        "Тема для отзывов, флуд не разводим.",
        "Был в {city_loc} на прошлой неделе, погода отличная.",
    ),
    "en": (
        "Anyone else getting slow internet speed in {city} tonight?",
        "Review: package arrived on time, good communication.",
        "New here, reading the rules first.",
    ),
    "kk": (
        "Сәлеметсіздер ме, мен жаңадан келдім.",
        "Пікір: бәрі уақытында келді, рахмет.",
    ),
}
FORUM_THREADS = (
    "Предложения продавцов — Россия",
    "Казахстан и Кыргызстан: объявления",
    "International / English section",
    "Отзывы о закладках",
    "Беларусь и Грузия",
)
FORUM_RANKS = ("Новичок", "Участник", "Продавец", "Проверенный продавец", "Модератор")

SHOP_NAME = "Test Shop Alpha"
FORUM_NAME = "Test Forum Beta"
BOARD_NAME = "Test Board Gamma"


def vendor_handle(n: int) -> str:
    return f"@synthetic_vendor_{n:02d}"


def user_handle(n: int) -> str:
    return f"@test_user_{n:02d}"


def fake_phone(n: int) -> str:
    """Obviously fake phone numbers (the 000 exchange is never assigned)."""
    return f"+7 000 000-00-{n % 100:02d}"
