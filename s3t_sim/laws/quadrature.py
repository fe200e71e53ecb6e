"""Mean and variance of a request count from its Poisson-time survival function, error-bounded.

Model. Requests arrive as a rate-1 Poisson process; slice ``i`` is first hit at an
independent ``Exp(p_i)`` time. ``T`` is the time at which a monotone failure criterion first
holds, ``S(t) = P(T > t)``, ``F(t) = 1 - S(t)``, and ``N`` the number of requests up to and
including that time. ``T = E_1 + ... + E_N`` with i.i.d. ``Exp(1)`` gaps independent of
``N``, so ``T | N ~ Gamma(N, 1)`` and

    E[N] = E[T] = int_0^inf S(t) dt,     Var[N] = Var[T] - E[T],
    Var[T] = 2 int_0^mu (mu - t) F(t) dt + 2 int_mu^inf (t - mu) S(t) dt     (mu = E[T]),

every term non-negative (no ``E[T^2] - E[T]^2`` cancellation). With ``S`` and ``F`` each to
relative accuracy ``eps``, ``Var[N]`` has absolute error ``~(eps + rtol)(Var[N] + 2 E[N])``.

Quadrature. Pieces ``[0, 1e-3 / P]`` (``P = sum p_i``), then geometric pieces of ratio at
most ``e`` up to ``t_end``, with breakpoints at the time scales ``1 / p_i`` (one per factor
``e^{1/2}``) and at ``mu`` for the variance (a kink), so any prior ratio is resolved (tested
to 1e20). Each piece gets
Gauss–Legendre rules of 20 and 40 nodes; ``|Q_40 - Q_20|`` is its error estimate and pieces
are bisected until the summed estimate is below ``rtol`` times the integral.

Tail (rigorous). When every slice of positive rate is hit the criterion holds, so
``S(t) <= sum_i e^{-p_i t}``, ``int_T^inf S <= sum_i e^{-p_i T} / p_i`` and
``int_T^inf 2 t S <= sum_i 2 e^{-p_i T} (T / p_i + 1 / p_i^2)``; ``t_end`` is the first
doubling of ``1 / p_min`` where both are below ``1e-3 rtol`` of the lower bounds
``E[T] >= 1 / P``, ``E[T^2] >= 2 / P^2``. Reported errors: quadrature estimate plus tail.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Sequence

import numpy as np

Survival = Callable[[np.ndarray], "tuple[np.ndarray, np.ndarray]"]

NODES = 20  # Gauss-Legendre nodes of the coarse rule; the fine rule has 2 * NODES
RTOL = 1e-13  # target relative error of each integral
MAX_PIECES = 20_000
_LN2 = float(np.log(2.0))


def log1mexp(x: np.ndarray) -> np.ndarray:
    """``log(1 - e^{-x})`` for ``x >= 0`` to full relative accuracy (Maechler 2012).

    ``log(-expm1(-x))`` for ``x <= ln 2``, ``log1p(-exp(-x))`` beyond; ``-inf`` at ``x = 0``.
    """
    x = np.asarray(x, dtype=float)
    small = x <= _LN2
    out = np.empty_like(x)
    with np.errstate(divide="ignore"):
        out[small] = np.log(-np.expm1(-x[small]))  # each element evaluates one branch only
        out[~small] = np.log1p(-np.exp(-x[~small]))
    return out



@lru_cache(maxsize=4)
def _rule(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.polynomial.legendre.leggauss(n)


def _integrate(
    integrand: Callable[[np.ndarray], np.ndarray], edges: np.ndarray, rtol: float
) -> tuple[float, float, int]:
    """``int`` over ``[edges[0], edges[-1]]`` by 20/40-node Gauss–Legendre per piece, bisecting
    pieces until ``sum |Q_40 - Q_20| <= rtol |Q|`` or every remaining piece's estimate is at
    the integrand's rounding level (``1e-14`` of the piece; the returned estimate then says
    how far ``rtol`` was missed). Returns value, error estimate, pieces."""
    x1, w1 = _rule(NODES)
    x2, w2 = _rule(2 * NODES)
    lo, hi = edges[:-1].astype(float), edges[1:].astype(float)
    done_val, done_err, done_n = 0.0, 0.0, 0
    for _ in range(60):
        half, mid = (hi - lo) / 2, (hi + lo) / 2
        t = np.concatenate([(mid[:, None] + half[:, None] * x1).ravel(), (mid[:, None] + half[:, None] * x2).ravel()])
        f = np.concatenate([integrand(c) for c in np.array_split(t, max(1, t.size // 512))])
        k = lo.size * NODES
        q1 = (f[:k].reshape(lo.size, NODES) @ w1) * half
        q2 = (f[k:].reshape(lo.size, 2 * NODES) @ w2) * half
        err = np.abs(q2 - q1) + 1e-15 * np.abs(q2)
        total = done_val + q2.sum()
        budget = rtol * abs(total)
        if done_err + err.sum() <= budget or lo.size > MAX_PIECES:
            return float(total), float(done_err + err.sum()), done_n + lo.size
        # bisect pieces above their share of the budget, unless their error is already at the
        # integrand's rounding level (then halving cannot help: stop and report the estimate)
        split = (err > budget / (4 * lo.size)) & (err > 1e-14 * np.abs(q2))
        if not split.any():
            return float(total), float(done_err + err.sum()), done_n + lo.size
        done_val += q2[~split].sum()
        done_err += err[~split].sum()
        done_n += int((~split).sum())
        a, b = lo[split], hi[split]
        c = np.where(a > 0, np.sqrt(a * b), (a + b) / 2)  # geometric mean: pieces stay log-uniform
        lo, hi = np.concatenate([a, c]), np.concatenate([c, b])
    raise ValueError("Poisson-embedding quadrature did not converge in 60 bisections; use the simulator")


def _edges(rates: np.ndarray, end: float, extra: Sequence[float] = ()) -> np.ndarray:
    """``0, t_0``, geometric points of ratio ``<= e`` up to ``end``, one time scale ``1 / p_i``
    per factor ``e^{1/2}`` of rates (points closer than a factor 1.2 merged), and ``extra``
    (kinks of the integrand, always kept)."""
    start = 1e-3 / rates.sum()
    n = int(np.ceil(np.log(end / start))) + 1
    scales = np.exp(-np.unique(np.round(2 * np.log(rates))) / 2)
    points = np.unique(np.concatenate([np.geomspace(start, end, n), scales[scales < end]]))
    keep = np.concatenate([[True], np.diff(np.log(points)) > np.log(1.2)])
    kinks = np.asarray(extra, dtype=float)
    return np.unique(np.concatenate([[0.0], points[keep], [end], kinks[(kinks > 0) & (kinks < end)]]))


def tail_bounds(rates: np.ndarray, T: float) -> tuple[float, float]:
    """Rigorous ``(int_T^inf S, int_T^inf 2 t S)`` bounds from ``S(t) <= sum_i e^{-p_i t}``."""
    e = np.exp(-rates * T)
    return float((e / rates).sum()), float((2 * e * (T / rates + 1 / rates**2)).sum())


def _end(rates: np.ndarray, rtol: float) -> float:
    P = rates.sum()
    end = 1.0 / rates.min()
    while True:
        first, second = tail_bounds(rates, end)
        if first <= 1e-3 * rtol / P and second <= 1e-3 * rtol * 2 / P**2:
            return end
        end *= 2


@dataclass(frozen=True)
class CountMoments:
    """Mean and variance of ``N`` with error bounds (estimated quadrature + rigorous tail).

    ``mean_error`` and ``var_error`` are absolute; ``var_T`` is ``Var[T] = Var[N] + E[N]``.
    """

    mean: float
    var: float
    var_T: float
    mean_error: float
    var_error: float
    pieces: int

    @property
    def second_moment(self) -> float:
        """``E[N^2] = Var[N] + E[N]^2``."""
        return self.var + self.mean**2


def count_moments(survival: Survival, rates: "np.ndarray | Sequence[float]", rtol: float = RTOL) -> CountMoments:
    """``E[N] = int S`` and ``Var[N] = Var[T] - E[T]`` (module docstring) for any prior.

    ``survival(t)`` takes a 1-d array of times and returns the pair ``(S(t), F(t))``, each
    to full relative accuracy (:mod:`s3t_sim.laws.poisson` builds them). ``rates`` are the prior's positive entries (all of them, or
    at least a set whose all being hit makes the criterion hold). Accurate for rate ratios
    up to ~1e300; cost ~``60 (log(ratio) + 10)`` evaluations of ``S`` per moment.

    Examples
    --------
    >>> def coupons(t):  # all of 3 slices of rate 1/3 hit: F = (1 - e^{-t/3})^3
    ...     f = np.exp(3 * log1mexp(t / 3))
    ...     return -np.expm1(3 * log1mexp(t / 3)), f
    >>> r = count_moments(coupons, [1 / 3] * 3)
    >>> round(r.mean, 12), round(r.var, 10)     # 3 H_3 = 5.5, 9 (1 + 1/4 + 1/9) - 5.5
    (5.5, 6.75)
    """
    rates = np.asarray(rates, dtype=float).ravel()
    rates = rates[rates > 0]
    if rates.size == 0:
        raise ValueError("no positive rate: the criterion never holds")
    end = _end(rates, rtol)
    tail_first, tail_second = tail_bounds(rates, end)
    mean, mean_q_err, pieces = _integrate(lambda t: survival(t)[0], _edges(rates, end), rtol)
    mean_err = mean_q_err + tail_first

    def spread(t: np.ndarray) -> np.ndarray:
        s, f = survival(t)
        return np.where(t < mean, 2 * (mean - t) * f, 2 * (t - mean) * s)

    var_T, var_q_err, more = _integrate(spread, _edges(rates, end, [mean]), rtol)
    # error of Var[T] from the quadrature, the tail, and the error of mu (dVar/dmu = 0 at mu
    # exactly; first order through the mu in the integrand it is 2 |int (T - mu)| mu_err ~ 0)
    var_err = var_q_err + tail_second + mean_err**2 + mean_err
    return CountMoments(mean, var_T - mean, var_T, mean_err, var_err, pieces + more)
