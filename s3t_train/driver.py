"""The run driver: train every pending node of a run, in this process or as Ray tasks.

:func:`train_run` walks each shard's prefix tree in topological order in this process and
skips nodes that already have a checkpoint (resume). :func:`train_run_ray` submits the
pending nodes to an executor as a DAG (:class:`s3t_train.ray_executor.RayTreeExecutor`);
each node reads its parent's checkpoint from the run folder, so both give bitwise-equal
checkpoints. :func:`train_with_backend` picks one from the executor built by
:func:`s3t_train.backends.executor_from_args`. Both add the trained stages' seconds and
sample-passes to ``RUN/timings.json`` (:func:`record_timings`; ``s3t plan --calibrate-run``
reads it).
"""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import networkx as nx
import torch

from s3t_sim.output import write_json_atomic
from s3t_sim.selection import training_cost
from s3t_train.cache import ActivationCache
from s3t_train.executors import LocalTreeExecutor
from s3t_train.run_folder import RunInfo, clean_temporary_files, pending_nodes, tree_nodes
from s3t_train.run_lock import RunLock
from s3t_train.stage_model import configure_torch
from s3t_train.training import NodeResult, train_node

_WORKER_CACHES: dict[str, ActivationCache] = {}
TIMINGS_FILE = "timings.json"


@dataclass
class TrainSummary:
    trained: list[NodeResult]
    skipped: int
    slice_passes: int  # counted during this call
    tree_cost: int  # prefix tree's cost x epochs, all shards
    separate_cost: int  # every sequence trained on its own x epochs, all shards
    seconds: float

    @classmethod
    def of(cls, info: RunInfo, trained: list[NodeResult], seconds: float) -> "TrainSummary":
        """Summary of the nodes ``trained`` in one call, with the run's prefix-tree costs."""
        epochs = info.config.training.epochs
        costs = [training_cost(seqs) for seqs in info.sequences]
        total = sum(len(tree_nodes(seqs)) for seqs in info.sequences)
        return cls(
            trained=trained,
            skipped=total - len(trained),
            slice_passes=sum(r.slice_passes for r in trained),
            tree_cost=sum(c["shared_cost"] for c in costs) * epochs,
            separate_cost=sum(c["separate_cost"] for c in costs) * epochs,
            seconds=seconds,
        )

    def to_dict(self) -> dict:
        return {
            "nodes_trained": len(self.trained),
            "nodes_skipped": self.skipped,
            "slice_passes": self.slice_passes,
            "tree_cost": self.tree_cost,
            "separate_cost": self.separate_cost,
            "saving_vs_separate": 1 - self.tree_cost / self.separate_cost,
            "examples_per_second": sum(r.examples * r.slice_passes / len(r.prefix) for r in self.trained) / max(self.seconds, 1e-9),
            "seconds": self.seconds,
        }


def record_timings(run_dir: str | os.PathLike[str], info: RunInfo, trained: list[NodeResult]) -> Path | None:
    """Add the ``trained`` nodes to ``RUN/timings.json``: per stage (prefix length) the nodes,
    sample-passes (examples x epochs) and seconds, their ratio ``seconds_per_sample_pass``,
    and the same over all stages, with the model, device and dtype (kept over resumed calls)."""
    if not trained:
        return None
    path = Path(run_dir) / TIMINGS_FILE
    stages = json.loads(path.read_text(encoding="utf-8"))["stages"] if path.is_file() else {}
    for r in trained:
        stage = stages.setdefault(str(len(r.prefix)), {"nodes": 0, "sample_passes": 0, "seconds": 0.0})
        stage["nodes"] += 1
        stage["sample_passes"] += r.examples * r.slice_passes // len(r.prefix)
        stage["seconds"] += r.seconds
    for stage in stages.values():
        stage["seconds_per_sample_pass"] = stage["seconds"] / max(stage["sample_passes"], 1)
    passes = sum(stage["sample_passes"] for stage in stages.values())
    seconds = sum(stage["seconds"] for stage in stages.values())
    t = info.config.training
    device = t.device + (f" ({torch.cuda.get_device_name(t.device)})" if t.device.startswith("cuda") else f" ({os.cpu_count()} cores)")
    return write_json_atomic(path, {
        "model": t.model, "device": device, "dtype": t.dtype, "torch_threads": torch.get_num_threads(),
        "sample_passes": passes, "seconds": seconds, "seconds_per_sample_pass": seconds / max(passes, 1),
        "stages": dict(sorted(stages.items(), key=lambda item: int(item[0]))),
    })


