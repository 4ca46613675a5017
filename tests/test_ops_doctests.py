"""The examples in the operations modules' docstrings are part of their spec: run them."""
import doctest
import importlib

import pytest

MODULES = ["npswatch.config", "npswatch.schedules", "npswatch.scheduler.jobs", "npswatch.lock", "npswatch.scheduler.logs",
           "npswatch.health", "npswatch.retention"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
