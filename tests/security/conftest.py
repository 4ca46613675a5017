"""The security probes: each test holds one promise of README "What npswatch promises"."""
from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS) not in sys.path:  # the shared helpers (helpers.py, real_pages.py) live one folder up
    sys.path.insert(0, str(TESTS))
