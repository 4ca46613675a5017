"""The default extractor's built matcher and gazetteer, kept on disk so that each command does not rebuild them.

Building them (Aho-Corasick automata over every alias form, spelling variant and place name) takes about a
second and grows with the lexicon; reading the built objects back takes a tenth of that. One file per key in the
user's cache folder (`NPSWATCH_CACHE_DIR`, else platformdirs' user cache folder for npswatch). The key is the
sha256 of everything the build reads or runs: the pipelines' data files (lexicon, its generated forms, the
gazetteer) and sources, the overlay of confirmed candidates, and the Python and pyahocorasick builds. An edited
lexicon, a regenerated forms file or a changed matcher therefore never gets an old file. A file that cannot be
read is rebuilt and replaced; a folder that cannot be written costs only the build. Files are written whole
(rename), in a folder only the user can write (they are pickles: never point `NPSWATCH_CACHE_DIR` at a folder
others can write).
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import ahocorasick

from npswatch import pipelines
from npswatch.pipelines.extract import Extractor, default_extractor
from npswatch.pipelines.fx import RateBook
from npswatch.pipelines.regions import Gazetteer
from npswatch.pipelines.substances import SubstanceMatcher

__all__ = ["cache_dir", "cache_key", "cached_extractor", "KEEP"]

FORMAT = 1  # of the cache file's content: (SubstanceMatcher, Gazetteer)
KEEP = 4  # newest files kept (one per overlay in use, typically)
PREFIX = "extractor-"


def cache_dir() -> Path:
    """Where the built extractors are kept."""
    env = os.environ.get("NPSWATCH_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("npswatch", appauthor=False))


def _build_inputs(root: Path) -> list[Path]:
    return sorted(root.glob("*.py")) + sorted(p for p in (root / "data").iterdir() if p.is_file())


def cache_key(overlay: Sequence[dict] = (), root: Path | None = None) -> str:
    """sha256 over the build's inputs (files under `root`, default: the installed pipelines) and `overlay`."""
    root = Path(pipelines.__file__).parent if root is None else root
    h = hashlib.sha256()
    automaton = os.stat(ahocorasick.__file__)  # the extension module whose objects are pickled: its build
    h.update(f"{FORMAT}\0{sys.version}\0{automaton.st_size}\0{automaton.st_mtime_ns}\0".encode())
    for path in _build_inputs(root):
        data = path.read_bytes()
        h.update(f"{path.relative_to(root).as_posix()}\0{len(data)}\0".encode())
        h.update(data)
    h.update(json.dumps(list(overlay), sort_keys=True, ensure_ascii=False, default=str).encode())
    return h.hexdigest()


def _read(path: Path) -> tuple[SubstanceMatcher, Gazetteer] | None:
    try:
        with open(path, "rb") as fh:
            matcher, gazetteer = pickle.load(fh)
    except FileNotFoundError:
        return None
    except Exception:  # noqa: BLE001 - truncated, corrupt or from an incompatible build: rebuild it
        return None
    if isinstance(matcher, SubstanceMatcher) and isinstance(gazetteer, Gazetteer) and matcher.places is gazetteer:
        return matcher, gazetteer
    return None


def _write(folder: Path, path: Path, built: tuple[SubstanceMatcher, Gazetteer]) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(built, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        old = sorted(folder.glob(PREFIX + "*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)[KEEP:]
        for p in old:
            p.unlink(missing_ok=True)
    except OSError:
        pass  # read-only or full: the next command builds again


def cached_extractor(overlay: Sequence[dict] = (), rates: RateBook | None = None,
                     folder: Path | None = None) -> Extractor:
    """`default_extractor()` (with `overlay`'s aliases, see `Extractor.with_overlay`, and `rates`), its built
    parts read from the cache when their inputs are unchanged, else built and stored there."""
    folder = cache_dir() if folder is None else folder
    path = folder / f"{PREFIX}{cache_key(overlay)}.pickle"
    built = _read(path)
    if built is None:
        x = default_extractor()
        if overlay:
            x = x.with_overlay(list(overlay))
        built = (x.matcher, x.gazetteer)
        _write(folder, path, built)
    return Extractor(built[0], built[1], rates if rates is not None else RateBook())
