"""Message kinds beyond text and captions: polls, venues and locations, contact cards, posts sent through a bot.

A shop asks "what should we stock?" in a poll, drops a map pin of its city, posts a contact card of its
operator, or posts through its own inline bot. Each becomes part of the post, whichever way the message
arrives: `from_media(message.media)` reads Telethon's media objects (listener, backfill), `from_export(msg)`
the fields Telegram Desktop writes (`poll`, `location_information` / `place_name` / `address`,
`contact_information`). Both give the same `KindFacts`: lines appended to the post text (so the extractor
reads them like any text: a substance in a poll answer is a mention, the city of a pin a region) and facts
for the post's `extra`.

| kind | text lines | `extra` | never stored |
|---|---|---|---|
| poll (`MessageMediaPoll`, `poll`) | `[poll] question`, `- answer` per answer | `poll`: answers, votes per answer, voters, closed | who voted |
| venue, location, live location (`MessageMediaVenue`/`Geo`/`GeoLive`, `place_name`/`address`/`location_information`) | `[location] City` | `location`: kind, city (GeoNames id, name, country), how it was found | coordinates, the venue's name and street address |
| contact card (`MessageMediaContact`, `contact_information`) | `[contact] tel_… u_…` | `contact`: phone and name pseudonyms | the phone number, names and vCard in clear |
| `via_bot` | - | `via_bot`: the bot (pseudonymised in the post like every name) | - |

The city of a place: the first city named in a venue's address (through the gazetteer), else the city the
coordinates fall in (`pipelines.geopoint`, within 50 km), else the country named in the address; a point far
from every known city gives `[location]` with no place. A bot a post came through goes to the discovery queue
(`bot_link`) as a link of kind `via_bot`: shops sell through their bots.

>>> from npswatch.pipelines.privacy import Pseudonymiser
>>> ps = Pseudonymiser(b"doctest-key")
>>> f = place_facts("venue", 43.2567, 76.9286, title="Synthetic place", address="ул. Синтетическая 1")
>>> f.lines, f.extra
(['[location] Almaty'], {'location': {'kind': 'venue', 'city': 1526384, 'name': 'Almaty', 'country': 'KZ', 'from': 'coordinates'}})
>>> poll_facts("Что завезти?", [("Меф", 3), ("Шишки", 5)], total=8).lines
['[poll] Что завезти?', '- Меф', '- Шишки']
>>> c = contact_facts(ps, "+7 700 000 0001", "Synthetic", "Person", user_id=0)
>>> c.lines[0].startswith("[contact] tel_"), "7000000001" in str(c.extra), "Synthetic" in str(c.extra)
(True, False, False)
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from npswatch.pipelines.geopoint import CityPoints
from npswatch.pipelines.privacy import Pseudonymiser
from npswatch.pipelines.regions import Gazetteer
from npswatch.storage.telegram_store import Link

__all__ = ["KindFacts", "from_media", "from_export", "poll_facts", "place_facts", "contact_facts", "bot_link",
           "export_bot", "with_kind", "merge"]

LINK_KIND = "via_bot"


@dataclass
class KindFacts:
    kind: str  # poll | venue | location | live_location | contact
    lines: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def with_kind(text: str, facts: KindFacts | None) -> str:
    """The post text: the message's own text (or caption), then the lines of its kind."""
    if facts is None or not facts.lines:
        return text
    return "\n".join([text.rstrip(), *facts.lines]) if text.strip() else "\n".join(facts.lines)


def merge(text: str, extra: dict, links: list[Link], facts: KindFacts | None,
          bot: tuple[Link | None, dict | None]) -> str:
    """Add a message's kind (`from_media`/`from_export`) and bot (`bot_link`/`export_bot`) to the post being
    built: `extra` and `links` in place; returns the text with the kind's lines."""
    if facts is not None:
        extra.update(facts.extra)
        extra["media"] = facts.kind
        text = with_kind(text, facts)
    link, via = bot
    if via is not None:
        extra["via_bot"] = via
    if link is not None:
        links.append(link)
    return text


