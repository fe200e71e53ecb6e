"""The coupon collector: ``all-dead`` under a uniform prior, and both SISA variants.

- :func:`harmonic` — ``H_K^{(order)}``, the project's one harmonic number;
- :class:`CouponCollectorLaw` ``(n, K)`` — requests until ``K`` given coupons out of ``n``
  equally likely ones have all been drawn;
- :func:`all_dead_law`, :func:`sisa_law` — the closed forms ``mL H_{m min(B, L)}``,
  ``mL H_m`` and ``m H_m``.

All laws are for the i.i.d. (with replacement) request model.

References: the coupon collector with a subset of coupons, e.g. Flajolet, Gardy & Thimonier,
"Birthday paradox, coupon collectors, caching algorithms and self-organizing search",
Discrete Appl. Math. 39 (1992); the S3T deletion-rate analysis, Chowdhury et al., ICLR 2025.
"""
from __future__ import annotations

import math

import numpy as np

from s3t_sim.checks import check_int
from s3t_sim.laws.count import CountLaw
from s3t_sim.system import S3TSystem


EXACT_SUM_UP_TO = 4096


def harmonic(K: "float | np.ndarray", order: int = 1) -> "float | np.ndarray":
    """``H_K^{(order)} = sum_{i=1}^K 1 / i^order`` for ``K >= 0``, a number or an array.

    Integers ``K <= 4096`` are summed exactly (``math.fsum``); beyond, and for real ``K``
    (the analytic continuation), ``H_K = psi(K + 1) + gamma`` and
    ``H_K^{(s)} = zeta(s) - zeta(s, K + 1)`` (Hurwitz), both to ~1e-15 relative, in O(1)
    time and memory whatever ``K``.

    Examples
    --------
    >>> round(harmonic(5), 4)
    2.2833
    >>> harmonic(np.array([1, 2])).tolist()
    [1.0, 1.5]
    >>> round(harmonic(1e12), 6)  # ln(1e12) + gamma + 1/(2e12)
    28.208237
    """
    from scipy.special import digamma, zeta

    order = check_int("order", order, 1)
    ks = np.asarray(K, dtype=float)
    if not np.all(np.isfinite(ks)) or np.any(ks < 0):
        raise ValueError(f"K must be finite and >= 0; got {K!r}")
    small = (ks <= EXACT_SUM_UP_TO) & (ks == np.round(ks))
    out = np.where(ks > 0, digamma(ks + 1.0) + np.euler_gamma if order == 1 else zeta(order, 1.0) - zeta(order, ks + 1.0), 0.0)
    for k in np.unique(ks[small]).tolist():
        out = np.where(ks == k, math.fsum(1.0 / i**order for i in range(1, int(k) + 1)), out)
    return float(out) if out.ndim == 0 else out


class CouponCollectorLaw(CountLaw):
    """Requests until ``K`` specific coupons out of ``n`` equally likely ones are all drawn.

    The count is ``sum_{i=1}^{K} G_i`` with independent ``G_i ~ Geometric(i / n)``, so

        mean = n H_K,    var = n^2 sum_{i<=K} 1/i^2 - n H_K.

    ``sf``/``cdf``/``pmf`` are exact by the Markov chain on the number of coupons drawn
    (cost ``O(r K)``; refused beyond ``max_work`` operations); the rest of scipy's frozen
    interface comes from :class:`~s3t_sim.laws.count.CountLaw`.

    Examples
    --------
    >>> law = CouponCollectorLaw(30, 5)          # m = 5, L = 6, SISA with fallback
    >>> round(law.mean(), 2)
    68.5
    >>> round(float(law.cdf(200)), 4)
    0.9943
    """

    def __init__(self, n: int, K: int, max_work: float = 5e8):
        self.n = check_int("n", n, 1)
        self.K = check_int("K", K, 1, self.n)
        self.max_work = max_work

    def __repr__(self) -> str:
        return f"CouponCollectorLaw(n={self.n}, K={self.K})"

    @property
    def method(self) -> str:
        return f"coupon collector n={self.n}, K={self.K}"

    def mean(self) -> float:
        return self.n * harmonic(self.K)

    def var(self) -> float:
        return self.n**2 * harmonic(self.K, 2) - self.n * harmonic(self.K)

    def _sf_table(self, r_max: int) -> np.ndarray:
        """``P(N > r)``, ``r = 0..r_max``: the mass of the chain's states below ``K`` (no ``1 - cdf``)."""
        if r_max * self.K > self.max_work:
            raise ValueError(
                f"cdf up to r={r_max} with K={self.K} exceeds max_work={self.max_work:g} operations; use rvs"
            )
        n, K = self.n, self.K
        up = (K - np.arange(K)) / n  # P(new coupon | j drawn), j = 0..K-1
        stay = np.arange(n - K, n) / n  # 1 - up, without cancellation
        state = np.zeros(K)
        state[0] = 1.0
        table = np.ones(r_max + 1)
        for r in range(1, r_max + 1):
            moved = state * up
            state = state * stay
            state[1:] += moved[:-1]
            table[r] = state.sum()
        return table

    def rvs(self, size: "int | tuple[int, ...] | None" = None, random_state=None) -> "np.ndarray | int":
        """Samples as sums of the ``K`` geometric waits (``random_state``: seed or Generator)."""
        rng = np.random.default_rng(random_state)
        q = np.arange(1, self.K + 1) / self.n
        with np.errstate(divide="ignore"):
            scale = -1.0 / np.log1p(-np.minimum(q, 1.0))
        shape = () if size is None else (size,) if np.ndim(size) == 0 else tuple(size)
        e = rng.standard_exponential(shape + (self.K,))
        out = (np.floor(e * scale).sum(axis=-1) + self.K).astype(np.int64)
        return out if out.ndim else int(out)


def all_dead_law(system: S3TSystem) -> CouponCollectorLaw:
    """Exact law of the ``all-dead`` count under the uniform prior.

    With checkpoint fallback a shard dies when all its distinct first slices are hit, so the
    system dies when ``K = sum_s F_s`` given slices out of ``mL`` are all hit: for cyclic
    rotations ``K = m min(B, L)`` and ``mean = mL H_{m min(B, L)}``. Without fallback a shard
    dies at its first hit: a coupon collector over the ``m`` shards, ``mean = m H_m``.
    """
    if system.checkpoint_fallback:
        return CouponCollectorLaw(system.n_slices, int(system.death_slices().sum()))
    return CouponCollectorLaw(system.m, system.m)


def sisa_law(m: int, L: int, fallback: bool = True) -> CouponCollectorLaw:
    """SISA's ``all-dead`` count, uniform prior: ``mL H_m`` with fallback, ``m H_m`` without.

    Examples
    --------
    >>> round(sisa_law(5, 6, fallback=False).mean(), 2), round(sisa_law(5, 6).mean(), 1)
    (11.42, 68.5)
    """
    return all_dead_law(S3TSystem.sisa(m, L, fallback))
