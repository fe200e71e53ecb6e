"""Retraining: rebuild a shard without the deleted data (SISA-style, only the stages that need it).

Reference: Bourtoule et al., "Machine Unlearning" (SISA), IEEE S&P 2021.
"""
from __future__ import annotations

import sys
import time

from s3t_sim.checks import check_int
from s3t_train.checkpoints import DamagedCheckpoint, read_node_metadata
from s3t_train.layout import node_path, shard_dir
from s3t_train.run import S3TRun
from s3t_train.run_folder import write_membership
from s3t_train.stage_model import configure_torch
from s3t_train.training import train_node


def stale_stages(run: S3TRun, shard: int) -> list[tuple[int, ...]]:
    """Stages of ``shard`` that saw a deleted example, lack a checkpoint or fail its checksum,
    and their descendants, parents first."""
    stale: set[tuple[int, ...]] = set()
    for prefix in run.deletions.stages[shard]:
        try:
            seen = read_node_metadata(node_path(run.run_dir, shard, prefix))["seen_ids"]
        except (FileNotFoundError, DamagedCheckpoint):
            seen = None
        if prefix[:-1] in stale or seen is None or not run.deletions.deleted.isdisjoint(seen):
            stale.add(prefix)
    return sorted(stale, key=lambda p: (len(p), p))


def retrain(run: S3TRun, shard: int, progress: bool | None = None) -> dict:
    """Rebuild ``shard`` without the deleted data: retrain every stage that saw a deleted
    example, or whose file is missing or damaged (and its descendants), parents first;
    then publish the shard's membership, making its stages serve again.

    One stage at a time under the run lock: before each stage and before publishing, the
    journal is re-read (:meth:`s3t_train.unlearning.DeletionState.sync`), so a deletion
    accepted meanwhile erases what it taints and the loop rebuilds that too; publication
    happens only once no stage of the shard saw a deleted example.
    """
    from tqdm.auto import tqdm

    shard = check_int("shard", shard, 0, run.m - 1)
    configure_torch()
    started = time.perf_counter()
    show = sys.stderr.isatty() if progress is None else progress
    trained: list[tuple[int, ...]] = []
    passes = 0
    with run.lock.hold():
        run.deletions.sync()
        bar = tqdm(total=len(stale_stages(run, shard)), desc=f"retraining shard {shard}", disable=not show)
    while True:
        with run.lock.hold():
            run.deletions.sync()
            todo = stale_stages(run, shard)
            if not todo:
                _publish(run, shard)
                break
            passes += train_node(run.run_dir, shard, todo[0], cache=run.cache).slice_passes
        trained.append(todo[0])
        bar.update()
    bar.close()
    return {
        "shard": shard,
        "stages_retrained": [list(p) for p in sorted(set(trained), key=lambda p: (len(p), p))],
        "stage_trainings": len(trained),
        "slice_passes": passes,
        "seconds": time.perf_counter() - started,
        "served_prefix": run.deletions.served_prefix(),
    }


def _publish(run: S3TRun, shard: int) -> None:
    """Make the rebuilt shard serve: its membership is the store's slices now (which every
    stage of the shard was trained on), under the lock held by the caller."""
    write_membership(run.run_dir, shard, run.store.membership(shard, run.L))
    folder = shard_dir(run.run_dir, shard)
    run.node_states = {path: node for path, node in run.node_states.items() if folder not in path.parents}
    run.deletions.refresh()