# -- polls ---------------------------------------------------------------------------------------------------
def poll_facts(question: str, answers: Sequence[tuple[str, int | None]], *, total: int | None = None,
               closed: bool = False) -> KindFacts:
    lines = [f"[poll] {' '.join(question.split())}"] + [f"- {' '.join(a.split())}" for a, _ in answers if a.strip()]
    votes = [v for _, v in answers]
    extra: dict[str, Any] = {"answers": len(answers), "closed": bool(closed)}
    if total is not None:
        extra["voters"] = int(total)
    if any(v is not None for v in votes):
        extra["votes"] = [int(v) if v is not None else None for v in votes]
    return KindFacts("poll", lines, {"poll": extra})


def _text(t: Any) -> str:
    """A poll's question or answer: a string (older layers), `TextWithEntities`, or an export's text list."""
    if t is None:
        return ""
    if isinstance(t, str):
        return t
    if isinstance(t, list):
        return "".join(p if isinstance(p, str) else str(p.get("text", "")) for p in t if isinstance(p, (str, dict)))
    return str(getattr(t, "text", "") or "")


# -- places --------------------------------------------------------------------------------------------------
def _address_place(address: str | None) -> tuple[str, Any] | None:
    """('city', hit) for the first city named in an address, else ('country', hit) for a country, else None."""
    if not address or not address.strip():
        return None
    hits = Gazetteer.default().find(address)
    city = next((h for h in hits if h.level == "city"), None)
    if city is not None:
        return "city", city
    country = next((h for h in hits if h.level == "country"), None)
    return ("country", country) if country is not None else None


def place_facts(kind: str, lat: float | None, lon: float | None, *, title: str | None = None,
                address: str | None = None) -> KindFacts:
    """A venue or location, as its city only. `title` is never kept (a venue's name may be the drop itself)."""
    points = CityPoints.default()
    named = _address_place(address)
    loc: dict[str, Any] = {"kind": kind}
    name = None
    if named and named[0] == "city":
        hit = named[1]
        name = points.name_of(hit.geonameid) or hit.name
        loc.update(city=hit.geonameid, name=hit.name, country=hit.country, **{"from": "address"})
    else:
        near = None
        if lat is not None and lon is not None:
            try:
                near = points.nearest(lat, lon)
            except (TypeError, ValueError):
                near = None
        if near is not None:
            name = near.name
            loc.update(city=near.geonameid, name=points.english(near.geonameid), country=near.country,
                       **{"from": "coordinates"})
        elif named:  # the address names only a country
            name = named[1].name
            loc.update(country=named[1].country, name=named[1].name, **{"from": "address"})
    return KindFacts(kind, [f"[location] {name}" if name else "[location]"], {"location": loc})


# -- contact cards ---------------------------------------------------------------------------------------------
def contact_facts(ps: Pseudonymiser, phone: str | None, first: str | None, last: str | None, *,
                  user_id: int | None = None, region: str | None = None) -> KindFacts:
    """A contact card, pseudonymised here: the phone's pseudonym (the one the same number gets in any text),
    the account's (the one it gets as an author) and the name's. The vCard is never read."""
    out: dict[str, Any] = {}
    digits = "".join(ch for ch in (phone or "") if ch.isdigit())
    if digits:
        number = phone.strip() if phone.strip().startswith(("+", "0")) else "+" + digits  # Telegram: no "+"
        out["phone"] = ps.phone(number, region)
    if user_id:
        out["user"] = ps.handle(f"user{int(user_id)}")
    name = " ".join(x.strip() for x in (first, last) if x and x.strip())
    if name:
        out["name"] = ps.handle(f"name:{name}")
    shown = [out[k] for k in ("phone", "user") if k in out] or ([out["name"]] if "name" in out else [])
    return KindFacts("contact", ["[contact] " + " ".join(shown)] if shown else [], {"contact": out})


