"""A setting's year in production under a retraining policy (``s3t plan --policy``).

For one (m, L, B, selection) and policy this turns the steady state of
:mod:`s3t_sim.renewal` (exact for L <= 14, Monte Carlo with standard errors beyond) into
what a planner reads: shard retrainings and system stops per year with 5/50/95 % quantiles
of the yearly count (renewal CLT: ``N ~ Normal(t/μ, t σ²/μ³)``; stops that need every shard
down at once are rare coincidences, counted as Poisson), the fraction of time in full,
degraded and stopped service, the time-averaged served performance, and compute per year
in sample-passes (initial training amortised over the horizon plus retraining), device-hours
(``seconds_per_sample_pass``) and money (``price_per_device_hour``).

Retraining time: ``retrain_days`` if given, else one shard's cost on one device,
``shared_cost · N/(mL) · epochs · seconds_per_sample_pass / 86400``; retraining all shards
on ``devices`` devices takes ``ceil(m / devices)`` times as long.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from analysis.tables import Table

from s3t_sim.renewal import RetrainingPolicy, SteadyState, sampled_steady_state, shard_kinds, steady_state
from s3t_sim.laws.served_prefix import MAX_SHARD_SLICES
from s3t_sim.selection import training_cost

QUANTILES = (0.05, 0.5, 0.95)
@dataclass(frozen=True)
class ProductionInputs:
    """What the year depends on besides the setting (filled from :class:`analysis.planning.PlanConfig`)."""

    dataset_size: int
    deletions_per_day: float
    horizon_days: float
    epochs: int
    retrain_days: float | None
    period_days: float
    criterion: str
    devices: int | None
    seconds_per_sample_pass: float | None
    price_per_device_hour: float | None
    samples: int
    seed: int


def retraining_days(inputs: ProductionInputs, shard_sample_passes: float, m: int) -> tuple[float, float, str]:
    """(R, R_all, how): one shard's and the whole system's retraining time in days."""
    if inputs.retrain_days is not None:
        R, how = inputs.retrain_days, "given"
    elif inputs.seconds_per_sample_pass is not None:
        R, how = shard_sample_passes * inputs.seconds_per_sample_pass / 86400.0, "derived from seconds_per_sample_pass"
    else:
        raise ValueError("give retrain_days, or seconds_per_sample_pass to derive it (--retrain-days / --seconds-per-sample-pass)")
    waves = math.ceil(m / inputs.devices) if inputs.devices else 1
    return R, R * waves, how


def _quantiles(mean: float, var: float, poisson: bool) -> list[float]:
    if poisson:
        return [float(stats.poisson.ppf(q, mean)) for q in QUANTILES]
    sd = math.sqrt(max(var, 0.0))
    return [max(0.0, float(stats.norm.ppf(q, mean, sd))) if sd > 0 else mean for q in QUANTILES]


def production_year(inputs: ProductionInputs, system_sequences: np.ndarray, prior: np.ndarray,
                    performance: np.ndarray, policy_name: str) -> dict:
    """One row of ``settings``: the steady state of a system under a policy, per year, with labels."""
    m, B, L = system_sequences.shape
    kinds = shard_kinds(system_sequences, inputs.deletions_per_day * prior)
    shard_costs = [training_cost(k.sequences)["shared_cost"] for k in kinds]
    slice_samples = inputs.dataset_size / (m * L) * inputs.epochs  # sample-passes per slice-pass
    R, R_all, how = retraining_days(inputs, max(shard_costs) * slice_samples, m)
    policy = RetrainingPolicy(policy_name, retrain_days=R, retrain_all_days=R_all, criterion=inputs.criterion,
                              period_days=inputs.period_days)
    exact = L <= MAX_SHARD_SLICES
    if exact:
        state, se = steady_state(kinds, performance, policy), None
    else:
        state, se = sampled_steady_state(kinds, performance, policy, samples=inputs.samples, seed=inputs.seed)
    method = "exact (renewal-reward)" if exact else "monte-carlo (renewal-reward on sampled first-hit times)"
    year = 365.0
    initial = sum(k.count * c for k, c in zip(kinds, shard_costs)) * slice_samples
    retraining = state.retrain_slice_passes_per_day * year * slice_samples
    passes = initial * year / inputs.horizon_days + retraining
    hours = passes * inputs.seconds_per_sample_pass / 3600.0 if inputs.seconds_per_sample_pass is not None else None
    money = hours * inputs.price_per_device_hour if hours is not None and inputs.price_per_device_hour is not None else None
    independent = policy_name in ("retrain-dead-shard", "background-repair")
    row = {
        "m": m, "L": L, "B": B, "policy": policy_name,
        "retrain_days": R, "retrain_all_days": R_all, "retrain_time": how,
        "retrains_per_year": state.shard_retrains_per_day * year,
        "retrains_per_year_quantiles": _quantiles(state.shard_retrains_per_day * year, state.retrain_var_per_day * year, False),
        "stops_per_year": state.stops_per_day * year,
        "stops_per_year_quantiles": _quantiles(state.stops_per_day * year, state.stops_var_per_day * year, independent),
        "availability": {"full": state.full, "degraded": state.degraded, "stopped": state.stopped},
        "performance": state.performance,
        "compute_per_year": {"sample_passes": passes, "initial_amortised_sample_passes": initial * year / inputs.horizon_days,
                             "retraining_sample_passes": retraining, "device_hours": hours, "money": money},
        "exact": exact,
        "method": {"retrains_per_year": method, "stops_per_year": method, "availability": method, "performance": method,
                   "compute_per_year": method,
                   "retrains_quantiles": "normal approximation (renewal CLT)",
                   "stops_quantiles": "poisson approximation" if independent else "normal approximation (renewal CLT)"},
    }
    if se is not None:
        row["se"] = {"retrains_per_year": se.shard_retrains_per_day * year, "stops_per_year": se.stops_per_day * year,
                     "full": se.full, "stopped": se.stopped, "performance": se.performance,
                     "retraining_sample_passes": se.retrain_slice_passes_per_day * year * slice_samples}
        row["samples"], row["seed"] = inputs.samples, inputs.seed
    return row


def production_table(settings: list[dict]) -> Table:
    """The settings' years side by side (text output of ``s3t plan --policy``)."""
    cols = ["rank", "m", "L", "B", "selection", "policy", "retrains/yr [5%,95%]", "stops/yr [5%,95%]", "full", "degraded",
            "stopped", "performance", "sample-passes/yr", "device-h/yr", "money/yr", "exact", "pareto"]
    settings = sorted(settings, key=lambda s: (s.get("rank") is None, s.get("rank") or 0))
    body = [[s.get("rank"), s["m"], s["L"], s["B"], s["selection"], s["policy"],
             f"{s['retrains_per_year']:.4g} [{s['retrains_per_year_quantiles'][0]:.4g}, {s['retrains_per_year_quantiles'][2]:.4g}]",
             f"{s['stops_per_year']:.4g} [{s['stops_per_year_quantiles'][0]:.4g}, {s['stops_per_year_quantiles'][2]:.4g}]",
             s["availability"]["full"], s["availability"]["degraded"], s["availability"]["stopped"], s["performance"],
             s["compute_per_year"]["sample_passes"], s["compute_per_year"]["device_hours"], s["compute_per_year"]["money"],
             s["exact"], s.get("pareto")] for s in settings]
    return Table(cols, body, "A year in production per setting and retraining policy (ranked; infeasible settings last)")


# A deployment at a realistic scale (the report's production scenario): 10 million samples,
# 100 deletion requests a day, a year, 1,024 shards, every policy, 2 ms per sample-pass on
# 64 devices at 2.5 per device-hour.
PRODUCTION_SCENARIO = dict(
    dataset_size=10_000_000, deletions_per_day=100.0, horizon_days=365.0, shards=(1024,), slices=(8, 12), budgets=(8, 12),
    selections=("cyclic",), prior="uniform", criterion="any-dead", policies=("retrain-dead-shard", "stop-and-retrain-all",
    "background-repair", "periodic-full"), retrain_days=None, seconds_per_sample_pass=0.002, price_per_device_hour=2.5,
    devices=64, period_days=30.0, sample_pass_cost=0.002 / 3600, epoch_cost=None, cost_unit="device-hours",
    max_training_cost=None, min_performance=None, max_stop_probability=None,
)
