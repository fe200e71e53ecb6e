"""Cyclic rotations of the slice order (uniform deletion priors).

For ``B <= L`` the set is ``B`` rotations of ``0, 1, ..., L-1`` with consecutive or
strided starts. For ``B > L`` it is a *balanced prefix tree*: every slice leads
``floor(B/L)`` or ``ceil(B/L)`` sequences, and recursively, below every prefix with
``c`` sequences and ``n`` remaining slices, each next slice leads ``floor(c/n)`` or
``ceil(c/n)`` of them. The remaining slices below a prefix are kept in rotation order
(the suffix after the chosen slice, then the part before it), so the first ``L`` rows
of a ``B > L`` set are exactly the ``L`` rotations.
"""
from __future__ import annotations

import numpy as np

from s3t_sim.checks import check_budget, check_choice, check_int

STARTS = ("consecutive", "strided")


def rotation_starts(L: int, B: int, starts: str = "consecutive") -> np.ndarray:
    """First slices of B rotations: ``0..B-1`` (consecutive) or ``floor(i*L/B)`` (strided)."""
    L = check_int("L", L, 1)
    B = check_int("B", B, 1, L)
    check_choice("starts", starts, STARTS)
    return _chosen_indices(L, B, starts)


def _chosen_indices(n: int, count: int, starts: str) -> np.ndarray:
    """``count`` of the positions ``0..n-1``: the first ones, or spread ``n/count`` apart."""
    if starts == "consecutive":
        return np.arange(count, dtype=np.int64)
    return (np.arange(count, dtype=np.int64) * n) // count


def cyclic_rotations(L: int, B: int, starts: str = "consecutive") -> np.ndarray:
    """B rotations of the order 0, 1, ..., L-1 as an int array of shape (B, L), for B <= L.

    Examples
    --------
    >>> cyclic_rotations(4, 2, "strided").tolist()
    [[0, 1, 2, 3], [2, 3, 0, 1]]
    """
    first = rotation_starts(L, B, starts)
    return (first[:, None] + np.arange(L)[None, :]) % L


def balanced_counts(total: int, n: int, starts: str = "consecutive") -> np.ndarray:
    """Split ``total`` sequences over ``n`` leaders as evenly as possible.

    Every leader gets ``total // n``; the ``total % n`` extra ones go to the first
    leaders (consecutive) or to leaders spread evenly (strided).

    Examples
    --------
    >>> balanced_counts(7, 3).tolist()
    [3, 2, 2]
    >>> balanced_counts(2, 6, "strided").tolist()
    [1, 0, 0, 1, 0, 0]
    """
    counts = np.full(n, total // n, dtype=np.int64)
    counts[_chosen_indices(n, total % n, starts)] += 1
    return counts


def balanced_prefix_tree(L: int, B: int, starts: str = "consecutive") -> np.ndarray:
    """Cyclic selection for any budget ``1 <= B <= L!``: an int array (B, L) of distinct orders.

    Below every prefix holding ``c`` sequences with ``n`` slices left, the next slice
    (taken in rotation order of the remaining slices) leads ``floor(c/n)`` or
    ``ceil(c/n)`` sequences (:func:`balanced_counts`). Since ``c <= n!`` implies
    ``ceil(c/n) <= (n-1)!``, the recursion always ends in distinct full orders. Rows are
    interleaved so that the first ``min(B, L)`` are the plain rotations; for ``B <= L``
    the result equals :func:`cyclic_rotations`.

    Reference: the balanced tree of the S3T authors' scripts (spec §1, "Cyclic rotation").

    Examples
    --------
    >>> balanced_prefix_tree(3, 4).tolist()
    [[0, 1, 2], [1, 2, 0], [2, 0, 1], [0, 2, 1]]
    """
    L = check_int("L", L, 1)
    B = check_budget(B, L)
    check_choice("starts", starts, STARTS)
    rows = _balanced_subtree(list(range(L)), B, starts)
    return np.asarray(rows, dtype=np.int64).reshape(B, L)


def _balanced_subtree(remaining: list[int], count: int, starts: str) -> list[list[int]]:
    n = len(remaining)
    if count == 1:
        return [remaining]
    per_leader = balanced_counts(count, n, starts)
    branches = []
    for i, c in enumerate(per_leader):
        if c:
            rest = remaining[i + 1:] + remaining[:i]  # rotation order of what is left
            branches.append([[remaining[i]] + row for row in _balanced_subtree(rest, int(c), starts)])
    # Interleave: round j takes the j-th sequence of every leader that has one.
    return [branch[j] for j in range(max(map(len, branches))) for branch in branches if j < len(branch)]


def cyclic_sequences(L: int, B: int, starts: str = "consecutive") -> np.ndarray:
    """Cyclic selection: rotations for ``B <= L``, the balanced prefix tree beyond.

    Examples
    --------
    >>> cyclic_sequences(6, 3, "strided")[:, 0].tolist()
    [0, 2, 4]
    """
    L = check_int("L", L, 1)
    B = check_budget(B, L)
    if B <= L:
        return cyclic_rotations(L, B, starts)
    return balanced_prefix_tree(L, B, starts)
