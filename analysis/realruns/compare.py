"""The comparison of ``s3t validate``: for every trained system, prior and budget, the
measured accuracy of replayed streams against the four predictors' bands
(:mod:`analysis.realruns.bands`), the paper's S3T vs SISA vs full-LoRA table, and the
coverage summary.
"""
from __future__ import annotations

import sys
import time
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from analysis.realruns.bands import (
    EnsembleTable,
    coverage_of,
    ensemble_accuracy,
    inside_band,
    predict_accuracy_band,
    sample_point_streams,
    sample_request_streams,
    stream_accuracy_band,
)
from analysis.realruns.mainfigure import deletion_costs, deletion_curves
from analysis.realruns.phases import PhaseTimer
from analysis.realruns.pool import WorkerPool
from analysis.realruns.heldout import MIN_PILOTS, predict_heldout, stage_accuracy, summarise_heldout
from analysis.realruns.experiment import (
    TrainedSystem,
    ValidationConfig,
    ensemble_table,
    measure_performance,
    prior_point_weights,
    measure_system,
    replay_stream,
    standard_error,
    train_system,
    write_performance_csv,
)
from s3t_sim.performance import PerformanceModel, performance_from_csv
from s3t_sim.selection import select_sequences, training_cost
from s3t_sim.montecarlo import simulate_failure_counts
from s3t_sim.prefix import served_states_after
from s3t_sim.system import S3TSystem
from s3t_train.executors import LocalTreeExecutor

PREDICTORS = ("simulator + f(k)", "simulator + ensemble g(k)", "ensemble table, slice model", "ensemble table, point model")


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
    # per (dataset, seed, prior, B): measured curves, served prefixes, the exact-law band (in-sample)
    replayed: dict[tuple[str, int, str, int], dict[str, Any]] = field(default_factory=dict)
    heldout_streams: list[dict[str, Any]] = field(default_factory=list)
    heldout_means: list[dict[str, Any]] = field(default_factory=list)
    main_rows: list[dict[str, Any]] = field(default_factory=list)  # the paper-style deletion curves
    main_costs: list[dict[str, Any]] = field(default_factory=list)  # their training cost along the same streams
    chance: dict[str, float] = field(default_factory=dict)
    timer: PhaseTimer = field(default_factory=PhaseTimer)  # seconds per phase: train, evaluate, replay, predict, figures


def validate_system(config: ValidationConfig, system: TrainedSystem, prior: str, performance: Any, g: Any,
                    out_dir: Path, result: ValidationResult) -> None:
    """Replay ``config.streams`` streams of ``prior`` on ``system``; for each budget, measure the
    accuracy after every checkpoint and the four predictors' bands; append to ``result``."""
    counts = config.request_counts
    prior_index = 0 if prior == "uniform" else 1
    m, Bmax, L = system.sequences.shape
    weights = prior_point_weights(prior, len(system.point_ids), config.seed + system.seed)
    slice_prior = np.bincount(system.slice_of_point, weights=weights, minlength=m * L).reshape(m, L)
    slice_prior = slice_prior / slice_prior.sum()
    # the data set is in the seed: each data set gets its own streams (independent clusters)
    positions = sample_point_streams(weights, int(counts[-1]), config.streams,
                                     np.random.default_rng([config.seed, system.seed, prior_index, zlib.crc32(system.dataset.encode())]))
    with result.timer("replay"):
        # the run's own evaluate against the cached ensemble: once per data set (first seed, first uniform stream)
        check = prior == "uniform" and system.seed == config.seeds[0]
        replays = [replay_stream(system, positions[j], counts, out_dir, check_serving=(j == 0 and check))
                   for j in range(config.streams)]
    with result.timer("predict"):
        _score_budgets(config, system, prior, prior_index, weights, slice_prior, replays, performance, g, result)


