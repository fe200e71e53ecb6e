"""The deletion journal: an append-only file of deletion requests, fsynced before acting.

A deletion is first recorded here, then acted on (:mod:`s3t_train.unlearning`); replaying
the journal on opening a run redoes any action a crash cut short.

One record per line, ``{"op": "delete", "id": I, "time": T, "check": C}`` where ``I`` is
an integer in ``[0, 2**63 - 1]`` (a JSON integer: not a float, not a boolean), or in the
journal of a *keyed* run (``id_column``) the user's key (a JSON string,
:func:`s3t_train.data_file.check_example_key`; never an integer there), and ``C``
the first 16 hex digits of the SHA-256 of the record without ``check`` (canonical JSON).
A record is written with one ``write`` and fsynced before the deletion is acknowledged,
so a crash can only leave a *torn tail*: a last line without its newline. :meth:`repair`
(run under the run lock when a run is opened) cuts it off and reports it: the request it
held was never acknowledged and is not accepted. Any other invalid line is damage, not a
crash: reading refuses the journal with the file and line, nothing is coerced.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import time
from pathlib import Path

from s3t_train.data_file import check_example_key

MAX_ID = 2**63 - 1  # SQLite's INTEGER range: the largest example id a run can hold


class JournalError(ValueError):
    """A damaged journal record (names the file and the line)."""


def check_example_id(value: object, name: str = "id") -> int:
    """``value`` as an example id: an integer in ``[0, 2**63 - 1]``, never a bool or a float."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ID:
        shown = repr(value) if not isinstance(value, int) or abs(value) < 10**30 else f"an integer of {len(str(value))} digits"
        raise ValueError(f"{name} must be an integer in [0, 2**63 - 1]; got {shown}")
    return value


def check_journal_id(value: object, keyed: bool) -> int | str:
    """A journal id: a user key (a string) in a keyed run, else an example id (:func:`check_example_id`)."""
    if keyed and not isinstance(value, str):
        raise ValueError(f"id must be a key (a JSON string) in the journal of a run with id_column; got {repr(value)[:40]}")
    return check_example_key(value) if keyed else check_example_id(value)


def _check(record: dict) -> str:
    body = json.dumps({k: record[k] for k in ("op", "id", "time")}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def encode_record(example_id: int | str, when: float, keyed: bool = False) -> str:
    """The journal line (with its newline) recording the deletion of ``example_id`` (a key if ``keyed``)."""
    record = {"op": "delete", "id": check_journal_id(example_id, keyed), "time": float(when)}
    record["check"] = _check(record)
    return json.dumps(record) + "\n"


def decode_record(line: str, keyed: bool = False) -> int | str:
    """The id (or key) of a journal line; ``ValueError`` saying what is wrong with it."""
    try:
        record = json.loads(line, parse_constant=lambda c: math.nan)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg})") from None
    if not isinstance(record, dict) or set(record) != {"op", "id", "time", "check"} or record["op"] != "delete":
        raise ValueError("not a deletion record (keys op, id, time, check)")
    check_journal_id(record["id"], keyed)
    if not isinstance(record["time"], float) or not math.isfinite(record["time"]) or record["check"] != _check(record):
        raise ValueError("checksum does not match the record")
    return record["id"]


class DeletionJournal:
    """Append-only journal of deletion requests, one checksummed JSON line each, fsynced on
    append; ``keyed``: the ids are the user's keys (a run with ``id_column``)."""

    def __init__(self, path: str | Path, keyed: bool = False):
        self.path = Path(path)
        self.keyed = keyed
        self._file = None

    def _lines(self) -> list[bytes]:
        return self.path.read_bytes().split(b"\n") if self.path.is_file() else [b""]

    def entries(self) -> list[int | str]:
        """Ids of the recorded requests, in order (a torn last line is not a request)."""
        ids = []
        lines = self._lines()
        for number, line in enumerate(lines[:-1], start=1):  # the part after the last newline is torn or empty
            try:
                ids.append(decode_record(line.decode("utf-8"), self.keyed))
            except (ValueError, UnicodeDecodeError) as exc:
                raise JournalError(
                    f"deletion journal {self.path} line {number} is damaged ({exc}); nothing was coerced: "
                    f"restore the line or remove it and repeat its deletion"
                ) from None
        return ids

    def repair(self) -> str | None:
        """Cut a torn last line (a crash mid-append); returns what was done, or ``None``."""
        torn = self._lines()[-1]
        if not torn:
            return None
        with open(self.path, "r+b") as f:
            f.truncate(self.path.stat().st_size - len(torn))
            f.flush()
            os.fsync(f.fileno())
        return (
            f"deletion journal {self.path}: removed a torn last record ({len(torn)} bytes) left by a crash; "
            f"the request it held was never acknowledged and is not accepted: repeat it"
        )

    def append(self, example_id: int | str) -> None:
        """Record a deletion request durably (one write, flushed and fsynced)."""
        line = encode_record(example_id, time.time(), self.keyed)
        if self._file is None:
            self._file = open(self.path, "a", encoding="utf-8")
        self._file.write(line)
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
