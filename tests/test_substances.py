"""SubstanceMatcher.find(): what an analyst would check on synthetic posts."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from npswatch.pipelines.substances import SubstanceHit, SubstanceMatcher
from npswatch.pipelines.text import clean

M = SubstanceMatcher.default()


def keys(text, pairs=False, matcher=M):
    return [h.key for h in matcher.find(clean(text), has_price_pairs=pairs)]


def test_default_is_built_once():
    assert SubstanceMatcher.default() is M


def test_hit_carries_span_surface_and_names():
    text = clean("Есть мефедрон, 2 гр")
    [hit] = M.find(text)
    assert isinstance(hit, SubstanceHit)
    assert text[hit.start:hit.end] == hit.matched == "мефедрон"
    assert (hit.key, hit.canonical, hit.cls, hit.ambiguous) == ("mephedrone", "mephedrone", "synthetic_cathinone",
                                                                False)


def test_offsets_survive_characters_whose_lowercase_is_longer():
    text = clean("İİİ Мефедрон")
    [hit] = M.find(text)
    assert text[hit.start:hit.end] == "Мефедрон"


@pytest.mark.parametrize("text, key", [
    ("В Павлодаре у задержанного изъяли пакет мефедрона", "mephedrone"),
    ("Курьера поймали с мефедроном в рюкзаке", "mephedrone"),
    ("торговля спайсом через мессенджер", "spice"),
    ("изъято 300 граммов гашиша", "hashish"),
    ("продажа курительных смесей в подъезде", "spice"),
    ("партия героина из-за границы", "heroin"),
    ("обнаружены следы метадона", "methadone"),
    ("гашика не осталось", "hashish"),
    ("поставки мефа сорвались", "mephedrone"),
])
def test_strong_names_count_in_any_inflected_form_without_market_context(text, key):
    assert keys(text) == [key]


@pytest.mark.parametrize("text, key", [
    ("Соль крупная, 1г 3500", "salt"), ("Скорость 1г 2800", "speed-cathinone"), ("Фен 1г 1900", "amphetamine"),
    ("Лёд 0.5г 6000", "methamphetamine"), ("Шишки 1г 2500", "cannabis-herb"), ("Мука 1г 4200", "mephedrone"),
    ("Марки 1шт 1500", "lsd"), ("Альфа 1г 2600", "alpha-pvp"), ("Микс 1г 3100", "spice"),
    ("Ск 1гр 9000", "speed-cathinone"), ("Тұз 1гр 9000", "salt"), ("Tuz 1 gramm 200 ming", "salt"),
    ("Намак 1 грамм 400 сомонӣ", "salt"), ("Туз 1г 2500 сом", "salt"),
])
def test_ambiguous_words_count_with_price_pairs(text, key):
    assert keys(text, pairs=True) == [key]
    assert keys(text, pairs=False) == []


@pytest.mark.parametrize("context", [
    "Закладки по всему городу", "пишите в бот", "в наличии", "🧂🔥", "оператор на связи",
    "также мефедрон", "есть героин",
])
def test_ambiguous_words_count_with_shop_vocabulary_emoji_or_another_drug(context):
    assert "salt" in keys(f"Соль отличная. {context}")


@pytest.mark.parametrize("text", [
    "Соль поваренная, пачка 1 кг — 45 ₽", "Йодированная соль 1 кг 60 тг", "Морская соль 500 г — 150 ₽",
    "Соль для ванн с лавандой 300 г 450 ₽", "Соли для ванны, набор 3 шт 900 ₽", "Гималайская соль 1 кг 600 ₽",
    "Фен для волос Rowenta, 2200 Вт, 12 000 тг", "Фен Bosch 1 шт 8900 ₽", "Фена для волос хватит на год, 5000 тг",
    "Строительный фен, 2000 Вт, 4500 ₽", "Шишки сосновые, 20 шт 300 ₽", "Еловые шишки для поделок 50 шт 200 ₽",
    "Скорость интернета 200 Мбит/с — 6000 тг", "Скорость загрузки 1 Гб за 10 секунд",
    "Мука пшеничная, мешок 50 кг — 9000 сом", "Мука ржаная 2 кг 180 ₽", "Трава газонная, 1 кг семян 700 ₽",
    "Альфа-Банк: кредит 300 000 ₽ на 5 лет", "Кока-Кола 1 л 120 ₽", "Почтовые марки СССР, 10 шт 500 ₽",
    "Лимонная кислота 100 г 40 ₽", "Бизнес-план кофейни, 15 000 ₽", "Горький шоколад 100 г 150 ₽",
    "Кедровые шишки, 1 кг 900 ₽", "Сухой лёд для шоу 1 кг 400 ₽",
])
def test_negative_phrases_win_even_with_prices(text):
    assert keys(text, pairs=True) == []


@pytest.mark.parametrize("text", [
    "Соль, сахар, гречка — всё по 100 ₽ за 1 кг",  # groceries
    "Фен 2000 Вт с насадкой, 1 шт 3500 ₽",  # hair care
    "Микс салатов и орехов, 1 кг 900 ₽",
    "Кет свежая рыба, икра, 1 кг 1500 ₽",
    "Скорость 21, велосипед, 25 000 тг",  # a bicycle
    "Трава для кролика и сено, 1 кг 100 ₽",
])
def test_a_word_of_the_ordinary_domain_cancels_weak_evidence(text):
    assert keys(text, pairs=True) == []


def test_strong_shop_cue_overrides_the_domain():
    assert keys("Соль и сахар, закладки, 1г 3000", pairs=True) == ["salt"]


def test_salary_cancels_price_pairs():
    text = "Требуется оператор склада, зарплата 250 000 тг, скорость работы важна"
    assert keys(text, pairs=True) == []
    assert keys("Скорость работы важна, 250 000 тг", pairs=True) == []  # a negative phrase anyway
    assert keys("Скорость 1г 3000", pairs=True) == ["speed-cathinone"]


def test_internet_speed_and_salary_do_not_make_a_post_a_drug_offer():
    assert keys("Скорость 100 Мбит, тариф 5000 тг в месяц", pairs=True) == []
    assert keys("Зарплата 300 000 тг, скорость не важна", pairs=True) == []


def test_leftmost_longest_name_wins():
    [hit] = M.find(clean("а-пвп 1г"))
    assert (hit.matched, hit.key, hit.ambiguous) == ("а-пвп", "alpha-pvp", False)
    [hit] = M.find(clean("5F MDMB PICA 2г"))
    assert hit.canonical == "5F-MDMB-PICA"


def test_word_boundaries():
    assert keys("Москва 1г 3000", pairs=True) == []  # "ск" inside a word
    assert keys("Фенибут 10 таблеток", pairs=True) == ["phenibut"]  # not "фен"
    assert keys("меф1г 4000") == ["mephedrone"]  # a digit right after a name is a boundary
    assert keys("13-MMC") == []  # nor is 3-MMC inside 13-MMC


@pytest.mark.parametrize("text, key", [
    ("冰毒 每克 600元", "methamphetamine"), ("出售K粉 500元", "ketamine"), ("海洛因四号", "heroin"),
    ("摇头丸 一粒 100元", "mdma"), ("大麻 现货", "cannabis-herb"), ("芬太尼", "fentanyl"), ("依托咪酯烟油", "etomidate"),
])
def test_chinese_names_match_without_spaces(text, key):
    assert keys(text)[0] == key


def test_chinese_bath_salt_needs_market_context_and_not_cosmetics():
    assert keys("浴盐 现货 纯度高") == ["salt"]
    assert keys("浴盐 泡澡 精油 50元", pairs=True) == []


def test_other_languages_of_the_region():
    assert keys("Spaysni 1 gramm 300 ming so'mdan", pairs=True) == ["spice"]
    assert keys("Тарёк ва кукнор", pairs=False) == ["opium", "poppy-straw"]
    assert keys("Апиын ұсталды") == ["opium"]
    assert keys("Тұздың бағасы 1 грамм 9000 теңге", pairs=True) == ["salt"]
    assert keys("Mefedron bor, dostavka") == ["mephedrone"]
    assert keys("Marixuana va gashish") == ["cannabis-herb", "hashish"]
    # Turkic and Tajik case endings on the international words
    assert keys("Полиция мефедронды тәркіледі") == ["mephedrone"]
    assert keys("Героинди кармашты") == ["heroin"]
    assert keys("гашишро гирифтанд") == ["hashish"]
    assert keys("tramadolni sotgan") == ["tramadol"]


def test_obfuscated_names_after_clean():
    assert keys("мeфeдpoн 1г") == ["mephedrone"]
    assert keys("г а ш и ш 1г") == ["hashish"]
    assert keys("ɢʜʙ 10ml") == ["ghb"]
    assert keys("с0ль 1г 3000", pairs=True) == ["salt"]


def test_emoji_name_a_substance_only_with_a_strong_cue_and_no_word():
    assert keys("❄️ 1г 9000₽, закладки") == ["cocaine"]
    assert keys("❄️ 1г 9000₽", pairs=True) == []  # prices alone: winter sales use snowflakes too
    assert keys("Мефедрон ❄️ 1г 5000₽, закладки") == ["mephedrone"]  # the word names it, not the snowflake
    assert keys("🍄 в наличии, клады") == ["psilocybin"]


def test_nasvay_is_tobacco_not_a_drug():
    assert keys("Насвай свежий, 1 пачка 200 тг, доставка", pairs=True) == []
    assert keys("Nosvoy 10 ming so'm", pairs=True) == []


def test_crystal_talk_on_its_own_is_the_salt_kind_not_alpha_pvp():
    assert keys("Кристаллы 1г 3000", pairs=True) == ["salt"]
    assert keys("kristall 1 gr 300 ming so'm", pairs=True) == ["salt"]


@pytest.mark.parametrize("text, expected", [
    # a form word attached to a substance name, before or after it, is that substance's form (rule 7)
    ("MDMA кристаллы 1г 3000₽", ["mdma"]),
    ("МДМА кристалл 0.5г - 2500р", ["mdma"]),
    ("кристаллы MDMA 1г 3000₽", ["mdma"]),
    ("MDMA (кристалл) 1г 3000₽", ["mdma"]),
    ("МДМА-кристаллы 1г 3000₽", ["mdma"]),
    ("MDMA: кристаллики 1г 3000₽", ["mdma"]),
    ("Альфа-ПВП кристаллы 1г 3000", ["alpha-pvp"]),
    ("альфа кристалл 1г 3000", ["alpha-pvp"]),  # an ambiguous name that counts is a name too
    ("MDMA kristall 1 gr 300 ming so'm", ["mdma"]),
    ("кристалл мет 1г 3000₽", ["methamphetamine"]),  # a whole alias of its own
    # not attached: a comma, a word or a line break between them lists two products
    ("MDMA, кристаллы 1г 3000₽", ["mdma", "salt"]),
    ("MDMA и кристаллы 1г 3000₽", ["mdma", "salt"]),
    ("MDMA 1г 3000₽\nкристаллы 1г 2500₽", ["mdma", "salt"]),
])
def test_a_form_word_attached_to_a_name_is_no_substance_of_its_own(text, expected):
    assert keys(text, pairs=True) == expected


def test_a_form_word_next_to_a_name_that_does_not_count_still_counts():
    # "фен" (hair dryer here) is no name, so "кристаллы" is not its form; it stays the salt kind with a strong cue
    assert keys("фен для волос кристаллы, закладки") == ["salt"]


@pytest.mark.parametrize("text, expected", [
    # "на скорости" (at speed) is a negative phrase, but after a price word the "на" is "цены на" (prices for)
    ("Цены на скорости: 1г 3000₽", ["speed-cathinone"]),
    ("цена на скорости 0.5г 1700₽", ["speed-cathinone"]),
    ("Прайс на скорости: 1г 3000₽", ["speed-cathinone"]),
    ("прайс-лист на скорости 1г 3000₽", ["speed-cathinone"]),
    ("Ценник на скорости: 1г 3000₽", ["speed-cathinone"]),
    ("ехал на скорости 120 км/ч", []),
    ("на скорости 120 км/ч штраф 5000₽", []),
    ("Расценки на скорости 1г 3000₽", []),  # not a price word of [price_heads]: the negative stays
    # other negatives still cover the name after a price word
    ("Цены на скорость интернета: 1 месяц 500₽", []),
    ("Цены на соль поваренную 1 кг 35₽", []),
])
def test_a_price_word_voids_a_negative_phrase_that_starts_with_its_preposition(text, expected):
    assert keys(text, pairs=True) == expected


def test_overlay_adds_substances_and_aliases():
    m = M.with_overlay([
        {"key": "ch-piata", "canonical": "CH-PIATA", "class": "synthetic_cannabinoid", "aliases": ["CH-PIATA"]},
        {"key": "mephedrone", "aliases": {"ru": ["мефчанский"]}},
    ])
    assert keys("CH PIATA 5г", matcher=m) == ["ch-piata"]
    assert keys("мефчанский 1г", matcher=m) == ["mephedrone"]
    assert m.is_known("ch-piata") and not M.is_known("CH-PIATA")
    assert keys("CH-PIATA 5г") == []  # the default matcher is untouched
    with pytest.raises(ValueError):
        M.with_overlay([{"key": "x", "class": "vitamins", "aliases": ["x"]}])


def test_is_known_ignores_spelling():
    assert M.is_known("α-PVP") and M.is_known("alpha pvp") and M.is_known("5fmdmbpica") and M.is_known("Мефедрон")
    assert not M.is_known("CH-PIATA")


@settings(max_examples=300, deadline=None)
@given(st.text(), st.booleans())
def test_find_never_crashes_and_spans_are_valid(text, pairs):
    cleaned = clean(text)
    hits = M.find(cleaned, has_price_pairs=pairs)
    assert [h.start for h in hits] == sorted(h.start for h in hits)
    for h in hits:
        assert cleaned[h.start:h.end] == h.matched


_drugish = st.sampled_from(["соль", "меф", "фен", "клад", " ", "1г", "3000", "₽", "🧂", "ск", "поваренная", "мука",
                            "冰毒", "α-PVP", "-", "\n", "и", "в"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_drugish, max_size=12), st.booleans())
def test_find_on_drug_word_soup(parts, pairs):
    cleaned = clean("".join(parts))
    for h in M.find(cleaned, has_price_pairs=pairs):
        assert cleaned[h.start:h.end] == h.matched
