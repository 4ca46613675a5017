"""`fewer_collections` (an import's garbage collector settings) puts the process's settings back when the last
use ends, nested or from two threads."""
from __future__ import annotations

import gc
import threading

from npswatch.bulk import fewer_collections


def test_settings_are_put_back_after_nested_and_concurrent_uses():
    before = gc.get_threshold()
    frozen = gc.get_freeze_count()
    started, release = threading.Event(), threading.Event()

    def other():
        with fewer_collections():
            started.set()
            release.wait(5)

    with fewer_collections():
        assert gc.get_threshold()[0] >= 50_000
        assert gc.get_freeze_count() > frozen
        t = threading.Thread(target=other)
        t.start()
        started.wait(5)
        with fewer_collections():
            pass
    assert gc.get_threshold()[0] >= 50_000  # the thread's use still runs
    release.set()
    t.join(5)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
    assert gc.collect() >= 0  # collections still work