def train_run(run_dir: str | Path, progress: bool | None = None, cache: ActivationCache | None = None) -> TrainSummary:
    """Train every node of every shard's prefix tree that has no checkpoint yet (resumes).

    Progress bar on stderr when it is a terminal (or ``progress=True``).
    """
    from tqdm.auto import tqdm

    started = time.perf_counter()
    info = RunInfo.open(run_dir)
    configure_torch()
    cache = cache if cache is not None else ActivationCache()
    results = []
    show = sys.stderr.isatty() if progress is None else progress
    lock = RunLock(run_dir)
    try:
        with lock.hold():
            clean_temporary_files(run_dir)  # left by a killed process
            bar = tqdm(total=len(pending_nodes(run_dir)), desc="training stages", unit="stage", disable=not show)
        while True:
            with lock.hold():  # one stage at a time: a deletion waits at most one stage
                pending = pending_nodes(run_dir)
                if not pending:
                    break
                results.append(train_node(run_dir, *pending[0], cache=cache))
            bar.update()
        bar.close()
        with lock.hold():
            record_timings(run_dir, info, results)
    finally:
        lock.close()
    return TrainSummary.of(info, results, time.perf_counter() - started)


def training_tree(run_dir: str | os.PathLike[str]) -> nx.DiGraph:
    """The pending training nodes of a run as a DAG of ``(shard, prefix)``.

    An edge joins a node to its parent prefix when that parent is pending too; a node
    whose parent is already trained (a resumed run) is a root.
    """
    pending = pending_nodes(run_dir)
    tree = nx.DiGraph()
    tree.add_nodes_from(pending)
    for shard, prefix in pending:
        parent = (shard, prefix[:-1])
        if prefix[:-1] and parent in tree:
            tree.add_edge(parent, (shard, prefix))
    return tree


def train_node_task(run_dir: str, node: tuple[int, tuple[int, ...]], parent_result: Any, threads: int | None = None) -> NodeResult:
    """Ray task body: train one node of ``run_dir`` (``parent_result`` only orders the tasks).

    The activation cache lives as long as the worker process and is shared by the nodes
    it trains, as in the local run.
    """
    configure_torch()
    if threads is not None:
        torch.set_num_threads(threads)
    cache = _WORKER_CACHES.setdefault(str(run_dir), ActivationCache())
    shard, prefix = node
    return train_node(run_dir, shard, prefix, cache=cache)


def train_run_ray(run_dir: str | os.PathLike[str], executor: Any, threads: int | None = None) -> TrainSummary:
    """Train every pending node of ``run_dir`` as tasks of ``executor`` (a
    :class:`s3t_train.ray_executor.RayTreeExecutor`). Nodes read their parents' checkpoints
    from ``run_dir``, which must be on storage every Ray node can reach (a shared file
    system on a cluster).

    ``threads`` (torch threads per task) defaults to the driver's, i.e. what the local
    run would use (``S3T_TORCH_THREADS`` or torch's default).
    """
    started = time.perf_counter()
    run_dir = str(os.path.abspath(run_dir))
    info = RunInfo.open(run_dir)
    if threads is None:
        configure_torch()
        threads = torch.get_num_threads()
    lock = RunLock(run_dir)
    try:
        with lock.hold():  # Ray workers write the nodes: the driver holds the lock for the whole run
            tree = training_tree(run_dir)
            results = executor.run(tree, partial(train_node_task, run_dir, threads=threads)) if tree.number_of_nodes() else {}
            trained = [results[node] for node in nx.topological_sort(tree)]
            record_timings(run_dir, info, trained)
    finally:
        lock.close()
    return TrainSummary.of(info, trained, time.perf_counter() - started)


def train_with_backend(run_dir: str | os.PathLike[str], executor: Any, progress: bool | None = None) -> TrainSummary:
    """Train a run with the executor from :func:`s3t_train.backends.executor_from_args`:
    in this process for a :class:`LocalTreeExecutor`, else as the executor's tasks."""
    if isinstance(executor, LocalTreeExecutor):
        return train_run(run_dir, progress=progress)
    return train_run_ray(run_dir, executor)
