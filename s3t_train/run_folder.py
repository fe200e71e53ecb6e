"""Creating and opening a run folder: configuration, data store, sequences, membership.

:func:`create_run` writes everything a run needs before training (see
:mod:`s3t_train.layout`); :class:`RunInfo` reads back what a run folder holds besides its
weights. The prefix tree of a shard's sequences (:func:`tree_nodes`) lists its training
nodes, parents first; :func:`pending_nodes` the ones without a checkpoint yet.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from s3t_sim.output import write_text_atomic
from s3t_sim.selection import prefix_tree, select_sequences
from s3t_train.config import RunConfig, check_same_config
from s3t_train.data import load_examples, read_deletion_weights, slice_prior, split_shards_slices
from s3t_train.layout import CONFIG_FILE, SEQUENCES_FILE, STORE_FILE, membership_path, node_path
from s3t_train.store import DataStore


@dataclass
class RunInfo:
    """What a run folder holds besides its weights."""

    run_dir: Path
    config: RunConfig
    sequences: np.ndarray  # (m, B, L)

    @classmethod
    def open(cls, run_dir: str | Path) -> "RunInfo":
        run_dir = Path(run_dir)
        if not (run_dir / CONFIG_FILE).is_file():
            raise FileNotFoundError(f"no S3T run in {run_dir} ({CONFIG_FILE} missing); create one with `s3t train`")
        config = RunConfig.from_json((run_dir / CONFIG_FILE).read_text())
        sequences = np.array(json.loads((run_dir / SEQUENCES_FILE).read_text()), dtype=np.int64)
        return cls(run_dir, config, sequences)


def create_run(config: RunConfig, run_dir: str | Path, dataset: "datasets.Dataset | None" = None) -> RunInfo:
    """Create the run folder: config, data store with the seeded split, sequences per shard.

    ``dataset`` (Python API): a ``datasets.Dataset`` read instead of ``config.data.source``,
    which then only names it (the columns, limit and split seed of ``config.data`` apply).

    If ``run_dir`` already holds a run, its configuration must equal ``config`` (except the
    device); it is then reused, so ``train`` resumes.
    """
    run_dir = Path(run_dir)
    if (run_dir / CONFIG_FILE).is_file():
        info = RunInfo.open(run_dir)
        check_same_config(info.config, config, f"run {run_dir}")
        return info
    system = config.system
    d = config.data
    dataset = load_examples(d.source if dataset is None else dataset, "train", d.text_column, d.label_column, limit=d.limit, seed=d.split_seed, task=d.task, text_pair_column=d.text_pair_column)
    weights = read_deletion_weights(config.data.deletion_weights, dataset.ids) if config.data.deletion_weights else None
    shard_of, slice_of = split_shards_slices(dataset.ids, system.shards, system.slices, seed=config.data.split_seed, deletion_weights=weights)
    run_dir.mkdir(parents=True, exist_ok=True)
    store = DataStore.create(run_dir / STORE_FILE, dataset, shard_of, slice_of)
    prior = slice_prior(shard_of, slice_of, weights, system.shards, system.slices) if weights is not None else None
    sequences = []
    for shard in range(system.shards):
        row = None if prior is None else prior[shard] / prior[shard].sum() if prior[shard].sum() > 0 else None
        sequences.append(select_sequences(system.selection, system.slices, system.budget, prior=row, seed=config.data.split_seed + shard, horizon=system.horizon))
        write_membership(run_dir, shard, store.membership(shard, system.slices))
    store.close()
    write_text_atomic(run_dir / SEQUENCES_FILE, json.dumps(np.array(sequences).tolist()))
    write_text_atomic(run_dir / CONFIG_FILE, config.to_json())  # written last: marks the run as created
    return RunInfo.open(run_dir)


def write_membership(run_dir: str | Path, shard: int, membership: list[list[int]]) -> None:
    """Record the ids of each slice that ``shard``'s checkpoints are trained on."""
    write_text_atomic(membership_path(run_dir, shard), json.dumps(membership))


def read_membership(run_dir: str | Path, shard: int) -> list[list[int]]:
    """Ids of each slice of ``shard`` when its current checkpoints were trained."""
    return json.loads(membership_path(run_dir, shard).read_text())


def tree_nodes(sequences: np.ndarray) -> list[tuple[int, ...]]:
    """Non-empty prefixes of a shard's sequence set in topological order (parents first)."""
    tree = prefix_tree(sequences)
    return sorted((node for node in tree.nodes if node), key=lambda p: (len(p), p))


def pending_nodes(run_dir: str | Path, shards: list[int] | None = None) -> list[tuple[int, tuple[int, ...]]]:
    """``(shard, prefix)`` of every node without a checkpoint, parents first."""
    info = RunInfo.open(run_dir)
    shards = range(info.config.system.shards) if shards is None else shards
    return [(s, p) for s in shards for p in tree_nodes(info.sequences[s]) if not node_path(run_dir, s, p).is_file()]
