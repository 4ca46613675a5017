"""Units of quantity as shops write them, mapped to the three units of the contract: g, ml, piece.

Mass units convert to grams (mg, kg, oz); micrograms are always a dose (a pill's or blotter's
strength), never a quantity sold. Tables are lower-case; `pipelines.offers` builds its tokenizer
from them.

>>> unit_of("граммов"), unit_of("мг"), unit_of("Kg"), unit_of("шт."), unit_of("мл"), unit_of("克")
(('g', 1.0), ('g', 0.001), ('g', 1000.0), ('piece', 1.0), ('ml', 1.0), ('g', 1.0))
>>> unit_of("мкг") is DOSE, unit_of("банка")
(True, None)
"""
from __future__ import annotations

from .money import form_key, alternation

__all__ = ["UNITS", "WORD_AMOUNTS", "FRACTION_UNITS", "OZ", "LB", "DOSE", "DOSE_FORMS", "unit_of", "SHORT_UNIT_RE", "PIECE_FORMS", "SINGULAR_PIECE_WORDS",
           "CJK_COUNT", "CJK_UNIT_RE"]

DOSE = ("dose", 0.0)

# (unit, factor to that unit, forms). "." in a form is optional. Ordered: first listing wins.
OZ = 28.349523125
LB = 453.59237
UNITS: list[tuple[str, float, tuple[str, ...]]] = [
    ("g", 0.001, ("мг", "mg", "mgs", "мгр", "миллиграмм", "миллиграмма", "миллиграммов")),
    ("g", 1000.0, ("кг", "kg", "кило", "kilo", "kilos", "килограмм", "килограмма", "килограммов", "公斤", "千克")),
    ("g", OZ, ("oz", "ozs", "ounce", "ounces", "унция", "унции", "унций")),
    ("g", LB, ("lb", "lbs", "pound", "pounds", "фунт", "фунта", "фунтов")),
    # QP, HP: a quarter and a half pound
    ("g", LB / 4, ("qp",)),
    ("g", LB / 2, ("hp",)),
    ("g", 1.0, ("г.", "гр.", "грм", "грамм", "грамма", "граммов", "граммы", "грам", "грама", "грамов",
                "g", "gs", "gr.", "grs", "grm", "grms", "gm", "gms", "gram", "grams", "gramm", "gramma", "gramos",
                "克")),
    ("ml", 1.0, ("мл", "ml", "миллилитр", "миллилитра", "миллилитров", "毫升")),
    ("ml", 1000.0, ("литр", "литра", "литров", "litre", "liter")),
    ("ml", 473.176473, ("pint", "pints")),
    # "x" and "×" glued to a count ("100x", "50 x 2mg"); "count" ("100 count")
    ("piece", 1.0, ("шт.", "штук", "штука", "штуки", "штуку", "штучки", "pcs.", "pc.", "piece", "pieces",
                    "pill", "pills", "tab", "tabs", "tablet", "tablets", "blotter", "blotters", "hit", "hits",
                    "bar", "bars", "vial", "vials", "cart", "carts", "cartridge", "cartridges", "capsule",
                    "capsules", "gummies", "edibles", "count", "x", "×",
                    "таб.", "табл.", "таблетка", "таблетки", "таблеток",
                    "таблетку", "марка", "марки", "марок", "марку", "капсула", "капсулы", "капсул",
                    "капсулу", "капс.", "caps", "колес", "колёс", "колеса", "dona", "дона", "дана",
                    "粒", "颗", "片")),
]
# Amounts written as words, in grams: the fractions of an ounce and a pound that cannabis markets sell.
WORD_AMOUNTS: list[tuple[float, tuple[str, ...]]] = [
    (OZ / 8, ("eighth", "an eighth", "one eighth")),
    (OZ / 4, ("quarter", "quarter oz", "quarter ounce", "a quarter")),
    (OZ / 2, ("half oz", "half ounce", "half an ounce", "half an oz", "half o")),
    (LB / 4, ("qp", "quarter pound", "quarter lb", "quarter p")),
    (LB / 2, ("hp", "half pound", "half lb", "half a pound", "half p")),
    (500.0, ("half kilo", "half a kilo", "half kg", "пол кило", "полкило")),
]
# Units a fraction may count ("1/8 oz", "1/2 lb", "1/2g").
FRACTION_UNITS = ("oz", "ounce", "lb", "lbs", "pound", "g", "gram", "kg", "kilo", "oz's")
# Micrograms: a dose, skipped wherever it appears.
DOSE_FORMS = ("мкг", "mcg", "μg", "µg", "ug", "микрограмм", "микрограмма", "микрограммов", "微克")

_BY_KEY: dict[str, tuple[str, float]] = {}
for _u, _f, _forms in UNITS:
    for _x in _forms:
        _BY_KEY.setdefault(form_key(_x), (_u, _f))
for _x in DOSE_FORMS:
    _BY_KEY[form_key(_x)] = DOSE

# Units that may stand without a number after "за", "/", "per", "每" ("4500 за грамм", "500元/克").
SHORT_UNIT_RE = alternation([f for _, _, forms in UNITS for f in forms])

# Piece words seen without a number: a singular one is one piece ("марка 250мкг - 1500р"); any of
# them marks the clause as counting pieces, so a mg figure next to it is a dose ("таблетка 1мг").
SINGULAR_PIECE_WORDS = ("штука", "штуку", "таблетка", "таблетку", "марка", "марку", "капсула", "капсулу",
                        "pill", "tab", "tablet", "capsule", "blotter", "vial")
PIECE_FORMS = SINGULAR_PIECE_WORDS + ("таблетки", "таблеток", "марки", "марок", "капсулы", "капсул", "pills",
                                     "tabs", "колеса", "колёс", "tablets", "capsules", "blotters", "vials", "bars",
                                     "bar", "carts", "hits", "gummies", "edibles")

# Chinese counts glued to a unit: 一克 (one gram), 半克 (half a gram), 两粒 (two pills).
CJK_COUNT = {"一": 1.0, "二": 2.0, "两": 2.0, "三": 3.0, "五": 5.0, "十": 10.0, "半": 0.5}
CJK_UNIT_RE = "(?:克|粒|颗|片)"


_MEMO: dict[str, tuple[str, float] | None] = {}


def unit_of(form: str) -> tuple[str, float] | None:
    """(unit, factor) of a unit word, any case; `DOSE` for micrograms; None if not a unit."""
    try:
        return _MEMO[form]
    except KeyError:
        u = _BY_KEY.get(form_key(form.lower()))
        if len(_MEMO) < 4096:  # matched spellings are finitely many; the cap is a guard
            _MEMO[form] = u
        return u
