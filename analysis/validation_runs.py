"""``s3t validate``: train real S3T systems, measure f(k), replay deletion streams, and
compare the measurements with the simulator's predicted bands (see :mod:`analysis.validation`).

For every data set and training seed one S3T system with ``B = max(budgets)`` cyclic
rotations is trained (``s3t_train``), plus one full-LoRA model (m = L = B = 1) on the same
data. Systems with fewer sequences are *sub-systems* of it: cyclic selection takes the first
``B`` rotations, and a node's weights depend only on (seed, shard, prefix) and its slices'
data, so training the smaller system separately would give the very same nodes; ``B = 1``
is SISA with checkpoints. Every node is evaluated once on a held-out set and its logits are
cached; a served state's accuracy is the mean-logit ensemble of its shards' nodes, which is
what ``S3TRun.evaluate`` computes (checked against it on the last state of a stream).

Deletion streams are real: point ids drawn without replacement (uniform weights, and a
skewed per-point law) are deleted one by one through ``S3TRun.delete`` on a copy of the run
(journal, data store, deactivation), and the served stages it reports give the measured
accuracy after each checkpoint.
"""
from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from analysis.validation import (
    AccuracyBand,
    EnsembleTable,
    band_coverage,
    ensemble_accuracy,
    predict_accuracy_band,
    sample_point_streams,
    served_states,
    stream_accuracy_band,
)
from s3t_sim.validation import check_choice, check_int, check_real

PREDICTORS = ("simulator + f(k)", "simulator + ensemble g(k)", "ensemble table, slice model", "ensemble table, point model")


@dataclass
class ValidationConfig:
    """Sizes of a validation run (``peft``-style config; see :data:`VALIDATION_SIZES`)."""

    datasets: tuple[str, ...] = ("sst2", "agnews")
    data_dir: str = "../shared/data"
    model: str = "minilm"
    shards: int = 3
    slices: int = 3
    budgets: tuple[int, ...] = (1, 2, 3)
    seeds: tuple[int, ...] = (0, 1, 2)
    train_limit: int = 900
    eval_limit: int = 400
    epochs: int = 1
    batch_size: int = 16
    max_length: int = 32
    lr: float = 1e-3
    streams: int = 3
    requests: int = 30
    checkpoint_every: int = 2
    skewed_prior: str = "zipf:1.0"
    mc_runs: int = 2000
    level: float = 0.95
    seed: int = 0
    threads: int = 1

    def __post_init__(self) -> None:
        self.datasets = tuple(self.datasets)
        if not self.datasets:
            raise ValueError("datasets must name at least one data set")
        self.shards = check_int("shards", self.shards, 1)
        self.slices = check_int("slices", self.slices, 1)
        self.budgets = tuple(sorted({check_int("budgets", b, 1, self.slices) for b in self.budgets}))
        self.seeds = tuple(check_int("seeds", s, 0) for s in self.seeds)
        if len(self.seeds) < 2:
            raise ValueError("seeds must hold at least 2 training seeds (intervals of f(k) are over seeds)")
        self.train_limit = check_int("train_limit", self.train_limit, 2 * self.shards * self.slices)
        self.eval_limit = check_int("eval_limit", self.eval_limit, 10)
        self.streams = check_int("streams", self.streams, 1)
        self.requests = check_int("requests", self.requests, 1, self.train_limit)
        self.checkpoint_every = check_int("checkpoint_every", self.checkpoint_every, 1, self.requests)
        self.mc_runs = check_int("mc_runs", self.mc_runs, 100)
        self.level = check_real("level", self.level, 0.5, 1.0, high_inclusive=False)
        self.threads = check_int("threads", self.threads, 1)

    @property
    def request_counts(self) -> np.ndarray:
        return np.arange(0, self.requests + 1, self.checkpoint_every, dtype=np.int64)


