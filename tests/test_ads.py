"""Distinct ads: clustering reposts on a generated set with known reposts (parameters fixed here)."""
from __future__ import annotations

import itertools
import random
from collections import Counter

from npswatch.pipelines.ads import AdIndex

# The generated set: 400 synthetic ads of 3-7 lines of 4-10 words from a 1,500-word synthetic vocabulary; 30% of
# ads share one boilerplate line; each ad posted 1 + Geometric(p=0.25) times (mean 4 posts); every repost has,
# each with probability 0.5: 1-2 words replaced or dropped, emoji added, lines shuffled, prices changed.
N_ADS, P_GEOM, P_EDIT, SEED = 400, 0.25, 0.5, 20261203
EMOJI = ["🔥", "✅", "💎", "🚀", "⭐️", "❄️"]
BOILERPLATE = "synthwords delivery across the city at any hour"


def generated_posts(seed: int = SEED) -> list[tuple[str, int]]:
    rnd = random.Random(seed)
    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    vocab = sorted({"".join(rnd.choices(syllables, k=rnd.randint(2, 4))) for _ in range(1500)})
    posts = []
    for ad in range(N_ADS):
        lines = [" ".join(rnd.choices(vocab, k=rnd.randint(4, 10))) for _ in range(rnd.randint(3, 7))]
        lines[rnd.randrange(len(lines))] += f" {rnd.choice([1, 2, 5])}g {rnd.randint(10, 90) * 100} rub"
        if rnd.random() < 0.3:
            lines.append(BOILERPLATE)
        copies = 1
        while rnd.random() > P_GEOM:
            copies += 1
        for c in range(copies):
            ls = [line.split() for line in lines]
            if c:
                if rnd.random() < P_EDIT:
                    for _ in range(rnd.randint(1, 2)):
                        words = rnd.choice(ls)
                        i = rnd.randrange(len(words))
                        if rnd.random() < 0.5 and len(words) > 2:
                            del words[i]
                        else:
                            words[i] = rnd.choice(vocab)
                if rnd.random() < P_EDIT:
                    for words in ls:
                        if rnd.random() < 0.5:
                            words.insert(rnd.randrange(len(words) + 1), rnd.choice(EMOJI))
                if rnd.random() < P_EDIT:
                    rnd.shuffle(ls)
                if rnd.random() < P_EDIT:
                    ls = [[str(rnd.randint(10, 90) * 100) if w.isdigit() else w for w in words] for words in ls]
            posts.append(("\n".join(" ".join(w) for w in ls), ad))
    rnd.shuffle(posts)
    return posts


def pairwise(truth: list[int], got: list[int]) -> tuple[float, float]:
    """Pairwise precision and recall of a clustering against the true clusters."""
    def pairs(labels):
        groups: dict[int, list[int]] = {}
        for i, lab in enumerate(labels):
            groups.setdefault(lab, []).append(i)
        return {p for g in groups.values() for p in itertools.combinations(g, 2)}

    t, g = pairs(truth), pairs(got)
    return len(t & g) / max(len(g), 1), len(t & g) / max(len(t), 1)


def test_reposts_cluster_into_their_ads_with_high_precision_and_recall():
    posts = generated_posts()
    idx = AdIndex()
    got = [idx.add(text) for text, _ in posts]
    truth = [ad for _, ad in posts]
    precision, recall = pairwise(truth, got)
    assert len(posts) > 2 * N_ADS and max(Counter(truth).values()) >= 10  # reposts are there to find
    assert precision >= 0.95 and recall >= 0.90, (precision, recall, len(set(got)), N_ADS)


def test_exact_short_texts_and_different_ads_stay_apart():
    idx = AdIndex()
    assert idx.add("mephedrone 1g 2000") == idx.add("Mephedrone 2g 3500!")  # short: same cleaned text
    assert idx.add("mephedrone 1g 2000") != idx.add("hashish 1g 2000")


AD = ("Synthetic shop: crystal product one gram {price} rub\nfast delivery across the whole city today\n"
      "write to the operator for the full price list")


