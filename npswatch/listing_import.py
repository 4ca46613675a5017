"""`import-listings`: historic listing snapshots of other scrapers into the database, as crawls would store them.

Each distinct time stamp of the files is one snapshot, recorded as one `listing-snapshot` run (its time is the
snapshot's) under the import's own `import-listings` run. Its rows go through the crawl's path: `PostWriter`
(scrubbed and pseudonymised, versioned, facts extracted), `ListingTracker.observe` (first and last seen, price
and stock per observation) and, when the mapping says snapshots are complete, `mark_disappeared` at the
snapshot's time. `npswatch sales` then counts the stock drops as it does for crawls.

Snapshots are stored oldest first. A snapshot at or before the last observation already stored for the source
is left out (the same files imported twice store nothing twice; the last snapshot of an interrupted import is
completed, its run found again by its time).
"""
from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import WatchError
from .results import ListingImportResult

if TYPE_CHECKING:
    from .watch import Watch

__all__ = ["import_listings"]

MAX_REPORTED = 100  # bad rows listed one by one; the rest are counted


def import_listings(watch: "Watch", files: list[Path], mapping: Path, *, extract: bool = True,
                    batch_size: int = 500, on_progress: Callable[[str, int, int], None] | None = None
                    ) -> ListingImportResult:
    """Import `files` read with the mapping file `mapping`. `on_progress(phase, done, total)`: phase "read"
    counts bytes of the files, "store" rows stored."""
    from npswatch.crawlers.listing_history import (HistoryError, Spool, check_file, load_mapping, read_snapshots,
                                                  scrubbed, to_post)
    from npswatch.pipelines.rawpost import InvalidPost
    from npswatch.storage.listings import ListingTracker
    from npswatch.storage.runs import past_run

    if not files:
        raise WatchError("import-listings: no files given")
    files = [Path(f) for f in files]
    try:
        m = load_mapping(mapping)
        for f in files:
            if f.is_dir():
                raise HistoryError(f"{f}: a folder, not a CSV or JSON Lines file")
            check_file(f, m)
    except HistoryError as exc:
        raise WatchError(str(exc)) from None
    engine = watch.checked_engine()
    writer = watch.writer(extract=extract)
    tracker = ListingTracker(engine, watch.pseudonymiser)
    result = ListingImportResult(source=m.source, complete=m.complete, files=[str(f) for f in files])

    def bad(why: str) -> None:
        result.bad_rows += 1
        if len(result.bad) < MAX_REPORTED:
            result.bad.append(why)

    total = sum(f.stat().st_size for f in files)
    done = 0

    def read(n: int) -> None:
        nonlocal done
        done += n
        if on_progress:
            on_progress("read", done, total)

    data = watch.settings.data_path
    data.mkdir(parents=True, exist_ok=True)
    with Spool(data, scrub=partial(scrubbed, ps=watch.pseudonymiser, region=m.hints.country)) as spool:
        try:
            result.rows = read_snapshots(files, m, spool, bad, read)
        except HistoryError as exc:  # a file unreadable half-way: nothing is stored yet
            raise WatchError(str(exc)) from None
        with watch.run_record("import-listings", m.source, error_message=str) as run:
            result.run_id = run.id
            floor = tracker.last_seen(m.source)
            stored, ids, snapshot_id = 0, set(), None
            written: dict[str, int] = {}  # listing id -> hash of what this import last wrote of it
            for at, rows, end in spool.chunks(batch_size):
                if floor is not None and at < floor:
                    result.skipped_rows += len(rows)
                    result.skipped_snapshots += end
                    stored += len(rows)
                    continue
                if snapshot_id is None:
                    snapshot_id, _new = past_run(engine, "listing-snapshot", m.source, at, parent_id=run.id,
                                                  message=f"snapshot imported by run {run.id}")
                    ids = set()
                    result.snapshots += 1
                    result.first = result.first or at
                    result.last = at
                posts, changed = [], []
                for row in rows:
                    if row.external_id in ids:
                        bad(f"snapshot {at:%Y-%m-%d %H:%M:%S}: listing id {row.external_id[:60]} again (the first "
                            "row of it kept)")
                        continue
                    ids.add(row.external_id)
                    try:
                        post = to_post(m, row)
                    except InvalidPost as exc:
                        bad(f"snapshot {at:%Y-%m-%d %H:%M:%S}: {exc}")
                        continue
                    posts.append(post)
                    shown = hash((row.text, tuple(row.structured.values()), row.url, row.author, row.posted_at))
                    if written.get(row.external_id) != shown:  # as written before: the writer would find it so
                        written[row.external_id] = shown
                        changed.append(post)
                result.written += writer.write(changed)
                result.observed += tracker.observe(snapshot_id, posts, observed_at=at)
                if end:
                    if m.complete:
                        result.disappeared += tracker.mark_disappeared(m.source, since=at, at=at)
                    snapshot_id = None
                stored += len(rows)
                if on_progress:
                    on_progress("store", stored, spool.rows)
            run.items = result.observed.observed
            run.errors = result.bad_rows
            run.message = result.summary()
    return result
