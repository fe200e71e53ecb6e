"""The law of a shard's hit set: which of its L slices deletion requests have hit.

A request hits this shard with probability ``shard_share`` (q) and then slice ``i`` with
probability ``p_i`` (the shard's slice prior, summing to ``P <= 1``; the remaining
``1 - P`` goes to the other shards). For every slice set ``S`` with mass
``p(S) = sum_{i in S} p_i``, one request stays inside ``S`` with probability
``x(S) = 1 - q (P - p(S))``, so after ``r`` i.i.d. requests

    P(D ⊆ S) = x(S)^r,

and ``P(D = S) = sum_{E ⊆ S} (-1)^{|S| - |E|} P(D ⊆ E)`` by inclusion–exclusion, computed
for all ``2^L`` sets at once by a Möbius transform (:func:`mobius`). In continuous time
(requests a rate-1 Poisson process) ``P(D(u) ⊆ S) = exp(-u q (P - p(S)))``.

Every exact hit-set law of the project lives here: the served-prefix laws of
:mod:`s3t_sim.laws.served_prefix`, the selection objectives of :mod:`s3t_sim.selection.objectives` and
the planner's time-averaged performance (:mod:`analysis.planning`). Sets are indexed by
bit masks: set number ``b`` holds slice ``i`` iff bit ``i`` of ``b`` is set.

Reference: inclusion–exclusion / Möbius inversion on the Boolean lattice, e.g. Stanley,
*Enumerative Combinatorics* Vol. 1, §3.7; the S3T deletion model, Chowdhury et al., ICLR 2025.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from s3t_sim.prefix import served_prefix
from s3t_sim.checks import check_int, check_real

MAX_HIT_SET_SLICES = 20  # 2^20 sets: about 8 MB per float array


def subset_masks(L: int) -> np.ndarray:
    """All ``2^L`` slice sets as a bool array ``(2^L, L)``; row ``b`` marks the bits of ``b``.

    Examples
    --------
    >>> subset_masks(2).astype(int).tolist()
    [[0, 0], [1, 0], [0, 1], [1, 1]]
    """
    L = check_int("L", L, 0, MAX_HIT_SET_SLICES)
    index = np.arange(2**L, dtype=np.int64)
    return ((index[:, None] >> np.arange(L)) & 1).astype(bool)


def subset_mass(prior: ArrayLike) -> np.ndarray:
    """``p(S)`` for every slice set ``S`` in :func:`subset_masks` order, shape ``(2^L,)``.

    Examples
    --------
    >>> subset_mass([0.25, 0.5]).tolist()
    [0.0, 0.25, 0.5, 0.75]
    """
    p = np.asarray(prior, dtype=float)
    return subset_masks(p.size) @ p


def mobius(cumulative: np.ndarray) -> np.ndarray:
    """Invert ``F(S) = sum_{D ⊆ S} f(D)`` over the last axis (length ``2^L``): returns ``f``.

    One pass per bit, ``O(L 2^L)``: ``f(S) = sum_{E ⊆ S} (-1)^{|S| - |E|} F(E)``.

    Examples
    --------
    >>> mobius(np.array([0.25, 0.5, 0.5, 1.0])).tolist()
    [0.25, 0.25, 0.25, 0.25]
    """
    f = np.array(cumulative, dtype=float, copy=True)
    size = f.shape[-1]
    L = size.bit_length() - 1
    if size != 2**L:
        raise ValueError(f"cumulative must have 2^L entries on its last axis; got {size}")
    lead = f.shape[:-1]
    for bit in range(L):
        view = f.reshape(*lead, -1, 2, 2**bit)
        view[..., 1, :] -= view[..., 0, :]
    return f


def _outside_mass(prior: ArrayLike, shard_share: float) -> np.ndarray:
    """``q (P - p(S))`` for every set ``S``: the probability that a request leaves ``S``."""
    p = np.asarray(prior, dtype=float)
    q = check_real("shard_share", shard_share, 0.0, 1.0, low_inclusive=False)
    return np.clip(q * (p.sum() - subset_mass(p)), 0.0, 1.0)


def hit_set_law(prior: ArrayLike, requests: int, *, average: bool = False, shard_share: float = 1.0) -> np.ndarray:
    """Exact law of the hit set after ``R`` i.i.d. requests: ``P(D = S)`` for every ``S``, shape ``(2^L,)``.

    ``P(D ⊆ S) = (1 - q (P - p(S)))^R`` (module docstring), Möbius-inverted. With
    ``average=True`` the law is averaged over ``R' = 1..R`` (a uniformly drawn request
    count): ``P(D ⊆ S) = (1/R) sum_{r=1}^R x(S)^r``.

    Parameters
    ----------
    prior : the shard's slice probabilities (length L, summing to at most 1).
    requests : R >= 0.
    average : average over R' = 1..R instead of R' = R.
    shard_share : q in (0, 1], the probability that a request reaches this shard.

    Examples
    --------
    >>> hit_set_law([0.5, 0.5], 2).round(3).tolist()   # {}, {0}, {1}, {0, 1}
    [0.0, 0.25, 0.25, 0.5]
    >>> hit_set_law([0.25, 0.25], 1).round(3).tolist()  # half the requests go elsewhere
    [0.5, 0.25, 0.25, 0.0]
    """
    R = check_int("requests", requests, 0)
    leave = _outside_mass(prior, shard_share)  # 1 - x(S): one request leaves S
    if R == 0:
        return np.clip(mobius(np.ones_like(leave)), 0.0, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_x = np.log1p(-leave)  # x^R = exp(R log x), accurate when x is close to 1
        if not average:
            inside = np.exp(R * log_x)
        else:  # (1/R) sum_{r=1}^R x^r = x (1 - x^R) / (R (1 - x))
            inside = np.where(leave > 0, (1.0 - leave) * -np.expm1(R * log_x) / (R * leave), 1.0)
    return np.clip(mobius(inside), 0.0, None)


def time_averaged_hit_set_law(prior: ArrayLike, horizon: float, *, shard_share: float = 1.0) -> np.ndarray:
    """Law of the hit set at a uniform time in ``[0, U]`` of a rate-1 Poisson request clock, shape ``(2^L,)``.

    With ``a(S) = q (P - p(S))`` the rate of requests leaving ``S``,
    ``P(D(u) ⊆ S) = e^{-a(S) u}``, whose average over ``u`` in ``[0, U]`` is

        (1/U) int_0^U e^{-a u} du = (1 - e^{-a U}) / (a U)    (1 when a = 0),

    Möbius-inverted over the ``2^L`` sets. ``law @ g`` is then the time average
    ``(1/U) int_0^U E[g(D(u))] du`` of any function ``g`` of the hit set.

    Examples
    --------
    >>> law = time_averaged_hit_set_law([1.0], 2.0)   # P(no hit by u) = e^{-u}: (1 - e^{-2}) / 2
    >>> law.round(4).tolist()
    [0.4323, 0.5677]
    """
    U = check_real("horizon", horizon, 0.0, None, low_inclusive=False)
    aU = _outside_mass(prior, shard_share) * U
    with np.errstate(divide="ignore", invalid="ignore"):
        inside = np.where(aU > 1e-12, -np.expm1(-aU) / aU, 1.0 - aU / 2)
    return np.clip(mobius(inside), 0.0, None)


def served_prefix_by_hit_set(sequences: ArrayLike, chunk: int = 64) -> np.ndarray:
    """``k(S)`` (:func:`s3t_sim.prefix.served_prefix`) for every slice set ``S``, shape ``(2^L,)``, int.

    Examples
    --------
    >>> served_prefix_by_hit_set([[0, 1], [1, 0]]).tolist()   # {}, {0}, {1}, {0, 1}
    [2, 1, 1, 0]
    """
    seqs = np.asarray(sequences)
    masks = subset_masks(seqs.shape[1])
    best = np.zeros(masks.shape[0], dtype=np.int64)
    for start in range(0, seqs.shape[0], chunk):
        np.maximum(best, served_prefix(seqs[start:start + chunk], masks), out=best)
    return best
