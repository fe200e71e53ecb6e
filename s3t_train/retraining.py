"""Retraining: rebuild a shard without the deleted data (SISA-style, only the stages that need it).

Reference: Bourtoule et al., "Machine Unlearning" (SISA), IEEE S&P 2021.
"""
from __future__ import annotations

import sys
import time

from s3t_sim.checks import check_int
from s3t_train.checkpoints import read_node_metadata
from s3t_train.layout import node_path, shard_dir
from s3t_train.run import S3TRun
from s3t_train.run_folder import write_membership
from s3t_train.stage_model import configure_torch
from s3t_train.training import train_node


def stale_stages(run: S3TRun, shard: int) -> list[tuple[int, ...]]:
    """Stages of ``shard`` that saw a deleted example or lack a checkpoint, and their descendants, parents first."""
    stale: set[tuple[int, ...]] = set()
    for prefix in run.deletions.stages[shard]:
        path = node_path(run.run_dir, shard, prefix)
        if prefix[:-1] in stale or not path.is_file() or set(read_node_metadata(path)["seen_ids"]) & run.deletions.deleted:
            stale.add(prefix)
    return sorted(stale, key=lambda p: (len(p), p))


def retrain(run: S3TRun, shard: int, progress: bool | None = None) -> dict:
    """Rebuild ``shard`` without the deleted data: retrain every stage that saw a
    deleted example (and its descendants), parents first, then mark the shard clean."""
    from tqdm.auto import tqdm

    shard = check_int("shard", shard, 0, run.m - 1)
    configure_torch()
    todo = stale_stages(run, shard)
    started = time.perf_counter()
    show = sys.stderr.isatty() if progress is None else progress
    results = [train_node(run.run_dir, shard, p, cache=run.cache) for p in tqdm(todo, desc=f"retraining shard {shard}", disable=not show)]
    write_membership(run.run_dir, shard, run.store.membership(shard, run.L))
    folder = shard_dir(run.run_dir, shard)
    run.node_states = {path: node for path, node in run.node_states.items() if folder not in path.parents}
    run.deletions.refresh()
    return {
        "shard": shard,
        "stages_retrained": [list(p) for p in todo],
        "slice_passes": sum(r.slice_passes for r in results),
        "seconds": time.perf_counter() - started,
        "served_prefix": run.deletions.served_prefix(),
    }
