"""Charts with matplotlib: trend lines with IQR bands, and small signal charts.

`trend_figure()` draws one line per series and group (e.g. "mephedrone, Almaty (KZ)") of a trend table: the
median price per unit with its interquartile range as a band, in USD when the rows have USD prices
(comparable across currencies), else in the single local currency; the lower panel shows posts mentioning it.
Prices in different units never share the axis: the unit with most offers is drawn, and named in the title. It returns the
matplotlib `Figure` (a notebook shows it inline); `plot_trends()` writes it to a .png or .svg file.
`signal_png()` draws the series a signal carries in its evidence (weekly posts, weekly median price) as PNG
bytes for the digest.

Figures are made with matplotlib's object API (`matplotlib.figure.Figure`), never through pyplot: no display
is needed, nothing is left open, and the caller's backend (a notebook's inline one, say) is left alone.
"""
from __future__ import annotations

import io
from collections import defaultdict
from datetime import date
from pathlib import Path

from .trends import TrendRow

_MAX_LINES = 8  # more lines than this are unreadable: the groups with most offers are drawn


def _figure(**kw):
    from matplotlib.figure import Figure

    return Figure(**kw)


def plot_trends(rows: list[TrendRow], path: str | Path, title: str = "Price per gram", by: str = "week",
                max_lines: int = _MAX_LINES) -> Path:
    """Draw `rows` (see `trend_figure`) to `path` (.png or .svg); returns the path."""
    path = Path(path)
    if path.suffix.lower() not in (".png", ".svg"):
        raise ValueError(f"plot file must end in .png or .svg, not {path.name!r}")
    fig = trend_figure(rows, title=title, by=by, max_lines=max_lines)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def trend_figure(rows: list[TrendRow], title: str = "Price per gram", by: str = "week",
                 max_lines: int = _MAX_LINES):
    """The trend chart of `rows` (from `npswatch.reports.trends.trends`) as a matplotlib `Figure`."""
    per_unit: dict[str, int] = defaultdict(int)
    for r in rows:
        if r.unit:
            per_unit[r.unit] += r.offers
    unit_drawn = min(per_unit, key=lambda u: (-per_unit[u], u)) if per_unit else None
    mentions_of = {(r.period, r.series, r.group): r.mentions for r in rows}
    rows = [r for r in rows if r.unit == unit_drawn]
    use_usd = any(r.usd_median is not None for r in rows)
    currencies = {r.currency for r in rows if r.median is not None}
    if use_usd:
        unit = "USD"
    elif len(currencies) == 1:
        unit = next(iter(currencies))
    else:
        unit = None  # several local currencies and no rates: prices are not comparable, draw counts only

    by_group: dict[str, list[TrendRow]] = defaultdict(list)
    for r in rows:
        name = ", ".join(dict.fromkeys(x for x in (r.series, r.group) if x != "all"))
        by_group[name if r.tier == "all sizes" else f"{name}, {r.tier}"].append(r)
    weight = {g: sum(r.offers + r.mentions for r in rs) for g, rs in by_group.items()}
    groups = sorted(by_group, key=lambda g: (-weight[g], g))[:max_lines]

    fig = _figure(figsize=(10, 6.5))
    ax, ax2 = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    for g in groups:
        rs = sorted(by_group[g], key=lambda r: r.period)
        xs = [r.period for r in rs]
        if unit:
            med = [(r.usd_median if use_usd else r.median) for r in rs]
            lo = [(r.usd_q1 if use_usd else r.q1) for r in rs]
            hi = [(r.usd_q3 if use_usd else r.q3) for r in rs]
            pts = [(x, m_, a, b) for x, m_, a, b in zip(xs, med, lo, hi) if m_ is not None]
            if pts:
                px, pm, pa, pb = zip(*pts)
                line, = ax.plot(px, pm, marker="o", markersize=3, linewidth=1.5, label=g)
                ax.fill_between(px, pa, pb, color=line.get_color(), alpha=0.15, linewidth=0)
        ax2.plot(xs, [mentions_of[(r.period, r.series, r.group)] for r in rs], linewidth=1, label=g)
    if unit_drawn and f"per {unit_drawn}" not in title:
        title = f"{title} (per {unit_drawn})"
    ax.set_title(title)
    ax.set_ylabel(f"price per {unit_drawn} ({unit}), median and IQR" if unit else "no comparable prices")
    ax.grid(True, alpha=0.3)
    if groups:
        ax.legend(fontsize=8, loc="upper left", ncol=2)
    ax2.set_ylabel("posts")
    ax2.set_xlabel(by)
    ax2.grid(True, alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def signal_png(series: dict, title: str, highlight_last: bool = True) -> bytes:
    """A small PNG chart of a signal's series ({"label", "x": [iso dates], "y": [...]})."""
    xs = [date.fromisoformat(x) for x in series["x"]]
    ys = series["y"]
    fig = _figure(figsize=(5.2, 2.2))
    ax = fig.subplots()
    if "price" in series.get("label", ""):
        ax.plot(xs, ys, marker="o", markersize=3, color="#1f77b4")
        if highlight_last and xs:
            ax.plot(xs[-1:], ys[-1:], marker="o", markersize=6, color="#d62728")
    else:
        colors = ["#9aa9bb"] * len(xs)
        if highlight_last and colors:
            colors[-1] = "#d62728"
        ax.bar(xs, ys, width=5, color=colors)
    ax.set_title(title, fontsize=9)
    ax.set_ylabel(series.get("label", ""), fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(True, alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return buf.getvalue()
