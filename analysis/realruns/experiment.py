"""The real-run experiment of ``s3t validate``: train S3T systems, cache every node's logits,
replay deletion streams through the run, and measure f(k) and the ensemble table.

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

import io
import itertools
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from analysis.realruns.bands import ensemble_accuracy
from analysis.tables import Table
from s3t_sim.output import write_bytes_atomic, write_text_atomic
from s3t_sim.performance import PerformanceModel
from s3t_sim.priors import point_weights
from s3t_sim.checks import check_int, check_real
from s3t_train.config import DataConfig, RunConfig, SystemConfig, TrainingConfig
from s3t_train.driver import train_with_backend
from s3t_train.evaluation import eval_dataset, evaluate
from s3t_train.run import S3TRun
from s3t_train.run_folder import create_run
from s3t_train.serving import stages_logits


@dataclass
class ValidationConfig:
    """Sizes of a validation run (``peft``-style config; see :data:`VALIDATION_SIZES`)."""

    datasets: tuple[str, ...] = ("sst2", "agnews")
    data_dir: str = str(Path(__file__).resolve().parents[2].parent / "shared" / "data")  # the project's ../shared/data, from any cwd
    model: str = "minilm"
    shards: int = 3
    slices: int = 3
    budgets: tuple[int, ...] = (1, 2, 3)
    seeds: tuple[int, ...] = (0, 1, 2, 3)
    train_limit: int = 900
    eval_limit: int = 400
    epochs: int = 1
    batch_size: int = 16
    max_length: int = 32
    lr: float = 1e-3
    streams: int = 3
    heldout_streams: int = 200  # fresh streams per held-out seed and prior, scored from its cached logits
    main_streams: int = 1000  # streams per seed of the paper-style figure (every point deleted)
    requests: int = 30
    checkpoint_every: int = 2
    skewed_prior: str = "zipf:1.0"
    mc_runs: int = 2000
    level: float = 0.95
    seed: int = 0
    threads: int = 1  # torch threads per process (small matrices: one is fastest and never oversubscribes)
    workers: int = field(default_factory=lambda: min(4, os.cpu_count() or 1))  # processes training/evaluating systems (CPU, local backend)
    device: str = "cpu"  # training device of every run (TrainingConfig.device: cpu, cuda or cuda:N)

    def __post_init__(self) -> None:
        self.datasets = tuple(self.datasets)
        if not self.datasets:
            raise ValueError("datasets must name at least one data set")
        self.shards = check_int("shards", self.shards, 1)
        self.slices = check_int("slices", self.slices, 1)
        self.budgets = tuple(sorted({check_int("budgets", b, 1, self.slices) for b in self.budgets}))
        self.seeds = tuple(check_int("seeds", s, 0) for s in self.seeds)
        if len(set(self.seeds)) < 3:
            raise ValueError("seeds must hold at least 3 distinct training seeds (intervals over seeds; "
                             "held-out scoring needs 4: 3 pilots + 1 held out)")
        self.train_limit = check_int("train_limit", self.train_limit, 2 * self.shards * self.slices)
        self.eval_limit = check_int("eval_limit", self.eval_limit, 10)
        self.streams = check_int("streams", self.streams, 1)
        self.heldout_streams = check_int("heldout_streams", self.heldout_streams, 0)
        self.main_streams = check_int("main_streams", self.main_streams, 1)
        self.requests = check_int("requests", self.requests, 1, self.train_limit)
        self.checkpoint_every = check_int("checkpoint_every", self.checkpoint_every, 1, self.requests)
        self.mc_runs = check_int("mc_runs", self.mc_runs, 100)
        self.level = check_real("level", self.level, 0.5, 1.0, high_inclusive=False)
        self.threads = check_int("threads", self.threads, 1)
        self.workers = check_int("workers", self.workers, 1, 64)
        TrainingConfig(device=self.device)  # the same check and message as a run's own config

    @property
    def request_counts(self) -> np.ndarray:
        return np.arange(0, self.requests + 1, self.checkpoint_every, dtype=np.int64)


VALIDATION_SIZES: dict[str, ValidationConfig] = {
    # two data sets, five seeds (leave one seed out: 4 pilots + 1 held out), 2 shards x 3 slices, 240 examples,
    # 2 epochs (SST-2 learns), 24 tokens: under 5 minutes from scratch on 2 cores (2 worker processes)
    "small": ValidationConfig(shards=2, budgets=(1, 2, 3), seeds=(0, 1, 2, 3, 4), train_limit=240, eval_limit=300, epochs=2, max_length=24,
                              streams=2, requests=16, checkpoint_every=2, mc_runs=1000),
    # two data sets, four seeds, 3 shards x 3 slices, 720 examples
    "full": ValidationConfig(train_limit=720, eval_limit=300),
    # the CI test: the tiny random BERT, seconds
    "tiny": ValidationConfig(model="tiny", shards=2, slices=2, budgets=(1, 2), seeds=(0, 1, 2, 3), train_limit=48, epochs=4, lr=2e-2,
                             eval_limit=40, max_length=16, batch_size=8, streams=2, heldout_streams=20, main_streams=50, requests=8, checkpoint_every=2,
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


def _run_config(config: ValidationConfig, dataset: str, seed: int, shards: int, slices: int, budget: int) -> RunConfig:
    return RunConfig(
        data=DataConfig(source=str(Path(config.data_dir) / dataset), limit=config.train_limit, split_seed=seed),
        training=TrainingConfig(model=config.model, epochs=config.epochs, lr=config.lr, batch_size=config.batch_size,
                                max_length=config.max_length, seed=seed, device=config.device),
        system=SystemConfig(shards=shards, slices=slices, budget=budget, selection="cyclic"),
    )


def _train(run_dir: Path, executor: Any) -> dict[tuple[int, tuple[int, ...]], float]:
    """Train (or resume) a run; returns the training seconds of each node trained now."""
    summary = train_with_backend(run_dir, executor, progress=False)
    return {(r.shard, tuple(r.prefix)): r.seconds for r in summary.trained}


def train_system(job: tuple[str, int], config: ValidationConfig, out_dir: Path, executor: Any) -> tuple[dict, float]:
    """Train (or resume) the S3T system and the full-LoRA model of ``job = (dataset, seed)``;
    returns the training seconds of each S3T node trained now and of the full-LoRA model."""
    dataset, seed = job
    runs_dir = out_dir / "runs" / dataset / f"seed{seed}"
    s3t_dir, full_dir = runs_dir / "s3t", runs_dir / "full-lora"
    create_run(_run_config(config, dataset, seed, config.shards, config.slices, max(config.budgets)), s3t_dir)
    node_seconds = _train(s3t_dir, executor)
    create_run(_run_config(config, dataset, seed, 1, 1, 1), full_dir)
    return node_seconds, sum(_train(full_dir, executor).values())


def measure_system(job: tuple[tuple[str, int], tuple[dict, float]], config: ValidationConfig, out_dir: Path) -> TrainedSystem:
    """Cache every node's eval logits of a trained system (``job = ((dataset, seed), train_system's result)``)
    and evaluate its full-LoRA model."""
    (dataset, seed), (node_seconds, full_seconds) = job
    return _measure(config, dataset, seed, out_dir / "runs" / dataset / f"seed{seed}", node_seconds, full_seconds)


def _measure(config: ValidationConfig, dataset: str, seed: int, runs_dir: Path, node_seconds: dict, full_seconds: float) -> TrainedSystem:
    """Cache the S3T run's prefix logits and evaluate the full-LoRA model."""
    s3t_dir, full_dir = runs_dir / "s3t", runs_dir / "full-lora"
    run = S3TRun(s3t_dir)
    try:
        eval_set = eval_dataset(run, limit=config.eval_limit, seed=config.seed)
        logits = cached_prefix_logits(run, eval_set, runs_dir / f"logits_eval{config.eval_limit}_seed{config.seed}.npz")
        L = run.sequences.shape[2]
        location = run.deletions.trained_location
        ids = np.array(sorted(location), dtype=np.int64)
        slice_of_point = np.array([location[i][0] * L + location[i][1] for i in ids])
        sequences = np.array(run.sequences)
    finally:
        run.close()
    full = S3TRun(full_dir)
    try:
        full_accuracy = float(evaluate(full, eval_set)["accuracy"])
    finally:
        full.close()
    return TrainedSystem(dataset, seed, s3t_dir, sequences, logits, eval_set, np.asarray(eval_set.labels), slice_of_point, ids,
                         node_seconds, full_accuracy, full_seconds)


