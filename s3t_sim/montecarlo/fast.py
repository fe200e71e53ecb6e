"""The fast Monte Carlo deletion simulator (vectorised across runs).

The fast simulator never draws the individual requests. Every criterion and every served
prefix depends only on the set of slices hit so far, so a run is described by

1. the *order* in which slices are first hit, and
2. the request count at each of those first hits.

The request models are in :mod:`s3t_sim.montecarlo.streams`.

Only the slices the criterion looks at are simulated (for ``all-dead``/``any-dead``: the
shards' first elements); hits on the others are the "no new slice" part of the waits.
For ``all-dead`` with checkpoint fallback the failure is the last of those first hits, so
the count is a plain sum of geometric waits and the order is never needed when the
relevant slices are equally likely. Cost: ``O(mL)`` per run (``O(mBL)`` for criteria that
need the whole prefix), in chunks of runs so that memory stays bounded.
"""
from __future__ import annotations

import time

import numpy as np

from s3t_sim.criteria import Criterion, parse_criterion
from s3t_sim.montecarlo.result import MonteCarloResult, chunked_runs
from s3t_sim.montecarlo.sisa_cost import embedded_run
from s3t_sim.montecarlo.streams import first_hit_counts, hit_events, last_first_hit_count, open_simulation
from s3t_sim.system import S3TSystem


def simulate_failure_counts(
    system: S3TSystem,
    prior: "np.ndarray | str | None",
    criterion: "Criterion | str",
    runs: int,
    seed=None,
    request_model: str = "iid",
    points: "int | np.ndarray | None" = None,
    progress: "bool | None" = None,
    sisa_cost: str | None = None,
) -> MonteCarloResult:
    """Request count at which ``criterion`` first holds, for ``runs`` independent streams.

    Parameters
    ----------
    system : S3TSystem
    prior : array ``(m, L)``, a prior spelling (``"uniform"``, ``"zipf:1.2"``, ...) or ``None`` (uniform)
    criterion : Criterion or ``"all-dead"``, ``"any-dead"``, ``"prefix-below:F"``
    runs : int >= 1
    seed : int, None or Generator; the result records the int seed used
    request_model : ``"iid"`` or ``"without-replacement"`` (then ``points`` is needed)
    progress : show a tqdm bar (default: when stderr is a terminal)
    sisa_cost : ``None``, ``"stages"`` or ``"slice-passes"``: also record, per run, the
        retraining cost SISA (same m, L) pays on the same stream up to the failure, in
        ``extra["sisa_cost"]`` (i.i.d. requests; uses :func:`s3t_sim.montecarlo.sisa_cost.embedded_run`)

    Returns
    -------
    MonteCarloResult with ``values`` (int64, one failure count per run), ``mean``, ``se``.

    Examples
    --------
    >>> from s3t_sim.selection import build_system
    >>> sys_, _ = build_system(m=5, L=6, B=6)
    >>> res = simulate_failure_counts(sys_, None, "all-dead", runs=20_000, seed=0)
    >>> abs(res.mean - 30 * sum(1 / i for i in range(1, 31))) < 4 * res.se   # 30 H_30 = 119.8
    True
    """
    criterion = parse_criterion(criterion)
    sim = open_simulation(system, prior, runs, seed, request_model, points)
    runs, setup = sim.runs, sim.setup
    criterion.check_reachable(system, setup.prior)
    start = time.perf_counter()

    relevant = criterion.relevant_slices(system, setup.prior)
    last_event_fails = criterion.is_all_dead() and system.checkpoint_fallback
    gathered = system.m * system.B * (1 if criterion.depends_only_on_death() else system.L)
    per_run = relevant.size if last_event_fails else relevant.size + gathered
    values = np.empty(runs, dtype=np.int64)
    extra = {}
    if sisa_cost is not None:
        if request_model != "iid":
            raise ValueError("sisa_cost needs request_model 'iid'; the naive loop handles 'without-replacement'")
        cost_table = S3TSystem.sisa(system.m, system.L).retraining_stage_cost(sisa_cost)
        extra["sisa_cost"] = np.empty(runs)
    for lo, hi, rng in chunked_runs(runs, per_run, sim.seed_seq, progress, "simulate"):
        if sisa_cost is not None:
            values[lo:hi], extra["sisa_cost"][lo:hi] = embedded_run(
                setup, relevant, criterion, cost_table, rng, hi - lo
            )
        elif last_event_fails:
            values[lo:hi] = last_first_hit_count(setup, relevant, rng, hi - lo)
        else:
            order, counts = first_hit_counts(setup, relevant, rng, hi - lo, need_order=True)
            event = criterion.failure_event(system, hit_events(system, relevant, order))
            values[lo:hi] = counts[np.arange(hi - lo), event]
    return MonteCarloResult(values, runs, sim.seed, time.perf_counter() - start, extra)


