"""The scrubber never eats a price: extraction on the scrubbed text equals extraction on the raw text, on the
labelled set, the shared spec set and the real dev set (skipped when the shared folder is absent)."""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from npswatch.pipelines.extract import default_extractor
from npswatch.pipelines.privacy import Pseudonymiser
from npswatch.pipelines.rawpost import SourceHints
from real_pages import _checkouts

REPO = Path(__file__).resolve().parents[2]


def _shared(name: str) -> Path | None:
    import os

    roots = [c.parent / "shared" for c in _checkouts()]
    if os.environ.get("NPSWATCH_SHARED"):
        roots.append(Path(os.environ["NPSWATCH_SHARED"]))
    return next((r / name for r in roots if (r / name).is_file()), None)


def _lines(path: Path):
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            yield json.loads(line)


@pytest.fixture(scope="module")
def extractor():
    return default_extractor()


@pytest.mark.parametrize("name", ["labelled", "eval/spec.jsonl", "real/matanga-dev.jsonl"])
def test_extraction_on_scrubbed_text_equals_extraction_on_raw_text(extractor, name):
    path = REPO / "tests" / "data" / "labelled.jsonl" if name == "labelled" else _shared(name)
    if path is None:
        pytest.skip(f"../shared/{name} not found next to the checkout (nor under NPSWATCH_SHARED)")
    ps = Pseudonymiser(b"scrub-equality-key")
    differ, scrubbed_lines = [], 0
    for obj in _lines(path):
        src = obj.get("source") if isinstance(obj.get("source"), dict) else {}
        hints = SourceHints(**{k: src.get(k) for k in ("country", "currency", "language")})
        posted = datetime.fromisoformat(obj["posted_at"].replace("Z", "+00:00")) if obj.get("posted_at") else None
        raw = obj["text"]
        clean = ps.scrub(raw, hints.country)
        scrubbed_lines += clean != raw
        a = extractor.extract(raw, posted_at=posted, hints=hints).to_json(obj["id"])
        b = extractor.extract(clean, posted_at=posted, hints=hints).to_json(obj["id"])
        for s in a.get("substances", []) + b.get("substances", []):
            s.pop("matched", None)  # the words matched are compared through the facts they give
        if a != b:
            differ.append((obj["id"], raw[:120], clean[:120]))
    assert not differ, f"{len(differ)} lines extract differently once scrubbed: {differ[:5]}"
