"""Telegram bookkeeping in the database: checkpoints, deletions, the entity map, discovery and its graph.

Every write is an idempotent upsert or a conditional update, so a reconcile that re-reads posts, a rerun
import or two listeners writing the same channel change nothing twice. Rows are never deleted: a deleted
message keeps its post with `deleted_at` set.

Functions taking a `Connection` run inside the caller's transaction (the batch writer commits posts,
deletions, links and checkpoints together); functions taking an `Engine` open their own.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import Connection, Engine, and_, case, func, select, update

from .images import shared_image_edges
from .tables import T_POST, T_SOURCE
from .writer import upsert
from .tables import T_CHANNEL_STATUS, T_CHECKPOINT, T_DISCOVERED, T_ENTITY, T_LINK, T_PROMOTED


_CHUNK = 500


def _now() -> datetime:
    return datetime.now(timezone.utc)


# -- checkpoints ------------------------------------------------------------------------------------------
def checkpoints(engine: Engine) -> dict[str, int]:
    with engine.connect() as c:
        return dict(c.execute(select(T_CHECKPOINT.c.channel, T_CHECKPOINT.c.last_message_id)).all())


def advance_checkpoints(conn: Connection, last_ids: Mapping[str, int], now: datetime | None = None) -> None:
    """Move each channel's checkpoint forward to `last_ids[channel]`; never backwards."""
    now = now or _now()
    c = T_CHECKPOINT.c
    upsert(conn, T_CHECKPOINT, [{"channel": k, "last_message_id": int(v), "updated_at": now} for k, v in last_ids.items()],
           ["channel"], lambda ex: {
               "last_message_id": case((ex.last_message_id > c.last_message_id, ex.last_message_id),
                                       else_=c.last_message_id),
               "updated_at": ex.updated_at})


# -- deletions ----------------------------------------------------------------------------------------------
def mark_deleted(conn: Connection, source_key: str, external_ids: Iterable[str | int], at: datetime) -> int:
    """Set `deleted_at` on the posts of a source that are not already marked; returns how many were marked."""
    ids = [str(i) for i in external_ids]
    sid = conn.execute(select(T_SOURCE.c.id).where(T_SOURCE.c.key == source_key)).scalar()
    if sid is None or not ids:
        return 0
    n = 0
    for i in range(0, len(ids), _CHUNK):
        n += conn.execute(
            update(T_POST)
            .where(and_(T_POST.c.source_id == sid, T_POST.c.external_id.in_(ids[i : i + _CHUNK]),
                        T_POST.c.deleted_at.is_(None)))
            .values(deleted_at=at)
        ).rowcount
    return n


def live_ids_since(engine: Engine, source_key: str, since: datetime, before: datetime) -> set[int]:
    """Ids of a source's posts dated from `since`, not marked deleted, first stored before `before`."""
    first = func.coalesce(T_POST.c.first_seen, T_POST.c.collected_at)
    q = (select(T_POST.c.external_id).join(T_SOURCE, T_SOURCE.c.id == T_POST.c.source_id)
         .where(T_SOURCE.c.key == source_key, T_POST.c.posted_at >= since, T_POST.c.deleted_at.is_(None),
                first < before))
    with engine.connect() as c:
        return {int(i) for i in c.execute(q).scalars() if str(i).isdigit()}


# -- channel status ---------------------------------------------------------------------------------------
@dataclass
class ChannelState:
    key: str
    status: str  # ok | join_refused | join_pending | private | banned | gone | renamed
    detail: str | None
    since: datetime  # when the channel entered this state
    channel_id: int | None = None


def channel_states(engine: Engine) -> dict[str, ChannelState]:
    """Each channel's newest recorded state."""
    c = T_CHANNEL_STATUS.c
    newest = select(c.key, func.max(c.id).label("id")).group_by(c.key).subquery()
    q = (select(c.key, c.status, c.detail, c.at, c.channel_id).join(newest, newest.c.id == c.id).order_by(c.key))
    with engine.connect() as conn:
        return {k: ChannelState(k, st, d, _aware(at), cid) for k, st, d, at, cid in conn.execute(q)}


