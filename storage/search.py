"""Full-text search over stored post texts: the index and the query, for SQLite (FTS5) and PostgreSQL.

SQLite keeps an FTS5 table over `post.text` (external content: the text is stored once, in `post`), kept in
step by triggers, so every writer (crawls, imports, edits, retention) updates it without knowing it exists.
PostgreSQL keeps a GIN index on `to_tsvector('russian', text)`: Russian stemming, and English words are
matched as written. The texts are the stored ones, already pseudonymised.

A user's words never reach the query language: each word becomes a quoted term, so `"`, `*`, `OR` or `NEAR(`
are searched for, never run. SQLite has no Russian stemmer in its tokenizer, so a word is reduced to its
Snowball stem and matched as a prefix: `мефедрона` finds `мефедрон`, `мефедроном`.

>>> fts5_query('мефедрона 1г "Almaty" pills')
'"мефедрон"* "1г" "almaty"* "pill"*'
>>> fts5_query('  ') is None
True
>>> segments("buy \\x02meph\\x03 here")
[('buy ', False), ('meph', True), (' here', False)]
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timezone

from sqlalchemy import Connection, Engine, bindparam, text

__all__ = ["SEARCH_OBJECTS", "RANK_WINDOW", "COUNT_CAP", "create_index", "drop_index", "ensure_index", "fts5_query", "segments", "search"]

HIT_START, HIT_END = "\x02", "\x03"  # around a matched word in a snippet; never in a stored text (scrubbed)
SNIPPET_WORDS = 40  # words of context in a snippet
PG_CONFIG = "russian"
PREFIX_FROM = 4  # letters: shorter words are matched whole
MENTION_SET = 100_000  # a substance filter with up to this many mentions is gathered first (`_MENTIONS_UP_TO`)
MAX_EXPANSION = 50  # indexed terms a prefix term is replaced by (more: searched as a prefix)
RANK_WINDOW = 1000  # the newest matching posts ranked best first; a search pages through these
COUNT_CAP = 10_000  # matching posts counted: past it, "more than"
# names of what this module creates besides the models' tables (the schema comparison leaves them out)
SEARCH_OBJECTS = ("post_fts", "ix_post_text_fts", "ix_post_text_tsv", "text_tsv")
_WORD = re.compile(r"\w+", re.UNICODE)
_CYRILLIC = re.compile("[\u0400-\u04ff]")

_SQLITE_DDL = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS post_fts USING fts5(text, content='post', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER IF NOT EXISTS post_fts_insert AFTER INSERT ON post WHEN new.text IS NOT NULL BEGIN "
    "INSERT INTO post_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER IF NOT EXISTS post_fts_delete AFTER DELETE ON post WHEN old.text IS NOT NULL BEGIN "
    "INSERT INTO post_fts(post_fts, rowid, text) VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER IF NOT EXISTS post_fts_update AFTER UPDATE OF text ON post BEGIN "
    "INSERT INTO post_fts(post_fts, rowid, text) SELECT 'delete', old.id, old.text WHERE old.text IS NOT NULL; "
    "INSERT INTO post_fts(rowid, text) SELECT new.id, new.text WHERE new.text IS NOT NULL; END",
)
_SQLITE_TRIGGERS = ("post_fts_insert", "post_fts_delete", "post_fts_update")
# PostgreSQL: the text's vector is stored (a generated column), so that testing and ranking a matching post reads
# it instead of parsing the text again (an expression index left every recheck and rank to `to_tsvector`:
# seconds for a common word over two million posts)
_PG_DDL = (f"ALTER TABLE post ADD COLUMN IF NOT EXISTS text_tsv tsvector "
           f"GENERATED ALWAYS AS (to_tsvector('{PG_CONFIG}', coalesce(text, ''))) STORED",
           "CREATE INDEX IF NOT EXISTS ix_post_text_tsv ON post USING gin (text_tsv)")
_PG_OLD_DDL = (f"CREATE INDEX IF NOT EXISTS ix_post_text_fts ON post "
               f"USING gin (to_tsvector('{PG_CONFIG}', coalesce(text, '')))")


def create_index(conn: Connection) -> None:
    """Create the search index of the connection's dialect and fill it from the stored posts."""
    if conn.dialect.name == "sqlite":
        for ddl in _SQLITE_DDL:
            conn.exec_driver_sql(ddl)
        conn.exec_driver_sql("INSERT INTO post_fts(post_fts) VALUES ('rebuild')")
    elif conn.dialect.name == "postgresql":
        for ddl in _PG_DDL:
            conn.exec_driver_sql(ddl)


