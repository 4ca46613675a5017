"""Digests: the signals of a period grouped by kind and class, as HTML, Markdown or JSON.

The period's sales estimated from stock drops (reports/sales.py), where listings show their stock, follow the
signals as a table per substance, with the method stated.

Each signal carries what an alert system expects: what (substance, class, title), where (countries,
cities), when (first and last seen, the period), how many posts and sources, the price, and the evidence
(example snippets of pseudonymised posts, links).

HTML is self-contained (charts are inline base64 PNGs; for e-mail they become `cid:` parts) and rendered by
Jinja2 with autoescaping: scraped text can never inject markup or script, and only http(s) links are
made clickable. Markdown escapes HTML-special characters in scraped text for the same reason.
"""
from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from .sales import METHOD as SALES_METHOD
from .signals import KIND_TITLES, KINDS, Signal

TEMPLATE = Path(__file__).with_name("digest.html")
FORMATS = ("html", "md", "json")
_MAX_CHARTS = 24  # charts are the heavy part of a digest


@dataclass
class Digest:
    since: datetime
    until: datetime
    signals: list[Signal]
    generated_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    title: str = "npswatch early-warning digest"
    notes: list[str] = field(default_factory=list)  # about collection: "login expired for SITE"
    sales: list = field(default_factory=list)  # reports.sales.SalesRow per substance (and currency) of the period

    def groups(self) -> list[tuple[str, str, list[tuple[str, list[Signal]]]]]:
        """[(kind, heading, [(class, signals)])] in the order of KINDS, classes alphabetical."""
        out = []
        for kind in KINDS:
            of_kind = [s for s in self.signals if s.kind == kind]
            if not of_kind:
                continue
            classes = sorted({s.cls for s in of_kind})
            out.append((kind, KIND_TITLES[kind], [(c, [s for s in of_kind if s.cls == c]) for c in classes]))
        return out

    def counts(self) -> dict[str, int]:
        return {kind: n for kind in KINDS if (n := sum(1 for s in self.signals if s.kind == kind))}


def _counts(s) -> str:
    ads = s.evidence.get("ads")
    return f"{s.posts} posts ({ads} distinct ads) from {s.sources} sources" if ads is not None else \
        f"{s.posts} posts from {s.sources} sources"


def signal_record(s: Signal) -> dict:
    """One signal as the JSON digest and the webhook carry it."""
    ev = s.evidence or {}
    return {
        "id": s.id,
        "key": s.key,
        "kind": s.kind,
        "title": s.title,
        "substance": s.substance,
        "class": s.cls,
        "countries": s.countries,
        "cities": ev.get("cities", []),
        "first_seen": s.first_seen.isoformat() if s.first_seen else None,
        "last_seen": s.last_seen.isoformat() if s.last_seen else None,
        "period": {"start": s.period_start.isoformat() if s.period_start else None,
                   "end": s.period_end.isoformat() if s.period_end else None},
        "posts": s.posts,
        "ads": ev.get("ads"),
        "sources": s.sources,
        "value": s.value,
        "baseline": s.baseline,
        "score": s.score,
        "price": ev.get("price"),
        "sales": ev.get("sales"),
        "candidate": ev.get("candidate", False),
        "evidence": {"examples": ev.get("examples", []), "links": ev.get("links", []),
                     "series": ev.get("series")},
    }


def to_json(d: Digest) -> str:
    return json.dumps({
        "title": d.title,
        "generated_at": d.generated_at.isoformat(),
        "period": {"since": d.since.isoformat(), "until": d.until.isoformat()},
        "counts": d.counts(),
        "notes": list(d.notes),
        "signals": [signal_record(s) for s in d.signals],
        "sales": {"method": SALES_METHOD, "rows": [r.to_dict() for r in d.sales]},
    }, ensure_ascii=False, indent=2, default=str)


def _number(x: float | None, digits: int = 0) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


def sales_lines(d: Digest) -> list[tuple[str, str, str, str, str, str]]:
    """The sales table as text cells: substance, listings, drops, units, grams, money (with its currency)."""
    return [(r.key, str(r.listings), str(r.drops), str(r.units), _number(r.grams, 1),
             f"{_number(r.money, 2)} {r.currency or ''}".rstrip() + (f" (+{r.unpriced_units} units unpriced)"
                                                                    if r.unpriced_units else ""))
            for r in d.sales]


def _md_escape(text: str) -> str:
    return html.escape(text, quote=False).replace("|", "\\|").replace("`", "\\`").replace("[", "\\[").replace("]", "\\]")