VALIDATION_SIZES: dict[str, ValidationConfig] = {
    # about 10 minutes on 2 cores: two data sets, two seeds, 2 shards x 3 slices, 240 examples
    "small": ValidationConfig(shards=2, budgets=(1, 2, 3), seeds=(0, 1), train_limit=240, eval_limit=300,
                              streams=2, requests=16, checkpoint_every=2, mc_runs=1000),
    # about 30 minutes on 2 cores: two data sets, three seeds, 3 shards x 3 slices, 720 examples
    "full": ValidationConfig(train_limit=720, eval_limit=300),
    # the CI test: the tiny random BERT, seconds
    "tiny": ValidationConfig(model="tiny", shards=2, slices=2, budgets=(1, 2), seeds=(0, 1), train_limit=48, epochs=4, lr=2e-2,
                             eval_limit=40, max_length=16, batch_size=8, streams=2, requests=8, checkpoint_every=2,
                             mc_runs=400, datasets=("sst2",)),
}


# --------------------------------------------------------------------------- training and caching

@dataclass
class TrainedSystem:
    """One trained S3T system and everything measured on it once."""

    dataset: str
    seed: int
    run_dir: Path
    sequences: np.ndarray  # (m, B, L)
    logits: np.ndarray  # (m, B, L+1, n, C) on the eval set
    eval_set: Any  # s3t_train.data.TextDataset
    labels: np.ndarray  # (n,)
    slice_of_point: np.ndarray  # flat slice index of each training point (position i)
    point_ids: np.ndarray  # training example id at position i
    node_seconds: dict[tuple[int, tuple[int, ...]], float]
    full_lora_accuracy: float
    full_lora_seconds: float  # 0 when the model was already trained (resumed run)


def _run_config(config: ValidationConfig, dataset: str, seed: int, shards: int, slices: int, budget: int):
    from s3t_train.config import DataConfig, RunConfig, SystemConfig, TrainingConfig

    return RunConfig(
        data=DataConfig(source=str(Path(config.data_dir) / dataset), limit=config.train_limit, split_seed=seed),
        training=TrainingConfig(model=config.model, epochs=config.epochs, lr=config.lr, batch_size=config.batch_size,
                                max_length=config.max_length, seed=seed),
        system=SystemConfig(shards=shards, slices=slices, budget=budget, selection="cyclic"),
    )


def _train(run_dir: Path, executor: Any) -> dict[tuple[int, tuple[int, ...]], float]:
    """Train (or resume) a run; returns the training seconds of each node trained now."""
    from s3t_train.ray_executor import train_with_backend

    summary = train_with_backend(run_dir, executor, progress=False)
    return {(r.shard, tuple(r.prefix)): r.seconds for r in summary.trained}


def train_and_measure(config: ValidationConfig, dataset: str, seed: int, out_dir: Path, executor: Any) -> TrainedSystem:
    """Train the S3T system and the full-LoRA model of (dataset, seed) and cache every node's eval logits."""
    from s3t_train.system import S3TRun
    from s3t_train.training import create_run

    runs_dir = out_dir / "runs" / dataset / f"seed{seed}"
    s3t_dir, full_dir = runs_dir / "s3t", runs_dir / "full-lora"
    create_run(_run_config(config, dataset, seed, config.shards, config.slices, max(config.budgets)), s3t_dir)
    node_seconds = _train(s3t_dir, executor)
    create_run(_run_config(config, dataset, seed, 1, 1, 1), full_dir)
    full_seconds = sum(_train(full_dir, executor).values())

    run = S3TRun(s3t_dir)
    try:
        eval_set = run.eval_dataset(limit=config.eval_limit, seed=config.seed)
        m, B, L = run.sequences.shape
        n, C = len(eval_set), len(run.label_names)
        logits = np.zeros((m, B, L + 1, n, C))
        node_logits: dict[tuple[int, tuple[int, ...]], np.ndarray] = {}
        for s in range(m):
            for b in range(B):
                for k in range(L + 1):
                    prefix = tuple(int(x) for x in run.sequences[s, b, :k])
                    key = (s, prefix) if k else (0, ())  # k = 0 (untrained head) is the same for every shard
                    if key not in node_logits:
                        node_logits[key] = run.stage_logits(s, prefix, eval_set.texts).numpy().astype(float)
                    logits[s, b, k] = node_logits[key]
        ids = np.array(sorted(run.trained_location), dtype=np.int64)
        slice_of_point = np.array([run.trained_location[i][0] * L + run.trained_location[i][1] for i in ids])
        sequences = np.array(run.sequences)
    finally:
        run.close()
    full = S3TRun(full_dir)
    try:
        full_accuracy = float(full.evaluate(eval_set)["accuracy"])
    finally:
        full.close()
    return TrainedSystem(dataset, seed, s3t_dir, sequences, logits, eval_set, np.asarray(eval_set.labels), slice_of_point, ids,
                         node_seconds, full_accuracy, full_seconds)