def channel_history(engine: Engine, key: str) -> list[ChannelState]:
    c = T_CHANNEL_STATUS.c
    with engine.connect() as conn:
        rows = conn.execute(select(c.key, c.status, c.detail, c.at, c.channel_id).where(c.key == key).order_by(c.id))
        return [ChannelState(k, st, d, _aware(at), cid) for k, st, d, at, cid in rows]


def record_channel_state(engine: Engine, key: str, status: str, detail: str | None = None, *,
                         channel_id: int | None = None, at: datetime | None = None) -> bool:
    """Append `status` for `key` unless it is already the channel's state; True when a row was added."""
    c = T_CHANNEL_STATUS.c
    with engine.begin() as conn:
        last = conn.execute(select(c.status, c.detail).where(c.key == key).order_by(c.id.desc()).limit(1)).first()
        if last is not None and last[0] == status and (status != "renamed" or last[1] == detail):
            return False
        conn.execute(T_CHANNEL_STATUS.insert().values(key=key, status=status, detail=(detail or None) and detail[:300],
                                                      channel_id=channel_id, at=at or _now()))
    return True


def _aware(d: datetime) -> datetime:
    return d if d.tzinfo else d.replace(tzinfo=timezone.utc)


# -- entity map -------------------------------------------------------------------------------------------
def known_entities(engine: Engine) -> dict[str, tuple[int, str | None]]:
    """username -> (channel id, title)."""
    with engine.connect() as c:
        return {u: (i, t) for u, i, t in c.execute(select(T_ENTITY.c.username, T_ENTITY.c.channel_id, T_ENTITY.c.title))}


def remember_entity(engine: Engine, username: str, channel_id: int, title: str | None) -> None:
    with engine.begin() as c:
        upsert(c, T_ENTITY, [{"username": username.lower(), "channel_id": channel_id, "title": title,
                              "updated_at": _now()}], ["username"],
               lambda ex: {"channel_id": ex.channel_id, "title": ex.title, "updated_at": ex.updated_at})


def usernames_by_id(engine: Engine) -> dict[int, str]:
    """channel id -> username (the most recently learnt one when a channel was renamed)."""
    with engine.connect() as c:
        return dict(c.execute(select(T_ENTITY.c.channel_id, T_ENTITY.c.username).order_by(T_ENTITY.c.updated_at)).all())


def username_for_id(engine: Engine, channel_id: int) -> str | None:
    with engine.connect() as c:
        return c.execute(select(T_ENTITY.c.username).where(T_ENTITY.c.channel_id == channel_id)
                         .order_by(T_ENTITY.c.updated_at.desc()).limit(1)).scalar()


# -- promoted channels ------------------------------------------------------------------------------------
def channels_by_title(engine: Engine) -> dict[str, tuple[int, str | None]]:
    """casefolded title -> (channel id, username) of every channel npswatch knows with an id (entity map, then
    discovery queue); a title two channels share is left out, since it names neither for sure."""
    out: dict[str, tuple[int, str | None]] = {}
    clash: set[str] = set()
    with engine.connect() as c:
        rows = list(c.execute(select(T_ENTITY.c.title, T_ENTITY.c.channel_id, T_ENTITY.c.username)))
        rows += list(c.execute(select(T_DISCOVERED.c.title, T_DISCOVERED.c.channel_id, T_DISCOVERED.c.username)
                               .where(T_DISCOVERED.c.channel_id.is_not(None))))
    for title, cid, uname in rows:
        if not title:
            continue
        t = title.casefold().strip()
        if t in out and out[t][0] != cid:
            clash.add(t)
        out.setdefault(t, (cid, uname))
    return {t: v for t, v in out.items() if t not in clash}


