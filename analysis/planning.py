"""Capacity planning: which (m, L, B, selection) to deploy for a given data set and deletion load.

Model (exact for L <= 14; beyond, the served performance is Monte Carlo with its SE):

- Deletion requests arrive as a Poisson process of ``deletions_per_day`` (λ) requests per
  day, each hitting slice (shard s, slice i) with the prior's probability ``p_si``. In the
  rate-1 clock ``u = λ t`` this is the spec's Poisson embedding: slice (s, i) is first hit
  at an independent Exp(p_si) time. The horizon is ``U = λ T``.
- **P(retraining stop within the horizon)** = P(the failure criterion holds at u = U)
  (:func:`s3t_sim.laws` for the law of the count; with Poisson arrivals the stop happens
  by T iff the count to failure is at most the number of requests N_T ~ Poisson(U)).
- **Expected days to the first stop** = δ / λ, δ the deletion rate (Wald's identity).
- **Expected served performance over the horizon** = (1/U) ∫_0^U E[(1/m) Σ_s f(k_s(u))] du,
  with the shards as they are (no retraining inside the horizon; dead shards count f(0)).
  Per shard, P(hit set ⊆ S at time u) = exp(−u q_s (1 − p_s(S))) (q_s the shard's share,
  p_s its renormalised prior); its time average over [0, U] is (1 − e^{−aU})/(aU) with
  a = q_s(1 − p_s(S)), and the Möbius transform over the 2^L slice sets gives the averaged
  law of the hit set, exactly (L ≤ 14): :func:`s3t_sim.laws.hitsets.time_averaged_hit_set_law`.
  With ``aggregate="alive-vote"`` the served performance is the alive vote's instead (the
  mean of f over the live shards, :mod:`s3t_sim.alive_vote`; exact, L <= 14).
- **Training cost** = Σ_s shared_cost_s × (N / (mL)) × epochs × cost of one sample-pass,
  shared_cost the prefix-tree cost of the shard's sequence set in slice-passes
  (``s3t_sim.selection.training_cost``).

With ``policies`` each setting also gets its year in production under retraining
(:mod:`analysis.production`, renewal–reward: :mod:`s3t_sim.renewal`).

The performance model f (:func:`performance_for`): ``saturating:f0,fmax,scale`` is
``f(k) = f0 + (fmax − f0)(1 − e^{−k n / scale})`` with ``n = N/(mL)`` examples per slice
(:func:`s3t_sim.performance.saturating_performance`: accuracy grows with the examples the
served prefix has seen); a CSV of measured ``k,accuracy`` at one L is rescaled to k/L by
linear interpolation.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from analysis.tables import Table
from s3t_sim.alive_vote import alive_vote_average
from s3t_sim.criteria import parse_criterion
from s3t_sim.laws.hitsets import served_prefix_by_hit_set, time_averaged_hit_set_law
from s3t_sim.laws import PoissonEmbeddingLaw, deletion_law
from s3t_sim.performance import PerformanceModel, parse_performance, performance_from_csv
from s3t_sim.selection import METHODS, build_system, training_cost
from s3t_sim.system import S3TSystem
from s3t_sim.checks import check_choice, check_int, check_memory, check_real
from s3t_sim.renewal import POLICIES, SYSTEM_CRITERIA, death_survival, mean_death_time, sampled_lifetimes, shard_kinds
from analysis.plan_ranking import RANK_KEYS, pareto_front, rank_key, rank_years
from analysis.production import ProductionInputs, production_year
from analysis.plan_candidates import plan_candidates

AGGREGATES = ("mean", "alive-vote")
PLAN_CRITERIA = ("any-dead", "all-dead", "prefix-below:F")
MAX_EXACT_L = 14  # exact enumeration of a shard's 2^L hit sets (s3t_sim.laws); Monte Carlo beyond
MAX_PLAN_L = 256


@dataclass(frozen=True)
class PlanConfig:
    """Inputs of the planner (see the module docstring for the model).

    ``sample_pass_cost`` is the cost of training on one sample once (any unit: seconds,
    GPU-hours, dollars); give ``epoch_cost`` (one epoch on the full set) instead to have
    it divided by N. Constraints left at ``None`` are not applied.
    """

    dataset_size: int = 100_000
    deletions_per_day: float = 2.0
    horizon_days: float = 30.0
    sample_pass_cost: float | None = None
    epoch_cost: float | None = 1.0
    epochs: int = 1
    performance: str = "saturating:0.5,0.9,5000"
    prior: str = "uniform"
    criterion: str = "any-dead"
    shards: tuple[int, ...] = (1, 2, 4, 8, 16)
    slices: tuple[int, ...] = (2, 4, 8, 12)
    budgets: tuple[int, ...] = (1, 2, 4, 8, 12)
    selections: tuple[str, ...] = ("cyclic",)
    max_training_cost: float | None = None
    min_performance: float | None = None
    max_stop_probability: float | None = None
    rank_by: str = "cost"
    seed: int = 0
    policies: tuple[str, ...] = ()  # retraining policies for the year in production (analysis.production)
    retrain_days: float | None = None
    period_days: float = 30.0
    devices: int | None = None
    seconds_per_sample_pass: float | None = None
    price_per_device_hour: float | None = None
    steady_samples: int = 4000
    model: str | None = None  # its layer count bounds L (analysis.trainable); None: no bound
    cost_unit: str = "epoch-cost units"  # what one unit of sample_pass_cost / epoch_cost is (e.g. "USD", "device-hours")
    aggregate: str = "mean"  # served performance: mean f(k) over all shards, or the alive vote
    cost_source: str = "given"  # where the cost per sample-pass comes from (analysis.plan_scenario.calibration)

    def __post_init__(self) -> None:
        check_int("dataset_size", self.dataset_size, 1)
        check_real("deletions_per_day", self.deletions_per_day, 0.0, None, low_inclusive=False)
        check_real("horizon_days", self.horizon_days, 0.0, None, low_inclusive=False)
        check_real("deletions_per_day x horizon_days (expected requests)", self.deletions_per_day * self.horizon_days,
                   0.0, 1e12)
        if (self.sample_pass_cost is None) == (self.epoch_cost is None):
            raise ValueError("give exactly one of sample_pass_cost and epoch_cost")
        if self.sample_pass_cost is not None:
            check_real("sample_pass_cost", self.sample_pass_cost, 0.0)
        if self.epoch_cost is not None:
            check_real("epoch_cost", self.epoch_cost, 0.0)
        check_int("epochs", self.epochs, 1)
        if not isinstance(self.criterion, str) or self.criterion.partition(":")[0] not in ("any-dead", "all-dead", "prefix-below"):
            raise ValueError(f"criterion must be one of {', '.join(PLAN_CRITERIA)}; got {self.criterion!r}")
        parse_criterion(self.criterion)
        check_choice("rank_by", self.rank_by, RANK_KEYS)
        for name, values, high in (("shards", self.shards, 10**6), ("slices", self.slices, MAX_PLAN_L), ("budgets", self.budgets, 10**6)):
            if not values:
                raise ValueError(f"{name} must list at least one value")
            for v in values:
                check_int(name, v, 1, high)
        for s in self.selections:
            check_choice("selection", s, METHODS)
        if self.max_training_cost is not None:
            check_real("max_training_cost", self.max_training_cost, 0.0)
        if self.min_performance is not None:
            check_real("min_performance", self.min_performance)
        if self.max_stop_probability is not None:
            check_real("max_stop_probability", self.max_stop_probability, 0.0, 1.0)
        check_int("seed", self.seed, 0)
        check_choice("aggregate", self.aggregate, AGGREGATES)
        if max(self.slices) > MAX_EXACT_L and (not self.criterion.endswith("dead") or self.aggregate == "alive-vote"):
            if self.aggregate == "alive-vote":
                raise ValueError(f"aggregate 'alive-vote' needs slices <= {MAX_EXACT_L}; got {max(self.slices)} (use mean)")
            raise ValueError(f"criterion {self.criterion!r} needs slices <= {MAX_EXACT_L}; use any-dead or all-dead beyond")
        self._check_production()

    def _check_production(self) -> None:
        for name in self.policies:
            check_choice("policy", name, POLICIES)
        for name in ("retrain_days", "seconds_per_sample_pass", "price_per_device_hour"):
            if getattr(self, name) is not None:
                check_real(name, getattr(self, name), 0.0)
        check_real("period_days", self.period_days, 0.0, None, low_inclusive=False)
        if self.devices is not None:
            check_int("devices", self.devices, 1)
        check_int("steady_samples", self.steady_samples, 100)
        check_memory("steady_samples x slices", 8 * 2 * self.steady_samples * max(self.slices, default=1))
        if self.policies and self.retrain_days is None and self.seconds_per_sample_pass is None:
            raise ValueError("with a policy, give retrain_days or seconds_per_sample_pass to derive it")
        if "stop-and-retrain-all" in self.policies and self.criterion not in SYSTEM_CRITERIA:
            raise ValueError(f"stop-and-retrain-all needs criterion in {', '.join(SYSTEM_CRITERIA)}; got {self.criterion!r}")

    def production_inputs(self) -> ProductionInputs:
        return ProductionInputs(
            self.dataset_size, self.deletions_per_day, self.horizon_days, self.epochs, self.retrain_days,
            self.period_days, self.criterion if self.criterion in SYSTEM_CRITERIA else "any-dead", self.devices,
            self.seconds_per_sample_pass, self.price_per_device_hour, self.steady_samples, self.seed)

    @property
    def cost_per_sample_pass(self) -> float:
        return float(self.sample_pass_cost if self.sample_pass_cost is not None else self.epoch_cost / self.dataset_size)


def performance_for(spec: str, L: int, samples_per_slice: float = 1.0) -> PerformanceModel:
    """The performance model f(k), k = 0..L, of a shard whose slices hold ``samples_per_slice`` samples.

    - ``saturating:f0,fmax,scale``: ``f(k) = f0 + (fmax − f0)(1 − exp(−k·samples_per_slice/scale))``,
      accuracy against the number of samples the served prefix has seen (so fewer, larger
      shards learn more per model); defaults ``0.5,0.9,5000``.
    - ``linear:f0,fL``: ``f0 + (fL − f0) k/L`` (no shard-size effect).
    - a CSV path with columns ``k,accuracy`` measured at some L': rescaled to the fraction
      k/L by linear interpolation (no shard-size effect: measure at your shard size).

    Examples
    --------
    >>> performance_for("linear:0,1", 4).values.tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0]
    >>> round(float(performance_for("saturating:0.5,0.9,100", 2, 100).values[2]), 4)  # 0.5 + 0.4 (1 - e^-2)
    0.8459
    """
    L = check_int("L", L, 1)
    samples_per_slice = check_real("samples_per_slice", samples_per_slice, 0.0, None, low_inclusive=False)
    if spec.split(":")[0] in ("saturating", "linear"):
        return parse_performance(spec, L, samples_per_slice)
    path = Path(spec)
    if path.suffix.lower() != ".csv" and not path.exists():
        raise ValueError(
            f"performance must be 'saturating:f0,fmax,scale', 'linear:f0,fL' or a CSV file with columns k,accuracy; got {spec!r}"
        )
    measured = performance_from_csv(path)
    x = np.arange(L + 1) / L
    return PerformanceModel(np.interp(x, np.arange(measured.L + 1) / measured.L, measured.values), f"{measured.name} at k/L")


@dataclass
class PlanRow:
    """One candidate setting and what the planner computed for it."""

    m: int
    L: int
    B: int
    selection: str
    stop_probability: float
    expected_days_to_stop: float
    expected_performance: float
    training_cost: float
    training_cost_without_sharing: float
    feasible: bool = True
    reasons: list[str] = field(default_factory=list)
    pareto: bool = False
    exact: bool = True  # False: expected_performance is Monte Carlo (performance_se, steady_samples, seed)
    performance_se: float = 0.0

    def label(self) -> str:
        return f"m={self.m}, L={self.L}, B={self.B}, {self.selection}"


@dataclass
class PlanResult:
    config: PlanConfig
    rows: list[PlanRow]
    ranked: list[PlanRow]
    seconds: float
    settings: list[dict] = field(default_factory=list)  # the year in production per setting and policy
    skipped: list[dict] = field(default_factory=list)  # settings the model cannot train, with the reason

    @property
    def best(self) -> "PlanRow | None":
        return self.ranked[0] if self.ranked else None

    @property
    def best_year(self) -> "dict | None":
        """The first year in production by ``rank_by`` (with policies; :func:`analysis.plan_ranking.rank_years`)."""
        return next((s for s in self.settings if s.get("rank") == 1), None)

    def table(self, limit: int | None = 20, feasible_only: bool = True) -> Table:
        rows = self.ranked if feasible_only else self.rows
        cols = ["rank", "m", "L", "B", "selection", "P(stop ≤ horizon)", "E[days to stop]", "E[performance]",
                "training cost", "cost w/o sharing", "pareto"]
        body = [[i + 1, r.m, r.L, r.B, r.selection, r.stop_probability, r.expected_days_to_stop, r.expected_performance,
                 r.training_cost, r.training_cost_without_sharing, r.pareto] for i, r in enumerate(rows[:limit])]
        return Table(cols, body, f"Feasible settings ranked by {self.config.rank_by}" if feasible_only else "All settings")

    def recommendation(self) -> str:
        c = self.config
        if not self.ranked:
            tightest = _binding_constraints(self.rows)
            return (f"No setting meets the constraints among {len(self.rows)} candidates; the constraint that rules "
                    f"out most of them is {tightest}. Relax it, or widen the search (more shards, slices or budget).")
        b = self.best
        return (
            f"Deploy m = {b.m} shards of L = {b.L} slices with B = {b.B} {b.selection} sequences per shard. "
            f"With {c.deletions_per_day:g} deletion requests per day, the chance of a retraining stop "
            f"({c.criterion}) within {c.horizon_days:g} days is {100 * b.stop_probability:.1f}%, the first stop is "
            f"expected after {b.expected_days_to_stop:.1f} days, and the expected served performance over the horizon "
            f"is {b.expected_performance:.3f}. Training costs {b.training_cost:.4g} {c.cost_unit} "
            f"({b.training_cost_without_sharing:.4g} without prefix sharing; cost per sample-pass {c.cost_source}). "
            f"{len(self.ranked)} of {len(self.rows)} settings are feasible; this one is first by {c.rank_by}."
        ) + self._year_sentence()

    def _year_sentence(self) -> str:
        y = self.best_year
        if y is None:
            return ""
        o = y["objectives"]
        return (f" Over a year in production the first by {self.config.rank_by} is m = {y['m']}, L = {y['L']}, B = {y['B']} "
                f"{y['selection']} under {y['policy']}: {o['cost_per_year']:.4g} {o['cost_unit']} per year, serving "
                f"{100 * o['serving']:.2f}% of the time, served performance {o['performance']:.3f}.")

    def to_json(self) -> dict:
        return {
            "config": asdict(self.config),
            "recommendation": self.recommendation(),
            "best": asdict(self.best) if self.best else None,
            "best_year": self.best_year,
            "ranked": [asdict(r) for r in self.ranked],
            "candidates": len(self.rows),
            "feasible": len(self.ranked),
            "seconds": self.seconds,
            "settings": self.settings,
            "skipped": self.skipped,
        }


def _binding_constraints(rows: list[PlanRow]) -> str:
    counts: dict[str, int] = {}
    for row in rows:
        for reason in row.reasons:
            counts[reason] = counts.get(reason, 0) + 1
    return max(counts, key=counts.get) if counts else "none"


# ---------------------------------------------------------------------------------------
def setting_system(config: PlanConfig, m: int, L: int, B: int, selection: str) -> tuple[S3TSystem, np.ndarray]:
    """The system of one candidate setting and its prior (``config.prior`` and ``config.seed``)."""
    return build_system(m, L, B, selection, config.prior, config.seed, prior_seed=config.seed)


def _law_key(config: PlanConfig, system: S3TSystem, prior: np.ndarray) -> tuple:
    # The law depends on the system only through its death structure (all-/any-dead) or its
    # sequences, and on the prior: settings that share it (e.g. every B >= L with cyclic
    # rotations) share one computation.
    structure = system.death_slices() if config.criterion in ("all-dead", "any-dead") else system.sequences
    return (config.criterion, system.m, system.L, structure.tobytes(), prior.tobytes())


def evaluate_setting(config: PlanConfig, m: int, L: int, B: int, selection: str, cache: dict | None = None,
                     days_to_stop: bool = True) -> PlanRow:
    """Compute one candidate's stop probability, served performance, cost and (optionally) days to stop; exact."""
    cache = {} if cache is None else cache
    system, prior = setting_system(config, m, L, B, selection)
    U = config.deletions_per_day * config.horizon_days
    model = performance_for(config.performance, L, config.dataset_size / (m * L))
    key = ("stop",) + _law_key(config, system, prior)
    if key not in cache:
        if config.criterion in SYSTEM_CRITERIA:  # closed form per shard kind, any L
            cache[key] = float(death_survival(shard_kinds(system.sequences, prior), config.criterion, np.array([U]))[1][0])
        else:
            cache[key] = float(PoissonEmbeddingLaw(system, prior, config.criterion).survival_pair(np.array([U]))[1][0])
    stop = cache[key]

    performance = se = cost_units = 0.0
    for s in range(m):
        seqs = system.sequences[s]
        shard_key = ("shard", m, L, seqs.tobytes())
        if shard_key not in cache:
            cache[shard_key] = training_cost(seqs)["shared_cost"]
        served_key = shard_key + (prior[s].tobytes(), U)  # time-averaged f of this shard
        if served_key not in cache:
            cache[served_key] = _shard_performance(config, model.values, seqs, prior[s], U)
        performance += cache[served_key][0] / m
        se += cache[served_key][1] / m  # alike shards share one sample: their errors add up
        cost_units += cache[shard_key]
    if config.aggregate == "alive-vote":
        vote_key = ("vote",) + _law_key(config, system, prior)[1:] + (system.sequences.tobytes(), U, config.performance)
        if vote_key not in cache:
            cache[vote_key] = alive_vote_average(shard_kinds(system.sequences, prior), model.values, U)
        performance, se = cache[vote_key], 0.0
    per_slice = config.dataset_size / (m * L) * config.epochs * config.cost_per_sample_pass
    result = PlanRow(
        m=m, L=L, B=B, selection=selection,
        stop_probability=stop,
        expected_days_to_stop=float("nan"),
        expected_performance=performance,
        training_cost=cost_units * per_slice,
        training_cost_without_sharing=m * B * L * (L + 1) / 2 * per_slice,
        exact=L <= MAX_EXACT_L, performance_se=se,
    )
    if days_to_stop:
        result.expected_days_to_stop = expected_days_to_stop(config, result, cache)
    return result