# --------------------------------------------------------------------------- replay

def prior_point_weights(spec: str, n_points: int, seed: int) -> np.ndarray:
    """Request weight of each training point: ``uniform`` or a per-point law (``zipf:s``, ...)
    from :func:`s3t_sim.priors.point_weights`, ranked in a seeded random order."""
    from s3t_sim.priors import point_weights

    if spec == "uniform":
        return np.full(n_points, 1.0 / n_points)
    law, _, param = spec.partition(":")
    ranked = point_weights(law, float(param), n_points)
    return np.random.default_rng(seed).permutation(ranked)


def replay_stream(system: TrainedSystem, point_positions: np.ndarray, request_counts: np.ndarray, work_dir: Path, check_serving: bool) -> dict[str, Any]:
    """Delete the stream's points through ``S3TRun.delete`` on a copy of the run.

    Returns the slice hit by each request (flat index) and the served stages reported by
    the run after each checkpoint. With ``check_serving``, the run's own ``evaluate`` is
    also called at the first checkpoint whose served stages differ from the initial ones
    while some shard is alive: ``serving_check = (checkpoint index, accuracy)``.
    """
    from s3t_train.system import S3TRun

    copy = work_dir / "replay"
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(system.run_dir, copy)
    run = S3TRun(copy)
    try:
        served: list[list] = []
        L = system.sequences.shape[2]
        hits = []
        done = 0
        serving_check = None
        for c, count in enumerate(request_counts):
            while done < count:
                report = run.delete(int(system.point_ids[point_positions[done]]))
                hits.append(report.shard * L + report.slice)
                done += 1
            served.append(run.served_stages())
            switched = c > 0 and served[-1] != served[0] and any(stage is not None for stage in served[-1])
            if check_serving and serving_check is None and switched:
                serving_check = (c, float(run.evaluate(system.eval_set)["accuracy"]))
    finally:
        run.close()
        shutil.rmtree(copy, ignore_errors=True)
    return {"hits": np.array(hits, dtype=np.int64), "served": served, "serving_check": serving_check}


# --------------------------------------------------------------------------- f(k)

def measure_performance(systems: list[TrainedSystem], level: float = 0.95) -> dict[str, Any]:
    """f(k) = mean accuracy of a shard model with k active groups, over shards and sequences,
    per seed; mean over seeds with a Student-t interval (``level``)."""
    from scipy import stats

    per_seed = []
    for system in systems:
        correct = system.logits.argmax(axis=-1) == system.labels  # (m, B, L+1, n)
        per_seed.append(correct.mean(axis=(0, 1, 3)))
    per_seed = np.array(per_seed)  # (seeds, L+1)
    S = per_seed.shape[0]
    mean = per_seed.mean(axis=0)
    se = per_seed.std(axis=0, ddof=1) / np.sqrt(S)
    half = stats.t.ppf(0.5 + level / 2, S - 1) * se
    return {"k": np.arange(per_seed.shape[1]), "accuracy": mean, "se": se, "low": mean - half, "high": mean + half,
            "per_seed": per_seed, "seeds": [s.seed for s in systems], "level": level}


def write_performance_csv(path: Path, measured: dict[str, Any]) -> Path:
    """The measured f(k) as CSV ``k,accuracy,se,ci_low,ci_high,seeds`` (``s3t plan --performance`` reads it)."""
    from analysis.output import Table, write_text_atomic

    rows = [[int(k), float(a), float(se), float(lo), float(hi), len(measured["seeds"])]
            for k, a, se, lo, hi in zip(measured["k"], measured["accuracy"], measured["se"], measured["low"], measured["high"])]
    return write_text_atomic(path, Table(["k", "accuracy", "se", "ci_low", "ci_high", "seeds"], rows).to_csv())


