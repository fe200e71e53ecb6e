"""Baseline sequence sets: random distinct orders, the full budget (all L! orders), SISA."""
from __future__ import annotations

import itertools
import math

import numpy as np

from s3t_sim.checks import as_generator, check_budget, check_int

MAX_FULL_L = 9  # 9! = 362,880 rows; beyond that "all orders" is not a practical set


def unrank_permutations(indices: np.ndarray, L: int) -> np.ndarray:
    """Permutations of ``0..L-1`` with the given lexicographic ranks (Lehmer code), shape (len, L)."""
    indices = np.asarray(indices, dtype=np.int64).copy()
    out = np.empty((indices.size, L), dtype=np.int64)
    available = np.tile(np.arange(L, dtype=np.int64), (indices.size, 1))
    rows = np.arange(indices.size)
    for position in range(L):
        block = math.factorial(L - 1 - position)
        digit = indices // block
        indices %= block
        out[:, position] = available[rows, digit]
        # drop the used slice from each row's list of available slices
        keep = np.ones_like(available, dtype=bool)
        keep[rows, digit] = False
        available = available[keep].reshape(indices.size, L - 1 - position)
    return out


def random_permutations(L: int, B: int, seed: int | np.random.Generator | None = None) -> np.ndarray:
    """B distinct orders drawn uniformly at random without replacement, shape (B, L).

    For ``L <= 20`` the ranks are drawn without replacement among ``0..L!-1`` and
    unranked; beyond, permutations are drawn and duplicates (probability < B²/L!)
    are redrawn.

    Examples
    --------
    >>> random_permutations(4, 3, seed=0).shape
    (3, 4)
    """
    L = check_int("L", L, 1)
    B = check_budget(B, L)
    rng = as_generator(seed)
    if L <= 20:
        total = math.factorial(L)
        if total <= 2**62:
            ranks = rng.choice(total, size=B, replace=False) if total < 10**7 else _distinct_ranks(rng, total, B)
            return unrank_permutations(np.asarray(ranks, dtype=np.int64), L)
    rows: dict[tuple, None] = {}
    while len(rows) < B:
        rows.setdefault(tuple(rng.permutation(L).tolist()), None)
    return np.array(list(rows), dtype=np.int64)


def _distinct_ranks(rng: np.random.Generator, total: int, B: int) -> list[int]:
    ranks: dict[int, None] = {}
    while len(ranks) < B:
        ranks.setdefault(int(rng.integers(total)), None)
    return list(ranks)


def full_budget(L: int, B: int | None = None) -> np.ndarray:
    """All ``L!`` orders in lexicographic order (the "full budget" baseline), shape (L!, L).

    ``B`` may be given as a check; it must then equal ``L!``.

    Examples
    --------
    >>> full_budget(3).tolist()
    [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]]
    """
    L = check_int("L", L, 1, MAX_FULL_L)
    total = math.factorial(L)
    if B is not None and check_budget(B, L) != total:
        raise ValueError(f"method 'full' trains all L! orders: B must equal L! = {total} for L={L}; got B={B}")
    return np.array(list(itertools.permutations(range(L))), dtype=np.int64).reshape(total, L)


def sisa(L: int, B: int = 1) -> np.ndarray:
    """SISA: one sequence per shard, the natural order ``0..L-1``, shape (1, L)."""
    L = check_int("L", L, 1)
    if check_int("B", B, 1) != 1:
        raise ValueError(f"method 'sisa' trains one sequence per shard: B must be 1; got B={B}")
    return np.arange(L, dtype=np.int64)[None, :]
