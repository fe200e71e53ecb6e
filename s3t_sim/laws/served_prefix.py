"""Each shard's served prefix after deletions: its exact law, expectation and expected performance.

- :func:`served_prefix_distribution` — one shard's law after ``R`` requests to the system
  (a request reaches the shard with probability ``shard_share``);
- the system's laws (every shard, the total, expected performance):
  :mod:`s3t_sim.laws.served_prefix_law`;
- :func:`prefix_law_at_times` — one shard's law at Poisson times (for
  :class:`~s3t_sim.laws.poisson.PoissonEmbeddingLaw`).

All by exact enumeration of the shard's ``2^L`` hit sets (:mod:`s3t_sim.laws.hitsets`).
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from s3t_sim.checks import check_sequences
from s3t_sim.laws.hitsets import hit_set_law, served_prefix_by_hit_set, subset_masks
from s3t_sim.priors import shard_prior

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