def prefix_logits(run: S3TRun, texts: list[str], progress: bool | None = False) -> np.ndarray:
    """Logits (m, B, L+1, n, C) of every shard's every sequence prefix on ``texts``: each
    prefix-tree node is evaluated once, all in one shared-trunk pass
    (:func:`s3t_train.serving.stages_logits`); k = 0, the untrained head, is shared by all shards."""
    m, B, L = run.sequences.shape
    stage = {(s, b, k): (s, tuple(int(x) for x in run.sequences[s, b, :k])) if k else (0, ())
             for s in range(m) for b in range(B) for k in range(L + 1)}
    nodes = list(dict.fromkeys(stage.values()))
    values = stages_logits(run, nodes, texts, progress=progress).numpy().astype(float)
    row = {node: i for i, node in enumerate(nodes)}
    logits = np.zeros((m, B, L + 1, len(texts), len(run.label_names)))
    for (s, b, k), node in stage.items():
        logits[s, b, k] = values[row[node]]
    return logits


def cached_prefix_logits(run: S3TRun, eval_set: Any, path: Path) -> np.ndarray:
    """:func:`prefix_logits` kept in ``path`` (``.npz``) beside the run, so a rerun of the same
    (trained, hence unchanged) run on the same examples replays without re-evaluating; the
    cache is used only when its texts and sequences equal the current ones."""
    if path.is_file():
        with np.load(path) as cached:
            if list(cached["texts"]) == list(eval_set.texts) and np.array_equal(cached["sequences"], run.sequences):
                return cached["logits"]
    logits = prefix_logits(run, eval_set.texts)
    buffer = io.BytesIO()
    np.savez(buffer, logits=logits, texts=np.array(eval_set.texts), sequences=np.asarray(run.sequences))
    write_bytes_atomic(path, buffer.getvalue())
    return logits


