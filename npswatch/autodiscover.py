"""Discovery that follows shops as they move: the `[telegram.discovery]` rules add discovered channels to the
watch list (behind `Watch.auto_add_channels` and `npswatch telegram auto-add`; the listener and backfill apply
them by themselves when `auto_add = true`).

A channel of the review queue is added when
- posts of at least `min_channels` watched channels forward from it or link to it,
- at least `min_market_score` of those posts (extracted ones) named a drug or an offer,
- those posts are written in one of `languages` (when the list is not empty), and
- the watch list has room under `join_limit` (Telegram lets an account join about 500 channels), at most
  `max_per_round` per round; none while a watched channel's join is refused for the account's channel limit.
A channel known only by id (`c<id>`, a private link) is never added: it cannot be joined by id. A username
that is a watched channel's new name (same channel id) is not a new channel: it stays one source.

Every addition is logged (a log line, the audit log as actor "discovery-rules", and `telegram_channel` with
`added_by = "auto"` and the reason) and listed in the digest.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .results import AutoAddResult, ChannelVerdict

if TYPE_CHECKING:
    from .watch import Watch

__all__ = ["auto_add", "apply_rules", "ACTOR"]

log = logging.getLogger("npswatch.telegram")
ACTOR = "discovery-rules"  # the audit log's actor for automatic additions


def _watched_ids(engine, watched: set[str]) -> set[int]:
    from npswatch.storage.telegram_store import known_entities

    ids = {cid for u, (cid, _t) in known_entities(engine).items() if u in watched}
    return ids | {int(k[1:]) for k in watched if k[:1] == "c" and k[1:].isdigit()}


def auto_add(watch: "Watch", *, dry_run: bool = False) -> AutoAddResult:
    """Judge the review queue by the rules and (unless `dry_run`) add the channels that pass."""
    from npswatch.pipelines.language import language_of
    from npswatch.storage.telegram_evidence import evidence
    from npswatch.storage.telegram_store import aliases, channel_states, promote

    from .accounts import record

    rules = watch.settings.telegram.discovery
    engine = watch.checked_engine()
    watched = set(watch.channels())
    known = aliases(engine, watched)  # the watched channels under every name they had
    ids = _watched_ids(engine, known)
    full = [k for k, st in channel_states(engine).items() if k in known and st.status == "join_refused"]
    room = 0 if full else max(0, rules.join_limit - len(watched))
    result = AutoAddResult(watched=len(watched), room=room, dry_run=dry_run)
    budget = min(room, rules.max_per_round)
    for ev in evidence(engine, known, min_channels=rules.min_channels):
        if ev.key in known:
            continue
        score, lang = ev.market_score, None
        if ev.channel_id is not None and ev.channel_id in ids:
            why = "the new name of a watched channel (same channel id): it stays one source"
        elif not ev.username:
            why = "known only by id (a private link): cannot be joined"
        elif score is None:
            why = f"none of its {ev.posts} posts has been extracted yet (`npswatch extract-pending`)"
        elif score < rules.min_market_score:
            why = f"market score {score:.2f} below {rules.min_market_score:.2f}"
        else:
            lang = language_of(ev.texts)
            if rules.languages and lang not in rules.languages:
                why = f"language {lang or 'unknown'} not in {', '.join(rules.languages)}"
            elif budget <= 0:
                why = (f"the account is at its channel limit ({full[0]}: join refused)" if full else
                       f"no room: {len(watched)} channels watched, join limit {rules.join_limit}" if not room else
                       f"{rules.max_per_round} channels added this round already")
            else:
                why = None
        if why is not None:
            result.verdicts.append(ChannelVerdict(ev.key, ev.channels, ev.posts, score, lang, False, why))
            continue
        reason = (f"named by {ev.channels} watched channels in {ev.posts} posts; market score {score:.2f} "
                  f"({ev.market} of {ev.extracted}); language {lang or 'unknown'}")
        added = dry_run or promote(engine, ev.key, added_by="auto", reason=reason)  # dry run: would be added
        budget -= added
        if added and not dry_run:
            record(watch, ACTOR, "channel.add", "channel", ev.key, {"reason": reason})
            log.warning("discovery rules: @%s added to the watch list (%s)", ev.key, reason)
        result.verdicts.append(ChannelVerdict(ev.key, ev.channels, ev.posts, score, lang, bool(added), reason))
    return result


def apply_rules(watch: "Watch") -> None:
    """With `telegram.discovery.auto_add`, add the channels the rules accept (the listener's rounds, backfill); a
    failure is logged and the collection goes on."""
    if not watch.settings.telegram.discovery.auto_add:
        return
    try:
        auto_add(watch)
    except Exception:  # noqa: BLE001 - the rules add channels; collecting the watched ones matters more
        log.exception("applying the discovery rules failed")