def simulate_served_prefix(
    system: S3TSystem,
    prior: "np.ndarray | str | None",
    request_counts: "np.ndarray | list[int]",
    runs: int,
    seed=None,
    request_model: str = "iid",
    points: "int | np.ndarray | None" = None,
    progress: "bool | None" = None,
) -> np.ndarray:
    """Each shard's served prefix after each request count, int array ``(runs, len(request_counts), m)``.

    Each run is one request stream; the counts are read off that same stream.

    Examples
    --------
    >>> from s3t_sim.selection import build_system
    >>> sys_, _ = build_system(m=2, L=4, B=2)
    >>> k = simulate_served_prefix(sys_, None, [0, 5, 50], runs=1000, seed=0)
    >>> k.shape, k.mean(axis=(0, 2)).round(1).tolist()
    ((1000, 3, 2), [4.0, 1.3, 0.0])
    """
    sim = open_simulation(system, prior, runs, seed, request_model, points)
    runs, setup = sim.runs, sim.setup
    counts_asked = np.asarray(request_counts)
    if counts_asked.ndim != 1 or not np.issubdtype(counts_asked.dtype, np.integer) or np.any(counts_asked < 0):
        raise ValueError("request_counts must be a 1-D list of integers >= 0")
    if setup.sizes is not None and counts_asked.max(initial=0) > setup.sizes.sum():
        raise ValueError(f"request_counts must be <= the number of points {int(setup.sizes.sum())} without replacement")
    relevant = np.flatnonzero(setup.prior.ravel() > 0)
    m, L, T = system.m, system.L, counts_asked.size
    cap = int(counts_asked.max(initial=0)) + 1
    out = np.empty((runs, T, m), dtype=np.int64)
    per_run = relevant.size + m * system.B * L + T * m * L
    for lo, hi, rng in chunked_runs(runs, per_run, sim.seed_seq, progress, "served prefix"):
        R = hi - lo
        order, counts = first_hit_counts(setup, relevant, rng, R, need_order=True)
        life = system.stage_lifetimes(hit_events(system, relevant, order)).astype(np.int64)
        # events by request r: searchsorted on every row at once (rows offset apart)
        offset = (np.arange(R, dtype=np.int64) * (cap + 1))[:, None]
        flat = (np.minimum(counts, cap) + offset).ravel()
        events = np.searchsorted(flat, (counts_asked[None, :] + offset).ravel(), side="right").reshape(R, T)
        events -= np.arange(R)[:, None] * relevant.size
        out[lo:hi] = (life[:, None, :, :] >= events[:, :, None, None]).sum(axis=-1)
    return out


def simulate_performance(
    system: S3TSystem,
    prior: "np.ndarray | str | None",
    request_counts: "np.ndarray | list[int]",
    performance,
    runs: int,
    seed=None,
    request_model: str = "iid",
    points: "int | np.ndarray | None" = None,
) -> np.ndarray:
    """Aggregate performance ``(1/m) sum_s f(k_s)`` after each request count, ``(runs, len(request_counts))``.

    ``performance`` is a :class:`s3t_sim.performance.PerformanceModel` with ``L`` equal to the system's.
    """
    if performance.L != system.L:
        raise ValueError(f"performance model has L={performance.L} but the system has L={system.L}")
    prefixes = simulate_served_prefix(system, prior, request_counts, runs, seed, request_model, points)
    return performance.aggregate(prefixes)