# -- Telethon media ---------------------------------------------------------------------------------------------
def from_media(media: Any, ps: Pseudonymiser, region: str | None = None) -> KindFacts | None:
    """The facts of a Telethon `MessageMedia*` of a kind this module reads; None for the others (photos,
    documents, web pages: their captions are the message text)."""
    name = type(media).__name__ if media is not None else ""
    if name == "MessageMediaPoll":
        poll, results = media.poll, media.results
        votes = {r.option: r.voters for r in (getattr(results, "results", None) or ())}
        answers = [(_text(a.text), votes.get(a.option)) for a in poll.answers]
        return poll_facts(_text(poll.question), answers, total=getattr(results, "total_voters", None),
                          closed=bool(poll.closed))
    if name in ("MessageMediaVenue", "MessageMediaGeo", "MessageMediaGeoLive"):
        geo = media.geo
        lat, lon = getattr(geo, "lat", None), getattr(geo, "long", None)  # GeoPointEmpty has neither
        kind = {"MessageMediaVenue": "venue", "MessageMediaGeo": "location"}.get(name, "live_location")
        return place_facts(kind, lat, lon, title=getattr(media, "title", None), address=getattr(media, "address", None))
    if name == "MessageMediaContact":
        return contact_facts(ps, media.phone_number, media.first_name, media.last_name, user_id=media.user_id,
                             region=region)
    return None


def bot_link(msg: Any, src: str, date: datetime | None) -> tuple[Link | None, dict[str, Any] | None]:
    """(discovery link, `extra["via_bot"]`) of a message sent through an inline bot; (None, None) otherwise.
    The bot's username comes from the entities Telegram sent with the message (Telethon's `msg.via_bot`)."""
    bot_id = getattr(msg, "via_bot_id", None)
    if not bot_id:
        return None, None
    bot = getattr(msg, "via_bot", None)
    uname = (getattr(bot, "username", None) or "").lower() or None
    if uname is None:  # a bot Telegram sent no entity for: kept as its id, pseudonymised by the writer
        return None, {"user": f"user{bot_id}"}
    return Link(src, msg.id, uname, LINK_KIND, date, uname, None, None), {"username": uname}


# -- Telegram Desktop exports -------------------------------------------------------------------------------------
def _coordinate(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def from_export(msg: dict, ps: Pseudonymiser, region: str | None = None) -> KindFacts | None:
    """The facts of an export message's poll, place or contact fields; None when it has none of them."""
    poll = msg.get("poll")
    if isinstance(poll, dict):
        answers = [(_text(a.get("text")), a.get("voters") if isinstance(a.get("voters"), int) else None)
                   for a in poll.get("answers") or () if isinstance(a, dict)]
        total = poll.get("total_voters")
        return poll_facts(_text(poll.get("question")), answers, total=total if isinstance(total, int) else None,
                          closed=poll.get("closed") is True)
    if "location_information" in msg or "place_name" in msg or "address" in msg:
        point = msg.get("location_information")
        lat = lon = None
        if isinstance(point, dict):
            lat, lon = _coordinate(point.get("latitude")), _coordinate(point.get("longitude"))
        address = msg.get("address") if isinstance(msg.get("address"), str) else None
        if "place_name" in msg or address:
            kind = "venue"
        else:
            kind = "live_location" if "live_location_period_seconds" in msg else "location"
        return place_facts(kind, lat, lon, address=address)
    contact = msg.get("contact_information")
    if isinstance(contact, dict):
        s = lambda k: contact.get(k) if isinstance(contact.get(k), str) else None  # noqa: E731
        return contact_facts(ps, s("phone_number"), s("first_name"), s("last_name"), region=region)
    return None


def export_bot(msg: dict, src: str, message_id: int, date: datetime | None) -> tuple[Link | None, dict | None]:
    """`via_bot: "@name"` of an export message -> (discovery link, `extra["via_bot"]`)."""
    v = msg.get("via_bot")
    if not isinstance(v, str) or not v.strip().lstrip("@"):
        return None, None
    uname = v.strip().lstrip("@").lower()
    return Link(src, message_id, uname, LINK_KIND, date, uname, None, None), {"username": uname}
