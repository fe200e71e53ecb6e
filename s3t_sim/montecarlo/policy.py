"""Direct Monte Carlo of a retraining policy over a horizon: the check of :mod:`s3t_sim.renewal`.

Each run draws the Poisson request stream over ``warmup + horizon`` days, then replays it
request by request with the policy's retraining and repair events (same model as
:mod:`s3t_sim.renewal`: requests that reach a retraining shard are absorbed by it; a repair
ends with a clean shard). Time fractions, served performance, retraining counts and stops
are measured over ``[warmup, warmup + horizon]`` (a warm-up makes the start stationary).
Slow (one Python step per request): meant for small systems and the tests.
"""
from __future__ import annotations

import time

import numpy as np

from s3t_sim.checks import check_int, check_real
from s3t_sim.montecarlo.result import MonteCarloResult, resolve_seed
from s3t_sim.prefix import served_prefix
from s3t_sim.renewal import RetrainingPolicy, repair_costs

QUANTITIES = ("shard_retrains_per_day", "stops_per_day", "full", "stopped", "performance", "retrain_slice_passes_per_day")


class _Run:
    """One replay: per-shard hit sets, served prefixes and modes (0 up, 1 retraining, 2 repairing)."""

    def __init__(self, sequences, f, policy: RetrainingPolicy, start: float, end: float):
        from s3t_sim.selection import training_cost

        self.seqs, self.f, self.policy, self.start, self.end = sequences, f, policy, start, end
        m, _, L = sequences.shape
        self.hit = np.zeros((m, L), dtype=bool)
        self.k = np.full(m, L)
        self.mode = np.zeros(m, dtype=int)
        self.until = np.full(m, np.inf)
        self.now = 0.0
        self.totals = dict.fromkeys(QUANTITIES, 0.0)
        self.cost = np.array([training_cost(s)["shared_cost"] for s in sequences], dtype=float)
        self.repair = np.array([repair_costs(s) for s in sequences])
        self.was_stopped = False

    def _serving(self) -> np.ndarray:
        return (self.mode != 1) & (self.k > 0)

    def advance(self, t: float) -> None:
        overlap = max(0.0, min(t, self.end) - max(self.now, self.start))
        if overlap > 0:
            serving = self._serving()
            self.totals["full"] += overlap * float(np.all((self.mode == 0) & (self.k == self.k.max(initial=0)) & (self.k == self.seqs.shape[2])))
            self.totals["stopped"] += overlap * float(not serving.any())
            self.totals["performance"] += overlap * float(np.mean(np.where(serving, self.f[self.k], self.f[0])))
        self.now = t

    def count(self, retrains: int, slice_passes: float) -> None:
        if self.start <= self.now <= self.end:
            self.totals["shard_retrains_per_day"] += retrains
            self.totals["retrain_slice_passes_per_day"] += slice_passes
        stopped = not self._serving().any()
        if stopped and not self.was_stopped and self.start <= self.now <= self.end:
            self.totals["stops_per_day"] += 1
        self.was_stopped = stopped

    def reset(self, shards) -> None:
        self.hit[shards] = False
        self.k[shards] = self.seqs.shape[2]
        self.mode[shards] = 0
        self.until[shards] = np.inf

    def start_retraining(self, shards: np.ndarray, days: float, slice_passes: float) -> None:
        if days > 0:
            self.mode[shards], self.until[shards] = 1, self.now + days
        else:
            self.reset(shards)
        self.count(len(shards), slice_passes)

    def request(self, s: int, i: int) -> None:
        name, all_shards = self.policy.name, np.arange(self.k.size)
        if self.mode[s] == 1:
            return  # absorbed by the retraining under way
        repair_starts = name == "background-repair" and self.mode[s] == 0
        if repair_starts:
            self.mode[s], self.until[s] = 2, self.now + self.policy.retrain_days * self.repair[s, i] / self.cost[s]
        self.hit[s, i] = True
        self.k[s] = served_prefix(self.seqs[s], self.hit[s])
        if name == "retrain-dead-shard" and self.k[s] == 0:
            self.start_retraining(np.array([s]), self.policy.retrain_days, self.cost[s])
        elif name == "stop-and-retrain-all" and _criterion_holds(self.k, self.policy.criterion):
            self.start_retraining(all_shards, self.policy.all_days, self.cost.sum())
        else:
            if repair_starts and self.until[s] <= self.now:
                self.reset([s])  # instant repair
            self.count(int(repair_starts), self.repair[s, i] if repair_starts else 0.0)


def _criterion_holds(k: np.ndarray, criterion: str) -> bool:
    return bool(np.any(k == 0)) if criterion == "any-dead" else bool(np.all(k == 0))


def _next_event(run: _Run, period_next: float) -> float:
    return min(float(run.until.min(initial=np.inf)), period_next)


def simulate_policy(sequences: np.ndarray, rates: np.ndarray, performance: np.ndarray, policy: RetrainingPolicy,
                    horizon_days: float, runs: int = 100, seed=0, warmup_days: float = 0.0) -> dict[str, MonteCarloResult]:
    """Per-run long-run quantities of :class:`s3t_sim.renewal.SteadyState` measured over the horizon.

    ``sequences`` ``(m, B, L)``, ``rates`` ``(m, L)`` requests per day per slice, ``performance``
    ``f(k)`` for ``k = 0..L``. Returns one :class:`MonteCarloResult` per quantity (rates per day,
    time fractions) with ``runs`` and ``seed``.
    """
    horizon = check_real("horizon_days", horizon_days, 0.0, None, low_inclusive=False)
    warmup = check_real("warmup_days", warmup_days, 0.0)
    runs = check_int("runs", runs, 2)
    seqs = np.asarray(sequences)
    rates = np.asarray(rates, dtype=float)
    f = np.asarray(performance, dtype=float)
    lam = float(rates.sum())
    seed_value, seed_seq = resolve_seed(seed)
    began = time.perf_counter()
    values = {q: np.zeros(runs) for q in QUANTITIES}
    for r, child in enumerate(seed_seq.spawn(runs)):
        rng = np.random.default_rng(child)
        end = warmup + horizon
        n = rng.poisson(lam * end)
        times = np.sort(rng.uniform(0.0, end, n))
        cells = rng.choice(rates.size, n, p=rates.ravel() / lam)
        run = _Run(seqs, f, policy, warmup, end)
        _replay(run, times, cells, end)
        for q in QUANTITIES:
            values[q][r] = run.totals[q] / horizon
    seconds = time.perf_counter() - began
    return {q: MonteCarloResult(values[q], runs, seed_value, seconds) for q in QUANTITIES}


def _replay(run: _Run, times: np.ndarray, cells: np.ndarray, end: float) -> None:
    policy, L = run.policy, run.seqs.shape[2]
    periodic = policy.name == "periodic-full"
    window = policy.period_days - policy.all_days
    boundary = window if periodic else np.inf  # the next scheduled full retraining
    for t, cell in zip(np.append(times, end), np.append(cells, -1)):
        while _next_event(run, boundary) <= t:
            when = _next_event(run, boundary)
            run.advance(when)
            if when == boundary:
                run.start_retraining(np.arange(run.k.size), policy.all_days, run.cost.sum())
                boundary += policy.period_days
            else:
                run.reset(np.flatnonzero(run.until <= when))
                run.count(0, 0.0)
        run.advance(t)
        if cell >= 0:
            run.request(int(cell) // L, int(cell) % L)
