"""The scrubber's quick tests (issue 15, item 8) skip a pattern only where it cannot match: `scrub` gives exactly what
running every pattern on every text gives, on generated identifier-like texts and on real market texts."""
from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from npswatch.pipelines import privacy
from npswatch.pipelines.privacy import _FOLD, Pseudonymiser, _fold

KEY = b"test-key"
_EVERYWHERE = re.compile("")  # a quick test that always finds something: every pattern runs
_NOWHERE = re.compile("(?!)")  # a shortcut that never applies


@pytest.fixture
def full_path(monkeypatch):
    """`scrub` as it was before the quick tests: every pattern run on every text."""
    ps = Pseudonymiser(KEY)

    def scrub(text: str, region: str | None = None) -> str:
        with monkeypatch.context() as m:
            for name in ("_MAY_EMAIL", "_MAY_WALLET", "_MAY_PHONE"):
                m.setattr(privacy, name, _EVERYWHERE)
            m.setattr(privacy, "_PRIVATE_LINK", _NOWHERE)
            return ps.scrub(text, region)

    return scrub


# Pieces identifiers are made of, in the forms people write them (other scripts' digits, full-width signs,
# exotic spaces and dashes), and the prices and quantities around them.
_PIECES = [
    "+7", "8", "0", "00", "+", "(", ")", " ", "-", "\u2013", "\u00a0", "\u3000", "@", "＠", ".", "/", "_", "#", ",",
    "701", "123", "45", "67", "0555", "996", "1", "9", "12345678", "\uff17\uff10\uff11", "\u0661\u0662\u0663",
    "\U0001d7ce\U0001d7cf", "\u0967\u0968", "bc1q", "BC1Q", "ltc1", "0x", "T", "L", "M", "3", "4", "abcdefghjk",
    "ABCDEFGHJK", "mnpqrstuvwxyz", "9f8e7d6c5b4a", "vendor_01", "shop", ".com", ".ru", "mail", "t.me/", "https://",
    "tel:", "wa.me/", "г", "₽", "грамм", "цена", "\n", "u_", "tel_", "ąbc", "ſ", "K",
]
_texts = st.lists(st.one_of(st.sampled_from(_PIECES), st.text(max_size=6)), max_size=40).map("".join)


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                     HealthCheck.function_scoped_fixture])
@given(text=_texts, region=st.sampled_from([None, "KZ", "KG", "RU", "GE"]))
def test_quick_tests_change_nothing_on_generated_texts(full_path, text, region):
    assert Pseudonymiser(KEY).scrub(text, region) == full_path(text, region)


@settings(max_examples=2000, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(sorted(map(chr, _FOLD)) + list("a1 -@Жж\U0001d7ce")), max_size=30))
def test_folding_is_the_translation_table(text):
    assert _fold(text) == text.translate(_FOLD)


def test_identifiers_are_still_found():
    """What the quick tests must let through, each in one of the forms it is written in."""
    ps = Pseudonymiser(KEY)
    for raw in ("пишите synthetic.vendor@example.com", "btc bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
                "0x52908400098527886E0F7030069857D2E4169EE7 eth", "1BoatSLRHtKNngkdXEeobR76b53LETtpyT",
                "звони \uff18 \uff17\uff10\uff11 123 45 67", "+7 701 123 45 67", "TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE"):
        out = ps.scrub(raw)
        assert out != raw and re.search(r"(email|wallet|tel)_[a-km-np-z]{10}", out), raw


def _real_texts() -> list[str]:
    from real_pages import shared_real

    real = shared_real()
    path = real / "matanga-dev.jsonl" if real is not None else None
    if path is None or not path.exists():
        return []
    return [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_quick_tests_change_nothing_on_real_texts(full_path):
    texts = _real_texts()
    if not texts:
        pytest.skip("real listings not found: expected ../shared/real/matanga-dev.jsonl next to the checkout")
    ps = Pseudonymiser(KEY)
    differ = [t for t in texts if ps.scrub(t, "GE") != full_path(t, "GE")]
    assert not differ, differ[:3]


_LINK_PIECES = ["https://t.me/c/", "t.me/c/", "/", "0", "1", "8", "00", "+7", "996", "12345678", "1500000002",
                "99999999999999999999", "\u0661", "@", "x", " ", "?", "#"]


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.lists(st.sampled_from(_LINK_PIECES), max_size=12).map("".join),
       channel=st.integers(0, 10**20 - 1), message=st.integers(0, 10**20 - 1),
       region=st.sampled_from([None, "KZ", "RU"]))
def test_private_message_links_are_scrubbed_as_every_pattern_would(full_path, text, channel, message, region):
    """A post's `t.me/c/<channel>/<message>` link is returned as it is without running the patterns (every
    post of an import has one): running them all changes nothing in it either; text around it runs them."""
    ps = Pseudonymiser(KEY)
    link = f"https://t.me/c/{channel}/{message}"
    assert ps.scrub(link, region) == full_path(link, region) == link
    assert ps.scrub(text, region) == full_path(text, region)
    assert ps.scrub(link + text, region) == full_path(link + text, region)
