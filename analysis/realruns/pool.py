"""Independent jobs over worker processes: the training and evaluation of ``s3t validate``'s systems."""
from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Callable


class WorkerPool:
    """``workers`` spawned processes, each with ``threads`` torch threads, kept for several
    :meth:`map` calls (their imports and loaded models are reused); with one worker everything
    runs in this process (its thread count is the caller's).

    >>> with WorkerPool(1) as pool:
    ...     pool.map(abs, [-1, 2], lambda: None)
    [1, 2]
    """

    def __init__(self, workers: int, threads: int = 1) -> None:
        self.workers = workers
        self.threads = threads
        self._pool: "ProcessPoolExecutor | None" = None

    def __enter__(self) -> "WorkerPool":
        if self.workers > 1:  # spawn: no forked torch state in the workers
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_set_torch_threads, initargs=(self.threads,))
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def map(self, fn: Callable[..., Any], items: list[Any], done: Callable[[], Any], *common: Any) -> list[Any]:
        """``[fn(item, *common) for item in items]`` in item order; ``done()`` after each item. Each
        process runs whole items, so a job that is deterministic on its own gives the same result
        whichever process runs it; an exception in a job is raised here."""
        if self._pool is None:
            out = []
            for item in items:
                out.append(fn(item, *common))
                done()
            return out
        futures = [self._pool.submit(fn, item, *common) for item in items]
        for future in as_completed(futures):
            future.result()
            done()
        return [future.result() for future in futures]


def _set_torch_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
