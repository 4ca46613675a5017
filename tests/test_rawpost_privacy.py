"""RawPost validation and pseudonymisation."""
from datetime import datetime, timezone

import pytest

from npswatch.pipelines.privacy import Pseudonymiser
from npswatch.pipelines.rawpost import InvalidPost, RawPost


def test_naive_dates_are_utc_and_hints_normalised():
    p = RawPost(source="s", external_id=7, text="x", posted_at=datetime(2026, 1, 2, 3, 4),
                hints={"country": "kz", "currency": "kzt", "language": "RU"})
    assert p.external_id == "7" and p.posted_at.tzinfo == timezone.utc
    assert (p.hints.country, p.hints.currency, p.hints.language) == ("KZ", "KZT", "ru")


@pytest.mark.parametrize("kw,reason", [
    ({"text": ""}, "text is empty"),
    ({"external_id": None}, "external_id is empty"),
    ({"source": " "}, "source is empty"),
    ({"posted_at": "yesterday-ish"}, "posted_at"),
    ({"surprise": 1}, "surprise"),
])
def test_rejections_say_why(kw, reason):
    base = {"source": "s", "external_id": "1", "text": "меф"}
    with pytest.raises(InvalidPost, match=reason):
        RawPost(**(base | kw))


def test_pseudonyms_depend_on_the_key():
    a, b = Pseudonymiser(b"key-a"), Pseudonymiser(b"key-b")
    assert a.handle("@synthetic_vendor_01") == a.handle("Synthetic_Vendor_01")
    assert a.handle("@synthetic_vendor_01") != b.handle("@synthetic_vendor_01")
    assert a.handle(None) is None


@pytest.mark.parametrize("text,secret", [
    ("пишите @synthetic_vendor_02 в лс", "synthetic_vendor_02"),
    ("бот t.me/synthetic_shop_bot", "synthetic_shop_bot"),
    ("тел. +7 000 000-00-02", "000-00-02"),
    ("тел 8 (000) 000 00 03", "00 03"),
    ("+998 00 000 00 04", "000 00 04"),
    ("BTC bc1qsynthetic0000000000000000000000000xyz", "bc1qsynthetic"),
    ("USDT TRC20 TSyntheticAddressXXXXXXXXXXXXXXXXX", "TSyntheticAddress"),
])
def test_scrub_removes_identifiers(text, secret):
    out = Pseudonymiser(b"k").scrub(text)
    assert secret not in out


@pytest.mark.parametrize("text", ["1г - 4500₽", "1 500 000 сум", "0,5г 2700р", "12.05.2026 в 15:30", "8 000 тг"])
def test_scrub_leaves_prices_dates_and_quantities(text):
    assert Pseudonymiser(b"k").scrub(text) == text
