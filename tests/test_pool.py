"""Independent jobs over worker processes (``analysis.realruns.pool``)."""
from __future__ import annotations

import math

import pytest

from analysis.realruns.pool import WorkerPool


def test_processes_return_in_item_order_and_count_every_item():
    done = []
    items = [3, 1, 4, 1, 5]
    with WorkerPool(2) as pool:
        together = pool.map(math.pow, items, lambda: done.append(1), 2)
        again = pool.map(math.pow, items[:2], lambda: None, 3)  # the same processes, a second map
    with WorkerPool(1) as alone:
        assert together == [9.0, 1.0, 16.0, 1.0, 25.0] == alone.map(math.pow, items, lambda: None, 2)
    assert len(done) == len(items) and again == [27.0, 1.0]


def test_an_error_in_a_job_is_raised_in_the_caller():
    with WorkerPool(2) as pool, pytest.raises(ValueError, match="math domain error"):
        pool.map(math.sqrt, [4.0, -1.0], lambda: None)
