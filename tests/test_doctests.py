"""The examples in the pipelines' docstrings are part of the spec: run them."""
import doctest
import importlib
import pkgutil

import pytest

from npswatch import pipelines

MODULES = sorted(m.name for m in pkgutil.iter_modules(pipelines.__path__, "npswatch.pipelines."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