def ensemble_table(systems: list[TrainedSystem], performance: Any) -> list[dict[str, Any]]:
    """Ensemble accuracy for every vector of served prefixes (each shard on its first sequence),
    grouped by the sorted vector, mean over seeds; beside it the f(k) model ``mean_s f(k_s)``."""
    import itertools

    m, _, L = systems[0].sequences.shape
    rows: dict[tuple[int, ...], list[float]] = {}
    for system in systems:
        for ks in itertools.product(range(L + 1), repeat=m):
            prefix = np.array(ks)[None, :]
            acc = float(ensemble_accuracy(system.logits, system.labels, np.zeros_like(prefix), prefix)[0])
            rows.setdefault(tuple(sorted(ks)), []).append(acc)
    out = []
    for ks, values in sorted(rows.items()):
        values = np.array(values)
        out.append({"prefixes": list(ks), "mean_k": float(np.mean(ks)), "ensemble": float(values.mean()),
                    "se": float(values.std(ddof=1) / np.sqrt(values.size)) if values.size > 1 else float("nan"),
                    "mean_f": float(performance.aggregate(np.array(ks))), "samples": int(values.size)})
    return out


# --------------------------------------------------------------------------- the whole validation

@dataclass
class ValidationResult:
    """Everything ``s3t validate`` measured and predicted; ``summary`` goes to ``--json``."""

    summary: dict[str, Any]
    bands: list[dict[str, Any]] = field(default_factory=list)
    measured: list[dict[str, Any]] = field(default_factory=list)
    performance: dict[str, dict[str, Any]] = field(default_factory=dict)
    ensemble: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    comparison: list[dict[str, Any]] = field(default_factory=list)
    serving_checks: list[dict[str, Any]] = field(default_factory=list)
    inside: dict[str, list[np.ndarray]] = field(default_factory=lambda: {p: [] for p in PREDICTORS})
    # per (dataset, B), uniform streams only: first-death counts, their prediction, mean accuracy
    deaths: dict[tuple[str, int], list[int]] = field(default_factory=dict)
    predicted_deaths: dict[tuple[str, int], list[float]] = field(default_factory=dict)
    stream_means: dict[tuple[str, int], list[float]] = field(default_factory=dict)


def validate_system(config: ValidationConfig, system: TrainedSystem, prior: str, performance: Any, g: Any,
                    out_dir: Path, result: ValidationResult) -> None:
    """Replay ``config.streams`` streams of ``prior`` on ``system``; for each budget, measure the
    accuracy after every checkpoint and the four predictors' bands; append to ``result``."""
    from s3t_sim.selection import select_sequences
    from s3t_sim.simulate import simulate_failure_counts
    from s3t_sim.system import S3TSystem

    counts = config.request_counts
    prior_index = 0 if prior == "uniform" else 1
    m, Bmax, L = system.sequences.shape
    weights = prior_point_weights(prior, len(system.point_ids), config.seed + system.seed)
    slice_prior = np.bincount(system.slice_of_point, weights=weights, minlength=m * L).reshape(m, L)
    slice_prior = slice_prior / slice_prior.sum()
    positions = sample_point_streams(weights, int(counts[-1]), config.streams, np.random.default_rng([config.seed, system.seed, prior_index]))
    replays = [replay_stream(system, positions[j], counts, out_dir, check_serving=(j == 0 and prior == "uniform"))
               for j in range(config.streams)]
    streams = np.stack([r["hits"] for r in replays])
    for B in config.budgets:
        sequences = system.sequences[:, :B]
        if not np.array_equal(sequences[0], select_sequences("cyclic", L, B)):
            raise RuntimeError(f"cyclic selection for B={B} is not the first B rotations; train it separately")
        index, prefix = served_states(sequences, streams, counts)
        measured = ensemble_accuracy(system.logits[:, :B], system.labels, index, prefix)  # (streams, checkpoints)
        if B == Bmax:
            _check_serving(system, replays, sequences, index, prefix, measured, counts, result)
        for j in range(config.streams):
            for c, r in enumerate(counts):
                result.measured.append({"dataset": system.dataset, "seed": system.seed, "B": B, "prior": prior, "stream": j,
                                        "requests": int(r), "accuracy": float(measured[j, c]), "served_prefix": prefix[j, c].tolist()})
        sub = S3TSystem(sequences)
        if prior == "uniform":
            _, every = served_states(sequences, streams, np.arange(streams.shape[1] + 1))
            dead = (every == 0).any(axis=-1)  # first shard death; censored at the stream length + 1
            key = (system.dataset, B)
            result.deaths.setdefault(key, []).extend(int(np.argmax(row)) if row.any() else streams.shape[1] + 1 for row in dead)
            result.predicted_deaths.setdefault(key, []).append(
                simulate_failure_counts(sub, slice_prior, "any-dead", config.mc_runs, config.seed + system.seed).mean)
            result.stream_means.setdefault(key, []).append(float(measured.mean()))
        seeds = [int(x) for x in np.random.SeedSequence([config.seed, system.seed, prior_index, B]).generate_state(4)]
        logits = system.logits[:, :B]
        bands = [
            predict_accuracy_band(sub, slice_prior, performance, counts, config.mc_runs, seeds[0], config.level),
            predict_accuracy_band(sub, slice_prior, performance, counts, config.mc_runs, seeds[1], config.level, aggregate=g, name=PREDICTORS[1]),
            stream_accuracy_band(logits, system.labels, sequences, system.slice_of_point, weights, counts, config.mc_runs, seeds[2],
                                 config.level, replacement=True),
            stream_accuracy_band(logits, system.labels, sequences, system.slice_of_point, weights, counts, config.mc_runs, seeds[3],
                                 config.level, replacement=False),
        ]
        for band in bands:
            result.inside[band.predictor].append((measured >= band.lower - 1e-12) & (measured <= band.upper + 1e-12))
            share = band_coverage(band, measured).share
            for c, r in enumerate(counts):
                result.bands.append({"dataset": system.dataset, "seed": system.seed, "B": B, "prior": prior, "predictor": band.predictor,
                                     "requests": int(r), "mean": float(band.mean[c]), "se": float(band.se[c]), "lower": float(band.lower[c]),
                                     "upper": float(band.upper[c]), "runs": band.runs, "seed_mc": band.seed, "inside_share": share})


