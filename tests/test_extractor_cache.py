"""The built extractor kept on disk (npswatch/extractor_cache.py): same facts as a fresh build, a new key for any
changed input, and a bad or unwritable cache costs only a rebuild."""
from __future__ import annotations

import json
import os
import pickle
import shutil
from datetime import datetime
from pathlib import Path

import pytest

from npswatch import extractor_cache as ec
from npswatch import pipelines
from npswatch.pipelines.extract import default_extractor

LINES = [json.loads(line) for line in
         (Path(__file__).parent / "data" / "labelled.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
OVERLAY = [{"key": "overlay:zz-synthetica", "canonical": "ZZ-SYNTHETICA", "class": "synthetic_cannabinoid",
            "aliases": ["zz-synthetica"]}]


def facts(x, lines=LINES):
    return [x.extract(o["text"], posted_at=datetime.fromisoformat(o["posted_at"].replace("Z", "+00:00")))
            .to_json(o["id"]) for o in lines]


def no_build(monkeypatch):
    def refuse():
        raise AssertionError("built again instead of read from the cache")

    monkeypatch.setattr(ec, "default_extractor", refuse)


def test_the_cached_extractor_extracts_what_a_fresh_build_does(tmp_path, monkeypatch):
    first = ec.cached_extractor(folder=tmp_path)
    assert len(list(tmp_path.glob("extractor-*.pickle"))) == 1
    no_build(monkeypatch)
    second = ec.cached_extractor(folder=tmp_path)  # read back from the file
    assert second.matcher is not default_extractor().matcher
    assert facts(second) == facts(first) == facts(default_extractor())
    assert any(f["offers"] for f in facts(second))


def test_the_overlay_is_part_of_the_key_and_its_names_are_found(tmp_path, monkeypatch):
    plain = ec.cached_extractor(folder=tmp_path)
    with_overlay = ec.cached_extractor(OVERLAY, folder=tmp_path)
    line = "ZZ-SYNTHETICA 1г 3000₽"
    assert not plain.extract(line).substances
    assert [s.canonical for s in with_overlay.extract(line).substances] == ["ZZ-SYNTHETICA"]
    assert len(list(tmp_path.glob("extractor-*.pickle"))) == 2
    no_build(monkeypatch)
    again = ec.cached_extractor(OVERLAY, folder=tmp_path)
    assert [s.canonical for s in again.extract(line).substances] == ["ZZ-SYNTHETICA"]


def test_any_changed_input_gives_a_new_key(tmp_path):
    root = tmp_path / "pipelines"
    shutil.copytree(Path(pipelines.__file__).parent, root, ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    key = ec.cache_key(root=root)
    assert key == ec.cache_key() == ec.cache_key(root=root)
    for changed in ("data/lexicon.toml", "data/lexicon_forms.json", "data/gazetteer.tsv.gz", "substances.py"):
        path = root / changed
        original = path.read_bytes()
        path.write_bytes(original + b"\n")
        assert ec.cache_key(root=root) != key, changed
        path.write_bytes(original)
    assert ec.cache_key(root=root) == key
    assert ec.cache_key(OVERLAY, root=root) != key


@pytest.mark.parametrize("content", [b"", b"not a pickle", pickle.dumps(("a", "b")), pickle.dumps(1)[:-1]])
def test_a_bad_cache_file_is_rebuilt_and_replaced(tmp_path, content):
    path = tmp_path / f"extractor-{ec.cache_key()}.pickle"
    path.write_bytes(content)
    x = ec.cached_extractor(folder=tmp_path)
    assert facts(x, LINES[:20]) == facts(default_extractor(), LINES[:20])
    assert path.stat().st_size > 1_000_000


def test_an_unwritable_cache_folder_costs_only_the_build(tmp_path):
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    x = ec.cached_extractor(folder=blocked / "cache")
    assert facts(x, LINES[:5]) == facts(default_extractor(), LINES[:5])


def test_only_the_newest_files_are_kept(tmp_path):
    for i in range(ec.KEEP + 2):
        stale = tmp_path / f"extractor-{i:064x}.pickle"
        stale.write_bytes(b"old")
        os.utime(stale, (1_000_000 + i, 1_000_000 + i))
    ec.cached_extractor(folder=tmp_path)
    kept = sorted(p.name for p in tmp_path.glob("extractor-*.pickle"))
    assert len(kept) == ec.KEEP and f"extractor-{ec.cache_key()}.pickle" in kept
    assert f"extractor-{0:064x}.pickle" not in kept


def test_the_default_folder_is_the_users_cache_unless_set(monkeypatch, tmp_path):
    monkeypatch.setenv("NPSWATCH_CACHE_DIR", str(tmp_path / "c"))
    assert ec.cache_dir() == tmp_path / "c"
    monkeypatch.delenv("NPSWATCH_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert ec.cache_dir() == tmp_path / "xdg" / "npswatch"
