"""No input crashes the extractor, and big or adversarial posts finish in linear time.

The time limits here are hang guards (catastrophic regex backtracking takes minutes or forever on these
inputs), not performance assertions: speed is measured in benchmarks/bench_extract.py.
"""
from __future__ import annotations

import signal
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from npswatch.pipelines.extract import Extractor

X = Extractor.default()
ALPHABET = st.sampled_from(list("меф соль1г 0,5.=-/₽тгсом$€元克\n\t🧂❄️ ᴍ\u200bα-PVPMDMB4enPINACA@+7()"))
texts = st.one_of(st.text(max_size=400), st.lists(ALPHABET, max_size=300).map("".join))


@given(texts)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_never_crashes_and_output_is_sane(text):
    f = X.extract(text)
    for o in f.offers:
        assert o.quantity > 0 and o.price > 0 and o.unit in ("g", "ml", "piece")
        assert (o.grams is None) == (o.unit != "g")
    out = f.to_json("x")
    assert set(out) == {"id", "substances", "offers", "regions", "candidates"}


@contextmanager
def hang_guard(seconds: int):
    def _alarm(*_):
        raise TimeoutError(f"extraction did not finish in {seconds}s: super-linear behaviour")

    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


MB = 1_000_000
ADVERSARIAL = {
    "realistic 1 MB": ("меф 1г - 4500₽, 0,5г 2700р. Алматы. Соль поваренная 1кг 120₽.\n" * 20000)[:MB],
    "digits": "1" * MB,
    "digit groups": "1 " * (MB // 2),
    "quantities": "1г" * (MB // 2),
    "decimals": "0,5." * (MB // 4),
    "spaced letters": "м " * (MB // 2),
    "dotted letters": "М." * (MB // 2),
    "dashes": "-" * MB,
    "code-like": "MDMB-" * (MB // 5),
    "at-signs": "@a" * (MB // 2),
    "emoji": "🧂" * (MB // 4),
    "no spaces": "мефмефмеф" * (MB // 9),
    "price word before a negative": ("Цены на скорости: 1г 3000₽\n" * 40000)[:MB],
    "spaces before a negative": ("цены" + " " * 50 + "на скорости ") * (MB // 66),
    "form words next to names": ("MDMA кристаллы 1г 3000₽ " * 50000)[:MB],
    "form words next to a new name": ("α-PCYP кристалл 1г 5200₽ " * 50000)[:MB],
    "one new name repeated": ("BZO-HEXOXIZID 1г " * 60000)[:MB],
}


@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_big_and_adversarial_posts_finish(name):
    with hang_guard(60):
        X.extract(ADVERSARIAL[name])
