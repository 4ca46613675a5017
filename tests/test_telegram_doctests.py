"""The examples in the Telegram modules' docstrings are part of their spec: run them."""
import doctest
import importlib

import pytest

MODULES = ["npswatch.crawlers.telegram.convert", "npswatch.crawlers.telegram.batch", "npswatch.crawlers.telegram.export",
           "npswatch.crawlers.telegram.graph", "npswatch.crawlers.telegram.kinds"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted and result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
