"""The deletion journal: an append-only file of deletion requests, fsynced before acting.

A deletion is first recorded here, then acted on (:mod:`s3t_train.unlearning`); replaying
the journal on opening a run redoes any action a crash cut short.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path


class DeletionJournal:
    """Append-only journal of deletion requests, one JSON line each, fsynced on append."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._file = None

    def entries(self) -> list[int]:
        """Ids of the recorded requests, in order."""
        if not self.path.is_file():
            return []
        ids = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                ids.append(int(json.loads(line)["id"]))
            except (ValueError, KeyError, TypeError):
                continue  # a torn last line from a crash mid-append: the request was never acknowledged
        return ids

    def append(self, example_id: int) -> None:
        """Record a deletion request durably (flushed and fsynced)."""
        if self._file is None:
            self._file = open(self.path, "a", encoding="utf-8")
        self._file.write(json.dumps({"op": "delete", "id": int(example_id), "time": time.time()}) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
