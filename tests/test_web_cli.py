"""The analyst's commands: `npswatch sources list`, `npswatch sources test`, and clear errors from `crawl`.

These run in-process (no reactor: `sources test` fetches with urllib); the crawls themselves are tested
in subprocesses by the other test_web_* files.
"""
from __future__ import annotations

import doctest
import importlib

import pytest
from typer.testing import CliRunner

from npswatch.crawlers.fixture_market import build_market, serve
from npswatch.cli.app import app
from npswatch.cli.common import out as cli_out

runner = CliRunner()

BAD = """\
name = "bad-shop"
start_urls = ["/catalog"]
listing = "div.card"
[fields]
text = "p.desc"
prise = "li.price"
"""

EMPTY = """\
name = "wrong-selectors"
start_urls = ["/shop/catalog"]
listing = "div.no-such-block"
[fields]
text = "p"
"""


@pytest.fixture
def cfg(tmp_path, monkeypatch):
    sites = tmp_path / "sites"
    sites.mkdir()
    (sites / "wrong_selectors.toml").write_text(EMPTY, encoding="utf-8")
    path = tmp_path / "npswatch.toml"
    path.write_text(f'data_dir = "{tmp_path / "data"}"\n[privacy]\nkey = "k-0123456789abcdef0123456789abcdef"\n[web]\nsites_dir = "{sites}"\n'
                    'contact = "ews@example.invalid"\n', encoding="utf-8")
    monkeypatch.setenv("NPSWATCH_CONFIG", str(path))
    monkeypatch.setattr(cli_out, "width", 200)  # wide tables: whole ids and handles in the output
    return {"path": path, "sites": sites}


@pytest.fixture(scope="module")
def market_server():
    market = build_market()
    with serve(market) as srv:
        yield market, srv


def invoke(*args):
    return runner.invoke(app, list(args), terminal_width=200)


def test_sources_list_shows_configured_and_built_in_sites(cfg):
    r = invoke("sources", "list")
    assert r.exit_code == 0, r.output
    for name in ("wrong-selectors", "fixture-shop", "fixture-forum", "fixture-board"):
        assert name in r.output


def test_sources_list_names_a_bad_file_and_its_field(cfg):
    (cfg["sites"] / "bad_shop.toml").write_text(BAD, encoding="utf-8")
    r = invoke("sources", "list")
    assert r.exit_code == 1
    assert "bad_shop.toml" in r.output and "fields.prise" in r.output and "unknown key" in r.output
    assert "fixture-shop" in r.output  # the good ones are still listed


def test_sources_test_shows_the_listings_of_one_page(cfg, market_server):
    market, srv = market_server
    srv.clear_log()
    r = invoke("sources", "test", "fixture_shop", "--base-url", srv.base_url, "--no-extract")
    assert r.exit_code == 0, r.output
    first_page = market.site_listings("shop")[:12]  # newest first, as the catalogue shows them
    for listing in first_page:
        assert listing.external_id in r.output
    assert "12 listing blocks, 12 listings" in r.output
    assert "/shop/catalog?page=2" in r.output  # the pagination it would follow
    assert [e.path for e in srv.log] == ["/robots.txt", "/shop/catalog"]  # one page, politely
    assert all("ews@example.invalid" in e.user_agent for e in srv.log)  # the configured contact


def test_sources_test_shows_what_the_extractor_makes_of_each_listing(cfg, market_server):
    market, srv = market_server
    r = invoke("sources", "test", "fixture_board", "--base-url", srv.base_url, "--details", "2", "--limit", "5")
    assert r.exit_code == 0, r.output
    assert "what the extractor makes of them" in r.output
    assert "13 detail links, 2 fetched" in r.output and "disallowed by" in r.output  # the VIP trap is skipped


def test_sources_test_takes_a_page_url_and_reads_detail_pages(cfg, market_server):
    market, srv = market_server
    ad = market.site_listings("board")[0]
    r = invoke("sources", "test", "fixture_board", srv.base_url + ad.path, "--detail", "--no-extract")
    assert r.exit_code == 0, r.output
    assert ad.path in r.output and ad.vendor in r.output


def test_sources_test_says_when_the_selectors_find_nothing(cfg, market_server):
    _, srv = market_server
    r = invoke("sources", "test", "wrong_selectors", "--base-url", srv.base_url)
    assert r.exit_code == 1 and "listing selector matched nothing" in r.output


def test_sources_test_refuses_pages_robots_txt_disallows(cfg, market_server):
    _, srv = market_server
    r = invoke("sources", "test", "fixture_shop", "/shop/private/wholesale", "--base-url", srv.base_url)
    assert r.exit_code == 2 and "disallowed by" in r.output


def test_crawl_errors_are_one_clear_line(cfg):
    r = invoke("crawl", "no_such_site")
    assert r.exit_code == 2 and "no site 'no_such_site'" in r.output and "fixture-shop" in r.output
    r = invoke("crawl")
    assert r.exit_code == 2 and "--all" in r.output
    (cfg["sites"] / "bad_shop.toml").write_text(BAD, encoding="utf-8")
    r = invoke("crawl", "bad_shop")
    assert r.exit_code == 2 and "fields.prise" in r.output
    r = invoke("crawl", "wrong_selectors")  # relative start URL, no base URL: refused before any run is recorded
    assert r.exit_code == 2 and "--base-url" in r.output


def test_reparse_without_a_database_says_what_to_run(cfg):
    r = invoke("reparse", "fixture_shop")
    assert r.exit_code == 2 and "npswatch db upgrade" in r.output


MODULES = ["npswatch.crawlers.sitedef", "npswatch.crawlers.spiders.fields", "npswatch.crawlers.spiders.listing", "npswatch.crawlers.itempipelines",
           "npswatch.crawlers.storagethread", "npswatch.crawlers.middlewares", "npswatch.crawlers.jobs", "npswatch.crawlers.settings",
           "npswatch.storage.listings", "npswatch.storage.snapshots"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_of_the_web_modules(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