def _shard_performance(config: PlanConfig, f: np.ndarray, seqs: np.ndarray, p_row: np.ndarray, U: float) -> tuple[float, float]:
    """(time-averaged f of one shard over [0, U], its standard error): exact over the 2^L hit sets
    (L <= 14), else ``f(0) + sum_j (f(j) - f(j-1)) E[min(life_j, U)] / U`` on sampled stage lifetimes."""
    L = seqs.shape[1]
    if p_row.sum() <= 0:  # no request reaches this shard: it serves its full prefix all the time
        return float(f[L]), 0.0
    if L <= MAX_EXACT_L:
        return float(time_averaged_hit_set_law(p_row, U) @ f[served_prefix_by_hit_set(seqs)]), 0.0
    lives = sampled_lifetimes(seqs, p_row, config.steady_samples, config.seed)
    values = f[0] + np.minimum(lives, U) @ np.diff(f) / U
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(values.size))


def expected_days_to_stop(config: PlanConfig, row: PlanRow, cache: dict | None = None) -> float:
    """δ / λ: the deletion rate (exact law, :func:`s3t_sim.laws.deletion_law`) over the request rate."""
    cache = {} if cache is None else cache
    system, prior = setting_system(config, row.m, row.L, row.B, row.selection)
    key = ("delta",) + _law_key(config, system, prior)
    if key not in cache:
        if config.criterion in SYSTEM_CRITERIA:
            cache[key] = mean_death_time(shard_kinds(system.sequences, prior), config.criterion)
        else:
            cache[key] = float(deletion_law(system, prior, config.criterion).mean())
    return cache[key] / config.deletions_per_day


