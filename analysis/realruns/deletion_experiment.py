"""The experiment of ``s3t deletion-curves``: the paper's main figure on any model and data.

Per data set and training seed (all runs of a seed share the data split, which depends only
on the seed, the shard and slice counts and, with ``--selection bms`` under a skewed prior,
the per-point request weights):

- **S3T**: the run with ``B = max(budgets)``; a smaller budget is a sub-system of it when its
  sequences are the first B rows (always for cyclic rotations; checked for BMS, which gets a
  run of its own otherwise), since a node's weights depend only on (seed, shard, prefix, data);
- **SISA**: its own B = 1 run (one sequence per shard), which also gives S3T's B = 1 curve;
  for cyclic selection its cached logits must equal the B = max run's first sequence (checked);
- **full fine-tuning**: one model on all data (m = L = B = 1).

Every prefix node's logits on the evaluation set are cached (one
:func:`s3t_train.serving.stages_logits` call per run). Then thousands of seeded request streams
(points without replacement, uniform or a per-point law) are replayed from the cache
(:mod:`analysis.realruns.curves`), the training cost is counted along the same streams
(:mod:`analysis.realruns.retraining_cost`), and SISA and full fine-tuning are retrained for
real at a few request counts of the first streams (:mod:`analysis.realruns.retrained`).
"""
from __future__ import annotations

import shutil
import sys
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from analysis.realruns.bands import sample_point_streams
from analysis.realruns.curves import accuracy_along_streams, all_dead_after, band_end, band_rows
from analysis.realruns.deletion_config import DeletionCurvesConfig
from analysis.realruns.deletion_summary import summarise
from analysis.realruns.experiment import cached_prefix_logits, prior_point_weights
from analysis.realruns.mainfigure import FULL, SISA, s3t_method
from analysis.realruns.phases import PhaseTimer
from analysis.realruns.pool import WorkerPool
from analysis.realruns.retrained import retrained_curve
from analysis.realruns.retraining_cost import cumulative, full_request_costs, prefix_tree_cost, sisa_request_costs
from s3t_sim.output import write_text_atomic
from s3t_train.config import DataConfig, RunConfig, SystemConfig, TrainingConfig
from s3t_train.data import load_examples
from s3t_train.driver import train_with_backend
from s3t_train.evaluation import eval_dataset, evaluate
from s3t_train.executors import LocalTreeExecutor
from s3t_train.run import S3TRun
from s3t_train.run_folder import create_run


@dataclass
class SeedSystem:
    """The trained runs of one (data set, seed) and what was measured on them once."""

    dataset: str
    seed: int
    runs: dict[str, Path]  # "s3t-B<B>", "sisa", "full" -> run folder
    budget_run: dict[int, str]  # B -> the run whose first B sequences are that system
    sequences: dict[str, np.ndarray]  # run -> (m, B, L)
    logits: dict[str, np.ndarray]  # run -> (m, B, L+1, n, C) on the evaluation set
    labels: np.ndarray
    point_ids: np.ndarray  # training ids, ascending
    slice_of_point: np.ndarray  # flat slice shard * L + slice of each point (S3T and SISA runs)
    slice_sizes: np.ndarray  # (m, L)
    weights: np.ndarray  # request weight of each point
    eval_set: Any
    full_accuracy: float


@dataclass
class DeletionCurvesResult:
    """Rows of ``curves.csv``, ``costs.csv``, ``retrained.csv`` and the summary."""

    curves: list[dict[str, Any]] = field(default_factory=list)
    costs: list[dict[str, Any]] = field(default_factory=list)
    retrained: list[dict[str, Any]] = field(default_factory=list)
    chance: dict[str, float] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)


def data_source(config: DeletionCurvesConfig, name: str) -> Path:
    """The data set ``name``: a folder of ``config.data_dir`` by that name, else a path."""
    candidate = Path(config.data_dir) / name
    path = candidate if candidate.exists() else Path(name).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"--data {name!r}: no data set folder {candidate} and no such path (see --data-dir)")
    return path