def adopt_id_source(engine: Engine, channel_id: int, username: str) -> bool:
    """An export imported before the channel's username was known wrote source `c<id>`: rename it (and its
    checkpoint and links) to the username, so the export and the listener share one source. False when
    there was nothing to adopt (or both sources exist already: then they are left as they are)."""
    old, new = f"c{channel_id}", username
    with engine.begin() as c:
        if c.execute(select(T_SOURCE.c.id).where(T_SOURCE.c.key == old)).scalar() is None:
            return False
        if c.execute(select(T_SOURCE.c.id).where(T_SOURCE.c.key == new)).scalar() is not None:
            return False
        c.execute(update(T_SOURCE).where(T_SOURCE.c.key == old).values(key=new))
        if c.execute(select(T_CHECKPOINT.c.channel).where(T_CHECKPOINT.c.channel == new)).first() is None:
            c.execute(update(T_CHECKPOINT).where(T_CHECKPOINT.c.channel == old).values(channel=new))
        for col in (T_LINK.c.src, T_LINK.c.dst):
            try:
                with c.begin_nested():
                    c.execute(update(T_LINK).where(col == old).values({col.name: new}))
            except Exception:  # noqa: BLE001 - a link already recorded under the new key: keep that one
                pass
    return True


def promoted_channels(engine: Engine) -> list[str]:
    with engine.connect() as c:
        return list(c.execute(select(T_PROMOTED.c.key).where(T_PROMOTED.c.active.is_(True)).order_by(T_PROMOTED.c.id))
                    .scalars())


def promote(engine: Engine, key: str, *, added_by: str | None = None, reason: str | None = None) -> bool:
    """Add a channel to the watched list (reactivating it if it was there); False if it already was active.
    `added_by="auto"` and `reason`: an addition by the discovery rules (`npswatch.autodiscover`)."""
    mark = {"added_at": _now(), "added_by": added_by, "reason": (reason or None) and reason[:300]}
    with engine.begin() as c:
        row = c.execute(select(T_PROMOTED.c.id, T_PROMOTED.c.active).where(T_PROMOTED.c.key == key)).first()
        if row is not None and row.active:
            fresh = False
        elif row is not None:
            c.execute(update(T_PROMOTED).where(T_PROMOTED.c.id == row.id).values(active=True, **mark))
            fresh = True
        else:
            c.execute(T_PROMOTED.insert().values(key=key, active=True, **mark))
            fresh = True
        c.execute(update(T_DISCOVERED).where(T_DISCOVERED.c.key == key).values(status="added"))
    return fresh


def auto_added(engine: Engine, since: datetime | None = None, until: datetime | None = None) -> list[dict]:
    """Channels the discovery rules added to the watch list in [since, until), oldest first: key, added_at,
    reason, and whether they are still watched."""
    c = T_PROMOTED.c
    q = select(c.key, c.added_at, c.reason, c.active).where(c.added_by == "auto").order_by(c.added_at, c.id)
    if since is not None:
        q = q.where(c.added_at >= since)
    if until is not None:
        q = q.where(c.added_at < until)
    with engine.connect() as conn:
        return [dict(r) | {"added_at": _aware(r["added_at"])} for r in conn.execute(q).mappings()]


# -- one source per channel id ------------------------------------------------------------------------------
def home_keys(engine: Engine) -> dict[int, str]:
    """Channel id -> the key its posts are stored under. A renamed channel (same id, new username) keeps the key
    it was first stored or watched under, so the listener, backfill and an export write one source whichever
    username they know it by: the oldest source among the channel's usernames (entity map) and `c<id>`, else
    the key of its oldest recorded state."""
    ids_of: dict[str, int] = {}
    with engine.connect() as c:
        for uname, cid in c.execute(select(T_ENTITY.c.username, T_ENTITY.c.channel_id)):
            ids_of[uname] = cid
        sources = c.execute(select(T_SOURCE.c.key).where(T_SOURCE.c.kind != "web").order_by(T_SOURCE.c.id)).scalars()
        out: dict[int, str] = {}
        for key in sources:
            cid = ids_of.get(key)
            if cid is None and key[:1] == "c" and key[1:].isdigit():
                cid = int(key[1:])
            if cid is not None:
                out.setdefault(cid, key)
        sc = T_CHANNEL_STATUS.c
        for key, cid in c.execute(select(sc.key, sc.channel_id).where(sc.channel_id.is_not(None)).order_by(sc.id)):
            out.setdefault(cid, key)
    return out


