"""Time-averaged served performance of the alive vote: a dead shard leaves the vote.

The served ensemble answers by the mean of ``f(k_s)`` over the live shards (``k_s > 0``;
:meth:`s3t_sim.performance.PerformanceModel.alive_vote`), ``f(0)`` when all are dead. The
shards are left alone (no retraining) over ``[0, U]`` and are independent (Poisson
embedding: every slice is first hit at its own exponential time). With ``a_s(u) = P(k_s(u) > 0)``
and ``h_s(u) = E[f(k_s(u)) 1{k_s(u) > 0}]``, independence gives

    E[V(u)] = sum_s h_s(u) E[1 / (1 + N_{-s}(u))] + f(0) prod_s (1 - a_s(u)),

``N_{-s}`` the number of other live shards, and for a sum of independent Bernoulli(a_j)

    E[1 / (1 + N)] = int_0^1 prod_j (1 - a_j y) dy

(``E[x^N] = prod_j (1 - a_j + a_j x)``, integrated over x = 1 - y). Both integrals (y, and u
over the horizon) are Gauss–Legendre on geometric pieces (:func:`s3t_sim.renewal.time_nodes`),
accurate to rounding for these smooth, exponentially decaying integrands; alike shards are
one kind (:func:`s3t_sim.renewal.shard_kinds`), so the cost is O(kinds x 480^2), not O(m).
"""
from __future__ import annotations

import numpy as np

from s3t_sim.checks import check_real
from s3t_sim.renewal import LawFactory, ShardKind, exact_law, time_nodes


def alive_vote_average(kinds: list[ShardKind], performance: np.ndarray, horizon: float,
                       laws: LawFactory | None = None) -> float:
    """``(1/U) int_0^U E[V(u)] du``, V the alive vote of the shards ``kinds`` (rates per unit of u).

    ``performance`` is ``f(k)``, ``k = 0..L``; ``laws(kind, None)`` gives ``P(K(u) = k)``
    (default :func:`s3t_sim.renewal.exact_law`, ``L <= 14``).

    Examples
    --------
    >>> from s3t_sim.renewal import ShardKind
    >>> one = [ShardKind(np.array([[0]]), np.array([1.0]), 1)]   # alive until Exp(1): f = 1 then 0
    >>> bool(abs(alive_vote_average(one, np.array([0.0, 1.0]), 2.0) - (1 - np.exp(-2)) / 2) < 1e-12)
    True
    """
    f = np.asarray(performance, dtype=float)
    U = check_real("horizon", horizon, 0.0, None, low_inclusive=False)
    if f.size != kinds[0].rates.size + 1:
        raise ValueError(f"performance must have L + 1 = {kinds[0].rates.size + 1} values; got {f.size}")
    laws = laws or (lambda kind, first_hit: exact_law(kind.sequences, kind.rates, first_hit))
    t, wt = time_nodes(U)
    y, wy = time_nodes(1.0)
    laws_at = [laws(kind, None)(t) for kind in kinds]  # (T, L + 1) each
    alive = [1.0 - law[:, 0] for law in laws_at]
    served = [law[:, 1:] @ f[1:] for law in laws_at]
    log_all = sum(kind.count * np.log1p(-np.outer(a, y)) for kind, a in zip(kinds, alive))  # (T, Y)
    all_dead = np.prod([(1.0 - a) ** kind.count for kind, a in zip(kinds, alive)], axis=0)
    vote = f[0] * all_dead
    for kind, a, h in zip(kinds, alive, served):
        others = np.exp(log_all - np.log1p(-np.outer(a, y)))  # the other shards: one of this kind left out
        vote = vote + kind.count * h * (others @ wy)
    return float(wt @ vote / U)