def _score_budgets(config: ValidationConfig, system: TrainedSystem, prior: str, prior_index: int, weights: np.ndarray,
                   slice_prior: np.ndarray, replays: list[dict], performance: Any, g: Any, result: ValidationResult) -> None:
    """For each budget B: the measured accuracy of the replayed streams and the four predictors' bands."""
    counts = config.request_counts
    _, Bmax, L = system.sequences.shape
    streams = np.stack([r["hits"] for r in replays])
    for B in config.budgets:
        sequences = system.sequences[:, :B]
        if not np.array_equal(sequences[0], select_sequences("cyclic", L, B)):
            raise RuntimeError(f"cyclic selection for B={B} is not the first B rotations; train it separately")
        index, prefix = served_states_after(sequences, streams, counts)
        measured = ensemble_accuracy(system.logits[:, :B], system.labels, index, prefix)  # (streams, checkpoints)
        if B == Bmax:
            _check_serving(system, replays, sequences, index, prefix, measured, counts, result)
        for j in range(config.streams):
            for c, r in enumerate(counts):
                result.measured.append({"dataset": system.dataset, "seed": system.seed, "B": B, "prior": prior, "stream": j,
                                        "requests": int(r), "accuracy": float(measured[j, c]), "served_prefix": prefix[j, c].tolist()})
        sub = S3TSystem(sequences)
        if prior == "uniform":
            _, every = served_states_after(sequences, streams, np.arange(streams.shape[1] + 1))
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
        result.replayed[(system.dataset, system.seed, prior, B)] = {
            "measured": measured, "prefix": prefix, "weights": weights, "exact_low": bands[3].lower, "exact_high": bands[3].upper}
        for band in bands:
            inside = inside_band(band, measured)
            result.inside[band.predictor].append(inside)
            share = coverage_of(inside).share
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


def score_heldout(config: ValidationConfig, systems: list[TrainedSystem], result: ValidationResult) -> None:
    """Leave one training seed out: predict each seed from the others (>= 3 pilots) and score the
    prediction on streams the fit never saw: the seed's replayed streams and ``config.heldout_streams``
    fresh ones scored from its cached logits (equal to what the run serves: ``_check_serving``)."""
    counts = config.request_counts
    for target in systems:
        pilots = [s for s in systems if s.seed != target.seed]
        if not all(np.array_equal(p.labels, target.labels) for p in pilots):
            raise RuntimeError("pilot and target systems must be evaluated on the same examples")
        C = target.logits.shape[-1]
        for (dataset, seed, prior, B), rep in result.replayed.items():
            if (dataset, seed) != (target.dataset, target.seed):
                continue
            tags = [zlib.crc32(prior.encode()), zlib.crc32(dataset.encode())]
            mc_seed = int(np.random.SeedSequence([config.seed, seed, B, 12, *tags]).generate_state(1)[0])
            fresh = np.random.default_rng([config.seed, seed, 13, *tags])  # one stream set for all nested B
            hits = sample_request_streams(target.slice_of_point, rep["weights"], int(counts[-1]), max(config.heldout_streams, 1), fresh)
            index, prefix = served_states_after(target.sequences[:, :B], hits[: config.heldout_streams], counts)
            measured = np.vstack([rep["measured"], ensemble_accuracy(target.logits[:, :B], target.labels, index, prefix)])
            dead = np.vstack([rep["prefix"], prefix]).max(axis=-1) == 0
            source = ["replayed"] * rep["measured"].shape[0] + ["cached"] * config.heldout_streams
            # observable before any deletion: the target's stage accuracies and its clean ensemble accuracy
            full = np.full((1, target.sequences.shape[0]), target.sequences.shape[2])
            clean = float(ensemble_accuracy(target.logits[:, :B], target.labels, np.zeros_like(full), full)[0])
            pred = predict_heldout([p.logits[:, :B] for p in pilots], target.labels, target.sequences[:, :B], target.slice_of_point,
                                   rep["weights"], counts, measured.shape[0], stage_accuracy(target.logits[:, :B], target.labels),
                                   clean, config.mc_runs, mc_seed, config.level)
            key = {"dataset": dataset, "seed": seed, "prior": prior, "B": B}
            for j in range(measured.shape[0]):
                for c, r in enumerate(counts):
                    result.heldout_streams.append({
                        **key, "stream": j, "source": source[j], "requests": int(r), "measured": float(measured[j, c]),
                        "band_low": float(pred.band_low[c]), "band_high": float(pred.band_high[c]),
                        "trivial_low": 1.0 / C, "trivial_high": float(measured[j, 0]),
                        "exact_low": float(rep["exact_low"][c]), "exact_high": float(rep["exact_high"][c]),
                        "nontrivial": bool(r > 0 and not dead[j, c]), "stream_id": f"{dataset}/{seed}/{prior}/{j}",
                        "cluster": f"{dataset}/{seed}"})
            planner = _planner_horizons(config, pilots, target, rep["weights"], B, mc_seed)
            for c, r in enumerate(counts):
                row = {**key, "requests": int(r), "measured": float(measured[:, c].mean()), "streams": measured.shape[0],
                       "predicted": float(pred.mean[c]), "mean_low": float(pred.mean_low[c]), "mean_high": float(pred.mean_high[c]),
                       "between_seed_sd": float(pred.between_seed_sd[c]), "within_seed_sd": float(pred.within_seed_sd[c]),
                       "pilots": pred.pilots, "cluster": f"{dataset}/{seed}"}
                if c == 0:
                    row.update(horizon_measured=float(measured.mean()), horizon_predicted=pred.horizon,
                               horizon_low=pred.horizon_low, horizon_high=pred.horizon_high, band_slope=pred.band_slope,
                               band_shift=pred.band_shift, **planner)
                result.heldout_means.append(row)


