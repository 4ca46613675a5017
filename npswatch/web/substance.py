"""The substance page and the map of the web app, and the CSV of each of their tables.

The substance page (`/substance`) shows, for a substance or class (and a country, a period): the price trend
chart and table (median and IQR per unit, by city, country or none, in local currency or USD, per unit and
quantity tier: `Watch.trends`), posts and distinct ads per week (`Watch.trends` grouped by nothing), where and
since when it was seen with a map of the cities, its sources and its latest posts (`Watch.substance_profile`).
The map page (`/map`) shows the cities with activity for a substance, a class or everything in a period, sized
by distinct ads (`Watch.places`), on the offline base map (`npswatch.reports.maps`: server-side SVG, no script).

Every table has a CSV twin at `/substance/<table>.csv` or `/map.csv` with the same query string, written from
the same cells as the page (`*_table` below), each text cell made safe for spreadsheets (`csv_safe`). The charts
are drawn in the browser by the vendored uPlot (`static/charts.js`); their data travel as JSON in a `data-chart`
attribute (autoescaped by Jinja), never as inline script, so the Content-Security-Policy allows scripts from the
app only. A chart's numbers are the cells of the table beside it.
"""
from __future__ import annotations

import asyncio
import csv
import io
import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from operator import attrgetter

from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

TREND_COLUMNS = ["period", "group", "unit", "tier", "offers", "currency", "priced", "median", "q1", "q3",
                 "usd_offers", "usd_median", "usd_q1", "usd_q3", "mentions", "ads"]
WEEKLY_COLUMNS = ["period", "posts", "distinct ads", "sources"]
PLACE_COLUMNS = ["place", "country", "first seen", "last seen", "posts", "distinct ads", "sources", "offers"]
SOURCE_COLUMNS = ["source", "kind", "first seen", "last seen", "posts", "distinct ads", "offers"]
POST_COLUMNS = ["seen", "source", "places", "substances", "text"]
UNITS = ("g", "piece", "ml")
TIERS = ("all", "0", "1", "2")  # all sizes, retail, middle, wholesale (bounds: [trends] tiers)
CURRENCIES = ("local", "usd")
FILTER_KEYS = ("substance", "cls", "country", "since", "until")
TABLES = ("trend", "weekly", "places", "sources", "posts")


def _num(v) -> str:
    return "" if v is None else f"{v:.2f}" if isinstance(v, float) else str(v)


def trend_cells(row) -> list[str]:
    """A trend row as the page shows it and the CSV writes it: prices to 2 decimals, empty for none (the period
    as an ISO date). One format call per row (a function call per cell cost 30 ms on a 4,000-row table)."""
    values = _TREND_VALUES(row)
    cells = _TREND_FORMAT.format(*[_BLANK if v is None else v for v in values]).split("\x1f")
    return cells if len(cells) == len(TREND_COLUMNS) else [_num(v) for v in values]


class _Blank:
    def __format__(self, spec: str) -> str:
        return ""


_BLANK = _Blank()
_TREND_VALUES = attrgetter(*TREND_COLUMNS)
_TREND_FORMAT = "\x1f".join("{:.2f}" if c.endswith(("median", "q1", "q3")) else "{}" for c in TREND_COLUMNS)


def rows_html(rows: list[list[str]], numeric_from: int = 99) -> Markup:
    """A table's body rows, each cell escaped (as the template's `{{ v }}`), cells from `numeric_from` on of class
    "num": joined here, as a Jinja loop over a trend table's ~70,000 cells took ~0.1 s. The cells are escaped
    in one call, joined by a control character (one by one should a cell hold it)."""
    flat = [v if isinstance(v, str) else str(v) for r in rows for v in r]
    joined = "\x1f".join(flat)
    if joined.count("\x1f") == len(flat) - 1:
        flat = str(escape(joined)).split("\x1f") if flat else []
    else:
        flat = [str(escape(v)) for v in flat]
    templates: dict[int, str] = {}
    out, i = [], 0
    for r in rows:
        n = len(r)
        tpl = templates.get(n)
        if tpl is None:
            tpl = templates[n] = "<tr>" + "".join('<td class="num">%s</td>' if j >= numeric_from else "<td>%s</td>"
                                                  for j in range(n)) + "</tr>\n"
        out.append(tpl % tuple(flat[i:i + n]))
        i += n
    return Markup("".join(out))


def _epoch(d: date) -> int:
    return int(datetime.combine(d, time(), tzinfo=timezone.utc).timestamp())


@dataclass
class Query:
    """The page's filters and choices, read from the query string (bad values fall back to the defaults)."""

    f: dict
    by: str = "week"
    group: str = "city"
    unit: str = "g"
    tier: str = "all"
    cur: str = "local"
    frame: str = "auto"
    errors: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, request: Request) -> "Query":
        q = request.query_params
        pick = lambda k, allowed, default: q.get(k) if q.get(k) in allowed else default  # noqa: E731
        from npswatch.reports.maps import FRAMES

        return cls({k: (q.get(k) or "").strip() or None for k in FILTER_KEYS},
                   by=pick("by", ("week", "month"), "week"), group=pick("group", ("city", "country", "none"), "city"),
                   unit=pick("unit", UNITS, "g"), tier=pick("tier", TIERS, "all"), cur=pick("cur", CURRENCIES, "local"),
                   frame=pick("frame", tuple(FRAMES) + ("auto",), "auto"))

    @property
    def scoped(self) -> bool:
        return bool(self.f["substance"] or self.f["cls"])


