"""How a sequence set is judged: served prefix after deletions, and time to shard death.

Deletion model (spec §2): each request to the system hits this shard with probability
``shard_share`` (q; 1 = requests counted at the shard) and then slice s with the shard's
prior p_s, i.i.d. with replacement. After R requests the set D of hit slices satisfies,
for every slice set S,

    P(D ⊆ S) = (1 - q (1 - p(S)))^R,        p(S) = sum of p_s over S,

so ``P(D = S)`` follows by inclusion–exclusion (a Möbius transform over the 2^L subsets;
:mod:`s3t_sim.laws.hitsets`, the project's one implementation; the one-shard law itself is
:func:`s3t_sim.laws.served_prefix.served_prefix_distribution`).
The served prefix ``k(D)`` (:mod:`s3t_sim.prefix`) is then averaged exactly over all hit
sets; this is practical for ``L <= EXACT_MAX_L``. Beyond, the Monte Carlo path draws the
requests and reads every stage's lifetime off the first-hit indices (one pass, O(runs B L)).

Expected requests to death uses the Poisson embedding (spec §2): with requests a rate-1
Poisson process, slice s is first hit at an independent Exp(q p_s) time, and by Wald's
identity the expected request count at death equals the expected death time

    E[T] = ∫_0^∞ [1 - Π_{s ∈ F} (1 - exp(-q p_s t))] dt,

F the set of distinct first slices (the shard is dead once all of F has been hit). This
is exact for any prior; the integral is :class:`s3t_sim.laws.poisson.PoissonEmbeddingLaw`'s.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from s3t_sim.checks import as_generator, check_choice, check_int, check_real
from s3t_sim.laws.hitsets import hit_set_law, served_prefix_by_hit_set
from s3t_sim.laws.poisson import PoissonEmbeddingLaw
from s3t_sim.laws.served_prefix import EXACT_MAX_L, checked_shard
from s3t_sim.system import S3TSystem

OBJECTIVE_METHODS = ("auto", "exact", "mc")


@dataclass(frozen=True)
class Estimate:
    """A value with its standard error (0 for exact values), run count and seed."""

    mean: float
    se: float = 0.0
    runs: int | None = None
    seed: object = None
    method: str = "exact"

    def __float__(self) -> float:
        return float(self.mean)


def expected_served_prefix(
    sequences: ArrayLike,
    prior: ArrayLike | None = None,
    requests: int = 10,
    *,
    average: bool = False,
    shard_share: float = 1.0,
    method: str = "auto",
    runs: int = 20_000,
    seed: int | np.random.Generator | None = None,
) -> Estimate:
    """Expected served prefix E[k(D)] of one shard after ``requests`` requests.

    Parameters
    ----------
    sequences : int array (B, L) of distinct orders.
    prior : the shard's slice probabilities (length L); None = uniform.
    requests : R, requests to the system (to the shard when ``shard_share=1``).
    average : average over R' = 1..R instead of R' = R.
    shard_share : probability q that a request hits this shard (1/m for m equal shards).
    method : "exact" (enumerate the 2^L hit sets), "mc" (the project's simulator), or
        "auto" (exact for L <= EXACT_MAX_L).
    runs, seed : Monte Carlo runs and seed.

    Returns
    -------
    :class:`Estimate` (``float(...)`` gives the value; ``se`` is 0 when exact).

    Examples
    --------
    >>> float(expected_served_prefix([[0, 1, 2]], [0.5, 0.25, 0.25], 1))  # 0.5*0 + 0.25*1 + 0.25*2
    0.75
    """
    after, averaged = served_prefix_estimates(
        sequences, prior, requests, shard_share=shard_share, method=method, runs=runs, seed=seed
    )
    return averaged if average else after


def served_prefix_estimates(
    sequences: ArrayLike,
    prior: ArrayLike | None = None,
    requests: int = 10,
    *,
    shard_share: float = 1.0,
    method: str = "auto",
    runs: int = 20_000,
    seed: int | np.random.Generator | None = None,
) -> tuple[Estimate, Estimate]:
    """Both served-prefix objectives, ``(after R requests, averaged over r = 1..R)``.

    Same parameters as :func:`expected_served_prefix`; the Monte Carlo path reads both off
    the same runs (one simulation, not two).

    Examples
    --------
    >>> after, averaged = served_prefix_estimates([[0, 1, 2]], [0.5, 0.25, 0.25], 2)
    >>> round(after.mean, 4), round(averaged.mean, 4)   # averaged = (0.75 + after) / 2
    (0.3125, 0.5312)
    """
    seqs, p = checked_shard(sequences, prior)
    L = seqs.shape[1]
    check_choice("method", method, OBJECTIVE_METHODS)
    R = check_int("requests", requests, 0)
    if method == "exact" or (method == "auto" and L <= EXACT_MAX_L):
        if L > EXACT_MAX_L:
            raise ValueError(f"method='exact' needs L <= {EXACT_MAX_L}; got L={L} (use method='mc')")
        k = served_prefix_by_hit_set(seqs)
        after, averaged = (hit_set_law(p, R, average=a, shard_share=shard_share) @ k for a in (False, True))
        return Estimate(float(after)), Estimate(float(averaged))
    return _monte_carlo_served_prefix(seqs, p, R, shard_share, runs, seed)


def _monte_carlo_served_prefix(seqs, p, R, shard_share, runs, seed) -> tuple[Estimate, Estimate]:
    """Served prefix after ``R`` requests and averaged over r <= R, by simulating the requests.

    From ``h_i``, the index of the first request that hits slice ``i`` (``R + 1`` if none),
    the shard serves ``k(r) = max_b (position of the first slice of sequence b hit by
    request r)``. ``k`` changes only at the first hits, so the runs walk their first
    ``E = min(R, L)`` first hits in time order, each step one minimum and one maximum over
    the B sequences: O(runs B min(R, L)) work, rows in bounded chunks. Then
    ``k(R)`` is the last value and ``(1/R) sum_{r <= R} k(r)`` weights each value by the
    requests it held for.
    """
    runs = check_int("runs", runs, 2)
    q = check_real("shard_share", shard_share, 0.0, 1.0, low_inclusive=False)
    rng = as_generator(seed)
    B, L = seqs.shape
    probs = np.append(q * p, max(0.0, 1.0 - q * p.sum()))  # the last category: a request to another shard
    position = np.full((L + 1, B), L, dtype=np.int32)  # position[s, b]: where slice s sits in sequence b
    position[seqs, np.arange(B)[:, None]] = np.arange(L, dtype=np.int32)
    E = min(R, L)
    after, averaged = np.empty(runs), np.empty(runs)
    step = max(1, (1 << 22) // (B + L + R))
    for lo in range(0, runs, step):
        n = min(step, runs - lo)
        draws = rng.choice(L + 1, size=(n, R), p=probs / probs.sum()) if R > 0 else np.zeros((n, 0), dtype=np.int64)
        first = np.full((n, L + 1), R + 1, dtype=np.int32)
        for r in range(R - 1, -1, -1):  # the earliest hit is written last
            first[np.arange(n), draws[:, r]] = r + 1
        order = np.argsort(first[:, :L], axis=1, kind="stable")[:, :E]
        times = np.take_along_axis(first, order, axis=1)  # (n, E), non-decreasing; R + 1 = never
        order[times > R] = L  # no hit within R requests: position row L changes nothing
        bounds = np.minimum(np.concatenate([times, np.full((n, 1), R + 1)], axis=1), R + 1)
        total = L * (bounds[:, 0] - 1).astype(float)  # the full prefix until the first hit
        current = np.full((n, B), L, dtype=np.int32)
        for t in range(E):
            np.minimum(current, position[order[:, t]], out=current)
            total += current.max(axis=1) * (bounds[:, t + 1] - bounds[:, t])
        after[lo:lo + n] = current.max(axis=1) if E else L
        averaged[lo:lo + n] = total / R if R > 0 else L
    return tuple(  # type: ignore[return-value]
        Estimate(float(v.mean()), float(v.std(ddof=1) / math.sqrt(runs)), runs, seed, "mc") for v in (after, averaged)
    )


def expected_requests_to_death(
    sequences: ArrayLike, prior: ArrayLike | None = None, *, shard_share: float = 1.0
) -> float:
    """Expected number of requests until the shard is dead (all first slices hit); exact.

    Poisson embedding (module doc): ``E[T] = ∫_0^∞ [1 - Π_{s∈F}(1 - exp(-q p_s t))] dt``,
    F the distinct first slices, computed by the project's exact law
    (:class:`s3t_sim.laws.poisson.PoissonEmbeddingLaw`, one shard, criterion ``all-dead``) and
    divided by q. For a uniform prior and q = 1 this is ``L * H_|F|``. Returns ``inf``
    when a first slice has zero deletion probability.

    Examples
    --------
    >>> round(expected_requests_to_death([[0, 1, 2], [1, 2, 0]]), 6)  # 3 * (1 + 1/2)
    4.5
    """
    seqs, p = checked_shard(sequences, prior)
    q = check_real("shard_share", shard_share, 0.0, 1.0, low_inclusive=False)
    if np.any(p[np.unique(seqs[:, 0])] <= 0):
        return math.inf
    return PoissonEmbeddingLaw(S3TSystem(seqs[None]), p[None], "all-dead").mean() / q
