"""The naive per-request baseline: one stream at a time, request by request."""
from __future__ import annotations

import time

import numpy as np

from s3t_sim.criteria import Criterion, parse_criterion
from s3t_sim.montecarlo.result import MonteCarloResult
from s3t_sim.montecarlo.streams import Setup, open_simulation
from s3t_sim.system import S3TSystem


def _naive_stream(setup: Setup, rng: np.random.Generator, block: int = 1024):
    """Yield the requested slice (flat index) of one stream, one request at a time."""
    n = setup.system.n_slices
    if setup.request_model == "iid":
        p = setup.prior.ravel()
        uniform = np.all(p == p[0])
        while True:
            draws = rng.integers(n, size=block) if uniform else rng.choice(n, size=block, p=p)
            yield from draws.tolist()
    remaining = setup.sizes.ravel().astype(np.int64).copy()
    while remaining.sum() > 0:
        point = int(rng.integers(remaining.sum()))
        slice_ = int(np.searchsorted(np.cumsum(remaining), point, side="right"))
        remaining[slice_] -= 1
        yield slice_


def naive_run(
    setup: Setup,
    criterion: Criterion | None,
    rng: np.random.Generator,
    request_counts: "list[int] | None" = None,
    sisa_cost: "np.ndarray | None" = None,
) -> tuple[int, np.ndarray, float]:
    """One stream, request by request: update the hit set, recompute the hit shard's prefix,
    check the criterion. Returns ``(failure count, prefixes at request_counts (T, m), SISA cost
    accumulated up to the failure)``. Without a criterion it stops after the last request count.
    """
    system = setup.system
    m, L = system.m, system.L
    deleted = np.zeros((m, L), dtype=bool)
    prefixes = np.full(m, L, dtype=np.int64)
    asked = sorted(request_counts or [])
    asked_set = set(asked)
    snapshots = {}
    cost = 0.0
    failed_at = -1
    requests = 0
    for r in asked:
        if r == 0:
            snapshots[0] = prefixes.copy()
    for slice_ in _naive_stream(setup, rng):
        requests += 1
        shard, index = divmod(slice_, L)
        if sisa_cost is not None and failed_at < 0:
            cost += sisa_cost[shard, index]
        if not deleted[shard, index]:
            deleted[shard, index] = True
            prefixes[shard] = system.shard_prefix(shard, deleted[shard])
            # the criterion can only change when the hit set does
            if failed_at < 0 and criterion is not None and criterion.holds(prefixes, L):
                failed_at = requests
        if requests in asked_set:
            snapshots[requests] = prefixes.copy()
        if (criterion is None or failed_at >= 0) and requests >= (asked[-1] if asked else 0):
            break
    table = np.array([snapshots[r] for r in (request_counts or [])], dtype=np.int64).reshape(-1, m)
    return failed_at, table, cost


def naive_failure_counts(
    system: S3TSystem,
    prior: "np.ndarray | str | None",
    criterion: "Criterion | str",
    runs: int,
    seed=None,
    request_model: str = "iid",
    points: "int | np.ndarray | None" = None,
    sisa: S3TSystem | None = None,
    unit: str = "stages",
) -> MonteCarloResult:
    """The baseline: the same quantity as :func:`s3t_sim.montecarlo.fast.simulate_failure_counts`, one request at a time.

    With ``sisa`` given, ``extra["sisa_cost"]`` holds, per run, the retraining cost SISA
    would have paid on the same stream up to the failure.
    """
    criterion = parse_criterion(criterion)
    sim = open_simulation(system, prior, runs, seed, request_model, points)
    runs, setup = sim.runs, sim.setup
    criterion.check_reachable(system, setup.prior)
    cost_table = None if sisa is None else sisa.retraining_stage_cost(unit)
    rng = np.random.default_rng(sim.seed_seq)
    start = time.perf_counter()
    values = np.empty(runs, dtype=np.int64)
    costs = np.empty(runs)
    for run in range(runs):
        values[run], _, costs[run] = naive_run(setup, criterion, rng, sisa_cost=cost_table)
    extra = {} if sisa is None else {"sisa_cost": costs}
    return MonteCarloResult(values, runs, sim.seed, time.perf_counter() - start, extra)


def naive_served_prefix(
    system: S3TSystem,
    prior: "np.ndarray | str | None",
    request_counts: "list[int]",
    runs: int,
    seed=None,
    request_model: str = "iid",
    points: "int | np.ndarray | None" = None,
) -> np.ndarray:
    """The baseline for :func:`s3t_sim.montecarlo.fast.simulate_served_prefix`, ``(runs, len(request_counts), m)``."""
    sim = open_simulation(system, prior, runs, seed, request_model, points)
    runs, setup = sim.runs, sim.setup
    rng = np.random.default_rng(sim.seed_seq)
    counts = [int(r) for r in request_counts]
    if setup.sizes is not None and max(counts, default=0) > setup.sizes.sum():
        raise ValueError(f"request_counts must be <= the number of points {int(setup.sizes.sum())} without replacement")
    return np.stack([naive_run(setup, None, rng, counts)[1] for _ in range(runs)])