# --- the tables: one function per table, used by the page and its CSV ------------------------------------------
def trend_table(watch, qy: Query) -> tuple[object, list]:
    """(TrendsResult with its `totals` per period, its rows of the chosen unit and tier): one read of the trend
    data for the price table and the posts-per-period table."""
    from npswatch.reports.trends import tier_label

    tiers = qy.tier != "all"
    result = watch.trends(by=qy.by, group=qy.group, tiers=tiers, totals=True, unit=qy.unit,
                          tier=int(qy.tier) if tiers else None, **qy.f)
    want = tier_label(qy.unit, int(qy.tier), watch.settings.trends.tiers) if tiers else "all sizes"
    return result, [r for r in result.rows if r.unit == qy.unit and r.tier == want]


def weekly_cells(result) -> list[list[str]]:
    """Posts, distinct ads and sources per period (whatever the unit: every post naming the scope)."""
    return [[t.period.isoformat(), str(t.mentions), str(t.ads), str(t.sources)] for t in result.totals]


def weekly_table(watch, qy: Query) -> list[list[str]]:
    return weekly_cells(watch.trends(by=qy.by, group="none", totals=True, **qy.f))


def place_cells(places, when) -> list[list[str]]:
    return [[p.place, p.country or "", when(p.first_seen), when(p.last_seen), str(p.posts), str(p.ads),
             str(p.sources), str(p.offers)] for p in places]


def source_cells(sources, when) -> list[list[str]]:
    return [[s.source, s.kind, when(s.first_seen), when(s.last_seen), str(s.posts), str(s.ads), str(s.offers)]
            for s in sources]


def post_cells(posts, when) -> list[list[str]]:
    return [[when(p.seen), p.source, ", ".join(p.places), ", ".join(p.substances), p.text or ""] for p in posts]


# --- the charts' data -----------------------------------------------------------------------------------------
def price_charts(rows: list, cur: str, unit: str) -> list[dict]:
    """One chart per currency (local prices in different currencies are never on one axis; USD is one chart):
    x = the periods, per group the median and the IQR (q1, q3), rounded as the table shows them."""
    usd = cur == "usd"
    cols = ("usd_median", "usd_q1", "usd_q3") if usd else ("median", "q1", "q3")
    values = attrgetter("period", "group", *cols, "usd_offers" if usd else "priced")
    by_currency: dict[str, list[tuple]] = {}  # one pass over the rows: a class's table has thousands
    for r in rows:
        if getattr(r, cols[0]) is not None:
            by_currency.setdefault("USD" if usd else r.currency, []).append(values(r))
    charts = []
    for currency in sorted(by_currency):
        mine = by_currency[currency]
        periods = sorted({v[0] for v in mine})
        at = {p: i for i, p in enumerate(periods)}
        groups: dict[str, dict] = {}
        for period, group, median, q1, q3, n in mine:
            g = groups.get(group)
            if g is None:
                g = groups[group] = {"label": group, **{c: [None] * len(periods) for c in ("median", "q1", "q3", "n")}}
            i = at[period]
            g["median"][i], g["q1"][i], g["q3"][i], g["n"][i] = round(median, 2), round(q1, 2), round(q3, 2), n
        charts.append({"kind": "price", "title": f"{currency} per {unit}", "currency": currency, "unit": unit,
                       "x": [_epoch(p) for p in periods], "series": sorted(groups.values(), key=lambda g: g["label"])})
    return charts


def weekly_chart(cells: list[list[str]], labels: tuple[str, str]) -> dict:
    return {"kind": "count", "title": "", "x": [_epoch(date.fromisoformat(c[0])) for c in cells],
            "series": [{"label": labels[0], "values": [int(c[1]) for c in cells]},
                       {"label": labels[1], "values": [int(c[2]) for c in cells]}]}


