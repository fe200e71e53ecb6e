"""Independent jobs over worker processes: the training and evaluation of ``s3t validate``'s systems."""
from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Callable


def map_in_processes(fn: Callable[..., Any], items: list[Any], workers: int, done: Callable[[], Any], *common: Any) -> list[Any]:
    """``[fn(item, *common) for item in items]`` in item order, on ``workers`` spawned processes
    (in this process when ``workers`` is 1 or there is one item); ``done()`` after each item.

    Each process runs whole items, so a job that is deterministic on its own gives the same
    result whichever process runs it; an exception in a job is raised here.
    """
    if workers <= 1 or len(items) <= 1:
        out = []
        for item in items:
            out.append(fn(item, *common))
            done()
        return out
    context = multiprocessing.get_context("spawn")  # no forked torch state in the workers
    with ProcessPoolExecutor(max_workers=min(workers, len(items)), mp_context=context) as pool:
        futures = [pool.submit(fn, item, *common) for item in items]
        for future in as_completed(futures):
            future.result()
            done()
        return [future.result() for future in futures]
