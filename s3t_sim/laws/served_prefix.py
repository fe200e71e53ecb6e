"""Each shard's served prefix after deletions: its exact law, expectation and expected performance.

- :func:`served_prefix_distribution` — one shard's law after ``R`` requests to the system
  (a request reaches the shard with probability ``shard_share``);
- :func:`system_served_prefix_distribution`, :func:`system_expected_served_prefix` — every
  shard of a system after ``r`` i.i.d. requests;
- :func:`expected_performance` — ``E[(1/m) sum_s f(k_s)]``;
- :func:`prefix_law_at_times` — one shard's law at Poisson times (for
  :class:`~s3t_sim.laws.poisson.PoissonEmbeddingLaw`).

All by exact enumeration of the shard's ``2^L`` hit sets (:mod:`s3t_sim.laws.hitsets`).
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from s3t_sim.checks import check_int, check_sequences
from s3t_sim.laws.hitsets import hit_set_law, served_prefix_by_hit_set, subset_masks
from s3t_sim.priors import parse_prior, shard_prior
from s3t_sim.system import S3TSystem

MAX_SHARD_SLICES = 14  # per-shard enumeration limit of the system laws (2^L hit sets)
EXACT_MAX_L = 16  # one shard's law: 2^16 hit sets stay well under a second


def checked_shard(sequences: ArrayLike, prior: "ArrayLike | None") -> tuple[np.ndarray, np.ndarray]:
    """One shard's sequence set ``(B, L)`` and its prior (length ``L``; ``None`` is uniform), checked."""
    arr = np.asarray(sequences)
    L = arr.shape[-1] if arr.ndim == 2 else -1
    seqs = check_sequences("sequences", arr, L)
    return seqs, shard_prior(prior, seqs.shape[1])


def served_prefix_distribution(
    sequences: ArrayLike, prior: "ArrayLike | None" = None, requests: int = 10, *, shard_share: float = 1.0
) -> np.ndarray:
    """Exact pmf of one shard's served prefix k after R requests, shape (L+1,): entry k is P(k).

    Examples
    --------
    >>> served_prefix_distribution([[0, 1], [1, 0]], [0.5, 0.5], 1).tolist()
    [0.0, 1.0, 0.0]
    """
    seqs, p = checked_shard(sequences, prior)
    L = seqs.shape[1]
    if L > EXACT_MAX_L:
        raise ValueError(f"exact served-prefix law needs L <= {EXACT_MAX_L}; got L={L}")
    law = hit_set_law(p, requests, shard_share=shard_share)
    return np.bincount(served_prefix_by_hit_set(seqs), weights=law, minlength=L + 1)


def prefix_law_at_times(sequences: np.ndarray, p_row: np.ndarray, fallback: bool, t: np.ndarray) -> np.ndarray:
    """``P(k_s(t) = k)`` for times ``t`` ``(T,)`` and ``k = 0..L``, shape ``(T, L + 1)``, for one
    shard (enumerating its hit sets)."""
    L = p_row.size
    if not fallback:
        law = np.zeros((t.size, L + 1))
        law[:, L] = np.exp(-t * p_row.sum())
        law[:, 0] = 1 - law[:, L]
        return law
    ks = shard_tables(sequences)[1]
    hit = -np.expm1(-np.outer(t, p_row))  # (T, L): slices are hit independently by time t
    probs = np.ones((t.size, 1))
    for i in range(L):  # P(D = S) as a Kronecker product; slice i is bit i of the set index
        probs = np.concatenate([probs * (1.0 - hit[:, i : i + 1]), probs * hit[:, i : i + 1]], axis=1)
    return probs @ (ks[:, None] == np.arange(L + 1)[None, :]).astype(float)


SHARD_TABLES: dict = {}


def shard_tables(sequences: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The shard's ``2^L`` hit sets as masks and their served prefixes ``k(D)`` (cached per sequence set)."""
    key = sequences.tobytes() + bytes(sequences.shape)
    if key not in SHARD_TABLES:
        L = sequences.shape[1]
        if L > MAX_SHARD_SLICES:
            raise ValueError(f"exact served-prefix enumeration needs L <= {MAX_SHARD_SLICES}; got L = {L}")
        SHARD_TABLES[key] = (subset_masks(L), served_prefix_by_hit_set(sequences))
    return SHARD_TABLES[key]


def system_served_prefix_distribution(system: S3TSystem, prior, r: int) -> np.ndarray:
    """Exact law of each shard's served prefix after ``r`` i.i.d. requests, ``(m, L + 1)``.

    For shard ``s`` with slice probabilities ``p`` and total ``P_s``, the probability that its
    hit set is exactly ``D`` is, by inclusion–exclusion,

        P(D) = sum_{E subset D} (-1)^{|D| - |E|} (1 - P_s + p(E))^r,

    computed for all ``D`` at once by a Moebius transform over the ``2^L`` subsets
    (:func:`s3t_sim.laws.hitsets.hit_set_law`); then
    ``P(k_s = k) = sum_{D : k(D) = k} P(D)``. Exact up to floating point; ``L <= 14``.

    Examples
    --------
    >>> law = system_served_prefix_distribution(S3TSystem(np.array([[[0, 1]]])), None, 1)
    >>> law.round(3).tolist()
    [[0.5, 0.5, 0.0]]
    """
    r = check_int("r", r, 0)
    prior = parse_prior(prior, system.m, system.L)
    L = system.L
    if L > MAX_SHARD_SLICES:
        raise ValueError(f"exact served-prefix enumeration needs L <= {MAX_SHARD_SLICES}; got L = {L}")
    out = np.zeros((system.m, L + 1))
    for s in range(system.m):
        if prior[s].sum() == 0:  # no request reaches this shard
            out[s, system.L] = 1.0
            continue
        law = hit_set_law(prior[s], r)  # rows of the (m, L) prior sum to P_s: x(E) = 1 - P_s + p(E)
        if system.checkpoint_fallback:
            ks = shard_tables(system.sequences[s])[1]
        else:
            ks = np.where(np.arange(law.size) > 0, 0, L)  # any hit kills a SISA shard without fallback
        out[s] = np.bincount(ks, weights=law, minlength=L + 1)
    return out


def system_expected_served_prefix(system: S3TSystem, prior, r: int) -> np.ndarray:
    """``E[k_s]`` after ``r`` i.i.d. requests for every shard, ``(m,)`` (exact, small ``L``)."""
    law = system_served_prefix_distribution(system, prior, r)
    return law @ np.arange(system.L + 1)


def expected_performance(system: S3TSystem, prior, requests: "list[int] | np.ndarray", performance) -> np.ndarray:
    """Exact expected aggregate performance ``E[(1/m) sum_s f(k_s)]`` after each request count.

    The aggregate is linear in the shards, so each shard's marginal prefix law
    (:func:`system_served_prefix_distribution`) suffices: ``(1/m) sum_s sum_k P(k_s = k) f(k)``.

    Examples
    --------
    >>> from s3t_sim.performance import linear_performance
    >>> expected_performance(S3TSystem(np.array([[[0, 1], [1, 0]]])), None, [0, 1], linear_performance(2)).tolist()
    [1.0, 0.5]
    """
    f = np.asarray(performance.values if hasattr(performance, "values") else performance, dtype=float)
    if f.shape != (system.L + 1,):
        raise ValueError(f"performance must give f(0..L) with L={system.L}; got {f.size} values")
    return np.array([(system_served_prefix_distribution(system, prior, int(r)) @ f).mean() for r in requests])
