"""A generated market history written straight into storage: for tests, benchmarks and trying reports out.

Months of weekly posts with offers for a few substances in a few cities, with steady prices and volumes
(a "quiet" history), plus any of four planted events in the last week(s):

- `price_shift`: mephedrone in Almaty costs 60 % more over the last `price_window` weeks;
- `spike`: MDMB-4en-PINACA is named in four times its usual number of posts in the last week;
- `new_substance`: an unknown name, 4F-TESTINACA (a candidate), appears in the last week;
- `new_city`: alpha-PVP, known in Kazakhstan, appears for the first time in Karaganda in the last week.

Everything is synthetic: source names end in `.test`, authors are pseudonyms, texts are generated.
Rows are written with SQLAlchemy Core (no extractor): reports are tested on known facts.

>>> h = History(start=datetime(2026, 1, 5, tzinfo=timezone.utc), weeks=26)
>>> h.end
datetime.datetime(2026, 7, 6, 0, 0, tzinfo=datetime.timezone.utc)
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone  # noqa: F401 - the examples above use timezone

from sqlalchemy import Engine, func, select

from npswatch.storage import models as m

# name, geonameid, country, local currency, price factor, Russian spelling used in texts
CITIES = [
    ("Almaty", 1526384, "KZ", "KZT", 1.0, "Алматы"),
    ("Astana", 1526273, "KZ", "KZT", 1.1, "Астана"),
    ("Bishkek", 1528675, "KG", "KGS", 0.9, "Бишкек"),
    ("Osh", 1527534, "KG", "KGS", 0.8, "Ош"),
    ("Moscow", 524901, "RU", "RUB", 1.2, "Москва"),
    ("Novosibirsk", 1496747, "RU", "RUB", 1.0, "Новосибирск"),
]
NEW_CITY = ("Karaganda", 609655, "KZ", "KZT", 1.0, "Караганда")
USD_RATE = {"KZT": 480.0, "KGS": 87.0, "RUB": 92.0}  # units per USD, fixed: synthetic
# key, canonical, class, alias written in texts, price per gram in USD
SUBSTANCES = [
    ("mephedrone", "mephedrone", "synthetic_cathinone", "меф", 40.0),
    ("alpha-pvp", "alpha-PVP", "synthetic_cathinone", "альфа", 30.0),
    ("mdmb-4en-pinaca", "MDMB-4en-PINACA", "synthetic_cannabinoid", "мдмб", 25.0),
    ("hashish", None, "cannabis", "гашиш", 15.0),
    ("amphetamine", "amphetamine", "stimulant", "амф", 20.0),
]
NEW_NAME = "4F-TESTINACA"
SOURCES = [("fixture-shop.test", "web"), ("fixture-board.test", "web"), ("fixture-channel.test", "telegram")]
PLANTS = ("price_shift", "spike", "new_substance", "new_city")


@dataclass
class History:
    start: datetime  # a Monday, UTC
    weeks: int = 26
    posts_per_cell: float = 3.0  # mean posts per substance x city x week
    plants: tuple[str, ...] = ()
    seed: int = 7
    price_window: int = 4  # weeks the planted price shift lasts
    script_text: bool = False  # one planted post carries markup, to test escaping
    counts: dict = field(default_factory=dict)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(weeks=self.weeks)

    @property
    def last_week(self) -> datetime:
        return self.end - timedelta(weeks=1)


def write_history(engine: Engine, h: History) -> History:
    """Write the history; returns it with `counts` of rows written."""
    rng = random.Random(h.seed)
    S, R, P, Me, O, Src, C = (t.__table__ for t in (m.Substance, m.Region, m.Post, m.Mention, m.Offer, m.Source,
                                                    m.Candidate))
    with engine.begin() as c:
        c.execute(Src.insert(), [{"key": k, "kind": kind, "name": k, "created_at": h.start} for k, kind in SOURCES])
        c.execute(S.insert(), [{"key": k, "canonical": can, "class": cls, "origin": "lexicon"}
                               for k, can, cls, _, _ in SUBSTANCES])
        c.execute(R.insert(), [{"key": f"city:{gid}", "level": "city", "geonameid": gid, "name": name, "country": cc}
                               for name, gid, cc, _, _, _ in CITIES + [NEW_CITY]])
        src = {k: i for k, i in c.execute(select(Src.c.key, Src.c.id))}
        sub = {k: i for k, i in c.execute(select(S.c.key, S.c.id))}
        reg = {k: i for k, i in c.execute(select(R.c.geonameid, R.c.id))}
        next_id = (c.execute(select(func.max(P.c.id))).scalar() or 0) + 1

    posts, mentions, offers = [], [], []

    def add(at: datetime, subst: tuple, city: tuple, usd_price: float | None, text_extra: str = "",
            substance_id: int | None = None, alias: str | None = None) -> None:
        nonlocal next_id
        pid = next_id
        next_id += 1
        source = SOURCES[pid % len(SOURCES)][0]
        name, gid, cc, cur, _, ru = city
        alias = alias or subst[3]
        grams = rng.choice((0.5, 1.0, 1.0, 2.0))
        text = f"{alias} {grams:g}г"
        ppg = None
        if usd_price is not None:
            ppg = round(usd_price * USD_RATE[cur])
            text += f" {ppg * grams:,.0f} {cur}".replace(",", " ")
        text += f" {ru}. пишите @u_{'abcdefghjk'[pid % 10]}synthetic {text_extra}".rstrip()
        # a line of made-up words of its own: each post is a distinct ad (storage/ads.py), not a repost
        text += "\n" + " ".join("".join(rng.choice("bdfgklmnprstvz") + rng.choice("aeiou") for _ in range(3))
                                 for _ in range(5))
        posts.append({"id": pid, "source_id": src[source], "external_id": f"h{pid}",
                      "url": f"https://{source}/p/{pid}", "author": f"u_synthetic{pid % 17}", "text": text,
                      "text_hash": f"{pid:064d}", "version": 1, "posted_at": at, "collected_at": at,
                      "first_seen": at, "last_seen": at})
        sid = substance_id or sub[subst[0]]
        mentions.append({"post_id": pid, "substance_id": sid, "region_id": reg[gid], "matched": alias,
                         "observed_at": at})
        if ppg is not None:
            offers.append({"post_id": pid, "substance_id": sid, "region_id": reg[gid], "quantity": grams, "unit": "g",
                           "grams": grams, "price": ppg * grams, "currency": cur, "price_per_gram": float(ppg),
                           "price_per_gram_usd": round(ppg / USD_RATE[cur], 4), "observed_at": at})

    def poisson(lam: float) -> int:
        # Knuth's method: lam is small here
        limit, k, p = pow(2.718281828459045, -lam), 0, 1.0
        while True:
            p *= rng.random()
            if p <= limit:
                return k
            k += 1

    for week in range(h.weeks):
        w0 = h.start + timedelta(weeks=week)
        for subst in SUBSTANCES:
            for city in CITIES:
                n = poisson(h.posts_per_cell)
                if week == 0:
                    n = max(n, 1)  # every substance is known in every city from the first week
                if "spike" in h.plants and subst[0] == "mdmb-4en-pinaca" and week == h.weeks - 1:
                    n = 4 * int(h.posts_per_cell) + n
                for _ in range(n):
                    at = w0 + timedelta(seconds=rng.randrange(7 * 86400))
                    price = subst[4] * city[4] * rng.lognormvariate(0, 0.08)
                    if ("price_shift" in h.plants and subst[0] == "mephedrone" and city[0] == "Almaty"
                            and week >= h.weeks - h.price_window):
                        price *= 1.6
                    add(at, subst, city, price if rng.random() < 0.85 else None)

    last = h.last_week
    if "new_substance" in h.plants:
        with engine.begin() as c:
            c.execute(S.insert().values(key=f"candidate:{NEW_NAME.casefold()}", canonical=NEW_NAME,
                                        **{"class": "synthetic_cannabinoid"}, origin="lexicon"))
            new_id = c.execute(select(S.c.id).where(S.c.key == f"candidate:{NEW_NAME.casefold()}")).scalar_one()
            c.execute(C.insert().values(key=NEW_NAME.casefold(), name=NEW_NAME, **{"class": "synthetic_cannabinoid"},
                                        first_seen=last + timedelta(days=1), last_seen=last + timedelta(days=5),
                                        posts=4, status="new"))
        fake = (NEW_NAME.casefold(), NEW_NAME, "synthetic_cannabinoid", NEW_NAME, 35.0)
        for i, city in enumerate((CITIES[0], CITIES[2], CITIES[0], CITIES[4])):
            extra = "<script>alert('x')</script> новинка" if h.script_text and i == 0 else "новинка"
            add(last + timedelta(days=1 + i), fake, city, 35.0, extra, substance_id=new_id)
    if "new_city" in h.plants:
        for i in range(3):
            add(last + timedelta(days=2 + i), SUBSTANCES[1], NEW_CITY, 30.0)

    with engine.begin() as c:
        for i in range(0, len(posts), 1000):
            c.execute(P.insert(), posts[i:i + 1000])
        for i in range(0, len(mentions), 2000):
            c.execute(Me.insert(), mentions[i:i + 2000])
        for i in range(0, len(offers), 2000):
            c.execute(O.insert(), offers[i:i + 2000])
        if engine.dialect.name == "postgresql":  # explicit ids were given: move the sequence past them
            c.exec_driver_sql("SELECT setval(pg_get_serial_sequence('post', 'id'), (SELECT max(id) FROM post))")
    h.counts = {"posts": len(posts), "mentions": len(mentions), "offers": len(offers)}
    return h


def ad_series(rng, weeks: int, *, mean: float = 5.0, size: float = 2.0, seasonal: float = 0.3,
              trend: float = 0.2, repost_mean: float = 5.0, rise_at: int | None = None,
              rise: float = 1.0) -> tuple[list[int], list[int], list[float]]:
    """(distinct ads, posts, the mean of ads without the rise) per week of one synthetic substance: ads negative-binomial with `mean` x a yearly
    swing of +-`seasonal` (random phase) x a trend of `trend` a year (random sign), times `rise` from week
    `rise_at` on; each ad posted a geometric number of times with mean `repost_mean`."""
    import numpy as np

    phase = rng.uniform(0, 2 * np.pi)
    sign = rng.choice([-1.0, 1.0])
    t = np.arange(weeks)
    mu = mean * (1 + seasonal * np.sin(2 * np.pi * t / 52.18 + phase)) * (1 + trend * sign) ** (t / 52.18)
    null = mu.copy()
    if rise_at is not None:
        mu[rise_at:] *= rise
    ads = rng.negative_binomial(size, size / (size + mu))
    posts = [int(rng.geometric(1 / repost_mean, a).sum()) if a else 0 for a in ads]
    return [int(a) for a in ads], posts, null.tolist()


def spike_trial(rng, *, series: int, rise: float | None, history: int = 104, weeks: int = 2,
                p: float = 0.002, window_p: float = 0.003, ratio: float = 1.5, min_ads: int = 5,
                before_p: float = 0.001, before_window_p: float = 0.001, **params) -> dict:
    """Alarm rates of the spike methods on generated series (`ad_series` with `params`).

    rise None: null series, each evaluated on `weeks` weeks (rates are alarms per series-week). Otherwise the
    mean rises `rise`-fold from the first evaluated week on, and a series counts as detected when any of its
    `weeks` first weeks alarms. "new" is reports/spikes.py's `assess` on distinct ads at the given thresholds
    as reports/signals.py applies them (the week alone below `p`, or the week with the one before below
    `window_p`); "before" is the same rule at the thresholds it had before they were calibrated (`before_p`,
    `before_window_p`); "old" is the former method (Poisson against the 8-week mean of posts, at least 10
    posts and 2x, p < 0.001); "oracle" is "new"'s rule with the true null distribution (each week's real mean,
    NB size; the two-week sum moment-matched): what the rule could do if the baseline were known exactly."""
    import numpy as np
    from scipy import stats

    from .spikes import assess, old_spike_p

    size = params.get("size", 2.0)

    def nb_sf(x, mean, var):
        r = mean * mean / (var - mean)
        return stats.nbinom.sf(x - 1, r, r / (r + mean))

    def rule(x, prev, a, p_week, p_window):
        week = x >= min_ads and x >= ratio * a.week.mean and a.p_week < p_week
        window = (x >= min_ads and x >= a.week.mean and prev + x >= ratio * a.window.mean
                  and a.p_window < p_window)
        return week or window

    alarms = {"new": 0, "before": 0, "old": 0, "oracle": 0}
    n = 0
    for _ in range(series):
        ads, posts, mu = ad_series(rng, history + weeks, rise_at=history if rise else None, rise=rise or 1.0,
                                   **params)
        hit = {k: False for k in alarms}
        for w in range(history, history + weeks):
            a = assess(np.array(ads[w - history:w]), ads[w])
            x, prev = ads[w], ads[w - 1]
            base = np.array(posts[w - 8:w])
            old = posts[w] >= 10 and posts[w] >= 2 * max(base.mean(), 0.5) and old_spike_p(posts[w], base) < 0.001
            m2 = mu[w - 1] + mu[w]
            oracle = (nb_sf(x, mu[w], mu[w] + mu[w] ** 2 / size) < p
                      or nb_sf(prev + x, m2, m2 + (mu[w - 1] ** 2 + mu[w] ** 2) / size) < window_p)
            for k, v in (("new", rule(x, prev, a, p, window_p)), ("before", rule(x, prev, a, before_p, before_window_p)),
                         ("old", old), ("oracle", oracle)):
                if rise:
                    hit[k] = hit[k] or bool(v)
                else:
                    alarms[k] += bool(v)
        if rise:
            for k in alarms:
                alarms[k] += hit[k]
        n += 1 if rise else weeks
    return {k: v / n for k, v in alarms.items()} | {"n": n}
