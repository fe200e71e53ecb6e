"""The layout of a run folder: file names and the path of every file a run holds.

::

    RUN/config.json                      the RunConfig (written last: marks the run as created)
    RUN/sequences.json                   the B training sequences of each shard, (m, B, L)
    RUN/store.sqlite                     the training examples (s3t_train.store.DataStore)
    RUN/journal.jsonl                    deletion requests (s3t_train.journal.DeletionJournal)
    RUN/.lock                            the run lock (s3t_train.run_lock.RunLock)
    RUN/shards/<s>/membership.json       ids of each slice the shard's checkpoints were trained on
    RUN/shards/<s>/nodes/<s1>-...-<sk>.safetensors   one prefix-tree node (s3t_train.checkpoints)
"""
from __future__ import annotations

from pathlib import Path

CONFIG_FILE = "config.json"
SEQUENCES_FILE = "sequences.json"
STORE_FILE = "store.sqlite"
JOURNAL_FILE = "journal.jsonl"
LOCK_FILE = ".lock"


def node_name(prefix: tuple[int, ...]) -> str:
    """File stem of the node ``prefix``: its slices joined by ``-``."""
    return "-".join(str(int(s)) for s in prefix)


def shard_dir(run_dir: str | Path, shard: int) -> Path:
    return Path(run_dir) / "shards" / str(int(shard))


def node_path(run_dir: str | Path, shard: int, prefix: tuple[int, ...]) -> Path:
    return shard_dir(run_dir, shard) / "nodes" / f"{node_name(prefix)}.safetensors"


def membership_path(run_dir: str | Path, shard: int) -> Path:
    """Ids of each slice that the shard's current checkpoints were trained on."""
    return shard_dir(run_dir, shard) / "membership.json"