def dataset_label(name: str) -> str:
    """A data set's name in tables and figures: the folder or file name."""
    return Path(name).stem or name


def _run_config(config: DeletionCurvesConfig, source: Path, seed: int, shards: int, slices: int, budget: int,
                weights_file: "Path | None") -> RunConfig:
    return RunConfig(
        data=DataConfig(source=str(source), limit=config.train_limit, split_seed=seed,
                        deletion_weights=None if weights_file is None else str(weights_file)),
        training=TrainingConfig(model=config.model, epochs=config.epochs, lr=config.lr, batch_size=config.batch_size,
                                max_length=config.max_length, seed=seed, device=config.device),
        system=SystemConfig(shards=shards, slices=slices, budget=budget, selection=config.selection),
    )


def _weights_file(config: DeletionCurvesConfig, source: Path, seed: int, folder: Path) -> "Path | None":
    """For BMS under a skewed prior: the per-point request weights as ``id,weight`` (the prior-aware
    split and BMS read them); ``None`` otherwise (the split is uniform)."""
    if config.selection != "bms" or config.prior == "uniform":
        return None
    ids = np.sort(np.asarray(load_examples(str(source), "train", limit=config.train_limit, seed=seed).ids))
    weights = prior_point_weights(config.prior, len(ids), config.seed + seed)
    return write_text_atomic(folder / "weights.csv", "id,weight\n" + "".join(f"{int(i)},{float(w)!r}\n" for i, w in zip(ids, weights)))


def prepare_runs(config: DeletionCurvesConfig, name: str, seed: int, out_dir: Path) -> tuple[dict[str, Path], dict[int, str]]:
    """Create (or reopen) the run folders of one seed; returns them and the run of each budget."""
    source = data_source(config, name)
    folder = out_dir / "runs" / dataset_label(name) / f"seed{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    weights = _weights_file(config, source, seed, folder)
    m, L, top = config.shards, config.slices, max(config.budgets)
    runs = {"sisa": folder / "sisa", "full": folder / "full"}
    create_run(_run_config(config, source, seed, m, L, 1, weights), runs["sisa"])
    create_run(_run_config(config, source, seed, 1, 1, 1, None), runs["full"])
    budget_run = {1: "sisa"}
    if top > 1:
        runs[f"s3t-B{top}"] = folder / f"s3t-B{top}"
        largest = create_run(_run_config(config, source, seed, m, L, top, weights), runs[f"s3t-B{top}"]).sequences
        for B in (b for b in config.budgets if b > 1):
            key = f"s3t-B{B}"
            if B < top:
                own = create_run(_run_config(config, source, seed, m, L, B, weights), folder / key)
                if np.array_equal(own.sequences, largest[:, :B]):
                    shutil.rmtree(folder / key)  # nested: the larger run holds this system (nothing was trained yet)
                    key = f"s3t-B{top}"
                else:
                    runs[key] = folder / key
            budget_run[B] = key
    return runs, budget_run


def train_seed(job: tuple[str, int], config: DeletionCurvesConfig, out_dir: Path, executor: Any) -> tuple[dict[str, Path], dict[int, str]]:
    """Train (or resume) every run of ``job = (data set, seed)``; returns :func:`prepare_runs`' runs and budgets."""
    runs, budget_run = prepare_runs(config, *job, out_dir)
    for run_dir in runs.values():
        train_with_backend(run_dir, executor, progress=False)
    return runs, budget_run


