"""Monte Carlo deletion simulator (vectorised across runs) and the naive per-request baseline.

The fast simulator never draws the individual requests. Every criterion and every served
prefix depends only on the set of slices hit so far, so a run is described by

1. the *order* in which slices are first hit, and
2. the request count at each of those first hits.

Request models (``request_model``):

- ``"iid"`` (the paper's): each request hits slice ``i`` with probability ``p_i``, with
  replacement. The first-hit order has the law of sorting independent ``Exp(p_i)`` clocks
  (a uniformly random permutation when the ``p_i`` are equal); given the set ``H`` already
  hit, the wait for the next new slice is ``Geometric(1 - p(H))``.
- ``"without-replacement"``: ``N`` data points, each request deletes a remaining point chosen
  uniformly; slice ``i`` holds ``n_i`` points (``points``: an ``(m, L)`` array, or a total
  ``N`` apportioned in proportion to the prior). The first-hit order sorts ``Exp(n_i)``
  clocks; after ``r`` requests with ``U`` points in unhit slices, the wait for the next new
  slice is the position of the first of ``U`` marked items in a random order of the ``N - r``
  remaining ones (negative hypergeometric), drawn by exact inverse-cdf bisection.

Only the slices the criterion looks at are simulated (for ``all-dead``/``any-dead``: the
shards' first elements); hits on the others are the "no new slice" part of the waits.
For ``all-dead`` with checkpoint fallback the failure is the last of those first hits, so
the count is a plain sum of geometric waits and the order is never needed when the
relevant slices are equally likely. Cost: ``O(mL)`` per run (``O(mBL)`` for criteria that
need the whole prefix), in chunks of runs so that memory stays bounded.
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from s3t_sim.criteria import Criterion, parse_criterion
from s3t_sim.priors import parse_prior
from s3t_sim.system import S3TSystem
from s3t_sim.validation import check_choice, check_int

REQUEST_MODELS = ("iid", "without-replacement")
_CHUNK_ELEMENTS = 1 << 21  # array elements per chunk (~16 MB per int64 array)


# --------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MonteCarloResult:
    """Per-run values with their mean, standard error, run count, seed and wall time."""

    values: np.ndarray
    runs: int
    seed: Any
    seconds: float
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))

    @property
    def std(self) -> float:
        return float(np.std(self.values, ddof=1)) if self.runs > 1 else float("nan")

    @property
    def se(self) -> float:
        """Standard error of :attr:`mean`: ``std / sqrt(runs)``."""
        return self.std / math.sqrt(self.runs) if self.runs > 1 else float("nan")

    def quantile(self, q: "float | np.ndarray") -> np.ndarray:
        return np.quantile(self.values, q)

    def ci(self, level: float = 0.95) -> tuple[float, float]:
        """Normal-approximation confidence interval for the mean."""
        from scipy.stats import norm

        z = float(norm.ppf(0.5 + level / 2))
        return self.mean - z * self.se, self.mean + z * self.se

    def __str__(self) -> str:
        return f"{self.mean:.4g} ± {self.se:.2g} (SE, {self.runs} runs, seed {self.seed})"


def _resolve_seed(seed) -> tuple[Any, np.random.SeedSequence]:
    """A recordable seed and its SeedSequence; ``None`` draws a fresh seed and records it."""
    if isinstance(seed, np.random.Generator):
        recorded = int(seed.integers(2**63))
        return recorded, np.random.SeedSequence(recorded)
    if seed is None:
        recorded = int(np.random.SeedSequence().entropy % (2**63))
        return recorded, np.random.SeedSequence(recorded)
    seed = check_int("seed", seed, 0)
    return seed, np.random.SeedSequence(seed)


def _progress(total: int, progress: "bool | None", desc: str):
    show = sys.stderr.isatty() if progress is None else progress
    if not show:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="run", file=sys.stderr, leave=False)


# --------------------------------------------------------------------------------------
# request models
# --------------------------------------------------------------------------------------
def apportion_points(prior: np.ndarray, total: int) -> np.ndarray:
    """Split ``total`` points over slices in proportion to ``prior`` (largest remainders).

    Examples
    --------
    >>> apportion_points(np.array([[0.5, 0.3, 0.2]]), 10).tolist()
    [[5, 3, 2]]
    """
    total = check_int("points", total, 1)
    exact = np.asarray(prior, dtype=float) * total
    base = np.floor(exact).astype(np.int64)
    short = total - int(base.sum())
    if short > 0:
        order = np.argsort(-(exact - base), axis=None, kind="stable")[:short]
        base.flat[order] += 1
    return base


@dataclass(frozen=True)
class _Setup:
    """Everything a simulation needs, checked once."""

    system: S3TSystem
    prior: np.ndarray  # (m, L)
    request_model: str
    sizes: np.ndarray | None  # (m, L) points per slice (without replacement)


def _setup(system, prior, request_model, points) -> _Setup:
    if not isinstance(system, S3TSystem):
        raise TypeError(f"system must be an S3TSystem; got {type(system).__name__}")
    prior = parse_prior(prior, system.m, system.L)
    check_choice("request_model", request_model, REQUEST_MODELS)
    sizes = None
    if request_model == "without-replacement":
        if points is None:
            raise ValueError(
                "request_model 'without-replacement' needs points: a total N >= 1 or an (m, L) array of slice sizes"
            )
        if np.ndim(points) == 0:
            sizes = apportion_points(prior, points)
        else:
            sizes = np.asarray(points)
            if sizes.shape != (system.m, system.L) or not np.issubdtype(sizes.dtype, np.integer) or np.any(sizes < 0):
                raise ValueError(
                    f"points must be an int >= 1 or a non-negative int array of shape (m, L) = {(system.m, system.L)}"
                )
            if sizes.sum() < 1:
                raise ValueError("points must hold at least one data point")
            sizes = sizes.astype(np.int64)
        prior = sizes / sizes.sum()
    return _Setup(system, prior, request_model, sizes)


def _geometric(rng: np.random.Generator, q: np.ndarray) -> np.ndarray:
    """Geometric(q) on {1, 2, ...}: ``floor(E / -log(1 - q)) + 1`` with ``E ~ Exp(1)``."""
    with np.errstate(divide="ignore"):
        rate = -np.log1p(-np.minimum(q, 1.0))  # q = 1 gives rate inf and G = 1
        return np.floor(rng.standard_exponential(np.shape(q)) / rate).astype(np.int64) + 1


def _first_marked_position(rng: np.random.Generator, remaining: np.ndarray, marked: np.ndarray) -> np.ndarray:
    """Position of the first of ``marked`` items in a uniform random order of ``remaining`` items.

    Inverse cdf: ``P(G > g) = C(remaining - g, marked) / C(remaining, marked)``, bisected in
    log space (exact up to floating-point rounding of ``gammaln``).
    """
    from scipy.special import gammaln

    M = remaining.astype(float)
    U = marked.astype(float)
    log_u = np.log(rng.random(np.shape(remaining)))
    lo = np.ones(np.shape(remaining), dtype=np.int64)
    hi = (remaining - marked + 1).astype(np.int64)
    base = gammaln(M - U + 1) - gammaln(M + 1)
    while np.any(lo < hi):
        mid = (lo + hi) // 2
        log_sf = base + gammaln(M - mid + 1) - gammaln(M - U - mid + 1)
        below = log_sf <= log_u
        hi = np.where(below, mid, hi)
        lo = np.where(below, lo, mid + 1)
    return lo


def _first_hit_order(rng: np.random.Generator, rates: np.ndarray, runs: int) -> np.ndarray:
    """Order of first hits among slices with the given positive rates, ``(runs, n)``."""
    n = rates.size
    if np.all(rates == rates[0]):
        return np.argsort(rng.random((runs, n)), axis=1)
    return np.argsort(rng.standard_exponential((runs, n)) / rates, axis=1)


def _first_hit_counts(setup: _Setup, relevant: np.ndarray, rng: np.random.Generator, runs: int, need_order: bool):
    """Request count at each first hit of a relevant slice (and the order of those slices).

    Returns ``(order, counts)``: ``order[r, i]`` indexes ``relevant`` (``None`` when not
    needed and not drawn), ``counts[r, i]`` is the 1-based request count of the ``i``-th event.
    """
    if setup.request_model == "iid":
        p = setup.prior.ravel()[relevant]
        if np.all(p == p[0]):
            order = _first_hit_order(rng, p, runs) if need_order else None
            unhit = p[0] * np.arange(p.size, 0, -1)  # relevant mass not yet hit, per event
            gaps = _geometric(rng, np.broadcast_to(unhit, (runs, p.size)))
        else:
            order = _first_hit_order(rng, p, runs)
            p_in_order = p[order]
            unhit = np.cumsum(p_in_order[:, ::-1], axis=1)[:, ::-1]
            gaps = _geometric(rng, unhit)
        return order, np.cumsum(gaps, axis=1)

    sizes = setup.sizes.ravel()[relevant]
    total = int(setup.sizes.sum())
    order = _first_hit_order(rng, sizes.astype(float), runs) if (need_order or np.any(sizes != sizes[0])) else None
    sizes_in_order = np.broadcast_to(sizes, (runs, sizes.size)) if order is None else sizes[order]
    unhit = np.cumsum(sizes_in_order[:, ::-1], axis=1)[:, ::-1]
    counts = np.empty((runs, sizes.size), dtype=np.int64)
    done = np.zeros(runs, dtype=np.int64)
    for i in range(sizes.size):
        done = done + _first_marked_position(rng, total - done, unhit[:, i])
        counts[:, i] = done
    return order, counts


def _last_first_hit_count(setup: _Setup, relevant: np.ndarray, rng: np.random.Generator, runs: int) -> np.ndarray:
    """Request count at which the last relevant slice is first hit (the ``all-dead`` failure)."""
    p = setup.prior.ravel()[relevant]
    if setup.request_model != "iid" or np.any(p != p[0]):
        return _first_hit_counts(setup, relevant, rng, runs, need_order=False)[1][:, -1]
    # Equal probabilities: the waits do not depend on the order, Geometric(i * p) for i = K..1.
    with np.errstate(divide="ignore"):
        scale = -1.0 / np.log1p(-np.minimum(p[0] * np.arange(p.size, 0, -1), 1.0))
    waits = rng.standard_exponential((runs, p.size))
    waits *= scale
    np.floor(waits, out=waits)  # in place: this loop is memory-bound
    return waits.sum(axis=1).astype(np.int64) + p.size  # integer sums are exact in float64


def _embedded_run(
    setup: _Setup, relevant: np.ndarray, criterion: Criterion, cost: np.ndarray, rng: np.random.Generator, runs: int
) -> tuple[np.ndarray, np.ndarray]:
    """Failure count and SISA's cost on the same stream, from the Poisson embedding (i.i.d.).

    Requests arrive at rate 1, so slice ``j`` receives an independent Poisson stream of rate
    ``p_j``. Draw the relevant slices' first-hit times ``E_j ~ Exp(p_j)``, find the failure
    time ``tau`` (a first-hit time); then up to ``tau`` a relevant slice hit at ``E_j`` got
    ``1 + Poisson(p_j (tau - E_j))`` requests and the other slices ``Poisson(p_j tau)``. The
    count is the total number of requests by ``tau`` (exactly the discrete failure count),
    and SISA's cost is ``sum_j c_j N_j``.
    """
    system = setup.system
    p_all = setup.prior.ravel()
    c_all = cost.ravel()
    p = p_all[relevant]
    clocks = rng.standard_exponential((runs, p.size)) / p
    order = np.argsort(clocks, axis=1)
    event = criterion.failure_event(system, _hit_events(system, relevant, order))
    tau = np.take_along_axis(clocks, np.take_along_axis(order, event[:, None], axis=1), axis=1)  # (runs, 1)
    hit = clocks <= tau
    extra_requests = rng.poisson(np.where(hit, p * (tau - clocks), 0.0))
    on_relevant = np.where(hit, 1 + extra_requests, 0)
    count = on_relevant.sum(axis=1)
    total_cost = on_relevant @ c_all[relevant]
    others = np.ones(p_all.size, dtype=bool)
    others[relevant] = False
    for value in np.unique(c_all[others]):  # slices outside the criterion, grouped by their cost
        mass = p_all[others & (c_all == value)].sum()
        n = rng.poisson(mass * tau[:, 0])
        count = count + n
        total_cost = total_cost + value * n
    return count, total_cost


def _hit_events(system: S3TSystem, relevant: np.ndarray, order: np.ndarray) -> np.ndarray:
    """``hit_event[r, s, i]``: event index of slice ``(s, i)``; unsimulated slices get ``n``."""
    runs, n_rel = order.shape
    n = system.n_slices
    dtype = np.int16 if n < 2**15 else np.int32
    hit_event = np.full((runs, n), n, dtype=dtype)
    np.put_along_axis(hit_event, relevant[order], np.arange(n_rel, dtype=dtype)[None, :], axis=1)
    return hit_event.reshape(runs, system.m, system.L)


def _chunks(runs: int, per_run: int):
    size = max(1, min(runs, _CHUNK_ELEMENTS // max(1, per_run)))
    return [(start, min(runs, start + size)) for start in range(0, runs, size)]


def _chunked_runs(runs: int, per_run: int, seed_seq: np.random.SeedSequence, progress: "bool | None", desc: str):
    """Yield ``(lo, hi, rng)`` for chunks of runs small enough for memory, one spawned
    generator per chunk (so results depend on the seed and the chunk size only), with a
    progress bar over runs."""
    chunks = _chunks(runs, per_run)
    bar = _progress(runs, progress, desc)
    try:
        for (lo, hi), child in zip(chunks, seed_seq.spawn(len(chunks))):
            yield lo, hi, np.random.default_rng(child)
            if bar is not None:
                bar.update(hi - lo)
    finally:
        if bar is not None:
            bar.close()


# --------------------------------------------------------------------------------------
# the fast simulator
# --------------------------------------------------------------------------------------
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
        ``extra["sisa_cost"]`` (i.i.d. requests; uses :func:`_embedded_run`)

    Returns
    -------
    MonteCarloResult with ``values`` (int64, one failure count per run), ``mean``, ``se``.

    Examples
    --------
    >>> sys_ = S3TSystem.from_selection(m=5, L=6, B=6)
    >>> res = simulate_failure_counts(sys_, None, "all-dead", runs=20_000, seed=0)
    >>> abs(res.mean - 30 * sum(1 / i for i in range(1, 31))) < 4 * res.se   # 30 H_30 = 119.8
    True
    """
    runs = check_int("runs", runs, 1)
    criterion = parse_criterion(criterion)
    recorded, seed_seq = _resolve_seed(seed)
    setup = _setup(system, prior, request_model, points)
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
    for lo, hi, rng in _chunked_runs(runs, per_run, seed_seq, progress, "simulate"):
        if sisa_cost is not None:
            values[lo:hi], extra["sisa_cost"][lo:hi] = _embedded_run(
                setup, relevant, criterion, cost_table, rng, hi - lo
            )
        elif last_event_fails:
            values[lo:hi] = _last_first_hit_count(setup, relevant, rng, hi - lo)
        else:
            order, counts = _first_hit_counts(setup, relevant, rng, hi - lo, need_order=True)
            event = criterion.failure_event(system, _hit_events(system, relevant, order))
            values[lo:hi] = counts[np.arange(hi - lo), event]
    return MonteCarloResult(values, runs, recorded, time.perf_counter() - start, extra)


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
    >>> sys_ = S3TSystem.from_selection(m=2, L=4, B=2)
    >>> k = simulate_served_prefix(sys_, None, [0, 5, 50], runs=1000, seed=0)
    >>> k.shape, k.mean(axis=(0, 2)).round(1).tolist()
    ((1000, 3, 2), [4.0, 1.3, 0.0])
    """
    runs = check_int("runs", runs, 1)
    counts_asked = np.asarray(request_counts)
    if counts_asked.ndim != 1 or not np.issubdtype(counts_asked.dtype, np.integer) or np.any(counts_asked < 0):
        raise ValueError("request_counts must be a 1-D list of integers >= 0")
    _, seed_seq = _resolve_seed(seed)
    setup = _setup(system, prior, request_model, points)
    if setup.sizes is not None and counts_asked.max(initial=0) > setup.sizes.sum():
        raise ValueError(f"request_counts must be <= the number of points {int(setup.sizes.sum())} without replacement")
    relevant = np.flatnonzero(setup.prior.ravel() > 0)
    m, L, T = system.m, system.L, counts_asked.size
    cap = int(counts_asked.max(initial=0)) + 1
    out = np.empty((runs, T, m), dtype=np.int64)
    per_run = relevant.size + m * system.B * L + T * m * L
    for lo, hi, rng in _chunked_runs(runs, per_run, seed_seq, progress, "served prefix"):
        R = hi - lo
        order, counts = _first_hit_counts(setup, relevant, rng, R, need_order=True)
        life = system.stage_lifetimes(_hit_events(system, relevant, order)).astype(np.int64)
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


# --------------------------------------------------------------------------------------
# SISA's retraining cost
# --------------------------------------------------------------------------------------
def expected_sisa_cost_per_request(sisa: S3TSystem, prior: "np.ndarray | str | None", unit: str = "stages") -> float:
    """Expected SISA retraining cost of one i.i.d. request, ``sum_i p_i c_i``.

    Over a stopping time ``T`` (e.g. the S3T failure count on the same stream) the expected
    total is ``E[T] * sum_i p_i c_i`` by Wald's identity.
    """
    prior = parse_prior(prior, sisa.m, sisa.L)
    return float((prior * sisa.retraining_stage_cost(unit)).sum())


def simulate_sisa_cost(
    sisa: S3TSystem,
    prior: "np.ndarray | str | None",
    request_counts: "np.ndarray | list[int]",
    runs: int,
    seed=None,
    unit: str = "stages",
) -> np.ndarray:
    """SISA's cumulative retraining cost after each request count (i.i.d. requests), ``(runs, T)``.

    Every request retrains its shard from the checkpoint before the hit slice (see
    :meth:`S3TSystem.retraining_stage_cost`); the per-slice request numbers between
    consecutive counts are multinomial.
    """
    runs = check_int("runs", runs, 1)
    prior = parse_prior(prior, sisa.m, sisa.L).ravel()
    cost = sisa.retraining_stage_cost(unit).ravel()
    asked = np.asarray(request_counts)
    if asked.ndim != 1 or np.any(asked < 0) or np.any(np.diff(asked) < 0):
        raise ValueError("request_counts must be a non-decreasing 1-D list of integers >= 0")
    rng = np.random.default_rng(_resolve_seed(seed)[1])
    steps = np.diff(np.concatenate([[0], asked]))
    out = np.zeros((runs, asked.size))
    total = np.zeros(runs)
    for t, step in enumerate(steps):
        if step:
            total = total + rng.multinomial(int(step), prior, size=runs) @ cost
        out[:, t] = total
    return out


# --------------------------------------------------------------------------------------
# the naive per-request baseline
# --------------------------------------------------------------------------------------
def _naive_stream(setup: _Setup, rng: np.random.Generator, block: int = 1024):
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
    setup: _Setup,
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
    """The baseline: the same quantity as :func:`simulate_failure_counts`, one request at a time.

    With ``sisa`` given, ``extra["sisa_cost"]`` holds, per run, the retraining cost SISA
    would have paid on the same stream up to the failure.
    """
    runs = check_int("runs", runs, 1)
    criterion = parse_criterion(criterion)
    recorded, seed_seq = _resolve_seed(seed)
    setup = _setup(system, prior, request_model, points)
    criterion.check_reachable(system, setup.prior)
    cost_table = None if sisa is None else sisa.retraining_stage_cost(unit)
    rng = np.random.default_rng(seed_seq)
    start = time.perf_counter()
    values = np.empty(runs, dtype=np.int64)
    costs = np.empty(runs)
    for run in range(runs):
        values[run], _, costs[run] = naive_run(setup, criterion, rng, sisa_cost=cost_table)
    extra = {} if sisa is None else {"sisa_cost": costs}
    return MonteCarloResult(values, runs, recorded, time.perf_counter() - start, extra)


def naive_served_prefix(
    system: S3TSystem,
    prior: "np.ndarray | str | None",
    request_counts: "list[int]",
    runs: int,
    seed=None,
    request_model: str = "iid",
    points: "int | np.ndarray | None" = None,
) -> np.ndarray:
    """The baseline for :func:`simulate_served_prefix`, ``(runs, len(request_counts), m)``."""
    runs = check_int("runs", runs, 1)
    setup = _setup(system, prior, request_model, points)
    rng = np.random.default_rng(_resolve_seed(seed)[1])
    counts = [int(r) for r in request_counts]
    if setup.sizes is not None and max(counts, default=0) > setup.sizes.sum():
        raise ValueError(f"request_counts must be <= the number of points {int(setup.sizes.sum())} without replacement")
    return np.stack([naive_run(setup, None, rng, counts)[1] for _ in range(runs)])
