"""Cyclic rotations of the slice order (uniform deletion priors).

Starter version for B <= L; the selection issue extends it to B > L (balanced prefix tree).
"""
from __future__ import annotations

import numpy as np

from s3t_sim.validation import check_choice, check_int


def rotation_starts(L: int, B: int, starts: str = "consecutive") -> np.ndarray:
    """First slices of B rotations: ``0..B-1`` (consecutive) or ``round(i*L/B)`` (strided)."""
    L = check_int("L", L, 1)
    B = check_int("B", B, 1, L)
    check_choice("starts", starts, ("consecutive", "strided"))
    if starts == "consecutive":
        return np.arange(B, dtype=np.int64)
    return (np.arange(B, dtype=np.int64) * L) // B


def cyclic_rotations(L: int, B: int, starts: str = "consecutive") -> np.ndarray:
    """B rotations of the order 0, 1, ..., L-1 as an int array of shape (B, L).

    Examples
    --------
    >>> cyclic_rotations(4, 2, "strided").tolist()
    [[0, 1, 2, 3], [2, 3, 0, 1]]
    """
    first = rotation_starts(L, B, starts)
    return (first[:, None] + np.arange(L)[None, :]) % L