def _check_serving(system: TrainedSystem, replays: list[dict], sequences: np.ndarray, index: np.ndarray, prefix: np.ndarray,
                   measured: np.ndarray, counts: np.ndarray, result: ValidationResult) -> None:
    """The run's own serving switch must agree with the prefix formula, and its ``evaluate``
    with the cached-logit ensemble."""
    m = sequences.shape[0]
    for j, replay in enumerate(replays):
        for c, stages in enumerate(replay["served"]):
            derived = [tuple(sequences[s, index[j, c, s], : prefix[j, c, s]].tolist()) if prefix[j, c, s] else None for s in range(m)]
            if derived != [None if st is None else tuple(st) for st in stages]:
                raise RuntimeError(f"served stages {stages} differ from the prefix formula {derived}")
        if replay["serving_check"] is not None:
            c, accuracy = replay["serving_check"]
            result.serving_checks.append({"dataset": system.dataset, "seed": system.seed, "requests": int(counts[c]),
                                          "cached": float(measured[j, c]), "served": accuracy})


def comparison_rows(config: ValidationConfig, dataset: str, systems: list[TrainedSystem], result: ValidationResult) -> list[dict[str, Any]]:
    """The paper's comparison on one data set: S3T for each B (B = 1 is SISA) and full LoRA."""
    from s3t_sim.selection import training_cost

    rows = []
    slice_size = config.train_limit / (config.shards * config.slices)
    for B in config.budgets:
        costs = [sum(training_cost(s.sequences[sh, :B])["shared_cost"] for sh in range(config.shards)) for s in systems]
        seconds = [sum(sec for (sh, p), sec in s.node_seconds.items() if any(tuple(s.sequences[sh, b, : len(p)]) == p for b in range(B)))
                   for s in systems]
        all_active = np.full((1, config.shards), config.slices)
        clean = [float(ensemble_accuracy(s.logits[:, :B], s.labels, np.zeros_like(all_active), all_active)[0]) for s in systems]
        deaths = result.deaths[(dataset, B)]
        rows.append({
            "dataset": dataset, "method": "SISA (B=1, checkpoints)" if B == 1 else f"S3T (B={B})", "B": B,
            "accuracy_nothing_deleted": float(np.mean(clean)), "accuracy_nothing_deleted_se": _se(clean),
            "accuracy_over_stream": float(np.mean(result.stream_means[(dataset, B)])), "accuracy_over_stream_se": _se(result.stream_means[(dataset, B)]),
            "requests_until_first_shard_dies": float(np.mean(deaths)), "requests_until_first_shard_dies_se": _se(deaths),
            "censored_at": int(config.request_counts[-1]) + 1,
            "predicted_requests_until_first_shard_dies": float(np.mean(result.predicted_deaths[(dataset, B)])),
            "training_cost_example_passes": float(np.mean(costs) * slice_size * config.epochs),
            "training_seconds": float(np.mean(seconds)) if all(seconds) else None,
        })
    full = [s.full_lora_accuracy for s in systems]
    rows.append({
        "dataset": dataset, "method": "full LoRA (one model, all data)", "B": None,
        "accuracy_nothing_deleted": float(np.mean(full)), "accuracy_nothing_deleted_se": _se(full),
        "accuracy_over_stream": float(np.mean(full)), "accuracy_over_stream_se": _se(full),  # kept only by retraining on every request
        "requests_until_first_shard_dies": 1.0, "requests_until_first_shard_dies_se": 0.0, "censored_at": None,
        "predicted_requests_until_first_shard_dies": 1.0,
        "training_cost_example_passes": float(config.train_limit * config.epochs),
        "training_seconds": float(np.mean([s.full_lora_seconds for s in systems])) if all(s.full_lora_seconds for s in systems) else None,
    })
    return rows


