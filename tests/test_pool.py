"""Independent jobs over worker processes (``analysis.realruns.pool``)."""
from __future__ import annotations

import math

import pytest

from analysis.realruns.pool import map_in_processes


def test_processes_return_in_item_order_and_count_every_item():
    done = []
    items = [3, 1, 4, 1, 5]
    together = map_in_processes(math.pow, items, 2, lambda: done.append(1), 2)
    assert together == [9.0, 1.0, 16.0, 1.0, 25.0] == map_in_processes(math.pow, items, 1, lambda: None, 2)
    assert len(done) == len(items)


def test_an_error_in_a_job_is_raised_in_the_caller():
    with pytest.raises(ValueError, match="math domain error"):
        map_in_processes(math.sqrt, [4.0, -1.0], 2, lambda: None)
