"""Creating and opening a run folder: configuration, data store, sequences, membership.

:func:`create_run` writes everything a run needs before training (see
:mod:`s3t_train.layout`); :class:`RunInfo` reads back what a run folder holds besides its
weights. The prefix tree of a shard's sequences (:func:`tree_nodes`) lists its training
nodes, parents first; :func:`pending_nodes` the ones without a checkpoint yet.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from s3t_sim.output import write_text_atomic
from s3t_sim.selection import prefix_tree, select_sequences
from s3t_train.checkpoints import node_problem
from s3t_train.config import RunConfig, check_same_config
from s3t_train.data import load_examples, read_deletion_weights, slice_prior, split_shards_slices
from s3t_train.layout import CONFIG_FILE, LOCK_FILE, SEQUENCES_FILE, STORE_FILE, membership_path, node_path
from s3t_train.run_lock import RunLock
from s3t_train.store import DataStore


class OldRunError(ValueError):
    """A run folder written under an earlier definition of example ids."""


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
        try:
            text = (run_dir / CONFIG_FILE).read_text(encoding="utf-8")
            if "id_column" not in json.loads(text).get("data", {}):
                raise OldRunError(
                    f"run {run_dir} was made by an s3t before example ids were defined once (its ids skipped blank lines "
                    f"and its config fingerprint lacks header/id_column/labels); it cannot be opened: train it again"
                )
            config = RunConfig.from_json(text)
            sequences = np.array(json.loads((run_dir / SEQUENCES_FILE).read_text(encoding="utf-8")), dtype=np.int64)
        except OldRunError:
            raise
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ValueError(f"run {run_dir} has a damaged {CONFIG_FILE} or {SEQUENCES_FILE} ({type(exc).__name__}: {exc}); it cannot be opened") from None
        system = config.system
        if sequences.ndim != 3 or sequences.shape[0] != system.shards or sequences.shape[2] != system.slices:
            raise ValueError(
                f"run {run_dir}: {CONFIG_FILE} says {system.shards} shards x {system.slices} slices but {SEQUENCES_FILE} "
                f"has shape {list(sequences.shape)}; the run's files were edited and it cannot be opened"
            )
        return cls(run_dir, config, sequences)


def create_run(config: RunConfig, run_dir: str | Path, dataset: "datasets.Dataset | None" = None) -> RunInfo:
    """Create the run folder: config, data store with the seeded split, sequences per shard.

    ``dataset`` (Python API): a ``datasets.Dataset`` read instead of ``config.data.source``,
    which then only names it (the columns, limit and split seed of ``config.data`` apply).

    If ``run_dir`` already holds a run, its configuration must equal ``config`` (except the
    device); it is then reused, so ``train`` resumes.
    """
    if not str(run_dir).strip():
        raise ValueError("out must name a run folder; got ''")
    run_dir = Path(run_dir)
    created = not run_dir.exists()
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"out must be a folder that can be created; {run_dir}: {exc.strerror}") from None
    lock = RunLock(run_dir)
    try:
        with lock.hold():
            return _create_locked(config, run_dir, dataset)
    except BaseException:
        if created:  # leave no half-made folder that a next run would have to get past
            (run_dir / LOCK_FILE).unlink(missing_ok=True)
            shutil.rmtree(run_dir / "shards", ignore_errors=True)
            if not any(run_dir.iterdir()):
                run_dir.rmdir()
        raise
    finally:
        lock.close()


def _create_locked(config: RunConfig, run_dir: Path, dataset: "datasets.Dataset | None") -> RunInfo:
    if (run_dir / CONFIG_FILE).is_file():
        info = RunInfo.open(run_dir)
        check_same_config(info.config, config, f"run {run_dir}")
        return info
    system = config.system
    d = config.data
    examples = load_examples(d.source if dataset is None else dataset, "train", d.text_column, d.label_column, limit=d.limit, seed=d.split_seed,
                             task=d.task, text_pair_column=d.text_pair_column, id_column=d.id_column, header=d.header,
                             declared_labels=None if d.labels is None else list(d.labels))
    weights = read_deletion_weights(config.data.deletion_weights, examples.ids if examples.keys is None else examples.keys) if config.data.deletion_weights else None
    shard_of, slice_of = split_shards_slices(examples.ids, system.shards, system.slices, seed=config.data.split_seed, deletion_weights=weights)
    store = DataStore.create(run_dir / STORE_FILE, examples, shard_of, slice_of)
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
    """``(shard, prefix)`` of every node without a sound checkpoint (missing, or failing its
    checksum: resume rebuilds it), parents first."""
    info = RunInfo.open(run_dir)
    shards = range(info.config.system.shards) if shards is None else shards
    return [(s, p) for s in shards for p in tree_nodes(info.sequences[s]) if node_problem(node_path(run_dir, s, p)) is not None]


def clean_temporary_files(run_dir: str | Path) -> int:
    """Remove the temporary files (``.*.tmp``) a killed process left in the run folder;
    call it under the run lock, while no writer is active. Returns how many went."""
    leftovers = list(Path(run_dir).rglob(".*.tmp"))
    for path in leftovers:
        path.unlink(missing_ok=True)
    return len(leftovers)