def _apply_constraints(config: PlanConfig, row: PlanRow) -> None:
    if config.max_training_cost is not None and row.training_cost > config.max_training_cost:
        row.reasons.append("training budget")
    if config.min_performance is not None and row.expected_performance < config.min_performance:
        row.reasons.append("minimum performance")
    if config.max_stop_probability is not None and row.stop_probability > config.max_stop_probability:
        row.reasons.append("maximum stop probability")
    row.feasible = not row.reasons


def evaluate_candidates(candidates: list[tuple], config: PlanConfig, progress: bool = False) -> list[tuple]:
    """``(row with constraints applied, its years under the policies)`` per (m, L, B, selection),
    in order; one cache, so alike settings share their laws. Deterministic: a Ray task gives the same."""
    from tqdm.auto import tqdm

    cache: dict = {}
    out = []
    for m, L, B, sel in tqdm(candidates, desc="plan", disable=not progress):
        row = evaluate_setting(config, m, L, B, sel, cache)
        _apply_constraints(config, row)
        years = []
        if config.policies:
            system, prior = setting_system(config, m, L, B, sel)
            f = performance_for(config.performance, L, config.dataset_size / (m * L)).values
            years = [dict(production_year(config.production_inputs(), system.sequences, prior, f, name), selection=sel)
                     for name in config.policies]
        out.append((row, years))
    return out