# --------------------------------------------------------------------------- replay

def prior_point_weights(spec: str, n_points: int, seed: int) -> np.ndarray:
    """Request weight of each training point: ``uniform`` or a per-point law (``zipf:s``, ...)
    from :func:`s3t_sim.priors.point_weights`, ranked in a seeded random order."""
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
                report = run.deletions.delete(int(system.point_ids[point_positions[done]]))
                hits.append(report.shard * L + report.slice)
                done += 1
            served.append(run.deletions.served_stages())
            switched = c > 0 and served[-1] != served[0] and any(stage is not None for stage in served[-1])
            if check_serving and serving_check is None and switched:
                serving_check = (c, float(evaluate(run, system.eval_set)["accuracy"]))
    finally:
        run.close()
        shutil.rmtree(copy, ignore_errors=True)
    return {"hits": np.array(hits, dtype=np.int64), "served": served, "serving_check": serving_check}


# --------------------------------------------------------------------------- f(k)

def measure_performance(logits: list[np.ndarray], labels: list[np.ndarray], seeds: list[int], level: float = 0.95) -> dict[str, Any]:
    """f(k) from the prefix logits (m, B, L+1, n, C) of S >= 3 training seeds (with each seed's labels).

    Per seed, f(k) is the mean accuracy of a shard model with k active groups over shards and
    sequences; the mean over seeds carries a Student-t interval (``level``, S - 1 degrees of
    freedom) and the between-seed spread. ``f(0)`` is a dead shard: chance ``1/C`` exactly (the
    served ensemble never uses the untrained head), with zero spread.
    """
    S = len(logits)
    if S < 3 or len(labels) != S or len(seeds) != S:
        raise ValueError(f"logits, labels and seeds must hold the same number (at least 3) of training seeds; got {S}, {len(labels)}, {len(seeds)}")
    per_seed = []
    for values, y in zip(logits, labels):
        correct = values.argmax(axis=-1) == y  # (m, B, L+1, n)
        f = correct.mean(axis=(0, 1, 3))
        f[0] = 1.0 / values.shape[-1]
        per_seed.append(f)
    per_seed = np.array(per_seed)  # (seeds, L+1)
    mean = per_seed.mean(axis=0)
    sd = per_seed.std(axis=0, ddof=1)
    se = sd / np.sqrt(S)
    half = stats.t.ppf(0.5 + level / 2, S - 1) * se
    return {"k": np.arange(per_seed.shape[1]), "accuracy": mean, "se": se, "between_seed_sd": sd, "low": mean - half, "high": mean + half,
            "per_seed": per_seed, "seeds": list(seeds), "level": level, "eval_examples": int(min(len(y) for y in labels))}


def write_performance_csv(path: Path, measured: dict[str, Any], examples_per_slice: float) -> Path:
    """The measured f(k) as CSV ``k,examples_seen,accuracy,se,between_seed_sd,ci_low,ci_high,seeds,eval_examples``
    (``s3t simulate/plan --performance`` read ``k,accuracy``; the other columns are its uncertainty)."""
    columns = ["k", "examples_seen", "accuracy", "se", "between_seed_sd", "ci_low", "ci_high", "seeds", "eval_examples"]
    rows = [[int(k), float(k * examples_per_slice), float(a), float(se), float(sd), float(lo), float(hi), len(measured["seeds"]),
             measured["eval_examples"]]
            for k, a, se, sd, lo, hi in zip(measured["k"], measured["accuracy"], measured["se"], measured["between_seed_sd"],
                                            measured["low"], measured["high"])]
    return write_text_atomic(path, Table(columns, rows).to_csv())


def ensemble_table(systems: list[TrainedSystem], performance: PerformanceModel) -> list[dict[str, Any]]:
    """Ensemble accuracy for every vector of served prefixes (each shard on its first sequence),
    grouped by the sorted vector, mean over seeds; beside it the f(k) model ``mean_s f(k_s)``."""
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
                    "se": standard_error(values),
                    "mean_f": float(performance.aggregate(np.array(ks))), "samples": int(values.size)})
    return out


def standard_error(values: Any) -> float:
    """Standard error of the mean of ``values``; ``nan`` for fewer than two values."""
    values = np.asarray(values, dtype=float)
    return float(values.std(ddof=1) / np.sqrt(values.size)) if values.size > 1 else float("nan")
