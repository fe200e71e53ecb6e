"""The exactness oracle of the training tests: a system trained from scratch without one example.

After a deletion, the stages a shard serves must equal, bit for bit, the same stages trained
on data that never held the deleted example; every task's test compares against this.
"""
from __future__ import annotations

from pathlib import Path

from s3t_train.run import S3TRun
from s3t_train.run_folder import create_run
from s3t_train.store import DataStore
from s3t_train.training import train_node


def retrained_without(run: S3TRun, shard: int, prefix: tuple, victim, folder: Path) -> S3TRun:
    """A run in ``folder`` with ``run``'s configuration whose store lacks ``victim``, and the
    stages of ``prefix`` of ``shard`` (parents first) trained from scratch."""
    create_run(run.config, folder)
    store = DataStore(Path(folder) / "store.sqlite")
    store.remove(victim)
    store.close()
    for k in range(1, len(prefix) + 1):
        train_node(folder, shard, tuple(prefix[:k]))
    return S3TRun(folder)
