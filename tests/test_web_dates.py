"""Listing dates: relative and localised strings parsed with the site's language hints, bounded and cached."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from npswatch.crawlers.spiders import fields as ex
from npswatch.crawlers.spiders.fields import parse_posted

BASE = datetime(2026, 6, 30, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("text, languages, tz, expected", [
    ("вчера в 15:30", ("ru",), "UTC", "2026-06-29T15:30"),
    ("сегодня, 09:05", ("ru",), "UTC", "2026-06-30T09:05"),
    ("3 дня назад", ("ru",), "UTC", "2026-06-27T12:00"),
    ("2 hours ago", ("en",), "UTC", "2026-06-30T10:00"),
    ("14 мая 2026", ("ru",), "UTC", "2026-05-14T00:00"),
    ("5 июня", ("ru",), "UTC", "2026-06-05T00:00"),  # no year: the last 5 June before the page date
    ("01.06.2026 23:30", ("ru",), "Asia/Bishkek", "2026-06-01T17:30"),  # local time of the site, stored as UTC
    ("2026-06-01T08:00", ("en",), "UTC", "2026-06-01T08:00"),
])
def test_dates_parse_with_language_and_time_zone_hints(text, languages, tz, expected):
    got = parse_posted(text, languages, tz=tz, base=BASE)
    assert got is not None and got.tzinfo is not None
    assert got.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M") == expected


def test_month_first_sites_say_so():
    assert parse_posted("06/05/2026", ("en",), order="MDY", base=BASE).date().isoformat() == "2026-06-05"
    assert parse_posted("06/05/2026", ("en",), order="DMY", base=BASE).date().isoformat() == "2026-05-06"


@pytest.mark.parametrize("junk", [
    "",
    "цена договорная",
    "1719000000",  # a bare number is not read as a timestamp
    "31.02.2026",  # no such day
    "1 " * 40,  # a selector that took a whole block, not a date
    "Опубликовано " + "очень " * 200 + "давно",
])
def test_things_that_are_not_dates_give_none(junk):
    assert parse_posted(junk, ("ru", "en"), base=BASE) is None


def test_common_forms_skip_dateparser_and_the_rest_is_cached(monkeypatch):
    calls = []
    real = ex._date_parser

    def counting(*args):
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(ex, "_date_parser", counting)
    ex._parse_with_dateparser.cache_clear()
    for _ in range(3):
        assert parse_posted("12.03.2026", ("ru",), base=BASE) is not None
        assert parse_posted("вчера в 10:00", ("ru",), base=BASE) is not None
        assert parse_posted("на прошлой неделе", ("ru",), base=BASE) is not None
    assert len(calls) == 1  # only the rare form, and only once: the cache answers the rest


@pytest.mark.parametrize("text", ["вчера в 15:30", "сегодня", "позавчера, 10:00", "2 дня назад", "5 часов назад",
                                  "15 минут назад", "2 недели назад", "29 июня, 08:48", "1 января 2026 г. в 10:00",
                                  "12 янв. 2026", "31 декабря", "yesterday at 14:00", "3 hours ago",
                                  "May 12, 2026 at 14:05", "12 May 2026"])
@pytest.mark.parametrize("tz", ["UTC", "Asia/Almaty"])
def test_the_fast_path_agrees_with_dateparser(text, tz):
    fast = ex._worded_date(text, ("ru", "en"), tz, BASE)
    assert fast is not None and fast == ex._parse_with_dateparser(text, ("ru", "en"), tz, "DMY", BASE)
