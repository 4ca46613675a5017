"""Scoring extraction output against labelled lines (`npswatch eval`).

The rules are those of the team's shared scorer (DESIGN.md, `shared/eval/score.py`): names compared
case- and punctuation-insensitively (α = alpha); a class-only substance is dropped when a specific one of
the same class is present; an offer matches on class, canonical (when both have one), unit, currency,
quantity within 1% and price within 0.5%; a city matches on geonameid, a country on its code; a gold
field that is null is not scored; a candidate named like a gold substance counts as finding it.
"""
from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

FIELDS = ("substances", "offers", "regions")


def key(name: str | None) -> str | None:
    if not name:
        return None
    s = unicodedata.normalize("NFKC", name).lower().replace("α", "alpha")
    return "".join(ch for ch in s if ch.isalnum())


def collapse(items: list[dict]) -> list[dict]:
    specific = {i["class"] for i in items if i.get("canonical")}
    return [i for i in items if i.get("canonical") or i["class"] not in specific]


def sub_match(p: dict, g: dict) -> bool:
    return p["class"] == g["class"] and (g.get("canonical") is None or key(p.get("canonical")) == key(g["canonical"]))


def offer_match(p: dict, g: dict) -> bool:
    if p.get("class") != g["class"]:
        return False
    if g.get("canonical") and p.get("canonical") and key(p["canonical"]) != key(g["canonical"]):
        return False
    if (p.get("unit") or "").lower() != g["unit"] or (p.get("currency") or "").upper() != g["currency"]:
        return False
    try:
        return (abs(float(p["quantity"]) - g["quantity"]) <= 0.01 * g["quantity"]
                and abs(float(p["price"]) - g["price"]) <= 0.005 * g["price"])
    except (TypeError, ValueError, KeyError):
        return False


def region_match(p: dict, g: dict) -> bool:
    if g["level"] == "city":
        return str(p.get("geonameid")) == str(g["geonameid"])
    return p.get("level") == "country" and (p.get("country") or "").upper() == g["country"]


def greedy(preds: list, golds: list, match: Callable[[dict, dict], bool]) -> tuple[int, int, int]:
    used: set[int] = set()
    tp = 0
    for g in golds:
        for i, p in enumerate(preds):
            if i not in used and match(p, g):
                used.add(i)
                tp += 1
                break
    return tp, len(preds) - tp, len(golds) - tp


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


@dataclass
class Score:
    totals: dict[str, list[int]] = field(default_factory=lambda: {f: [0, 0, 0] for f in FIELDS})
    misses: list[str] = field(default_factory=list)
    cand_hit: int = 0
    cand_all: int = 0
    cases: int = 0

    def f1(self, fld: str) -> float:
        return prf(*self.totals[fld])[2]

    def rows(self) -> list[tuple[str, float, float, float, int, int, int]]:
        return [(f, *prf(*self.totals[f]), *self.totals[f]) for f in FIELDS]


def score(cases: Iterable[dict[str, Any]], predictions: dict[Any, dict[str, Any]]) -> Score:
    s = Score()
    for case in cases:
        s.cases += 1
        cid, g = case["id"], case["gold"]
        p = predictions.get(cid, {})
        psubs = collapse([x for x in p.get("substances", []) if x.get("class")])
        for c in p.get("candidates", []):
            name = c.get("name") if isinstance(c, dict) else c
            for gs in g.get("substances") or []:
                if gs.get("canonical") and key(name) == key(gs["canonical"]) and not any(sub_match(x, gs) for x in psubs):
                    psubs.append({"class": gs["class"], "canonical": gs["canonical"]})
        parts = {
            "substances": (psubs, collapse(g["substances"]) if g.get("substances") is not None else None, sub_match),
            "offers": (p.get("offers", []), g.get("offers"), offer_match),
            "regions": (p.get("regions", []), g.get("regions"), region_match),
        }
        for fld, (ps, gs, match) in parts.items():
            if gs is None:
                continue
            tp, fp, fn = greedy(ps, gs, match)
            t = s.totals[fld]
            t[0] += tp
            t[1] += fp
            t[2] += fn
            if fp or fn:
                s.misses.append(f"{cid} {fld}: +{fp} -{fn}")
        for name in g.get("candidates") or []:
            s.cand_all += 1
            s.cand_hit += any(key(name) == key(c.get("name") if isinstance(c, dict) else c) for c in p.get("candidates", [])) \
                or any(key(x.get("canonical")) == key(name) for x in p.get("substances", []))
    return s
