"""The runnable examples in the selection modules' docstrings."""
from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["baselines", "bms", "build", "cyclic", "describe", "objectives", "optimal", "prefix_tree", "registry"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"s3t_sim.selection.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
