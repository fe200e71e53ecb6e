"""An opened run: the trained S3T system in a run folder and the state it holds.

:class:`S3TRun` opens a folder written by :func:`s3t_train.run_folder.create_run` and
:func:`s3t_train.driver.train_run`, replays its deletion journal, and holds what the
operations on a trained system share: deletion (:mod:`s3t_train.unlearning`), serving
(:mod:`s3t_train.serving`), evaluation and the f(k) profile (:mod:`s3t_train.evaluation`),
the audit (:mod:`s3t_train.audit`) and retraining (:mod:`s3t_train.retraining`).

Reference: Chowdhury et al., S3T, ICLR 2025, arXiv:2406.16257; Bourtoule et al.,
"Machine Unlearning" (SISA), IEEE S&P 2021 (sharded ensembles, retraining).
"""
from __future__ import annotations

from pathlib import Path

from s3t_train.cache import ActivationCache
from s3t_train.checkpoints import NodeCheckpoint
from s3t_train.layout import STORE_FILE
from s3t_train.run_folder import RunInfo, clean_temporary_files
from s3t_train.run_lock import RunLock
from s3t_train.store import DataStore
from s3t_train.unlearning import DeletionState


class S3TRun:
    """A trained S3T system in a run folder.

    Parameters
    ----------
    run_dir : folder written by ``s3t train``.

    Examples
    --------
    >>> run = S3TRun("runs/demo")  # doctest: +SKIP
    >>> run.deletions.delete(17).served_prefix  # doctest: +SKIP
    [2, 3, 3]
    >>> serving.predict(run, ["a gorgeous film"])  # doctest: +SKIP
    ['1']
    """

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self.info = RunInfo.open(self.run_dir)
        self.config = self.info.config
        self.sequences = self.info.sequences
        self.m, self.L = self.config.system.shards, self.config.system.slices
        self.store = DataStore(self.run_dir / STORE_FILE)
        self.label_names = self.store.label_names
        self.cache = ActivationCache()
        self.node_states: dict[Path, NodeCheckpoint] = {}  # checkpoints loaded for serving, by path
        self.lock = RunLock(self.run_dir)  # hold(shared=True) while reading, hold() while changing the run
        with self.lock.hold():
            self.temporary_files_removed = clean_temporary_files(self.run_dir)  # left by a killed process
            self.deletions = DeletionState(self.run_dir, self.sequences, self.store, self.cache, self.lock)

    def close(self) -> None:
        self.deletions.journal.close()
        self.store.close()
        self.lock.close()
