"""The run lock: one writer at a time in a run folder, readers see a consistent state.

Every command that changes a run (``train``, ``delete``, ``retrain``, opening a run whose
journal must be replayed) holds the lock exclusively (``fcntl.flock`` on
``RUN/.lock``); readers (``predict``, ``eval``, ``audit``, ``profile``) hold it shared for
as long as they read. A retrain holds it for one stage at a time, so a deletion waits at
most one stage; the retrain re-reads the journal under the lock before each stage and
before it publishes (:mod:`s3t_train.retraining`). The lock is advisory and local: it
orders processes on one machine (or on a file system whose ``flock`` is shared, which
NFS may not be).
"""
from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from s3t_train.layout import LOCK_FILE


class RunLock:
    """A re-entrant ``flock`` on a run folder's lock file, held through one descriptor.

    ``hold()`` takes it exclusively, ``hold(shared=True)`` shared; nested holds in the
    same process reuse the outer one (a shared hold cannot be upgraded: take the
    exclusive one first).
    """

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / LOCK_FILE
        self._fd: int | None = None
        self._depth = 0
        self._exclusive = False

    @contextmanager
    def hold(self, shared: bool = False) -> Iterator[None]:
        if self._depth and not shared and not self._exclusive:
            raise RuntimeError("run lock: a shared hold cannot be upgraded to an exclusive one")
        if self._depth == 0:
            if self._fd is None:
                try:
                    self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
                except OSError as exc:
                    raise ValueError(f"run folder {self.path.parent} must be a writable folder (its lock file {self.path.name}: {exc.strerror})") from None
            fcntl.flock(self._fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
            self._exclusive = not shared
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            self._depth = 0
