"""Candidate review: confirm adds the name to the database overlay that the next extraction loads; dismiss hides it."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from npswatch.pipelines.facts import CandidateFact, Facts, OfferFact, RegionFact, SubstanceFact
from npswatch.reports.candidates import ReviewError, confirm, dismiss, list_candidates, load_overlay
from npswatch.watch import Watch
from npswatch.storage import models as m
from npswatch.storage.writer import PostWriter

from helpers import cli, shop_post

NAME = "9F-PX-HEXICA"  # built like a cannabinoid code, made up for the tests


def test_confirmed_candidate_is_recognised_by_the_next_run(review_workdir):
    ctx = Watch(str(review_workdir))
    ctx.writer().write([shop_post("1", f"Новинка {NAME} 1г 5000₽ Москва"),
                        shop_post("2", f"{NAME} 2г 9000₽ Москва", 2)])
    listed = json.loads(cli(review_workdir, "candidates", "list", "--format", "json").stdout)
    assert [(c["name"], c["class"], c["posts"]) for c in listed] == [(NAME, "synthetic_cannabinoid", 2)]

    line = json.dumps({"id": 1, "text": f"{NAME} 1г 5000₽ Москва"}, ensure_ascii=False) + "\n"
    before = json.loads(cli(review_workdir, "extract", input=line).stdout)
    assert [c["name"] for c in before["candidates"]] == [NAME]

    r = cli(review_workdir, "candidates", "confirm", NAME, "--class", "synthetic_cannabinoid")
    assert r.exit_code == 0, r.output
    assert "moved 2 mentions and 2 offers" in r.output

    after = json.loads(cli(review_workdir, "extract", input=line).stdout)  # a new process would see the same
    assert after["candidates"] == []
    assert [(s["canonical"], s["class"]) for s in after["substances"]] == [(NAME, "synthetic_cannabinoid")]
    assert after["offers"][0]["price_per_gram"] == 5000.0

    # the writer of the next run stores it under the overlay substance, with the earlier posts
    Watch(str(review_workdir)).writer().write([shop_post("3", f"{NAME} 1г 5200₽ Москва", 3)])
    eng = ctx.engine
    S, Me, C = m.Substance.__table__, m.Mention.__table__, m.Candidate.__table__
    with eng.connect() as c:
        rows = c.execute(select(S.c.key, S.c.origin, Me.c.post_id).join(Me, Me.c.substance_id == S.c.id)
                         .where(S.c.canonical == NAME)).all()
        cand = c.execute(select(C.c.status, C.c.posts).where(C.c.name == NAME)).one()
    assert {(k, o) for k, o, _ in rows} == {(f"overlay:{NAME.casefold()}", "overlay")}
    assert len(rows) == 3
    assert cand == ("confirmed", 2)  # the third post is a known substance, not a candidate sighting
    assert cli(review_workdir, "candidates", "list", "--format", "json").stdout.strip() == "[]"


def test_confirm_as_alias_of_a_known_substance(review_workdir):
    r = cli(review_workdir, "candidates", "confirm", "зетмяу", "--class", "synthetic_cathinone",
            "--canonical", "mephedrone")
    assert r.exit_code == 0, r.output  # a name nobody listed can be added too
    assert "not a listed candidate" in r.output
    line = json.dumps({"id": 7, "text": "зетмяу 1г 4500₽ Москва"}, ensure_ascii=False) + "\n"
    res = json.loads(cli(review_workdir, "extract", input=line).stdout)
    assert [(s["canonical"], s["matched"]) for s in res["substances"]] == [("mephedrone", "зетмяу")]


def test_dismiss_and_errors(review_workdir):
    Watch(str(review_workdir)).writer().write([shop_post("1", f"{NAME} 1г 5000₽ Москва")])
    r = cli(review_workdir, "candidates", "dismiss", NAME.lower())
    assert r.exit_code == 0, r.output
    assert json.loads(cli(review_workdir, "candidates", "list", "--format", "json").stdout) == []
    dismissed = json.loads(
        cli(review_workdir, "candidates", "list", "--status", "dismissed", "--format", "json").stdout)
    assert [c["name"] for c in dismissed] == [NAME]
    # seeing it again does not bring it back
    Watch(str(review_workdir)).writer().write([shop_post("2", f"{NAME} 2г 9000₽ Москва", 2)])
    assert json.loads(cli(review_workdir, "candidates", "list", "--format", "json").stdout) == []
    r = cli(review_workdir, "candidates", "dismiss", "no-such-name")
    assert r.exit_code == 2 and "no candidate named" in r.output
    r = cli(review_workdir, "candidates", "confirm", NAME, "--class", "not_a_class")
    assert r.exit_code == 2 and "synthetic_cannabinoid" in r.output


def stub_extractor(text, hints, posted_at):
    """Storage-level tests: a candidate and its offer, without the real extractor."""
    cand = SubstanceFact(f"candidate:{NAME.casefold()}", NAME, "synthetic_cannabinoid", NAME)
    city = RegionFact("city", 524901, "Moscow", "RU")
    offer = OfferFact(cand, 1.0, "g", 1.0, 5000.0, "RUB", 5000.0, None, city)
    return Facts(substances=(cand,), offers=(offer,), regions=(city,), candidates=(CandidateFact(NAME, cand.cls),),
                 mention_regions={cand.key: (city,)})


def test_confirm_moves_facts_and_builds_the_overlay(engine, pseudonymiser):
    PostWriter(engine, pseudonymiser, stub_extractor).write([shop_post("1", "x"), shop_post("2", "y", 2)])
    res = confirm(engine, NAME, "synthetic_cannabinoid")
    assert (res.moved_mentions, res.moved_offers, res.was_candidate) == (2, 2, True)
    assert load_overlay(engine) == [{"key": f"overlay:{NAME.casefold()}", "canonical": NAME,
                                     "class": "synthetic_cannabinoid", "aliases": [NAME]}]
    assert [c.status for c in list_candidates(engine, None)] == ["confirmed"]
    again = confirm(engine, NAME, "synthetic_cannabinoid")  # idempotent
    assert again.moved_mentions == 0 and len(load_overlay(engine)[0]["aliases"]) == 1
    with pytest.raises(ReviewError):
        dismiss(engine, "unknown")
