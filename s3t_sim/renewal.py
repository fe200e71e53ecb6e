"""Steady state of an S3T system under a retraining policy, by renewal–reward theory.

Requests arrive as a Poisson process of rate λ per day; slice ``(s, i)`` is hit at rate
``r_si = λ p_si``. Left alone, shard ``s`` started clean serves the prefix ``K_s(t)``
(:mod:`s3t_sim.prefix`); its slices are first hit at independent ``Exp(r_si)`` times, so the
law of ``K_s(t)`` is a sum over the shard's hit sets (exact, ``L <= 14``) or an average
over sampled first-hit times (Monte Carlo, any ``L``). A policy makes each shard (or the
whole system) a regenerative process; by the renewal–reward theorem every long-run rate
and time fraction is ``E[reward per cycle] / E[cycle length]`` (Ross, *Stochastic
Processes*, 2nd ed., §3.6). Out-of-service shards count ``f(0)`` in the served performance;
the system is *stopped* while no shard serves.

Policies (``R`` the retraining time of one shard, ``R_all`` of the whole system):

- ``retrain-dead-shard``: a dead shard (``K = 0``) is retrained alone (time ``R``); the others
  keep serving. Per shard: cycle ``T_s + R`` with ``E[T_s] = int_0^inf P(K_s(t) > 0) dt``.
  Shards are independent: P(stopped) = prod_s R/C_s, stops per day
  ``sum_s (1/C_s) prod_{j != s} R/C_j``. Instant retraining, rotations ``B = L``, uniform
  prior: retrainings per day ``λ / (L H_L)`` whatever ``m``.
- ``stop-and-retrain-all``: when the criterion (``any-dead``/``all-dead``) holds, all shards
  retrain (time ``R_all``). System cycle ``T_sys + R_all``.
- ``background-repair``: the first hit on a clean shard starts a repair of every prefix-tree
  node that trained on the hit slice (time ``R · cost_i / cost``); the shard serves its
  longest clean prefix meanwhile (requests during the repair are folded into it, so it ends
  clean). Per shard: cycle ``Exp(λ q_s) + R_i``.
- ``periodic-full``: every ``P`` days all shards retrain (time ``R_all``, stopped); dead
  shards stay dead until then. Deterministic cycle ``P``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from s3t_sim.checks import as_generator, check_choice, check_int, check_real
from s3t_sim.laws.quadrature import count_moments
from s3t_sim.laws.served_prefix import MAX_SHARD_SLICES, shard_tables
from s3t_sim.system import best_prefix_minima

POLICIES = ("retrain-dead-shard", "stop-and-retrain-all", "background-repair", "periodic-full")
SYSTEM_CRITERIA = ("any-dead", "all-dead")
PIECES, ORDER = 30, 16  # geometric pieces of [0, end], Gauss–Legendre nodes per piece


@dataclass(frozen=True)
class RetrainingPolicy:
    """A retraining policy: its name, one shard's retraining time ``retrain_days`` (R), the time
    to retrain all shards ``retrain_all_days`` (R_all, default R: one device per shard), the
    criterion that stops the system (stop-and-retrain-all) and the period (periodic-full)."""

    name: str = "retrain-dead-shard"
    retrain_days: float = 0.0
    retrain_all_days: float | None = None
    criterion: str = "any-dead"
    period_days: float = 30.0

    def __post_init__(self) -> None:
        check_choice("policy", self.name, POLICIES)
        check_real("retrain_days", self.retrain_days, 0.0)
        if self.retrain_all_days is not None:
            check_real("retrain_all_days", self.retrain_all_days, 0.0)
        check_choice("criterion", self.criterion, SYSTEM_CRITERIA)
        check_real("period_days", self.period_days, 0.0, None, low_inclusive=False)
        if self.name == "periodic-full" and self.all_days >= self.period_days:
            raise ValueError(f"period_days must exceed the full retraining time {self.all_days:g} days; got {self.period_days:g}")

    @property
    def all_days(self) -> float:
        return self.retrain_days if self.retrain_all_days is None else float(self.retrain_all_days)


@dataclass(frozen=True)
class ShardKind:
    """Shards that share a sequence set ``sequences`` (B, L) and slice rates ``rates`` (per day); ``count`` of them."""

    sequences: np.ndarray
    rates: np.ndarray
    count: int


def shard_kinds(sequences: np.ndarray, rates: np.ndarray) -> list[ShardKind]:
    """Group the shards of a system ``(m, B, L)`` with rates ``(m, L)`` into kinds (alike shards held once)."""
    if sequences.shape[0] == 1 or sequences.strides[0] == 0:  # one shared set: shards differ by their rates only
        if np.all(rates == rates[0]):
            return [ShardKind(sequences[0], np.asarray(rates[0], dtype=float), rates.shape[0])]
        rows, counts = np.unique(rates, axis=0, return_counts=True)
        return [ShardKind(sequences[0], row.astype(float), int(c)) for row, c in zip(rows, counts)]
    kinds: dict[bytes, list] = {}
    for s in range(sequences.shape[0]):
        key = sequences[s].tobytes() + rates[s].tobytes()
        if key in kinds:
            kinds[key][2] += 1
        else:
            kinds[key] = [sequences[s], rates[s], 1]
    return [ShardKind(np.asarray(a), np.asarray(r, dtype=float), c) for a, r, c in kinds.values()]


def repair_costs(sequences: np.ndarray) -> np.ndarray:
    """Slice-passes to retrain after a hit on slice ``i``, ``(L,)``: the summed lengths of the
    distinct prefixes (prefix-tree nodes) that contain ``i``.

    Examples
    --------
    >>> repair_costs(np.array([[0, 1, 2]])).tolist()   # SISA: stages j..L, stage j costs j
    [6.0, 5.0, 3.0]
    """
    seqs = np.asarray(sequences)
    cost = np.zeros(seqs.shape[1])
    for j in range(1, seqs.shape[1] + 1):
        np.add.at(cost, np.unique(seqs[:, :j], axis=0).ravel(), float(j))
    return cost


# -- the law of a shard's served prefix over time ---------------------------------------
LawAtTimes = Callable[[np.ndarray], np.ndarray]  # times (T,) -> P(K(t) = k), (T, L + 1)


def exact_law(sequences: np.ndarray, rates: np.ndarray, first_hit: int | None = None) -> LawAtTimes:
    """Exact ``P(K(t) = k)`` over the shard's ``2^L`` hit sets (``L <= 14``); ``first_hit`` is a
    slice already hit at time 0."""
    L = rates.size
    if L > MAX_SHARD_SLICES:
        raise ValueError(f"the exact steady state needs L <= {MAX_SHARD_SLICES}; got L = {L} (use Monte Carlo)")
    ks = shard_tables(np.asarray(sequences))[1]
    onehot = (ks[:, None] == np.arange(L + 1)[None, :]).astype(float)

    def law(t: np.ndarray) -> np.ndarray:
        hit = -np.expm1(-np.outer(t, rates))
        if first_hit is not None:
            hit[:, first_hit] = 1.0
        probs = np.ones((t.size, 1))
        for i in range(L):  # independent slices: P(D = S) as a Kronecker product, bit i = slice i
            probs = np.concatenate([probs * (1.0 - hit[:, i : i + 1]), probs * hit[:, i : i + 1]], axis=1)
        return probs @ onehot

    return law


def sampled_lifetimes(sequences: np.ndarray, rates: np.ndarray, samples: int, seed, first_hit: int | None = None) -> np.ndarray:
    """Sampled stage lifetimes ``life[n, j-1]`` (days): when a clean shard stops serving ``j``
    stages, ``max_pi min_{t < j} E_{pi_t}`` with ``E_i ~ Exp(r_i)`` the first-hit times
    (``E_first_hit = 0``)."""
    rng = as_generator(seed)
    with np.errstate(divide="ignore"):
        first = rng.exponential(size=(samples, rates.size)) / rates
    if first_hit is not None:
        first[:, first_hit] = 0.0
    return best_prefix_minima(first, np.asarray(sequences))


def sampled_law(lifetimes: np.ndarray) -> LawAtTimes:
    """Empirical ``P(K(t) = k)`` from sampled stage lifetimes (``K(t) >= j`` iff ``life_j > t``)."""
    ordered = np.sort(lifetimes, axis=0)
    n, L = ordered.shape

    def law(t: np.ndarray) -> np.ndarray:
        at_least = np.stack([1.0 - np.searchsorted(ordered[:, j], t, side="right") / n for j in range(L)], axis=1)
        tail = np.concatenate([np.ones((t.size, 1)), at_least, np.zeros((t.size, 1))], axis=1)
        return tail[:, :-1] - tail[:, 1:]

    return law


def time_nodes(end: float) -> tuple[np.ndarray, np.ndarray]:
    """Gauss–Legendre nodes and weights on geometric pieces of ``[0, end]`` (integrands with a kink near 0)."""
    edges = np.concatenate([[0.0], end * 2.0 ** -np.arange(PIECES - 1, -1, -1.0)])
    x, w = np.polynomial.legendre.leggauss(ORDER)
    a, b = edges[:-1, None], edges[1:, None]
    return ((b - a) / 2 * x + (a + b) / 2).ravel(), ((b - a) / 2 * w).ravel()


def infinite_end(rates: np.ndarray) -> float:
    """An end beyond which ``P(shard alive)`` is below ``e^-60`` (slowest positive rate)."""
    positive = rates[rates > 0]
    if positive.size < rates.size:
        raise ValueError("the prior gives some slice of a shard zero probability: the shard never dies and has no steady state")
    return 60.0 / float(positive.min())


# -- renewal–reward per policy ------------------------------------------------------------
@dataclass
class SteadyState:
    """Long-run rates (per day) and time fractions of a system under a policy.

    ``retrain_var_per_day``: asymptotic variance of the shard-retraining count per day of
    horizon (renewal CLT, ``Var N(t) ~ t σ²/μ³``); ``stops_poisson``: stops are rare
    coincidences of independent shards, counted as Poisson."""

    policy: str
    shard_retrains_per_day: float
    stops_per_day: float
    full: float
    stopped: float
    performance: float
    retrain_slice_passes_per_day: float
    retrain_var_per_day: float
    stops_var_per_day: float

    @property
    def degraded(self) -> float:
        return max(0.0, 1.0 - self.full - self.stopped)


LawFactory = Callable[[ShardKind, "int | None"], LawAtTimes]


def _power(values: np.ndarray, count: int) -> np.ndarray:
    return np.power(values, count)


def _others(per_kind: list[np.ndarray], kinds: list[ShardKind], k: int) -> np.ndarray:
    """``prod_{shards j != one shard of kind k} x_j`` for per-kind values ``x``."""
    out = _power(per_kind[k], kinds[k].count - 1)
    for j, kind in enumerate(kinds):
        if j != k:
            out = out * _power(per_kind[j], kind.count)
    return out


def _retrain_dead_shard(kinds, f, R, laws: LawFactory, costs) -> SteadyState:
    m = sum(k.count for k in kinds)
    L = f.size - 1
    nu, down, full, perf, var = [], [], [], [], []
    for kind in kinds:
        t, w = time_nodes(infinite_end(kind.rates))
        law = laws(kind, None)(t)
        alive = 1.0 - law[:, 0]
        mean, second = float(w @ alive), float(2 * w @ (t * alive))
        cycle = mean + R
        nu.append(np.array(1.0 / cycle))
        down.append(np.array(R / cycle))
        full.append(np.array(float(w @ law[:, L]) / cycle))
        perf.append((float(w @ (law[:, 1:] @ f[1:])) + R * f[0]) / cycle)
        var.append((second - mean**2) / cycle**3)
    # a stop starts when a shard goes down while all others are down (none with instant retraining)
    stops = sum(k.count * float(nu[i]) * float(_others(down, kinds, i)) for i, k in enumerate(kinds)) if R > 0 else 0.0
    return SteadyState(
        "retrain-dead-shard",
        shard_retrains_per_day=sum(k.count * float(nu[i]) for i, k in enumerate(kinds)),
        stops_per_day=stops,
        full=float(np.prod([_power(full[i], k.count) for i, k in enumerate(kinds)])),
        stopped=float(np.prod([_power(down[i], k.count) for i, k in enumerate(kinds)])),
        performance=sum(k.count * perf[i] for i, k in enumerate(kinds)) / m,
        retrain_slice_passes_per_day=sum(k.count * float(nu[i]) * costs[i] for i, k in enumerate(kinds)),
        retrain_var_per_day=sum(k.count * var[i] for i, k in enumerate(kinds)),
        stops_var_per_day=stops,
    )


def _system_window(kinds, f, laws: LawFactory, end: float, criterion: str):
    """Per-node system quantities on ``[0, end]``: nodes, weights, P(up), E[perf·1{up}], P(full), P(all dead)."""
    m = sum(k.count for k in kinds)
    L = f.size - 1
    t, w = time_nodes(end)
    tables = [laws(kind, None)(t) for kind in kinds]
    alive = [1.0 - law[:, 0] for law in tables]
    dead = [law[:, 0] for law in tables]
    all_dead = np.prod([_power(dead[i], k.count) for i, k in enumerate(kinds)], axis=0)
    full = np.prod([_power(law[:, L], k.count) for law, k in zip(tables, kinds)], axis=0)
    if criterion == "any-dead":
        up = np.prod([_power(alive[i], k.count) for i, k in enumerate(kinds)], axis=0)
        perf = sum(k.count * (tables[i][:, 1:] @ f[1:]) * _others(alive, kinds, i) for i, k in enumerate(kinds)) / m
    else:
        up = 1.0 - all_dead
        perf = sum(k.count * (tables[i] @ f) for i, k in enumerate(kinds)) / m - f[0] * all_dead
    return t, w, up, perf, full, all_dead


def _stop_and_retrain_all(kinds, f, R_all, laws: LawFactory, costs, criterion: str) -> SteadyState:
    m = sum(k.count for k in kinds)
    end = max(infinite_end(k.rates) for k in kinds)
    t, w, up, perf, full, _ = _system_window(kinds, f, laws, end, criterion)
    mean, second = float(w @ up), float(2 * w @ (t * up))
    cycle = mean + R_all
    var = (second - mean**2) / cycle**3
    return SteadyState(
        "stop-and-retrain-all",
        shard_retrains_per_day=m / cycle,
        stops_per_day=1.0 / cycle,
        full=float(w @ full) / cycle,
        stopped=R_all / cycle,
        performance=(float(w @ perf) + R_all * f[0]) / cycle,
        retrain_slice_passes_per_day=sum(k.count * costs[i] for i, k in enumerate(kinds)) / cycle,
        retrain_var_per_day=m * m * var,
        stops_var_per_day=var,
    )


def _periodic_full(kinds, f, R_all, period, laws: LawFactory, costs) -> SteadyState:
    m = sum(k.count for k in kinds)
    t, w, _, _, full, all_dead = _system_window(kinds, f, laws, period - R_all, "all-dead")
    tables_perf = sum(k.count * float(w @ (laws(k, None)(t) @ f)) for k in kinds) / m
    return SteadyState(
        "periodic-full",
        shard_retrains_per_day=m / period,
        stops_per_day=1.0 / period,
        full=float(w @ full) / period,
        stopped=(R_all + float(w @ all_dead)) / period,
        performance=(tables_perf + R_all * f[0]) / period,
        retrain_slice_passes_per_day=sum(k.count * costs[i] for i, k in enumerate(kinds)) / period,
        retrain_var_per_day=0.0,
        stops_var_per_day=0.0,
    )


def _background_repair(kinds, f, R, laws: LawFactory, costs) -> SteadyState:
    m = sum(k.count for k in kinds)
    L = f.size - 1
    nu, down, full, perf, die, var, cost_day = [], [], [], [], [], [], []
    for i, kind in enumerate(kinds):
        q = float(kind.rates.sum())
        if q <= 0:
            raise ValueError("the prior gives a shard zero probability: it never needs repair")
        weights = kind.rates / q
        lengths = R * repair_costs(kind.sequences) / costs[i] if costs[i] > 0 else np.zeros(L)
        served = dead = dies = 0.0
        for slice_, (p, length) in enumerate(zip(weights, lengths)):
            if p == 0 or length == 0:
                continue
            t, w = time_nodes(length)
            law = laws(kind, slice_)(np.append(t, length))
            served += p * float(w @ (law[:-1] @ f))
            dead += p * float(w @ law[:-1, 0])
            dies += p * float(law[-1, 0])
        cycle = 1.0 / q + float(weights @ lengths)
        nu.append(1.0 / cycle)
        down.append(np.array(dead / cycle))
        full.append(np.array((1.0 / q) / cycle))
        perf.append((f[L] / q + served) / cycle)
        die.append(dies / cycle)
        var.append((1.0 / q**2 + float(weights @ lengths**2) - float(weights @ lengths) ** 2) / cycle**3)
        cost_day.append(float(weights @ repair_costs(kind.sequences)) / cycle)
    stops = sum(k.count * die[i] * float(_others(down, kinds, i)) for i, k in enumerate(kinds))
    return SteadyState(
        "background-repair",
        shard_retrains_per_day=sum(k.count * nu[i] for i, k in enumerate(kinds)),
        stops_per_day=stops,
        full=float(np.prod([_power(full[i], k.count) for i, k in enumerate(kinds)])),
        stopped=float(np.prod([_power(down[i], k.count) for i, k in enumerate(kinds)])),
        performance=sum(k.count * perf[i] for i, k in enumerate(kinds)) / m,
        retrain_slice_passes_per_day=sum(k.count * cost_day[i] for i, k in enumerate(kinds)),
        retrain_var_per_day=sum(k.count * var[i] for i, k in enumerate(kinds)),
        stops_var_per_day=stops,
    )


def steady_state(kinds: list[ShardKind], performance: np.ndarray, policy: RetrainingPolicy,
                 laws: LawFactory | None = None) -> SteadyState:
    """Renewal–reward steady state of the shards ``kinds`` (rates per day) under ``policy``.

    ``performance`` is ``f(k)``, ``k = 0..L``; ``laws(kind, first_hit)`` gives the law of a
    shard's served prefix over time (default :func:`exact_law`, ``L <= 14``; pass a sampled
    law for Monte Carlo). Costs are in slice-passes (:func:`s3t_sim.selection.training_cost`).

    Examples
    --------
    >>> from s3t_sim.laws import harmonic
    >>> seqs = np.array([[0, 1, 2], [1, 2, 0], [2, 0, 1]])
    >>> s = steady_state([ShardKind(seqs, np.full(3, 0.5), 4)], np.linspace(0, 1, 4), RetrainingPolicy())
    >>> round(s.shard_retrains_per_day, 9) == round(4 * 0.5 / harmonic(3), 9)   # m λ/(m L H_L), λ = 6
    True
    """
    from s3t_sim.selection import training_cost

    f = np.asarray(performance, dtype=float)
    if f.size != kinds[0].rates.size + 1:
        raise ValueError(f"performance must have L + 1 = {kinds[0].rates.size + 1} values; got {f.size}")
    laws = laws or (lambda kind, first_hit: exact_law(kind.sequences, kind.rates, first_hit))
    costs = [float(training_cost(k.sequences)["shared_cost"]) for k in kinds]
    if policy.name == "retrain-dead-shard":
        return _retrain_dead_shard(kinds, f, policy.retrain_days, laws, costs)
    if policy.name == "stop-and-retrain-all":
        return _stop_and_retrain_all(kinds, f, policy.all_days, laws, costs, policy.criterion)
    if policy.name == "periodic-full":
        return _periodic_full(kinds, f, policy.all_days, policy.period_days, laws, costs)
    return _background_repair(kinds, f, policy.retrain_days, laws, costs)


def sampled_steady_state(kinds: list[ShardKind], performance: np.ndarray, policy: RetrainingPolicy,
                         samples: int = 4000, batches: int = 10, seed=0) -> tuple[SteadyState, SteadyState]:
    """Monte Carlo steady state (any ``L``): the renewal formulas on sampled first-hit times,
    ``batches`` independent batches of ``samples / batches``; returns (mean, standard error)."""
    check_int("samples", samples, batches * 10)
    rng = as_generator(seed)
    results = []
    for _ in range(check_int("batches", batches, 2)):
        batch_seed = int(rng.integers(2**63))
        cache: dict = {}

        def laws(kind: ShardKind, first_hit: int | None) -> LawAtTimes:
            key = (kind.sequences.tobytes(), kind.rates.tobytes(), first_hit)
            if key not in cache:
                lives = sampled_lifetimes(kind.sequences, kind.rates, samples // batches, batch_seed, first_hit)
                cache[key] = sampled_law(lives)
            return cache[key]

        results.append(steady_state(kinds, performance, policy, laws))
    names = [n for n in SteadyState.__dataclass_fields__ if n != "policy"]
    values = np.array([[getattr(r, n) for n in names] for r in results])
    mean = SteadyState(policy.name, *values.mean(axis=0))
    se = SteadyState(policy.name, *(values.std(axis=0, ddof=1) / math.sqrt(len(results))))
    return mean, se


def death_survival(kinds: list[ShardKind], criterion: str, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(S, F)``: ``P(criterion not yet held at t)`` for ``any-dead``/``all-dead`` from clean
    shards and its complement, each ``(T,)`` and each to full relative accuracy (log space).

    A shard with checkpoint fallback is dead when all its first slices ``F`` are hit:
    ``P(alive) = 1 - prod_{i in F} (1 - e^{-r_i t})`` (closed form, any ``L``); alike shards
    enter as powers.

    Examples
    --------
    >>> kinds = [ShardKind(np.array([[0, 1], [1, 0]]), np.array([1.0, 1.0]), 2)]
    >>> float(death_survival(kinds, "any-dead", np.array([np.log(2)]))[0][0])   # (1 - 1/4)^2
    0.5625
    """
    check_choice("criterion", criterion, SYSTEM_CRITERIA)
    t = np.asarray(t, dtype=float)
    log_alive, log_dead = np.zeros(t.size), np.zeros(t.size)
    for kind in kinds:
        first = np.unique(np.asarray(kind.sequences)[:, 0])
        dead = np.prod(-np.expm1(-np.outer(t, kind.rates[first])), axis=1)
        with np.errstate(divide="ignore"):
            log_alive += kind.count * np.log1p(-dead)
            log_dead += kind.count * np.log(dead)
    if criterion == "any-dead":
        return np.exp(log_alive), -np.expm1(log_alive)
    return -np.expm1(log_dead), np.exp(log_dead)


def mean_death_time(kinds: list[ShardKind], criterion: str) -> float:
    """``E[T] = int_0^inf S(t) dt`` for :func:`death_survival`, error-bounded at any prior
    (:func:`s3t_sim.laws.quadrature.count_moments`)."""
    rates = np.concatenate([k.rates[np.unique(np.asarray(k.sequences)[:, 0])] for k in kinds])
    return count_moments(lambda t: death_survival(kinds, criterion, t), rates).mean
