"""The real listing pages of ../shared/real/pages as the spider stores them, joined to our hand labels.

The saved pages of two English-language markets (White House Market, Cypher Market) are parsed with the
site definitions in tests/data/real_sites/ through the spider's own callback (`ListingSpider.parse_listing`,
the code path of a crawl), giving (listing id, stored text) pairs. The stored text is the listing's
visible fields one per line in page order (title, stock, price, ships from, ships to), the form the
hand labels in tests/data/real_pages_labels.jsonl were written against.

The pages are read from the shared folder at run time and never copied into the project: it is found as
`<checkout>/../shared/real` (for a git worktree, also next to the main checkout), else under the folder
named by the environment variable NPSWATCH_SHARED. Without it, `shared_real()` is None and the tests skip.

Command line (writes the labelled set in the `npswatch eval` format, texts joined to labels):

    python -m tests.real_pages /tmp/real-pages-eval.jsonl
    npswatch eval /tmp/real-pages-eval.jsonl
"""
from __future__ import annotations

import json
import os
import random
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SITES_DIR = REPO / "tests" / "data" / "real_sites"
LABELS = REPO / "tests" / "data" / "real_pages_labels.jsonl"
MARKETS = ("whitehouse", "cypher")
SEED = 2026
PER_MARKET = 115  # half and half: 230 listings drawn
BASE_URL = "http://127.0.0.1:8000/"  # where an analyst would serve the pages; only joins relative links


def _checkouts() -> list[Path]:
    """This checkout, and the main checkout when this one is a git worktree (its .git is a file)."""
    out = [REPO]
    git = REPO / ".git"
    if git.is_file():
        m = re.match(r"gitdir:\s*(.+)", git.read_text(encoding="utf-8").strip())
        if m:  # <main>/.git/worktrees/<name>
            out.append(Path(m.group(1)).resolve().parents[2])
    return out


def shared_real() -> Path | None:
    """The folder of real market data, or None when it is absent."""
    candidates = [c.parent / "shared" / "real" for c in _checkouts()]
    env = os.environ.get("NPSWATCH_SHARED")
    if env:
        candidates += [Path(env) / "real", Path(env)]
    for c in candidates:
        if (c / "pages").is_dir():
            return c
    return None


def why_absent() -> str:
    return ("real market pages not found: expected ../shared/real/pages next to the checkout, "
            "or NPSWATCH_SHARED pointing at the shared folder")


def page_files(market: str, root: Path) -> list[Path]:
    """The saved pages of `market` in page order (page2 before page10)."""
    def number(p: Path) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", p.stem))
    return sorted((root / "pages" / market).glob("*.html"), key=number)


@lru_cache(maxsize=None)
def site(market: str):
    from npswatch.crawlers.sitedef import load_site

    return load_site(SITES_DIR / f"{market}.toml")


def parse_page(market: str, path: Path) -> list:
    """The RawPosts the spider yields for one saved page, as it would for the page served at BASE_URL."""
    from scrapy.http import HtmlResponse

    from npswatch.crawlers.spiders.listing import ListingSpider
    from npswatch.pipelines.rawpost import RawPost

    spider = ListingSpider(site(market), base_url=BASE_URL)
    response = HtmlResponse(url=BASE_URL + path.name, body=path.read_bytes(), encoding="utf-8")
    return [item for item in spider.parse_listing(response) if isinstance(item, RawPost)]


@dataclass(frozen=True)
class Listing:
    market: str
    id: str  # the spider's external id
    text: str  # the stored text
    page: str  # file name of the first page it appears on

    @property
    def key(self) -> str:
        return f"{self.market}:{self.id}"


@lru_cache(maxsize=None)
def listings(market: str, root: Path) -> tuple[Listing, ...]:
    """Every listing of `market`'s pages, first occurrence kept, in page order."""
    seen: dict[str, Listing] = {}
    for path in page_files(market, root):
        for post in parse_page(market, path):
            seen.setdefault(post.external_id, Listing(market, post.external_id, post.text, path.name))
    return tuple(seen.values())


def draw(root: Path, seed: int = SEED, per_market: int = PER_MARKET) -> list[Listing]:
    """The labelled sample: `per_market` listings of each market drawn with one fixed-seed generator."""
    rng = random.Random(seed)
    out: list[Listing] = []
    for market in MARKETS:
        out += rng.sample(list(listings(market, root)), per_market)
    return out


def load_labels(path: Path = LABELS) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def eval_lines(root: Path, labels: list[dict] | None = None) -> list[dict]:
    """Labels joined to the stored texts: lines of `npswatch eval` (id, text, gold). A missing id raises."""
    labels = load_labels() if labels is None else labels
    texts = {(m, x.id): x.text for m in MARKETS for x in listings(m, root)}
    out = []
    for lab in labels:
        text = texts.get((lab["market"], lab["id"]))
        if text is None:
            raise KeyError(f"labelled listing {lab['market']}:{lab['id']} is not on the saved pages")
        out.append({"id": f"{lab['market']}:{lab['id']}", "text": text, "gold": lab["gold"]})
    return out


def predict(extractor, cases: list[dict]) -> dict:
    """The extractor's output per case id, as `npswatch eval` computes it (posted_at and source hints used)."""
    from datetime import datetime

    from npswatch.pipelines.rawpost import SourceHints

    out = {}
    for c in cases:
        posted = datetime.fromisoformat(c["posted_at"].replace("Z", "+00:00")) if c.get("posted_at") else None
        hints = SourceHints(**c["source"]) if isinstance(c.get("source"), dict) else None
        out[c["id"]] = extractor.extract(c["text"], posted_at=posted, hints=hints).to_json(c["id"])
    return out


def synthetic_negatives(path: Path = REPO / "tests" / "data" / "labelled.jsonl") -> list[dict]:
    """Lines of the synthetic labelled set whose gold names no substance."""
    with open(path, encoding="utf-8") as fh:
        cases = [json.loads(line) for line in fh if line.strip()]
    return [c for c in cases if not c["gold"]["substances"]]


def false_positives(extractor, cases: list[dict]) -> list[str]:
    """On lines that name no drug: one entry per substance (class-only ones collapsed as the scorer does) and
    per offer the extractor claims. Regions are not counted: such lines keep their places."""
    from npswatch.pipelines.scoring import collapse

    found = []
    for cid, facts in predict(extractor, cases).items():
        for s in collapse([s for s in facts["substances"] if s.get("class")]):
            found.append(f"{cid} substance {s.get('canonical') or s['class']}")
        for o in facts["offers"]:
            found.append(f"{cid} offer {o.get('canonical') or o.get('class')} {o.get('quantity')} {o.get('unit')}")
    return found


def write_eval(out_path: Path, root: Path) -> int:
    lines = eval_lines(root)
    with open(out_path, "w", encoding="utf-8") as fh:
        for line in lines:
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
    return len(lines)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.real_pages OUT.jsonl", file=sys.stderr)
        return 2
    root = shared_real()
    if root is None:
        print(why_absent(), file=sys.stderr)
        return 1
    n = write_eval(Path(argv[0]), root)
    print(f"{n} labelled real listings written to {argv[0]}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main(sys.argv[1:]))