def stored_vector(conn: Connection) -> None:
    """PostgreSQL: the expression index of migration 0011 replaced by the stored vector and its index (0018)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("DROP INDEX IF EXISTS ix_post_text_fts")
        create_index(conn)


def expression_index(conn: Connection) -> None:
    """PostgreSQL: back to migration 0011's expression index (0018's downgrade)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("DROP INDEX IF EXISTS ix_post_text_tsv")
        conn.exec_driver_sql("ALTER TABLE post DROP COLUMN IF EXISTS text_tsv")
        conn.exec_driver_sql(_PG_OLD_DDL)


def rebuild_index(conn: Connection) -> None:
    """Rebuild SQLite's index from the posts as they are now: an update only appends to it, so the words of a
    text rewritten in place (`privacy rescrub`) would stay in its segments."""
    if conn.dialect.name == "sqlite" and conn.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE name = 'post_fts'").first() is not None:
        conn.exec_driver_sql("INSERT INTO post_fts(post_fts) VALUES ('rebuild')")


def drop_index(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        for name in _SQLITE_TRIGGERS:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
        conn.exec_driver_sql("DROP TABLE IF EXISTS post_fts")
    elif conn.dialect.name == "postgresql":
        conn.exec_driver_sql("DROP INDEX IF EXISTS ix_post_text_fts")
        conn.exec_driver_sql("DROP INDEX IF EXISTS ix_post_text_tsv")
        conn.exec_driver_sql("ALTER TABLE post DROP COLUMN IF EXISTS text_tsv")


def ensure_index(conn: Connection) -> bool:
    """Recreate SQLite's triggers and refill the index when a migration rebuilt `post` (batch mode copies a
    table and drops its triggers). Returns True when something had to be mended."""
    if conn.dialect.name != "sqlite":
        return False
    names = set(conn.exec_driver_sql(
        "SELECT name FROM sqlite_master WHERE name IN ('post_fts', 'post_fts_insert', 'post_fts_delete', "
        "'post_fts_update')").scalars())
    if "post_fts" not in names or names == {"post_fts", *_SQLITE_TRIGGERS}:
        return False  # before the search migration, or whole
    create_index(conn)
    return True


def _stem(word: str) -> str:
    import snowballstemmer

    lang = "russian" if _CYRILLIC.search(word) else "english"
    stem = snowballstemmer.stemmer(lang).stemWord(word)
    # a stem that is not a prefix (English `almaty` -> `almati`) would miss the word itself
    return stem if len(stem) >= PREFIX_FROM and word.startswith(stem) else word


def _terms(words: str) -> list[tuple[str, bool]]:
    """The user's words as (term, matched as a prefix) pairs."""
    return [(_stem(t), True) if len(t) >= PREFIX_FROM and t.isalpha() else (t, False)
            for t in (w.casefold() for w in _WORD.findall(words))]


def fts5_query(words: str) -> str | None:
    """The user's words as an FTS5 expression: every word must occur (AND), as a quoted term."""
    terms = _terms(words)
    if not terms:
        return None
    return " ".join(f'"{t}"*' if prefix else f'"{t}"' for t, prefix in terms)


def _expanded(conn: Connection, words: str) -> str | None:
    """`fts5_query(words)` with each prefix term replaced by the indexed terms it stands for, `("a" OR "ab")`:
    the same posts match. FTS5 merges a prefix term's lists into one whole list before it reads a row, on every
    query (about 80 ms for a term in two million posts, whatever the query's id range); the terms themselves are
    read lazily. A prefix with more than MAX_EXPANSION terms (or none) stays a prefix."""
    terms = _terms(words)
    if not terms:
        return None
    conn.exec_driver_sql("CREATE VIRTUAL TABLE IF NOT EXISTS temp.post_fts_terms USING fts5vocab(main, post_fts, 'row')")
    parts = []
    for t, prefix in terms:
        found = []
        if prefix:
            found = conn.exec_driver_sql("SELECT term FROM temp.post_fts_terms WHERE term >= ? AND term < ? LIMIT ?",
                                         (t, t[:-1] + chr(ord(t[-1]) + 1), MAX_EXPANSION + 1)).scalars().all()
        if not prefix:
            parts.append(f'"{t}"')
        elif 0 < len(found) <= MAX_EXPANSION:
            parts.append("(" + " OR ".join(f'"{f}"' for f in found) + ")")
        else:
            parts.append(f'"{t}"*')
    return " AND ".join(parts)


def segments(snippet: str) -> list[tuple[str, bool]]:
    """A snippet with hit markers as (text, is_hit) pieces, for a renderer that escapes each piece."""
    out: list[tuple[str, bool]] = []
    for i, part in enumerate(re.split(f"[{HIT_START}{HIT_END}]", snippet)):
        if part:
            out.append((part, i % 2 == 1))
    return out


def search(engine: Engine, words: str, *, source_ids: Sequence[int] | None = None, kinds: Sequence[str] = (),
           substance_ids: Sequence[int] | None = None, since: datetime | None = None,
           until: datetime | None = None, limit: int = 50, offset: int = 0) -> tuple[int, list[dict]]:
    """(number of matching posts, one page of them, best first then newest) for the words and filters.

    A common word matches most posts: ranking them all would read every one. So the newest `RANK_WINDOW`
    matching posts are ranked (all of them when fewer match, as a rare word does), pages go that far, and the
    count stops at `COUNT_CAP` + 1 (more than COUNT_CAP: "more than").

    Each row: post_id, source, kind, external_id, url, posted_at, snippet (with HIT_START/HIT_END markers)."""
    with engine.connect() as conn:
        dialect = conn.dialect.name
        if kinds:
            source_ids = _of_kinds(conn, source_ids, kinds)
        if dialect == "sqlite":
            return _search_sqlite(conn, words, source_ids, substance_ids, since, until, limit, offset)
        if dialect != "postgresql":
            raise ValueError(f"full-text search needs SQLite or PostgreSQL, not {dialect}")
        return _search_postgresql(conn, words, source_ids, substance_ids, since, until, limit, offset)


_COLS = "post.external_id, post.url, post.posted_at"


def _of_kinds(conn: Connection, source_ids: Sequence[int] | None, kinds: Sequence[str]) -> list[int]:
    """The sources of the kinds (of `source_ids` when given). The search tests a post's source against a list
    of ids: a join to `source` per matching post kept PostgreSQL from walking the posts newest first and
    stopping at the count's cap (0.4 s for a class's web posts)."""
    wanted = {"kinds": list(kinds)}
    ids = conn.execute(_bound("SELECT id FROM source WHERE kind IN :kinds", wanted), wanted).scalars().all()
    if source_ids is None:
        return ids
    given = set(source_ids)
    return [i for i in ids if i in given]


def _filters(source_ids, substance_ids, since, until, post_id: str, *, per_post: bool = False,
             named_posts: str | None = None) -> tuple[list[str], dict]:
    """The filters as SQL conditions on `post` (`post_id`: the expression of the post's id) and their values.
    Sources and kinds are tested on the post's source id, substances on the post id, so no other table is joined
    per matching post. The substances' posts are gathered into a set, looked up for each matching post with
    `per_post` (ix_mention_post_id), or given as `named_posts` (PostgreSQL: `_named_posts`' ids as text)."""
    where, params = ["post.deleted_at IS NULL"], {}
    if source_ids is not None:
        where.append("post.source_id IN :source_ids")
        params["source_ids"] = list(source_ids) or [-1]
    if named_posts is not None:
        where.append(f"{post_id} = ANY(string_to_array(:named_posts, ',')::integer[])")
        params["named_posts"] = named_posts
    elif substance_ids is not None:
        where.append(f"EXISTS (SELECT 1 FROM mention WHERE mention.post_id = {post_id} "
                     "AND mention.substance_id IN :substance_ids)" if per_post else
                     f"{post_id} IN (SELECT post_id FROM mention WHERE substance_id IN :substance_ids)")
        params["substance_ids"] = list(substance_ids) or [-1]
    if since is not None:
        where.append("post.posted_at >= :since")
        params["since"] = since
    if until is not None:
        where.append("post.posted_at < :until")
        params["until"] = until
    return where, params


# the substances' mentions, read no further than one past MENTION_SET: is the filter a substance or a class?
_MENTIONS_UP_TO = "(SELECT post_id FROM mention WHERE substance_id IN :ids LIMIT :most) AS named"


def _many_mentions(conn: Connection, substance_ids: Sequence[int] | None) -> bool:
    """SQLite: whether the substances have more than MENTION_SET mentions (a class: `_filters`' `per_post`);
    up to that (a substance), their posts are gathered into a set."""
    if not substance_ids:
        return False
    counted = {"ids": list(substance_ids), "most": MENTION_SET + 1}
    return conn.execute(_bound(f"SELECT count(*) FROM {_MENTIONS_UP_TO}", counted), counted).scalar_one() > MENTION_SET


def _named_posts(conn: Connection, substance_ids: Sequence[int]) -> str | None:
    """PostgreSQL: the ids of the posts naming the substances, comma-separated, when they are at most
    MENTION_SET (a substance; "" for none), else None (a class).

    The search is given them as one value (`_filters`' `named_posts`: the server turns the text back into an array,
    rather than each id travelling as a Python int, 30 ms for 50,000), which the planner sees whole: for a common
    word it reads the listed posts newest first through the primary key until enough match, for a rare one it
    tests the word's few posts against the list. Given as a subquery, the posts were hashed and every post in
    their range read (0.3 s for a substance in a tenth of 500,000 posts); a class's posts fill their range, where
    that is the better plan."""
    named = {"ids": list(substance_ids) or [-1], "most": MENTION_SET + 1, "max": MENTION_SET}
    return conn.execute(_bound(
        f"SELECT CASE WHEN count(*) <= :max THEN coalesce(string_agg(post_id::text, ','), '') END "
        f"FROM {_MENTIONS_UP_TO}", named),
        named).scalar_one()


def _between_substance_posts(conn: Connection, where: list[str], params: dict, post_id: str) -> bool:
    """With a substance filter, adds to `where` that `post_id` lies between the first and last post naming the
    substances (from the mentions' index alone); False when no post names them. A search walks only between
    them: a substance last named long ago would otherwise be looked for through every newer match."""
    if not params.get("substance_ids"):
        return True
    lo, hi = conn.execute(_bound("SELECT min(post_id), max(post_id) FROM mention WHERE substance_id IN :substance_ids",
                                 params), params).one()
    if lo is None:
        return False
    where.append(f"{post_id} BETWEEN :lo AND :hi")
    params.update(lo=lo, hi=hi)
    return True


def _bound(sql: str, params: dict):
    """`sql` as a text clause whose list values (`IN :name`) are expanded."""
    return text(sql).bindparams(*[bindparam(k, expanding=True) for k, v in params.items()
                                  if isinstance(v, list) and f":{k}" in sql])


def _page(window, offset: int, limit: int) -> list[dict]:
    """The window's rows ranked (best first, then newest), one page of them, without the rank."""
    ranked = sorted(window, key=lambda r: (r["r"], -_epoch(r["posted_at"]), -r["post_id"]))
    return [{k: v for k, v in r.items() if k != "r"} for r in ranked[offset:offset + min(limit, RANK_WINDOW - offset)]]


def _search_postgresql(conn: Connection, words, source_ids, substance_ids, since, until, limit, offset):
    """PostgreSQL's search: the ids of up to COUNT_CAP + 1 matching posts, newest first (the count and the
    window: for a common word the planner walks the newest posts and tests each one's stored vector, for a rare one
    it reads the index), then the window's rank and the page's snippets (`ts_headline` parses the text: dear)."""
    if not _WORD.search(words):
        return 0, []
    tsq = f"websearch_to_tsquery('{PG_CONFIG}', :q)"
    posts = _named_posts(conn, substance_ids) if substance_ids is not None else None
    if posts == "":
        return 0, []
    where, params = _filters(source_ids, substance_ids, since, until, "post.id", named_posts=posts)
    params["q"] = words
    if not _between_substance_posts(conn, where, params, "post.id"):  # (nothing to bound with `named_posts`)
        return 0, []
    cond = " AND ".join([f"post.text_tsv @@ {tsq}", *where])
    ids = conn.execute(_bound(f"SELECT post.id FROM post WHERE {cond} ORDER BY post.id DESC LIMIT :cap", params),
                       {**params, "cap": COUNT_CAP + 1}).scalars().all()
    total = len(ids)
    if not total or offset >= RANK_WINDOW:
        return total, []
    more = {"q": words, "ids": ids[:RANK_WINDOW]}
    window = conn.execute(_bound(
        f"SELECT post.id AS post_id, -ts_rank(post.text_tsv, {tsq}) AS r, source.key AS source, source.kind AS kind, "
        f"{_COLS} FROM post JOIN source ON source.id = post.source_id WHERE post.id IN :ids", more),
        more).mappings().all()
    page = _page(window, offset, limit)
    if page:
        # ts_headline drops what its parser takes for HTML tags and entities: `<` and `&` are swapped for control
        # characters around it, so the snippet shows the text as stored
        masked = "replace(replace(post.text, '<', chr(1)), '&', chr(4))"
        snippet = (f"replace(replace(ts_headline('{PG_CONFIG}', {masked}, {tsq}, 'StartSel={HIT_START}, "
                   f"StopSel={HIT_END}, MaxWords={SNIPPET_WORDS}, MinWords={SNIPPET_WORDS // 2}, "
                   f"MaxFragments=2'), chr(1), '<'), chr(4), '&')")
        more = {"q": words, "ids": [r["post_id"] for r in page]}
        snippets = dict(conn.execute(_bound(f"SELECT post.id, {snippet} FROM post WHERE post.id IN :ids", more),
                                     more).all())
        for r in page:
            r["snippet"] = snippets.get(r["post_id"])
    return total, page


def _search_sqlite(conn: Connection, words, source_ids, substance_ids, since, until, limit, offset):
    """SQLite's search in two reads of the index. The first walks the matching posts newest first, tests the
    filters and keeps the ids of up to COUNT_CAP + 1 of them: the count, and the window (the newest RANK_WINDOW).
    The second ranks the window and makes its snippets, reading only the index between the window's lowest and
    highest id. FTS5 is never given a list of ids to match (`rowid IN (...)`): it would run the whole query once
    per id, and a prefix term's merge each time (seconds). The `+` in `+post_fts.rowid` keeps SQLite from
    handing the id test to FTS5 for that reason; the test runs on each matching row before `post` is read."""
    q = _expanded(conn, words)
    if q is None:
        return 0, []
    where, params = _filters(source_ids, substance_ids, since, until, "+post_fts.rowid",
                             per_post=_many_mentions(conn, substance_ids))
    params["q"] = q
    if not _between_substance_posts(conn, where, params, "post_fts.rowid"):
        return 0, []
    cond = " AND ".join(["post_fts MATCH :q", *where])
    ids = [r[0] for r in conn.execute(_bound(
        f"SELECT post_fts.rowid FROM post_fts JOIN post ON post.id = post_fts.rowid WHERE {cond} "
        f"ORDER BY post_fts.rowid DESC LIMIT :cap", params), {**params, "cap": COUNT_CAP + 1})]
    total = len(ids)
    if not total or offset >= RANK_WINDOW:
        return total, []
    window_ids = ids[:RANK_WINDOW]
    snippet = f"snippet(post_fts, 0, '{HIT_START}', '{HIT_END}', '…', {SNIPPET_WORDS})"
    more = {"q": q, "lo": window_ids[-1], "hi": window_ids[0], "ids": window_ids}
    window = conn.execute(_bound(
        f"SELECT post.id AS post_id, post_fts.rank AS r, source.key AS source, source.kind AS kind, {_COLS}, "
        f"{snippet} AS snippet FROM post_fts JOIN post ON post.id = post_fts.rowid "
        "JOIN source ON source.id = post.source_id "
        "WHERE post_fts MATCH :q AND post_fts.rowid BETWEEN :lo AND :hi AND +post_fts.rowid IN :ids", more),
        more).mappings().all()
    return total, _page(window, offset, limit)


def _epoch(at) -> float:
    """A stored time as seconds (SQLite hands back text), for sorting; no time sorts last."""
    if at is None:
        return float("-inf")
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    return at.timestamp() if at.tzinfo else at.replace(tzinfo=timezone.utc).timestamp()
