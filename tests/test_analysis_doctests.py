"""The runnable examples in the analysis modules' docstrings."""
import doctest

import pytest

import analysis.bounds
import analysis.expression
import analysis.bound_check
import analysis.planning
import analysis.realruns.bands
import analysis.tables

MODULES = [analysis.expression, analysis.bound_check, analysis.bounds, analysis.planning, analysis.tables, analysis.realruns.bands]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
