"""Where and since when something was seen (behind `Watch.places` and `Watch.substance_profile`): the places,
sources and latest posts of a scope (`npswatch.reports.activity`), and the map of its cities
(`npswatch.reports.maps`)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .errors import WatchError
from .results import PlacesResult, SubstanceProfile

if TYPE_CHECKING:
    from npswatch.reports.scope import Filters

    from .watch import Watch

__all__ = ["activity_title", "places", "profile"]


def activity_title(f: "Filters") -> str:
    from .reporting import scope_label

    return f"Where seen: {scope_label(f)}"


def places(watch: "Watch", f: "Filters", *, svg: str | Path | None = None, frame: str = "all") -> PlacesResult:
    from npswatch.reports.activity import places as find
    from npswatch.reports.maps import FRAMES, write_svg

    if frame not in FRAMES and frame != "auto":
        raise WatchError(f"--frame must be one of {', '.join(FRAMES)} or auto, not {frame!r}")
    if svg is not None and Path(svg).suffix.lower() != ".svg":
        raise WatchError("--svg needs a file ending in .svg")
    from .reporting import fresh_engine

    result = PlacesResult(find(fresh_engine(watch), f), activity_title(f))
    if svg is not None:
        result.path = write_svg(svg, result.svg(frame=frame, standalone=True))
    return result


def profile(watch: "Watch", f: "Filters", *, latest: int = 20,
            parts: tuple[str, ...] = ("places", "sources", "posts")) -> SubstanceProfile:
    from npswatch.reports.activity import latest_posts, places as find, sources

    from .reporting import fresh_engine

    engine = fresh_engine(watch)
    return SubstanceProfile(activity_title(f), find(engine, f) if "places" in parts else [],
                            sources(engine, f) if "sources" in parts else [],
                            latest_posts(engine, f, latest) if "posts" in parts else [])