def to_markdown(d: Digest) -> str:
    lines = [f"# {d.title}", "",
             f"Period {d.since:%Y-%m-%d %H:%M} to {d.until:%Y-%m-%d %H:%M} UTC; generated {d.generated_at:%Y-%m-%d %H:%M} UTC.",
             ""]
    for note in d.notes:
        lines.append(f"**Collection:** {_md_escape(note)}")
    if d.notes:
        lines.append("")
    if not d.signals:
        lines.append("No signals in this period.")
    for _, heading, by_class in d.groups():
        lines += [f"## {heading}", ""]
        for cls, signals in by_class:
            lines += [f"### {cls.replace('_', ' ')}", ""]
            for s in signals:
                r = signal_record(s)
                where = ", ".join(r["cities"][:5]) or ", ".join(r["countries"]) or "no region named"
                lines.append(f"- **{_md_escape(s.title)}**")
                lines.append(f"  - where: {_md_escape(where)}; first seen {_day(s.first_seen)}, last seen "
                             f"{_day(s.last_seen)}; {_counts(s)}")
                if r["price"]:
                    lines.append(f"  - price: {_price_text(r['price'])}")
                for ex in r["evidence"]["examples"]:
                    link = f" <{ex['url']}>" if _safe_url(ex.get("url")) else ""
                    lines.append(f"  - > {_md_escape(ex['text'])} ({_md_escape(ex['source'] or '')}, "
                                 f"{(ex['observed_at'] or '')[:10]}){link}")
            lines.append("")
    if d.sales:
        lines += ["## Sales from stock drops", "", f"Method: {SALES_METHOD}.", "",
                  "| substance | listings | drops | units | grams | money |", "|---|---:|---:|---:|---:|---:|"]
        lines += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in sales_lines(d)]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _day(d: datetime | None) -> str:
    return f"{d:%Y-%m-%d}" if d else "-"


def _price_text(p: dict | None) -> str:
    if not p or p.get("median") is None:
        return ""
    txt = f"median {p['median']:,.0f} {p.get('currency') or ''}/g".replace(" /g", "/g")
    if p.get("baseline_median") is not None:
        txt += f" (before: {p['baseline_median']:,.0f})"
    if p.get("usd_median") is not None:
        txt += f", {p['usd_median']:,.2f} USD/g"
    return txt


def _safe_url(url: str | None) -> str | None:
    """Only http(s) links become clickable: a scraped `javascript:` URL stays text."""
    if not url:
        return None
    try:
        return url if urlsplit(url).scheme in ("http", "https") else None
    except ValueError:
        return None


@lru_cache(maxsize=1)
def _environment():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(loader=FileSystemLoader(str(TEMPLATE.parent)), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["day"] = _day
    env.filters["price"] = _price_text
    env.filters["safe_url"] = _safe_url
    return env


def charts(d: Digest, cache: dict[int | str, bytes] | None = None) -> dict[str, bytes]:
    """PNG per signal that has a series in its evidence, keyed by signal key (at most _MAX_CHARTS)."""
    from .plots import signal_png

    out: dict[str, bytes] = {}
    for s in d.signals:
        series = (s.evidence or {}).get("series")
        if not series or len(out) >= _MAX_CHARTS:
            continue
        if cache is not None and s.key in cache:
            out[s.key] = cache[s.key]
            continue
        where = f" in {s.evidence['cities'][0]}" if s.kind == "price_shift" and s.evidence.get("cities") else ""
        png = signal_png(series, f"{s.substance}{where}: {series.get('label', '')}")
        out[s.key] = png
        if cache is not None:
            cache[s.key] = png
    return out


def to_html(d: Digest, images: dict[str, bytes] | None = None, cids: dict[str, str] | None = None) -> str:
    """The HTML digest. Charts are inline data: URIs, or `cid:` references when `cids` maps keys to ids."""
    images = charts(d) if images is None else images
    if cids is not None:
        src = {k: f"cid:{cid}" for k, cid in cids.items()}
    else:
        src = {k: "data:image/png;base64," + base64.b64encode(png).decode("ascii") for k, png in images.items()}
    return _environment().get_template(TEMPLATE.name).render(
        d=d, groups=d.groups(), counts=d.counts(), records={s.key: signal_record(s) for s in d.signals},
        chart_src=src, kind_titles=KIND_TITLES, sales=sales_lines(d), sales_method=SALES_METHOD)


def render(d: Digest, fmt: str) -> str:
    if fmt == "html":
        return to_html(d)
    if fmt == "md":
        return to_markdown(d)
    if fmt == "json":
        return to_json(d)
    raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
