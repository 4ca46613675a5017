"""SQL access for researchers: the SQLite database in Datasette, read-only, described, with canned queries.

Datasette (optional extra `web`) opens the file with `?mode=ro`: the crawler can keep writing (WAL) while
researchers browse and run SQL, and nothing they do can change it. `metadata()` describes the tables and
adds canned queries; on PostgreSQL there is no Datasette: use `npswatch export` or SQL directly.
"""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

TABLES = {
    "source": "Where posts come from: a web site or a Telegram channel (kind), with its country and currency hints.",
    "post": "One row per post or listing (unique per source and external id). `author` is a keyed pseudonym and "
            "`text` is pseudonymised (handles, phones, wallets replaced) before storage.",
    "post_version": "Earlier texts of edited posts.",
    "substance": "Substances: lexicon entries (origin lexicon), confirmed new names (origin overlay) and "
                 "unconfirmed candidates (key candidate:<name>). `canonical` is the international short name; "
                 "null for a kind of product (salt, spice, hashish).",
    "substance_alias": "Names added in the database by candidate review (the lexicon overlay).",
    "region": "Cities (GeoNames ids) and countries (ISO codes) named in posts.",
    "mention": "A substance named in a post, per region the post names (post x substance x region).",
    "offer": "One price observation: quantity, unit, price and currency, price per gram in local currency and "
             "in USD (rate of the day, when known).",
    "candidate": "Names that look like substances but are not in the lexicon: first/last seen, posts, and review "
                 "status (new, confirmed, dismissed).",
    "signal": "Early-warning signals (new substance, new in region, mention spike, price shift, sales) with "
              "their evidence as JSON.",
    "delivery": "Outbox of digest deliveries: one row per signal and recipient, sent or waiting for a retry.",
    "crawl_run": "Job history: crawls, imports, digests.",
    "checkpoint": "Last Telegram message id read per channel.",
    "fx_rate": "Imported central-bank exchange rates (units per USD).",
    "listing": "Life of a web listing: first/last seen, disappeared, current price and stock.",
    "listing_observation": "Price and stock of a listing at each crawl: stock drops are the raw material of "
                           "sales estimates.",
}

COLUMNS = {
    "offer": {"price_per_gram": "price / grams, in `currency`",
              "price_per_gram_usd": "price per gram converted with the rate of the post's day",
              "observed_at": "when the post was published (UTC), else when it was collected"},
    "post": {"author": "keyed pseudonym (u_...), never the raw handle",
             "text": "pseudonymised text; removed by retention while facts stay"},
    "mention": {"matched": "the name as written in the post"},
}

# SQLite has no median: the canned price query takes the middle row(s) of each group by window functions.
PRICE_TREND = """
with o as (
  select date(o.observed_at, 'weekday 0', '-6 days') as week,
         coalesce(r.name, '(no region)') as city, r.country as country,
         coalesce(s.canonical, s.key) as substance, o.currency as currency,
         o.price_per_gram as v, o.price_per_gram_usd as usd
  from offer o
  join substance s on s.id = o.substance_id
  left join region r on r.id = o.region_id
  where o.price_per_gram is not null
    and (:substance = '' or lower(coalesce(s.canonical, s.key)) = lower(:substance))
    and (:city = '' or lower(r.name) = lower(:city))
), ranked as (
  select *, row_number() over (partition by week, city, country, substance, currency order by v) as rn,
         count(*) over (partition by week, city, country, substance, currency) as n
  from o
)
select week, city, country, substance, currency, n as offers,
       round(avg(v) filter (where rn in ((n + 1) / 2, (n + 2) / 2)), 2) as median_price_per_gram,
       round(avg(usd), 2) as mean_price_per_gram_usd
from ranked
group by week, city, country, substance, currency
order by week desc, offers desc
limit 2000
""".strip()

FIRST_SEEN_BY_CITY = """
select coalesce(s.canonical, s.key) as substance, s.class as class, r.name as city, r.country as country,
       min(m.observed_at) as first_seen, max(m.observed_at) as last_seen, count(distinct m.post_id) as posts
from mention m
join substance s on s.id = m.substance_id
join region r on r.id = m.region_id
where r.level = 'city'
  and (:substance = '' or lower(coalesce(s.canonical, s.key)) = lower(:substance))
group by s.id, r.id
order by first_seen desc
limit 2000
""".strip()

NEW_CANDIDATES = """
select name, class, first_seen, last_seen, posts
from candidate
where status = 'new'
order by first_seen desc
limit 1000
""".strip()

RECENT_SIGNALS = """
select kind, title, substance, class, countries, first_seen, posts, sources, detected_at
from signal
order by detected_at desc, id desc
limit 500
""".strip()


def metadata(db_name: str = "npswatch") -> dict:
    return {
        "title": "npswatch",
        "description": "Online drug-market observations for public-health early warning. Read-only. Texts are "
                       "pseudonymised; counts are of public posts, not of people.",
        "databases": {
            db_name: {
                "tables": {name: {"description": desc, **({"columns": COLUMNS[name]} if name in COLUMNS else {})}
                           for name, desc in TABLES.items()},
                "queries": {
                    "price_trend": {"title": "Price trend",
                                    "description": "Weekly offers and median price per gram by city, substance "
                                                   "and currency. Leave a field empty for all.",
                                    "sql": PRICE_TREND},
                    "first_seen_by_city": {"title": "First seen by city",
                                           "description": "When each substance was first and last named in each "
                                                          "city, newest first.",
                                           "sql": FIRST_SEEN_BY_CITY},
                    "new_candidates": {"title": "New candidates",
                                       "description": "Unreviewed names that look like substances "
                                                      "(npswatch candidates confirm/dismiss).",
                                       "sql": NEW_CANDIDATES},
                    "recent_signals": {"title": "Recent signals", "description": "Early-warning signals, newest first.",
                                       "sql": RECENT_SIGNALS},
                },
            }
        },
    }


class ServeError(RuntimeError):
    """Datasette cannot serve this database; the message says what to do instead."""


def sqlite_path(engine: Engine) -> Path:
    if engine.dialect.name != "sqlite":
        raise ServeError(
            "npswatch serve opens a SQLite database in Datasette; this one is "
            f"{engine.dialect.name}. Use `npswatch export offers|mentions|posts --format parquet` or SQL "
            "directly (psql, or any client on the database URL).")
    db = engine.url.database
    if not db or db == ":memory:" or not Path(db).exists():
        raise ServeError(f"no SQLite database file at {db!r}: run `npswatch db upgrade` and collect something first")
    return Path(db).resolve()


def serve(engine: Engine, host: str = "127.0.0.1", port: int = 8001) -> None:
    """Run Datasette on the database until interrupted."""
    path = sqlite_path(engine)
    try:
        import uvicorn
        from datasette.app import Datasette
    except ImportError:
        raise ServeError("Datasette is not installed: pip install 'npswatch[web]'") from None
    ds = Datasette([str(path)], metadata=metadata(path.stem), settings={"sql_time_limit_ms": 5000,
                                                                        "max_returned_rows": 5000})
    uvicorn.run(ds.app(), host=host, port=port, log_level="warning")
