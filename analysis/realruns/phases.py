"""Wall-clock time per phase of a long job (train, evaluate, replay, predict, ...), for its summary."""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator


class PhaseTimer:
    """Seconds spent in each named phase; a phase entered again adds up.

    >>> timer = PhaseTimer()
    >>> with timer("train"):
    ...     pass
    >>> list(timer.seconds)
    ['train']
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started