def _planner_horizons(config: ValidationConfig, pilots: list[TrainedSystem], target: TrainedSystem, weights: np.ndarray, B: int,
                      seed: int) -> dict[str, float]:
    """The planner's horizon average (simulator, i.i.d. slice hits) with f(k) calibrated on the pilots only:
    ``mean_s f(k_s)`` (what ``s3t plan`` uses) and the alive-vote model (dead shards leave the vote)."""
    m, _, L = target.sequences.shape
    f = measure_performance([p.logits[:, :B] for p in pilots], [p.labels for p in pilots], [p.seed for p in pilots], config.level)
    model = PerformanceModel(np.maximum.accumulate(f["accuracy"]), "pilots")
    prior = np.bincount(target.slice_of_point, weights=weights, minlength=m * L).reshape(m, L)
    sub = S3TSystem(target.sequences[:, :B])
    out = {}
    for name, aggregate in (("planner_mean_f", model.aggregate), ("planner_alive_vote", model.alive_vote)):
        band = predict_accuracy_band(sub, prior / prior.sum(), model, config.request_counts, config.mc_runs, seed, config.level, aggregate=aggregate)
        out[f"horizon_{name}"] = float(band.mean.mean())
    return out


def comparison_rows(config: ValidationConfig, dataset: str, systems: list[TrainedSystem], result: ValidationResult) -> list[dict[str, Any]]:
    """The paper's comparison on one data set: S3T for each B (B = 1 is SISA) and full LoRA."""
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
            "accuracy_nothing_deleted": float(np.mean(clean)), "accuracy_nothing_deleted_se": standard_error(clean),
            "accuracy_over_stream": float(np.mean(result.stream_means[(dataset, B)])), "accuracy_over_stream_se": standard_error(result.stream_means[(dataset, B)]),
            "requests_until_first_shard_dies": float(np.mean(deaths)), "requests_until_first_shard_dies_se": standard_error(deaths),
            "censored_at": int(config.request_counts[-1]) + 1,
            "predicted_requests_until_first_shard_dies": float(np.mean(result.predicted_deaths[(dataset, B)])),
            "training_cost_example_passes": float(np.mean(costs) * slice_size * config.epochs),
            "training_seconds": float(np.mean(seconds)) if all(seconds) else None,
        })
    full = [s.full_lora_accuracy for s in systems]
    rows.append({
        "dataset": dataset, "method": "full LoRA (one model, all data)", "B": None,
        "accuracy_nothing_deleted": float(np.mean(full)), "accuracy_nothing_deleted_se": standard_error(full),
        "accuracy_over_stream": float(np.mean(full)), "accuracy_over_stream_se": standard_error(full),  # kept only by retraining on every request
        "requests_until_first_shard_dies": 1.0, "requests_until_first_shard_dies_se": 0.0, "censored_at": None,
        "predicted_requests_until_first_shard_dies": 1.0,
        "training_cost_example_passes": float(config.train_limit * config.epochs),
        "training_seconds": float(np.mean([s.full_lora_seconds for s in systems])) if all(s.full_lora_seconds for s in systems) else None,
    })
    return rows


