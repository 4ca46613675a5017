"""`npswatch demo` end to end, as a user runs it: a real subprocess, a real loopback server, SQLite."""
from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

EXE = str(Path(sys.executable).with_name("npswatch"))


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("demo")
    (d / "npswatch.toml").write_text('data_dir = "data"\n')
    return d


def run_demo(d: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NPSWATCH_")} | {"COLUMNS": "160"}
    return subprocess.run([EXE, "--config", str(d / "npswatch.toml"), "demo"], cwd=d, env=env,
                          capture_output=True, text=True, timeout=300)


def counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as c:
        return {t: c.execute(f"select count(*) from {t}").fetchone()[0]
                for t in ("source", "post", "offer", "mention", "region", "substance")}


def test_demo_crawls_extracts_and_stores(demo_dir):
    r = run_demo(demo_dir)
    assert r.returncode == 0, r.stderr[-3000:] + r.stdout[-3000:]
    db = demo_dir / "data" / "npswatch.db"
    assert str(db) in r.stdout.replace("\n", "")
    n = counts(db)
    assert n["source"] == 3 and n["post"] > 50
    assert n["offer"] > 50 and n["substance"] >= 5 and n["region"] >= 8
    for label in ("posts", "offers", "substances", "cities", "date span"):
        assert label in r.stdout
    with sqlite3.connect(db) as c:
        cur = {row[0] for row in c.execute("select distinct currency from offer where currency is not null")}
        countries = {row[0] for row in c.execute("select distinct country from region")}
        authors = [row[0] for row in c.execute("select author from post where author is not null")]
    assert len(cur) >= 4 and len(countries) >= 4
    assert authors and all(a.startswith("u_") for a in authors)  # pseudonyms, never raw handles


def test_demo_rerun_adds_nothing_twice(demo_dir):
    db = demo_dir / "data" / "npswatch.db"
    before = counts(db)
    r = run_demo(demo_dir)
    assert r.returncode == 0, r.stderr[-3000:]
    assert counts(db) == before
    assert "0 new posts" in r.stdout


def test_demo_trend_is_one_substance_by_city(demo_dir):
    db = demo_dir / "data" / "npswatch.db"
    if not db.exists():
        assert run_demo(demo_dir).returncode == 0
    r = run_demo(demo_dir)
    title = next(line for line in r.stdout.splitlines() if "by month and city" in line)
    with sqlite3.connect(db) as c:
        names = {n for (n,) in c.execute("select coalesce(canonical, key) from substance")}
    named = [n for n in names if f"Price of {n} per gram" in title]
    assert len(named) == 1, title  # the title says which substance, and there is one
    plots = list((demo_dir / "data" / "reports").glob("trend-*.png"))
    assert plots and any(named[0].replace(" ", "-") in p.name for p in plots)


def readme_block(after: str) -> list[str]:
    """The lines of the first fenced block of README.md after the line containing `after`."""
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    rest = text[text.index(after):]
    start = rest.index("```\n") + 4
    return [line.rstrip() for line in rest[start:rest.index("```", start)].splitlines() if line.strip()]


def test_demo_sells_and_the_readme_sales_table_is_the_demos(demo_dir):
    db = demo_dir / "data" / "npswatch.db"
    if not db.exists():
        assert run_demo(demo_dir).returncode == 0
    with sqlite3.connect(db) as c:
        drops = c.execute("select count(*) from listing_observation where stock_delta < 0").fetchone()[0]
        restocks = c.execute("select count(*) from listing_observation where stock_delta > 0").fetchone()[0]
        crawls = c.execute("select count(distinct observed_at) from listing_observation").fetchone()[0]
    assert crawls == 3 and drops > 5 and restocks >= 1, (crawls, drops, restocks)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NPSWATCH_")} | {"COLUMNS": "160"}
    r = subprocess.run([EXE, "--config", str(demo_dir / "npswatch.toml"), "sales", "--since", "2026-06-01",
                        "--until", "2026-07-01"], cwd=demo_dir, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = [line.rstrip() for line in r.stdout.splitlines()]
    table = lines[lines.index(next(x for x in lines if x.lstrip().startswith("substance"))):]
    table = table[:next(i for i, x in enumerate(table) if not x.strip())]
    assert len(table) > 4 and table == readme_block("The demo's own sales"), "\n".join(table)
    digest = (demo_dir / "data" / "reports" / "digest-demo.html").read_text(encoding="utf-8")
    shown = " ".join(re.sub(r"<[^>]+>", " ", digest[digest.index("Sales from stock drops"):]).split())
    for row in table[2:]:  # the digest's sales section shows the same rows
        assert " ".join(row.split()) in shown, row
