"""The data store: the training examples of a run, from which deleted examples are really removed.

An SQLite file in the run folder (``secure_delete`` on: SQLite overwrites freed pages) that
holds every training example with its (shard, slice); a pair's second text is in
``text_pair`` (NULL for single texts), a regression label is a float, ``key`` is the user's
key of a run with ``id_column`` (NULL without). Deleting an example removes its row and
records the id (and key) as deleted, so no later training or retraining can read it.
"""
from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import numpy as np

from s3t_train.data import TextDataset

_SCHEMA = (
    "CREATE TABLE examples (id INTEGER PRIMARY KEY, text TEXT NOT NULL, text_pair TEXT, label NUMERIC NOT NULL, shard INTEGER NOT NULL, slice INTEGER NOT NULL, key TEXT UNIQUE);"
    "CREATE INDEX examples_slice ON examples (shard, slice);"
    "CREATE TABLE deleted (id INTEGER PRIMARY KEY, shard INTEGER NOT NULL, slice INTEGER NOT NULL, key TEXT UNIQUE);"
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
)


class DataStore:
    """The training examples of a run, from which deleted examples are really removed.

    An SQLite file with ``secure_delete`` (freed pages are zeroed) and full synchronous
    commits. ``remove(id)`` deletes the row and records ``(id, shard, slice)`` in the
    ``deleted`` table in one transaction; it is idempotent.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"data store not found: {self.path}")
        self._db = sqlite3.connect(self.path)
        self._db.execute("PRAGMA secure_delete = ON")
        self._db.execute("PRAGMA synchronous = FULL")

    @classmethod
    def create(cls, path: str | Path, dataset: TextDataset, shard_of: np.ndarray, slice_of: np.ndarray) -> "DataStore":
        """Write a new store atomically: a temporary file (removed if anything fails), then
        ``os.replace``. SQLite creates files with mode ``0o644`` under the umask (readable by all)."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.unlink(missing_ok=True)
        try:
            db = sqlite3.connect(tmp)
            try:
                db.executescript(_SCHEMA)
                keys = dataset.keys if dataset.keys is not None else [None] * len(dataset)
                db.executemany(
                    "INSERT INTO examples VALUES (?, ?, ?, ?, ?, ?, ?)",
                    ((int(i), *(t if isinstance(t, tuple) else (t, None)), y.item(), int(s), int(j), k)
                     for i, t, y, s, j, k in zip(dataset.ids, dataset.texts, dataset.labels, shard_of, slice_of, keys)),
                )
                db.execute("INSERT INTO meta VALUES ('label_names', ?)", (json.dumps(dataset.label_names),))
                db.execute("INSERT INTO meta VALUES ('keyed', ?)", (json.dumps(dataset.keys is not None),))
                db.commit()
            finally:
                db.close()
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return cls(path)

    def close(self) -> None:
        self._db.close()

    @property
    def label_names(self) -> list[str]:
        return json.loads(self._db.execute("SELECT value FROM meta WHERE key = 'label_names'").fetchone()[0])

    @property
    def keyed(self) -> bool:
        """Whether the examples' ids are the user's keys (``id_column``)."""
        return json.loads(self._db.execute("SELECT value FROM meta WHERE key = 'keyed'").fetchone()[0])

    def resolve(self, key: str) -> int | None:
        """The internal id of the example with user key ``key`` (present or deleted); ``None`` if unknown."""
        row = self._db.execute("SELECT id FROM examples WHERE key = ? UNION SELECT id FROM deleted WHERE key = ?", (key, key)).fetchone()
        return None if row is None else int(row[0])

    def public_id(self, example_id: int) -> int | str | None:
        """The id a user names ``example_id`` by: its key in a keyed run, else the id itself."""
        if not self.keyed:
            return int(example_id)
        row = self._db.execute("SELECT key FROM examples WHERE id = ? UNION SELECT key FROM deleted WHERE id = ?", (int(example_id),) * 2).fetchone()
        return None if row is None else row[0]

    def listing(self) -> list[dict]:
        """Every example the run holds or held: ``{'id', 'shard', 'slice', 'deleted'}`` by
        internal order, ``id`` being what ``delete --id`` takes."""
        rows = self._db.execute(
            "SELECT id, key, shard, slice, 0 FROM examples UNION ALL SELECT id, key, shard, slice, 1 FROM deleted ORDER BY id"
        )
        return [{"id": r[1] if r[1] is not None else r[0], "shard": r[2], "slice": r[3], "deleted": bool(r[4])} for r in rows]

    def slice_ids(self, shard: int, slice_: int) -> list[int]:
        """Ids currently in ``(shard, slice_)``, ascending."""
        rows = self._db.execute("SELECT id FROM examples WHERE shard = ? AND slice = ? ORDER BY id", (shard, slice_))
        return [r[0] for r in rows]

    def membership(self, shard: int, slices: int) -> list[list[int]]:
        """Ids of each slice of ``shard``."""
        return [self.slice_ids(shard, j) for j in range(slices)]

    def get(self, ids: list[int]) -> tuple[list, list]:
        """Texts (``(text, text_pair)`` for pairs) and labels of ``ids`` (raises ``KeyError``
        naming a deleted or unknown id)."""
        found = {}
        for start in range(0, len(ids), 900):
            chunk = [int(i) for i in ids[start : start + 900]]
            q = f"SELECT id, text, text_pair, label FROM examples WHERE id IN ({','.join('?' * len(chunk))})"
            found.update({r[0]: (r[1] if r[2] is None else (r[1], r[2]), r[3]) for r in self._db.execute(q, chunk)})
        missing = [i for i in ids if int(i) not in found]
        if missing:
            raise KeyError(f"example ids {missing[:5]} are not in the store (deleted or unknown)")
        return [found[int(i)][0] for i in ids], [found[int(i)][1] for i in ids]

    def location(self, example_id: int) -> tuple[int, int] | None:
        """``(shard, slice)`` of a present or deleted example; ``None`` if unknown."""
        row = self._db.execute("SELECT shard, slice FROM examples WHERE id = ?", (int(example_id),)).fetchone()
        row = row or self._db.execute("SELECT shard, slice FROM deleted WHERE id = ?", (int(example_id),)).fetchone()
        return None if row is None else (int(row[0]), int(row[1]))

    def remove(self, example_id: int) -> tuple[int, int] | None:
        """Delete the example's row and record it as deleted; returns its (shard, slice)."""
        example_id = int(example_id)
        with self._db:
            row = self._db.execute("SELECT shard, slice, key FROM examples WHERE id = ?", (example_id,)).fetchone()
            if row is None:
                return self.location(example_id)
            self._db.execute("DELETE FROM examples WHERE id = ?", (example_id,))
            self._db.execute("INSERT OR IGNORE INTO deleted VALUES (?, ?, ?, ?)", (example_id, row[0], row[1], row[2]))
        return int(row[0]), int(row[1])

    def deleted_ids(self) -> set[int]:
        return {r[0] for r in self._db.execute("SELECT id FROM deleted")}

    def __contains__(self, example_id: int) -> bool:
        return self._db.execute("SELECT 1 FROM examples WHERE id = ?", (int(example_id),)).fetchone() is not None

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM examples").fetchone()[0]
