"""Deletion by deactivation: which examples are deleted, which slices they hit, what each shard serves.

A deletion (:meth:`DeletionState.delete`) first appends the id to the journal
(:class:`s3t_train.journal.DeletionJournal`) and fsyncs it, then acts: the slice that held
the example is marked *hit* in its shard, which deactivates every stage whose prefix
contains that slice; each shard switches to serving its longest clean prefix
(:func:`s3t_sim.prefix.best_sequence`); the example is removed from the data store and
from the activation cache. Replaying the journal when a run is opened takes the same path
(:meth:`DeletionState.sync`: deactivate, erase, remove), so the state after a crash equals the state without one.
Deleting twice is a no-op.

Nothing trained on a deleted example stays on disk: a deletion erases the node files of
its shard whose provenance lists a deleted id (:meth:`DeletionState.erase_tainted`), after
the journal and before the store, so a crash in between is finished on the next open. A
multi-id request is validated as a whole before anything is done
(:meth:`DeletionState.delete_many`). Every change holds the run lock
(:class:`s3t_train.run_lock.RunLock`) and starts from the journal and membership files as
they are on disk (:meth:`DeletionState.sync`), so another process's deletion or a
retrain's publication is never overwritten or missed.

Reference: Chowdhury et al., S3T, ICLR 2025, arXiv:2406.16257 (deactivation, §3).
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from s3t_sim.prefix import best_sequence, served_prefix
from s3t_train.cache import ActivationCache
from s3t_train.checkpoints import DamagedCheckpoint, read_node_metadata
from s3t_train.data_file import check_example_key
from s3t_train.journal import DeletionJournal, check_example_id
from s3t_train.layout import JOURNAL_FILE, node_path
from s3t_train.run_folder import read_membership, tree_nodes
from s3t_train.run_lock import RunLock
from s3t_train.store import DataStore


@dataclass
class DeletionReport:
    """What one deletion did, with the time of each step (seconds)."""

    example_id: int | str  # as the user names it: the record index, or the key of a run with id_column
    shard: int
    slice: int
    already_deleted: bool
    deactivated: list[tuple[int, ...]]  # stages of the shard newly switched off
    served_prefix: list[int]  # per shard, after the deletion
    dead_shards: list[int]
    journal_seconds: float = 0.0
    switch_seconds: float = 0.0  # deactivation + serving switch
    store_seconds: float = 0.0  # erasing tainted node files, removal from the data store and the activation cache
    erased_files: int = 0  # node files erased because they were trained on the example

    @property
    def response_seconds(self) -> float:
        """Journal + deactivation + serving switch: until the served model no longer uses the example."""
        return self.journal_seconds + self.switch_seconds

    def to_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items()}
        d["deactivated"] = [list(p) for p in self.deactivated]
        d["response_seconds"] = self.response_seconds
        return d


class DeletionState:
    """The deletions of a run and what they switch off; replays the journal when created.

    ``trained_location[id]`` is the (shard, slice) an example sat in when its shard's
    current checkpoints were trained; ``hit[shard, slice]`` is true when that slice saw a
    deleted example; ``stages[shard]`` lists the shard's prefix-tree nodes, parents first.
    """

    def __init__(self, run_dir: str | Path, sequences: np.ndarray, store: DataStore, cache: ActivationCache, lock: RunLock):
        self.run_dir = Path(run_dir)
        self.sequences = sequences
        self.m, _, self.L = sequences.shape
        self.store = store
        self.cache = cache
        self.lock = lock
        self.journal = DeletionJournal(self.run_dir / JOURNAL_FILE, keyed=store.keyed)
        self.stages = [tree_nodes(self.sequences[s]) for s in range(self.m)]
        self.deleted: set[int] = set()
        with self.lock.hold():
            self.notice = self.journal.repair()  # a torn tail left by a crash, reported by the commands
            self.sync()

    def sync(self) -> None:
        """Bring the state up to the files (under the lock): membership, then every journal
        entry not yet applied here, including a crash's unfinished action (replay)."""
        with self.lock.hold():
            self.refresh()
            for entry in self.journal.entries():
                self.deactivate(self._internal(entry))
            self.deleted |= self.store.deleted_ids()
            self._mark_hits()
            unfinished = {i: self.location(i) for i in self.deleted if i in self.store}  # a crash cut these short
            for shard in {loc[0] for loc in unfinished.values() if loc is not None}:
                self.erase_tainted(shard)
            for example_id, location in unfinished.items():
                self.remove(example_id, location)

    # --- state ----------------------------------------------------------------------
    def refresh(self) -> None:
        """Read where each example sat when the shards' current checkpoints were trained
        (after a retrain, too), and which slices saw a deleted example."""
        self.trained_location: dict[int, tuple[int, int]] = {}
        for shard in range(self.m):
            for j, ids in enumerate(read_membership(self.run_dir, shard)):
                for i in ids:
                    self.trained_location[int(i)] = (shard, j)
        self._mark_hits()

    def _mark_hits(self) -> None:
        self.hit = np.zeros((self.m, self.L), dtype=bool)
        for i in self.deleted:
            if i in self.trained_location:
                self.hit[self.trained_location[i]] = True

    def location(self, example_id: int) -> tuple[int, int] | None:
        """(shard, slice) of an example the run holds or held; ``None`` if unknown."""
        return self.trained_location.get(example_id) or self.store.location(example_id)

    def served_prefix(self) -> list[int]:
        """Active prefix length of each shard (0 = dead), via :func:`s3t_sim.prefix.served_prefix`."""
        return [int(served_prefix(self.sequences[s], self.hit[s])) for s in range(self.m)]

    def served_stages(self) -> list[tuple[int, ...] | None]:
        """The prefix each shard serves (``None`` for a dead shard)."""
        out = []
        for s in range(self.m):
            index, k = best_sequence(self.sequences[s], self.hit[s])
            out.append(tuple(int(x) for x in self.sequences[s][index][:k]) if k > 0 else None)
        return out

    def dead_shards(self) -> list[int]:
        return [s for s, k in enumerate(self.served_prefix()) if k == 0]

    def active_stages(self, shard: int) -> list[tuple[int, ...]]:
        """Stages of ``shard`` whose prefix holds no hit slice."""
        return [p for p in self.stages[shard] if not self.hit[shard, list(p)].any()]

    # --- deletion -------------------------------------------------------------------
    def deactivate(self, example_id: int) -> None:
        """Mark the example deleted and its slice hit: every stage that saw it stops serving."""
        self.deleted.add(example_id)
        if example_id in self.trained_location:
            self.hit[self.trained_location[example_id]] = True

    def erase_tainted(self, shard: int) -> int:
        """Erase the node files of ``shard`` trained on a deleted example (and damaged files of
        deactivated stages, which cannot serve either); returns how many went."""
        erased = 0
        for prefix in self.stages[shard]:
            path = node_path(self.run_dir, shard, prefix)
            if not path.is_file():
                continue
            try:
                tainted = not self.deleted.isdisjoint(read_node_metadata(path)["seen_ids"])
            except DamagedCheckpoint:
                tainted = bool(self.hit[shard, list(prefix)].any())
            if tainted:
                path.unlink()
                erased += 1
        return erased

    def remove(self, example_id: int, location: tuple[int, int] | None) -> None:
        """Remove the example from the data store and its slice's cached activations."""
        slice_mates = self.store.slice_ids(*location) if location else ()
        self.store.remove(example_id)
        self.cache.drop(example_id, slice_mates)

    def _internal(self, entry: int | str) -> int:
        """The internal id of a journal entry (a user key is looked up in the store)."""
        if not isinstance(entry, str):
            return entry
        example_id = self.store.resolve(entry)
        if example_id is None:
            raise ValueError(f"deletion journal {self.journal.path} names key {entry!r}, which the data store of this run never held; the run is damaged")
        return example_id

    def _parse_id(self, value: object) -> int | None:
        """The internal id of a user's id (a key of a keyed run, else a record index given as
        an int or a decimal string); ``None`` if it is not one this run holds or held."""
        try:
            if self.store.keyed:
                return self.store.resolve(check_example_key(value))
            if isinstance(value, str):
                if not re.fullmatch(r"[0-9]{1,30}", value):
                    return None
                value = int(value)
            example_id = check_example_id(value)
        except ValueError:
            return None
        return example_id if self.location(example_id) is not None else None

    def check_ids(self, example_ids: list) -> list[int]:
        """All of ``example_ids`` as the internal ids of examples this run holds or held; one
        error naming every bad one."""
        ids = [self._parse_id(value) for value in example_ids]
        bad = [value for value, i in zip(example_ids, ids) if i is None]
        if bad:
            listing = self.store.listing()
            held = f"{len(listing)} ids, e.g. {[r['id'] for r in listing[:5]]}; `s3t ids --run RUN` lists them" if listing else "none"
            shown = ", ".join(repr(b)[:40] if not isinstance(b, int) or abs(b) < 10**30 else f"<{len(str(b))}-digit integer>" for b in bad[:5])
            what = "its key in the id column" if self.store.keyed else "the 0-based record index after the header of the training file"
            raise ValueError(
                f"id must be the id of a training example of this run ({what}; the run holds "
                f"{held}); {len(bad)} of {len(example_ids)} ids are not: {shown}; nothing was deleted"
            )
        return ids

    def delete_many(self, example_ids: list) -> list[DeletionReport]:
        """Forget every id of ``example_ids``: all are validated first (nothing is done if one
        is bad), then each is journalled and acted on, under the run lock."""
        with self.lock.hold():
            self.sync()
            return [self._delete(i) for i in self.check_ids(list(example_ids))]

    def delete(self, example_id: int | str) -> DeletionReport:
        """Forget training example ``example_id`` (its id, :mod:`s3t_train.data_file`)."""
        return self.delete_many([example_id])[0]

    def _delete(self, example_id: int) -> DeletionReport:
        shard, slice_ = self.location(example_id)
        public = self.store.public_id(example_id)
        if example_id in self.deleted:
            return DeletionReport(public, shard, slice_, True, [], self.served_prefix(), self.dead_shards())
        before = set(self.active_stages(shard))
        t0 = time.perf_counter()
        self.journal.append(public)
        t1 = time.perf_counter()
        self.deactivate(example_id)
        prefixes = self.served_prefix()  # the serving switch
        t2 = time.perf_counter()
        erased = self.erase_tainted(shard)
        self.remove(example_id, (shard, slice_))
        t3 = time.perf_counter()
        deactivated = sorted(before - set(self.active_stages(shard)), key=lambda p: (len(p), p))
        return DeletionReport(
            public, shard, slice_, False, deactivated, prefixes, [s for s, k in enumerate(prefixes) if k == 0],
            journal_seconds=t1 - t0, switch_seconds=t2 - t1, store_seconds=t3 - t2, erased_files=erased,
        )