def measure_seed(job: tuple[tuple[str, int], tuple[dict[str, Path], dict[int, str]]], config: DeletionCurvesConfig) -> SeedSystem:
    """Cache every run's prefix logits on the evaluation set and evaluate the full fine-tuning model
    (``job = ((data set, seed), train_seed's result)``)."""
    (name, seed), (runs, budget_run) = job
    sequences, logits = {}, {}
    eval_set = labels = None
    for key, run_dir in runs.items():
        run = S3TRun(run_dir)
        try:
            if eval_set is None:
                eval_set = eval_dataset(run, limit=config.eval_limit, seed=config.seed)
                labels = np.asarray(eval_set.labels)
            if key == "full":
                full_accuracy = float(evaluate(run, eval_set)["accuracy"])
                continue
            logits[key] = cached_prefix_logits(run, eval_set, run_dir.parent / f"logits_{key}_eval{config.eval_limit}_seed{config.seed}.npz")
            sequences[key] = np.asarray(run.sequences)
            if key == "sisa":
                location = run.deletions.trained_location
                ids = np.array(sorted(location), dtype=np.int64)
                slice_of_point = np.array([location[i][0] * run.L + location[i][1] for i in ids], dtype=np.int64)
        finally:
            run.close()
    sizes = np.bincount(slice_of_point, minlength=config.shards * config.slices).reshape(config.shards, config.slices)
    weights = prior_point_weights(config.prior, len(ids), config.seed + seed)
    return SeedSystem(dataset_label(name), seed, runs, budget_run, sequences, logits, labels, ids, slice_of_point, sizes, weights,
                      eval_set, full_accuracy)


def seed_streams(config: DeletionCurvesConfig, system: SeedSystem, length: int) -> np.ndarray:
    """The seed's ``config.streams`` request streams: point positions (streams, length), shared by every method."""
    rng = np.random.default_rng([config.seed, system.seed, zlib.crc32(system.dataset.encode()), 47])
    return sample_point_streams(system.weights, length, config.streams, rng)


def horizon(config: DeletionCurvesConfig, systems: list[SeedSystem], streams: list[np.ndarray]) -> int:
    """Requests replayed: ``--requests``, else until every shard of every budget is dead in every stream."""
    if config.requests is not None:
        return min(config.requests, streams[0].shape[1])
    ends = [all_dead_after(s.sequences[s.budget_run[B]][:, :B], s.slice_of_point[p]).max()
            for s, p in zip(systems, streams) for B in config.budgets]
    return int(min(max(ends), streams[0].shape[1]))


def replay(config: DeletionCurvesConfig, systems: list[SeedSystem], streams: list[np.ndarray], end: int,
           result: DeletionCurvesResult) -> None:
    """S3T's accuracy curves from the cached logits and every method's cumulative cost, along the streams."""
    counts = np.arange(end + 1)
    dataset = systems[0].dataset
    hits = [s.slice_of_point[p[:, :end]] for s, p in zip(systems, streams)]
    for B in config.budgets:
        values = np.concatenate([accuracy_along_streams(s.logits[s.budget_run[B]][:, :B], s.labels, s.sequences[s.budget_run[B]][:, :B], h, counts)
                                 for s, h in zip(systems, hits)])
        result.curves += band_rows(values, counts, config.level, dataset=dataset, method=s3t_method(B), B=B, source="cached")
    for B in config.budgets:
        flat = [[prefix_tree_cost(s.sequences[s.budget_run[B]][:, :B], s.slice_sizes, config.epochs)] * len(counts) for s in systems]
        result.costs += band_rows(np.array(flat), counts, config.level, dataset=dataset, method=s3t_method(B), B=B, source="streams")
    sisa = [cumulative(prefix_tree_cost(s.sequences["sisa"], s.slice_sizes, config.epochs),
                       sisa_request_costs(s.sequences["sisa"][:, 0], s.slice_sizes, h, config.epochs), counts) for s, h in zip(systems, hits)]
    result.costs += band_rows(np.concatenate(sisa), counts, config.level, dataset=dataset, method=SISA, B=1, source="streams")
    n = len(systems[0].point_ids)
    full = cumulative(float(n * config.epochs), full_request_costs(n, end, config.epochs), counts)
    result.costs += band_rows(full, counts, config.level, dataset=dataset, method=FULL, B=None, source="streams")