def aliases(engine: Engine, keys: Iterable[str]) -> set[str]:
    """`keys` and every other username the entity map knows for the same channels (their old and new names)."""
    keys = set(keys)
    with engine.connect() as c:
        rows = c.execute(select(T_ENTITY.c.username, T_ENTITY.c.channel_id)).all()
    ids = {cid for u, cid in rows if u in keys} | {int(k[1:]) for k in keys if k[:1] == "c" and k[1:].isdigit()}
    return keys | {u for u, cid in rows if cid in ids} | {f"c{cid}" for cid in ids}


# -- discovery --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Link:
    """A post of channel `src` forwards from or links to channel `dst`."""

    src: str
    message_id: int
    dst: str
    kind: str  # forward | link
    seen_at: datetime | None
    username: str | None = None
    channel_id: int | None = None
    title: str | None = None
    subscribers: int | None = None


def record_links(conn: Connection, links: Iterable[Link]) -> int:
    """Store links (once per post, target and kind) and upsert their targets into the review queue."""
    edges: dict[tuple, dict] = {}
    targets: dict[str, dict] = {}
    for ln in links:
        if ln.dst == ln.src:
            continue
        edges.setdefault((ln.src, ln.message_id, ln.dst, ln.kind), {
            "src": ln.src, "message_id": ln.message_id, "dst": ln.dst, "kind": ln.kind, "seen_at": ln.seen_at})
        t = targets.get(ln.dst)
        if t is None:
            targets[ln.dst] = {"key": ln.dst, "username": ln.username, "channel_id": ln.channel_id, "title": ln.title,
                               "subscribers": ln.subscribers, "first_seen": ln.seen_at, "first_seen_in": ln.src,
                               "last_seen": ln.seen_at, "status": "new"}
            continue
        for f in ("username", "channel_id", "title", "subscribers"):
            if getattr(ln, f) is not None:
                t[f] = getattr(ln, f)
        if ln.seen_at and (t["first_seen"] is None or ln.seen_at < t["first_seen"]):
            t["first_seen"], t["first_seen_in"] = ln.seen_at, ln.src
        if ln.seen_at and (t["last_seen"] is None or ln.seen_at > t["last_seen"]):
            t["last_seen"] = ln.seen_at
    if not edges:
        return 0
    upsert(conn, T_LINK, list(edges.values()), ["src", "message_id", "dst", "kind"])
    d = T_DISCOVERED.c
    earlier = lambda ex: and_(ex.first_seen.is_not(None), (d.first_seen.is_(None)) | (ex.first_seen < d.first_seen))  # noqa: E731
    upsert(conn, T_DISCOVERED, list(targets.values()), ["key"], lambda ex: {
        "username": func.coalesce(ex.username, d.username),
        "channel_id": func.coalesce(ex.channel_id, d.channel_id),
        "title": func.coalesce(ex.title, d.title),
        "subscribers": func.coalesce(ex.subscribers, d.subscribers),
        "first_seen_in": case((earlier(ex), ex.first_seen_in), else_=d.first_seen_in),
        "first_seen": case((earlier(ex), ex.first_seen), else_=d.first_seen),
        "last_seen": case((and_(ex.last_seen.is_not(None), (d.last_seen.is_(None)) | (ex.last_seen > d.last_seen)),
                           ex.last_seen), else_=d.last_seen),
    })
    return len(edges)