def run_validation(config: ValidationConfig, out_dir: "str | Path" = "out/validation", executor: Any = None,
                   progress: bool | None = None) -> ValidationResult:
    """Train, measure, predict and compare (files are written by ``analysis.realruns.figures``)."""
    import torch
    from tqdm.auto import tqdm


    started = time.perf_counter()
    torch.set_num_threads(config.threads)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    executor = executor if executor is not None else LocalTreeExecutor()
    show = sys.stderr.isatty() if progress is None else progress
    result = ValidationResult(summary={})
    jobs = [(dataset, seed) for dataset in config.datasets for seed in config.seeds]
    # local CPU runs: whole systems in parallel processes; Ray parallelises the nodes of each run itself
    workers = config.workers if isinstance(executor, LocalTreeExecutor) and config.device == "cpu" else 1
    with executor:
        bar = tqdm(total=2 * len(jobs), desc=f"validate (train, evaluate; {workers} processes)", disable=not show)
        with WorkerPool(workers, config.threads) as pool:
            with result.timer("train"):
                trained = pool.map(train_system, jobs, bar.update, config, out_dir, executor)
            with result.timer("evaluate"):
                measured = pool.map(measure_system, list(zip(jobs, trained)), bar.update, config, out_dir)
        bar.close()
        for dataset in config.datasets:
            systems = [system for system in measured if system.dataset == dataset]
            measured_f = measure_performance([s.logits for s in systems], [s.labels for s in systems], [s.seed for s in systems], config.level)
            fk_path = write_performance_csv(out_dir / f"fk_{dataset}.csv", measured_f, config.train_limit / (config.shards * config.slices))
            performance = performance_from_csv(fk_path, L=config.slices)  # exactly what `s3t plan` will read
            result.performance[dataset] = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in measured_f.items()}
            result.ensemble[dataset] = ensemble_table(systems, performance)
            g = EnsembleTable({tuple(row["prefixes"]): row["ensemble"] for row in result.ensemble[dataset]})
            for system in systems:
                for prior in ("uniform", config.skewed_prior):
                    validate_system(config, system, prior, performance, g, out_dir, result)
            with result.timer("predict"):
                if len(systems) > MIN_PILOTS:
                    score_heldout(config, systems, result)
                result.comparison += comparison_rows(config, dataset, systems, result)
            with result.timer("replay"):
                points = min(len(s.point_ids) for s in systems)
                result.main_rows += deletion_curves(systems, config.budgets, config.main_streams, points, config.seed, config.level)
                result.main_costs += deletion_costs(systems, config.budgets, config.main_streams, points, config.seed, config.level, config.epochs)
            result.chance[dataset] = 1.0 / systems[0].logits.shape[-1]

    per_predictor = {}
    for name, parts in result.inside.items():
        c = coverage_of(np.concatenate([p.ravel() for p in parts]))
        per_predictor[name] = {"coverage": c.share, "inside": c.inside, "checkpoints": c.checkpoints, "se": c.se}
    if result.heldout_streams:
        heldout = summarise_heldout(result.heldout_streams, result.heldout_means, config.level)
        heldout["protocol"] = (f"leave one training seed out: {len(config.seeds) - 1} pilot seeds fit; the held-out seed's "
                               f"{config.streams} replayed and {config.heldout_streams} fresh cached-logit streams per prior score; "
                               "SEs clustered by held-out seed; in-sample predictors are listed under coverage_by_predictor")
    else:
        heldout = {"skipped": f"needs at least {MIN_PILOTS + 1} training seeds ({MIN_PILOTS} pilots + 1 held out); got {len(config.seeds)}"}
    headline = per_predictor[PREDICTORS[0]]
    result.summary = {
        "coverage": headline["coverage"],
        "checkpoints": headline["checkpoints"],
        "inside": headline["inside"],
        "target": 0.90,
        "level": config.level,
        "predictor": PREDICTORS[0],
        "coverage_by_predictor": per_predictor,
        "coverage_by_predictor_note": "in-sample: bands use the scored seed's own logits or f(k) tables that include it",
        "heldout": heldout,
        "serving_checks": result.serving_checks,
        "performance_csv": {d: f"fk_{d}.csv" for d in config.datasets},
        "config": asdict(config),
        "seconds": time.perf_counter() - started,
        "phase_seconds": result.timer.seconds,
    }
    return result

