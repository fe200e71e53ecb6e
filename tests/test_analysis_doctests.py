"""The runnable examples in the analysis modules' docstrings."""
import doctest
import importlib

import pytest

MODULES = ["analysis.expression", "analysis.fitting", "analysis.bounds", "analysis.planning", "analysis.output"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