def test_stored_reposts_count_as_one_ad_in_trends(engine):
    """Three channels post one ad (new prices, emoji) and one other ad: 4 posts, 2 distinct ads, 3 sources."""
    from datetime import datetime, timezone

    from sqlalchemy import select

    from npswatch.reports.trends import trends
    from npswatch.storage import models as m
    from npswatch.storage.ads import assign_ads

    S, P, Me, Src = (t.__table__ for t in (m.Substance, m.Post, m.Mention, m.Source))
    at = datetime(2026, 3, 3, tzinfo=timezone.utc)
    texts = [(1, AD.format(price=2000)), (2, "🔥 " + AD.format(price=2500)), (3, AD.format(price=1900) + " ✅"),
             (1, "another synthetic ad entirely\nabout a different product and other terms\nwith its own words")]
    with engine.begin() as c:
        c.execute(Src.insert(), [{"key": f"synthetic-channel-{i}", "kind": "telegram"} for i in (1, 2, 3)])
        src = {k: i for k, i in c.execute(select(Src.c.key, Src.c.id))}
        sid = c.execute(S.insert().values(key="mephedrone", canonical="mephedrone", **{"class": "synthetic_cathinone"},
                                          origin="lexicon").returning(S.c.id)).scalar_one()
        for n, (ch, text) in enumerate(texts):
            pid = c.execute(P.insert().values(source_id=src[f"synthetic-channel-{ch}"], external_id=str(n),
                                              text_hash=str(n), version=1, posted_at=at, text=text)
                            .returning(P.c.id)).scalar_one()
            c.execute(Me.insert().values(post_id=pid, substance_id=sid, observed_at=at))
    first = assign_ads(engine)
    assert (first.posts, first.new_ads) == (4, 2)
    assert assign_ads(engine).posts == 0  # incremental: nothing new
    [row] = trends(engine, group="none")
    assert (row.mentions, row.ads, row.sources) == (4, 2, 3)


def test_an_ad_posted_by_several_channels_links_them_in_the_graph(engine, tmp_path):
    from datetime import datetime, timezone

    from sqlalchemy import select

    from npswatch.crawlers.telegram.graph import write_gexf
    from npswatch.storage import models as m
    from npswatch.storage.ads import assign_ads
    from npswatch.storage.telegram_store import link_graph

    P, Src = m.Post.__table__, m.Source.__table__
    with engine.begin() as c:
        c.execute(Src.insert(), [{"key": f"synthetic_channel_{i}", "kind": "telegram"} for i in (1, 2, 3)])
        src = {k: i for k, i in c.execute(select(Src.c.key, Src.c.id))}
        for n, (ch, price) in enumerate([(1, 2000), (2, 2100), (3, None)]):
            text = AD.format(price=price) if price else "an unrelated synthetic post\\nabout nothing in particular at all"
            c.execute(P.insert().values(source_id=src[f"synthetic_channel_{ch}"], external_id=str(n), text_hash=str(n),
                                        version=1, posted_at=datetime(2026, 3, 3, tzinfo=timezone.utc), text=text))
    assign_ads(engine)
    nodes, edges = link_graph(engine)
    assert [(e["src"], e["dst"], e["shared_ads"]) for e in edges] == [("synthetic_channel_1", "synthetic_channel_2", 1)]
    write_gexf(nodes, edges, tmp_path / "g.gexf")
    assert 'title="shared_ads"' in (tmp_path / "g.gexf").read_text()


def test_cli_ads_then_trends_show_distinct_ads(tmp_path):
    from datetime import datetime, timezone

    from typer.testing import CliRunner

    from npswatch.cli.app import app
    from npswatch.storage import models as m
    from npswatch.storage.db import make_engine, upgrade

    cfg = tmp_path / "npswatch.toml"
    cfg.write_text('data_dir = "data"\n')
    eng = make_engine(f"sqlite:///{tmp_path / 'data' / 'npswatch.db'}")
    upgrade(eng)
    S, P, Me, Src = (t.__table__ for t in (m.Substance, m.Post, m.Mention, m.Source))
    with eng.begin() as c:
        src = c.execute(Src.insert().values(key="synthetic-shop.test", kind="web").returning(Src.c.id)).scalar_one()
        sid = c.execute(S.insert().values(key="mephedrone", canonical="mephedrone", **{"class": "synthetic_cathinone"},
                                          origin="lexicon").returning(S.c.id)).scalar_one()
        for n in range(5):
            pid = c.execute(P.insert().values(source_id=src, external_id=str(n), text_hash=str(n), version=1,
                                              posted_at=datetime(2026, 3, 3, tzinfo=timezone.utc),
                                              text=AD.format(price=2000 + n)).returning(P.c.id)).scalar_one()
            c.execute(Me.insert().values(post_id=pid, substance_id=sid,
                                         observed_at=datetime(2026, 3, 3, tzinfo=timezone.utc)))
    r = CliRunner().invoke(app, ["--config", str(cfg), "ads"])
    assert r.exit_code == 0 and "5 posts assigned, 1 new ads" in r.output, r.output
    r = CliRunner().invoke(app, ["--config", str(cfg), "trends", "--substance", "mephedrone", "--format", "json"])
    import json

    [row] = json.loads(r.stdout[r.stdout.index("["):])
    assert (row["mentions"], row["ads"], row["sources"]) == (5, 1, 1)