def run_validation(config: ValidationConfig, out_dir: "str | Path" = "out/validation", executor: Any = None,
                   progress: bool | None = None) -> ValidationResult:
    """Train, measure, predict and compare (files are written by ``analysis.validation_figures``)."""
    import torch
    from tqdm.auto import tqdm

    from s3t_sim.performance import performance_from_csv
    from s3t_train.ray_executor import LocalTreeExecutor

    started = time.perf_counter()
    torch.set_num_threads(config.threads)  # small matrices: one thread per process is fastest and never oversubscribes
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    executor = executor if executor is not None else LocalTreeExecutor()
    show = sys.stderr.isatty() if progress is None else progress
    result = ValidationResult(summary={})
    with executor:
        bar = tqdm(total=len(config.datasets) * len(config.seeds), desc="validate (train, replay)", disable=not show)
        for dataset in config.datasets:
            systems = []
            for seed in config.seeds:
                systems.append(train_and_measure(config, dataset, seed, out_dir, executor))
                bar.update(1)
            measured_f = measure_performance(systems, config.level)
            fk_path = write_performance_csv(out_dir / f"fk_{dataset}.csv", measured_f)
            performance = performance_from_csv(fk_path, L=config.slices)  # exactly what `s3t plan` will read
            result.performance[dataset] = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in measured_f.items()}
            result.ensemble[dataset] = ensemble_table(systems, performance)
            g = EnsembleTable({tuple(row["prefixes"]): row["ensemble"] for row in result.ensemble[dataset]})
            for system in systems:
                for prior in ("uniform", config.skewed_prior):
                    validate_system(config, system, prior, performance, g, out_dir, result)
            result.comparison += comparison_rows(config, dataset, systems, result)
        bar.close()

    per_predictor = {}
    for name, parts in result.inside.items():
        inside = np.concatenate([p.ravel() for p in parts])
        q = float(inside.mean())
        per_predictor[name] = {"coverage": q, "inside": int(inside.sum()), "checkpoints": int(inside.size),
                               "se": float(np.sqrt(q * (1 - q) / inside.size))}
    headline = per_predictor[PREDICTORS[0]]
    result.summary = {
        "coverage": headline["coverage"],
        "checkpoints": headline["checkpoints"],
        "inside": headline["inside"],
        "target": 0.90,
        "level": config.level,
        "predictor": PREDICTORS[0],
        "coverage_by_predictor": per_predictor,
        "serving_checks": result.serving_checks,
        "performance_csv": {d: f"fk_{d}.csv" for d in config.datasets},
        "config": asdict(config),
        "seconds": time.perf_counter() - started,
    }
    return result


def _se(values: Any) -> float:
    values = np.asarray(values, dtype=float)
    return float(values.std(ddof=1) / np.sqrt(values.size)) if values.size > 1 else float("nan")