def plan(config: PlanConfig, progress: bool = False, executor=None) -> PlanResult:
    """Evaluate every (m, L, B, selection) of the search space, apply the constraints and rank.

    Budgets above L! are skipped (no such set of distinct orders). The Pareto flag marks
    feasible settings that no other feasible setting beats on all three objectives.
    ``executor`` (:func:`s3t_train.backends.executor_from_args`' Ray executor) evaluates each
    run of candidates with one L as a task; the result is the local one.
    """
    import itertools
    import time

    start = time.perf_counter()
    candidates, skipped = plan_candidates(config)
    if executor is None:
        evaluated = evaluate_candidates(candidates, config, progress)
    else:
        groups = [list(group) for _, group in itertools.groupby(candidates, key=lambda c: c[1])]
        evaluated = [e for part in executor.map(evaluate_candidates, groups, config) for e in part]
    rows, settings = [row for row, _ in evaluated], [year for _, years in evaluated for year in years]
    feasible = [r for r in rows if r.feasible]
    for r in pareto_front(feasible):
        r.pareto = True
    ranked = sorted(feasible, key=rank_key(config.rank_by))
    rank_years(settings, config.rank_by, {(r.m, r.L, r.B, r.selection) for r in feasible})
    return PlanResult(config, rows, ranked, time.perf_counter() - start, settings, skipped)
