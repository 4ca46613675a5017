"""Names not in a chemistry book, and what is not a substance of a listing (issue 11, items 3 and 7): medicine
brands, cannabis strains and products, ecstasy stamps, comparisons, form words, strain marks, tabs, and the goods
that are no drugs of our classes. All examples are made up."""
import pytest

from npswatch.pipelines.extract import Extractor
from npswatch.pipelines.substances import SubstanceMatcher
from npswatch.pipelines.text import clean

M = SubstanceMatcher.default()
X = Extractor.default()


def keys(text, pairs=True):
    """The entries the matcher counts, each once, in text order."""
    return list(dict.fromkeys(h.key for h in M.find(clean(text), has_price_pairs=pairs)))


@pytest.mark.parametrize("text, canonical", [
    ("Vyvanse 70mg x 30 caps $150", "lisdexamfetamine"),
    ("Adderall XR 30mg, 10 pills for $60", "amphetamine"),
    ("Tramal 100mg 20 tabs 40 EUR", "tramadol"),
    ("Rohypnol 1mg 10 pills $30", "flunitrazepam"),
    ("Modalert 200mg 10 tablets $20", "modafinil"),
    ("Percocet 10/325 x 20 $200", "oxycodone"),
    ("Nembutal solution 100 ml $350", "pentobarbital"),
])
def test_medicine_brands_are_their_active_substance(text, canonical):
    assert [s.canonical for s in X.extract(text).substances] == [canonical]


@pytest.mark.parametrize("text", [
    "2g Northern Lights $30", "Jack Herer 3.5g $45", "Gelato 1g 15 EUR", "moon rocks 1g $25", "prerolls 5g $50",
    "BHO 1g $30", "Sour Diesel (Sativa) 5g $60", "1g Zkittlez auto 12 EUR", "THC edibles 10 pcs $40",
    "Critical 2g 20 EUR", "Purple Punch 7g $70",
])
def test_cannabis_strains_and_products_are_cannabis(text):
    facts = X.extract(text)
    assert [(s.cls, s.canonical) for s in facts.substances] == [("cannabis", None)]
    assert facts.offers and facts.offers[0].substance.cls == "cannabis"


def test_a_strain_next_to_another_cannabis_product_is_that_products_strain():
    assert keys("Trainwreck wax 1g $40") == ["cannabis-oil"]
    assert keys("OG Kush hash 5g 50 EUR") == ["hashish"]


@pytest.mark.parametrize("text", ["Philipp Plein 250mg x 10 pills $50", "Blue Punisher 270mg 5 pcs 60 EUR",
                                  "Tesla 270mg 25 шт 7500₽"])
def test_ecstasy_pills_by_their_stamp_are_mdma(text):
    assert [s.canonical for s in X.extract(text).substances] == ["MDMA"]


def test_a_stamp_is_a_brand_where_the_brands_goods_are_sold():
    assert keys("Tesla Model 3 charger 1 pcs $350") == []
    assert keys("Rolex watch replica 1 pcs $200") == []
    assert keys("Rolex 10 pills 240mg $50") == ["mdma"]


@pytest.mark.parametrize("text", [
    "Clenbuterol 40mcg 100 tabs $30", "Anavar 10mg 100 tabs $60", "Cialis 20mg 10 tabs $30",
    "Melatonin 10mg 60 tabs $8", "Cheap tabs 10 pcs 30$", "Viagra 100mg, speed delivery, 10 pills $20",
    "Testosterone enanthate 250mg/ml 10ml, tren 10ml - ice pack shipping $90",
])
def test_supplements_steroids_ed_pills_and_bare_tabs_yield_no_substance_and_no_offer(text):
    facts = X.extract(text)
    assert (facts.substances, facts.offers) == ((), ())


@pytest.mark.parametrize("text, expected", [
    ("Pentedrone 1g 20$, same effect as MDMA", ["pentedrone"]),
    ("Better than speed! 4-MMC 5g 60 EUR", ["mephedrone"]),
    ("NEP 1g 30$ - feels like meth", ["nep"]),
    ("3-MMC 1г 2500₽, сильнее чем мефедрон", ["3-mmc"]),
    ("Same effect as oxy, 10 pills $50", []),
])
def test_a_comparison_names_no_substance_and_gets_no_offer(text, expected):
    facts = X.extract(text)
    assert [s.key for s in facts.substances] == expected
    assert all(o.substance.key in expected for o in facts.offers)


@pytest.mark.parametrize("text, expected", [
    ("MDMA VHQ кристаллы 1г 3000₽", ["mdma"]),  # a grade word between the name and its form word
    ("THC snow buds 1g $20", ["thc", "cannabis-herb"]),  # snow after a name is its look, not cocaine
    ("Hash Ice-o-lator 1g 15 EUR", ["hashish"]),  # ice after a name is its form, not methamphetamine
    ("марки нбоме 10 шт 5000₽", ["25i-nbome"]),  # blotters carrying another substance
])
def test_a_form_word_after_a_named_substance_is_that_substances_form(text, expected):
    assert keys(text) == expected


@pytest.mark.parametrize("text", ["Auto Opium buds 1g $10", "LSD feminized seeds 5 pcs 30 EUR",
                                  "шишки 11г (лсд феминиз) 170$"])
def test_a_drug_name_inside_a_strain_name_is_cannabis(text):
    assert {s.cls for s in X.extract(text).substances} == {"cannabis"}
