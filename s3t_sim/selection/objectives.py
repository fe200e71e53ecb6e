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
from s3t_sim.system import S3TSystem, best_prefix_minima

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
    seqs, p = checked_shard(sequences, prior)
    L = seqs.shape[1]
    check_choice("method", method, OBJECTIVE_METHODS)
    R = check_int("requests", requests, 0)
    if method == "exact" or (method == "auto" and L <= EXACT_MAX_L):
        if L > EXACT_MAX_L:
            raise ValueError(f"method='exact' needs L <= {EXACT_MAX_L}; got L={L} (use method='mc')")
        law = hit_set_law(p, R, average=average, shard_share=shard_share)
        return Estimate(float(law @ served_prefix_by_hit_set(seqs)))
    return _monte_carlo_served_prefix(seqs, p, R, average, shard_share, runs, seed)


def _monte_carlo_served_prefix(seqs, p, R, average, shard_share, runs, seed) -> Estimate:
    """Served prefix by simulating the ``R`` requests of each run (one categorical draw each).

    From ``h_i``, the index of the first request that hits slice ``i`` (``R + 1`` if none),
    stage ``j`` survives request ``r`` iff ``life_j = max_pi min_{t < j} h_{pi_t} > r``; so
    ``k(R) = #{j : life_j > R}`` and ``(1/R) sum_{r <= R} k(r) = sum_j min(life_j - 1, R) / R``.
    The prefix minima are :func:`s3t_sim.system.best_prefix_minima`: O(runs B L) work in
    bounded chunks, no array over request counts.
    """
    runs = check_int("runs", runs, 2)
    q = check_real("shard_share", shard_share, 0.0, 1.0, low_inclusive=False)
    rng = as_generator(seed)
    B, L = seqs.shape
    probs = np.append(q * p, max(0.0, 1.0 - q * p.sum()))  # the last category: a request to another shard
    values = np.empty(runs)
    step = max(1, (1 << 22) // (B * L))
    for lo in range(0, runs, step):
        n = min(step, runs - lo)
        draws = rng.choice(L + 1, size=(n, R), p=probs / probs.sum()) if R > 0 else np.zeros((n, 0), dtype=np.int64)
        first = np.full((n, L + 1), R + 1, dtype=np.int32)
        for r in range(R - 1, -1, -1):  # the earliest hit is written last
            first[np.arange(n), draws[:, r]] = r + 1
        life = best_prefix_minima(first[:, :L], seqs)  # (n, L)
        if average and R > 0:
            values[lo:lo + n] = np.minimum(life - 1, R).sum(axis=1) / R
        else:
            values[lo:lo + n] = (life > R).sum(axis=1)
    return Estimate(float(values.mean()), float(values.std(ddof=1) / math.sqrt(runs)), runs, seed, "mc")


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