def retrain_checkpoints(config: DeletionCurvesConfig, end: int, n_points: int) -> list[int]:
    """``config.retrain_checkpoints`` request counts spread evenly over [0, end] (``end``: where S3T's
    bands reach chance, :func:`analysis.realruns.curves.band_end`), at most half the points."""
    top = min(end, n_points // 2)
    return sorted({int(round(x)) for x in np.linspace(0, top, config.retrain_checkpoints)}) if config.retrain_checkpoints else []


def measure_retraining(config: DeletionCurvesConfig, systems: list[SeedSystem], streams: list[np.ndarray], checkpoints: list[int],
                       out_dir: Path, bar: Any, result: DeletionCurvesResult) -> None:
    """SISA and full fine-tuning retrained for real at ``checkpoints`` on the first ``retrain_streams``
    streams of every seed; adds the raw measurements and their band rows to ``result``."""
    samples: dict[str, list[list[float]]] = {SISA: [], FULL: []}
    for system, positions in zip(systems, streams):
        for j in range(config.retrain_streams):
            ids = system.point_ids[positions[j, : checkpoints[-1]]].tolist()
            for method, key in ((SISA, "sisa"), (FULL, "full")):
                rows = retrained_curve(system.runs[key], ids, checkpoints, system.eval_set, out_dir / "retraining")
                samples[method].append([r["accuracy"] for r in rows])
                result.retrained += [{"dataset": system.dataset, "method": method, "seed": system.seed, "stream": j, **r} for r in rows]
                bar.update(1)
    for method, B in ((SISA, 1), (FULL, None)):
        if samples[method]:
            result.curves += band_rows(np.array(samples[method]), np.array(checkpoints), config.level, dataset=systems[0].dataset,
                                       method=method, B=B, source="retrained")


def run_deletion_curves(config: DeletionCurvesConfig, out_dir: "str | Path" = "out/deletion-curves", executor: Any = None,
                        progress: bool | None = None) -> DeletionCurvesResult:
    """Train, cache, replay, retrain: the rows and summary of ``s3t deletion-curves`` (files:
    :func:`analysis.realruns.deletion_outputs.write_deletion_outputs`)."""
    import torch
    from tqdm.auto import tqdm

    torch.set_num_threads(config.threads)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    executor = executor if executor is not None else LocalTreeExecutor()
    show = sys.stderr.isatty() if progress is None else progress
    result = DeletionCurvesResult()
    timer = PhaseTimer()
    per_dataset = []
    jobs = [(name, seed) for name in config.datasets for seed in config.seeds]
    # local CPU runs: seeds in parallel processes; Ray parallelises the nodes of each run itself
    workers = config.workers if isinstance(executor, LocalTreeExecutor) and config.device == "cpu" else 1
    with executor:
        with tqdm(total=2 * len(jobs), desc=f"train and cache ({workers} processes)", disable=not show) as bar, WorkerPool(workers, config.threads) as pool:
            with timer("train"):
                trained = pool.map(train_seed, jobs, bar.update, config, out_dir, executor)
            with timer("evaluate"):
                measured = pool.map(measure_seed, list(zip(jobs, trained)), bar.update, config)
        for name in config.datasets:
            systems = [s for s, (job_name, _) in zip(measured, jobs) if job_name == name]
            length = config.requests or len(systems[0].point_ids)
            if length > len(systems[0].point_ids):
                raise ValueError(f"requests must be at most the {len(systems[0].point_ids)} training points of {systems[0].dataset}; got {length}")
            with timer("replay"):
                streams = [seed_streams(config, s, length) for s in systems]
                end = horizon(config, systems, streams)
                replay(config, systems, streams, end, result)
            chance = result.chance[systems[0].dataset] = 1.0 / systems[0].logits["sisa"].shape[-1]
            dead = band_end([r for r in result.curves if r["dataset"] == systems[0].dataset], chance) or end  # at chance from the start: all
            checkpoints = retrain_checkpoints(config, dead, len(systems[0].point_ids))
            with timer("retrain"):
                if checkpoints and config.retrain_streams:
                    with tqdm(total=2 * len(systems) * config.retrain_streams, desc=f"{systems[0].dataset}: retrain SISA and full",
                              disable=not show) as bar:
                        measure_retraining(config, systems, streams, checkpoints, out_dir, bar, result)
            per_dataset.append(summarise(config, systems, streams, end, checkpoints, result))
    result.summary = {"config": asdict(config), "datasets": per_dataset, "seconds": timer.seconds}
    return result