def csv_response(columns: list[str], rows: list[list[str]], name: str) -> Response:
    from npswatch.reports.exports import csv_safe

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(columns)
    w.writerows([csv_safe(v) for v in row] for row in rows)
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)[:100]
    return Response(buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{safe}.csv"'})


def routes(watch, *, page, guarded, call, refuse, when, translate) -> list[Route]:
    """The routes of this module. `page`, `guarded`, `call`, `refuse` are the app's helpers (`create_app`);
    `when(request)` gives the request's date formatter (the account's time zone), `translate(request)` its
    language's translator."""

    def name_of(qy: Query) -> str:
        return qy.f["substance"] or qy.f["cls"] or "all"

    async def substance(request: Request) -> Response:
        account, denied = await guarded(request)
        if denied:
            return denied
        from npswatch.pipelines.facts import CLASSES

        qy = Query.of(request)
        ctx = dict(qy=qy, f=qy.f, classes=CLASSES, units=UNITS, query=request.url.query, result=None, error=None,
                   columns=TREND_COLUMNS, rows=[])
        if not qy.scoped:
            return page(request, "substance.html", **ctx)
        fmt = when(request)
        try:
            # the trend and the profile read different tables: side by side, each in a thread of its own
            (result, rows), profile = await asyncio.gather(call(trend_table, watch, qy),
                                                           call(watch.substance_profile, latest=20, **qy.f))
            weekly = weekly_cells(result)
        except ValueError as exc:  # WatchError, and the reports' ScopeError (a name nothing is stored for)
            return page(request, "substance.html", **{**ctx, "error": str(exc)})
        _ = translate(request)
        ctx.update(result=result, rows=[trend_cells(r) for r in rows], profile=profile,
                   charts=[json.dumps(c, ensure_ascii=False) for c in price_charts(rows, qy.cur, qy.unit)],
                   weekly=weekly, weekly_columns=WEEKLY_COLUMNS,
                   weekly_chart=json.dumps(weekly_chart(weekly, (_("posts"), _("distinct ads"))), ensure_ascii=False),
                   places=place_cells(profile.places, fmt), place_columns=PLACE_COLUMNS,
                   sources=source_cells(profile.sources, fmt), source_columns=SOURCE_COLUMNS,
                   posts=post_cells(profile.posts, fmt), post_columns=POST_COLUMNS,
                   map_svg=await call(_map_svg, profile.places, "auto", _("Where seen"), _("{n} distinct ads")))
        return page(request, "substance.html", **ctx)

    async def substance_csv(request: Request) -> Response:
        account, denied = await guarded(request)
        if denied:
            return denied
        table = request.path_params.get("table", "trend")
        if table not in TABLES:
            return refuse(request, 404, "No such table.")
        qy = Query.of(request)
        if not qy.scoped:
            return refuse(request, 400, "Give a substance or a class.")
        fmt = when(request)
        try:
            if table == "trend":
                _result, rows = await call(trend_table, watch, qy)
                columns, cells = TREND_COLUMNS, [trend_cells(r) for r in rows]
                name = f"trend-{name_of(qy)}-{qy.by}-{qy.group}-{qy.unit}"
            elif table == "weekly":
                columns, cells, name = WEEKLY_COLUMNS, await call(weekly_table, watch, qy), f"posts-{name_of(qy)}-{qy.by}"
            else:
                profile = await call(watch.substance_profile, latest=20, parts=(table,), **qy.f)
                columns, cells = {"places": (PLACE_COLUMNS, place_cells(profile.places, fmt)),
                                  "sources": (SOURCE_COLUMNS, source_cells(profile.sources, fmt)),
                                  "posts": (POST_COLUMNS, post_cells(profile.posts, fmt))}[table]
                name = f"{table}-{name_of(qy)}"
        except ValueError as exc:
            return refuse(request, 400, str(exc))
        return csv_response(columns, cells, name)

    async def activity_map(request: Request) -> Response:
        account, denied = await guarded(request)
        if denied:
            return denied
        from npswatch.pipelines.facts import CLASSES
        from npswatch.reports.maps import FRAMES

        qy = Query.of(request)
        _ = translate(request)
        ctx = dict(qy=qy, f=qy.f, classes=CLASSES, frames=("auto",) + tuple(FRAMES), query=request.url.query,
                   error=None, result=None, columns=PLACE_COLUMNS)
        try:
            result = await call(watch.places, **qy.f)
        except ValueError as exc:
            return page(request, "map.html", **{**ctx, "error": str(exc)})
        ctx.update(result=result, places=place_cells(result.places, when(request)),
                   map_svg=await call(_map_svg, result.places, qy.frame, result.title, _("{n} distinct ads")))
        return page(request, "map.html", **ctx)

    async def map_csv(request: Request) -> Response:
        account, denied = await guarded(request)
        if denied:
            return denied
        qy = Query.of(request)
        try:
            result = await call(watch.places, **qy.f)
        except ValueError as exc:
            return refuse(request, 400, str(exc))
        return csv_response(PLACE_COLUMNS, place_cells(result.places, when(request)), f"places-{name_of(qy)}")

    return [
        Route("/substance", substance),
        Route("/substance.csv", substance_csv),  # the trend table (the first CSV link the page had)
        Route("/substance/{table}.csv", substance_csv),
        Route("/map", activity_map),
        Route("/map.csv", map_csv),
    ]


def _map_svg(places: list, frame: str, title: str, legend: str) -> str:
    from npswatch.results import PlacesResult

    return PlacesResult(places, title).svg(frame=frame, title=title, legend=legend)


def warm_map() -> None:
    """Project the base map once (about a second) so that the first map page does not wait for it."""
    from npswatch.reports.maps import base_map

    base_map()