def discovered(engine: Engine, *, min_mentions: int = 1, min_subscribers: int | None = None,
               exclude: Iterable[str] = (), include_added: bool = False, limit: int | None = None) -> list[dict]:
    """The review queue, most mentioned first: counts of posts linking/forwarding, distinct channels, first seen."""
    lc = T_LINK.c
    counts = (
        select(lc.dst.label("key"), func.count().label("mentions"),
               func.sum(case((lc.kind == "forward", 1), else_=0)).label("forwards"),
               func.sum(case((lc.kind == "link", 1), else_=0)).label("links"),
               func.count(func.distinct(lc.src)).label("channels"))
        .group_by(lc.dst).subquery()
    )
    d = T_DISCOVERED.c
    q = (select(d.key, d.username, d.channel_id, d.title, d.subscribers, d.first_seen, d.first_seen_in, d.last_seen,
                d.status, counts.c.mentions, counts.c.forwards, counts.c.links, counts.c.channels)
         .join(counts, counts.c.key == d.key)
         .where(counts.c.mentions >= min_mentions)
         .order_by(counts.c.mentions.desc(), d.first_seen, d.key))
    if min_subscribers is not None:
        q = q.where(d.subscribers >= min_subscribers)
    if not include_added:
        q = q.where(d.status == "new")
    exclude = list(exclude)
    if exclude:
        q = q.where(d.key.not_in(exclude))
    if limit:
        q = q.limit(limit)
    with engine.connect() as c:
        return [dict(r) for r in c.execute(q).mappings()]


def shared_ad_edges(c: Connection) -> list[dict]:
    """One edge per pair of sources that posted the same ad (storage/ads.py), weighted by the ads they share: a
    shop network reposting one text across its channels."""
    P = T_POST
    per_ad = (select(P.c.ad_id, T_SOURCE.c.key).select_from(P.join(T_SOURCE, T_SOURCE.c.id == P.c.source_id))
              .where(P.c.ad_id.is_not(None)).distinct().subquery())
    a, b = per_ad.alias("a"), per_ad.alias("b")
    rows = c.execute(select(a.c.key, b.c.key, func.count()).select_from(a.join(b, and_(a.c.ad_id == b.c.ad_id,
                                                                                      a.c.key < b.c.key)))
                     .group_by(a.c.key, b.c.key).order_by(a.c.key, b.c.key)).all()
    return [{"src": x, "dst": y, "weight": n, "forwards": 0, "links": 0, "shared_ads": n, "shared_images": 0}
            for x, y, n in rows]


def link_graph(engine: Engine) -> tuple[dict[str, dict], list[dict]]:
    """Nodes (key -> attributes) and weighted edges of the forward/mention network."""
    lc = T_LINK.c
    with engine.connect() as c:
        edges = [dict(r) for r in c.execute(
            select(lc.src, lc.dst, func.count().label("weight"),
                   func.sum(case((lc.kind == "forward", 1), else_=0)).label("forwards"),
                   func.sum(case((lc.kind == "link", 1), else_=0)).label("links"))
            .group_by(lc.src, lc.dst).order_by(lc.src, lc.dst)).mappings()]
        edges += shared_ad_edges(c)
        edges += shared_image_edges(c)
        keys = sorted({e["src"] for e in edges} | {e["dst"] for e in edges})
        d = T_DISCOVERED.c
        info = {}
        for i in range(0, len(keys), _CHUNK):
            for r in c.execute(select(d.key, d.title, d.subscribers, d.status, d.first_seen)
                               .where(d.key.in_(keys[i : i + _CHUNK]))).mappings():
                info[r["key"]] = dict(r)
        titles = dict(c.execute(select(T_SOURCE.c.key, T_SOURCE.c.name)).all())
    nodes = {}
    for k in keys:
        i = info.get(k, {})
        nodes[k] = {"label": i.get("title") or (titles.get(k) if titles.get(k) != k else None) or k,
                    "subscribers": i.get("subscribers"), "status": i.get("status") or "source",
                    "first_seen": i.get("first_seen")}
    return nodes, edges
