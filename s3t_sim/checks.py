"""Parameter checks shared by every public function (argument checks, not the comparison
with real runs, which lives in ``analysis``).

Each check raises ``ValueError`` (or ``TypeError``) with a message that names the
parameter, the allowed range and the value received, in the manner of scikit-learn.
"""
from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np


def check_int(name: str, value: Any, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as an ``int`` if it is an integer in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and float(value).is_integer():
            value = int(value)
        else:
            raise TypeError(f"{name} must be an integer; got {value!r}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        lo = "-inf" if low is None else str(low)
        hi = "inf" if high is None else str(high)
        raise ValueError(f"{name} must be an integer in [{lo}, {hi}]; got {value}")
    return value


def check_real(
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """Return ``value`` as a finite ``float`` inside the given interval."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {value!r}")
    value = float(value)
    ok = math.isfinite(value)
    if ok and low is not None:
        ok = value >= low if low_inclusive else value > low
    if ok and high is not None:
        ok = value <= high if high_inclusive else value < high
    if not ok:
        left = "[" if low_inclusive else "("
        right = "]" if high_inclusive else ")"
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        raise ValueError(f"{name} must be a finite number in {left}{lo}, {hi}{right}; got {value!r}")
    return value


def check_choice(name: str, value: Any, choices: "list[str] | tuple[str, ...]") -> str:
    """Return ``value`` if it is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def check_probabilities(name: str, p: Any, shape: tuple[int, ...] | None = None, atol: float = 1e-9) -> np.ndarray:
    """Return ``p`` as a float array of non-negative entries that sum to one."""
    arr = np.asarray(p, dtype=float)
    if shape is not None and arr.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}; got {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite numbers")
    if np.any(arr < 0):
        raise ValueError(f"{name} must be non-negative; its smallest entry is {arr.min()!r}")
    total = float(arr.sum())
    if abs(total - 1.0) > atol * max(1, arr.size):
        raise ValueError(f"{name} must sum to 1; it sums to {total!r}")
    return arr


def check_budget(B: Any, L: int) -> int:
    """Return the budget ``B`` checked against ``1 <= B <= L!`` (distinct orders of L slices)."""
    B = check_int("B", B, 1)
    if L <= 20 and B > math.factorial(L):
        raise ValueError(f"B must be an integer in [1, L!] = [1, {math.factorial(L)}] for L={L}; got {B}")
    return B


def check_sequences(name: str, sequences: Any, L: int) -> np.ndarray:
    """Return ``sequences`` as an int array of shape (B, L) whose rows are distinct permutations of 0..L-1."""
    arr = np.asarray(sequences)
    if arr.ndim != 2 or arr.shape[1] != L or arr.shape[0] < 1:
        raise ValueError(f"{name} must have shape (B, L) with L={L} and B >= 1; got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must contain integer slice indices; got dtype {arr.dtype}")
    target = np.arange(L)
    for i, row in enumerate(arr):
        if not np.array_equal(np.sort(row), target):
            raise ValueError(f"{name}[{i}] must be a permutation of 0..{L - 1}; got {row.tolist()}")
    if len({tuple(r) for r in arr.tolist()}) != arr.shape[0]:
        raise ValueError(f"{name} must contain distinct permutations; found duplicates")
    return arr.astype(np.int64)


def as_generator(seed: "int | np.random.Generator | None") -> np.random.Generator:
    """``seed`` itself when it is a numpy Generator, else ``np.random.default_rng(seed)``."""
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def check_request_counts(request_counts: Any) -> np.ndarray:
    """Return ``request_counts`` as a non-empty, non-decreasing int64 array of counts ``>= 0``."""
    counts = np.asarray(request_counts)
    if counts.ndim != 1 or counts.size == 0 or not np.issubdtype(counts.dtype, np.integer):
        raise ValueError(f"request_counts must be a non-empty 1-D array of integers; got {request_counts!r}")
    if np.any(counts < 0) or np.any(np.diff(counts) < 0):
        raise ValueError("request_counts must be non-negative and non-decreasing")
    return counts.astype(np.int64)


DEFAULT_MEMORY_BUDGET_GB = 2.0


def memory_budget_gb() -> float:
    """The memory a command may plan to use, in GB: ``S3T_MEMORY_GB`` or 2 GB."""
    import os

    text = os.environ.get("S3T_MEMORY_GB", "")
    try:
        value = float(text) if text else DEFAULT_MEMORY_BUDGET_GB
    except ValueError:
        raise ValueError(f"S3T_MEMORY_GB must be a positive number of GB; got {text!r}") from None
    return check_real("S3T_MEMORY_GB", value, 0.0, low_inclusive=False)


def check_memory(names: str, nbytes: float) -> None:
    """Refuse, before allocating, a request whose estimated memory ``nbytes`` exceeds the budget
    (:func:`memory_budget_gb`); ``names`` are the parameters that set its size."""
    budget = memory_budget_gb()
    if nbytes > budget * 2**30:
        raise ValueError(f"{names} too large: needs {_gigabytes(nbytes)} GB, above the memory budget of "
                         f"{budget:g} GB (set S3T_MEMORY_GB to change it)")


def _gigabytes(nbytes: float) -> str:
    """``nbytes`` in GB as ``%.3g`` ("more than 1e300" for an integer too large for a float)."""
    return f"about {nbytes / 2**30:.3g}" if nbytes < 1e300 else "more than 1e300"


def check_output_path(name: str, path: Any, folder: bool = True) -> str:
    """Return ``path`` if it can be written: not empty, and (``folder``) not an existing file,
    or (a file) not an existing folder, with no existing file among its parents."""
    import pathlib

    text = str(path)
    if not text.strip():
        raise ValueError(f"{name} must name a {'folder' if folder else 'file'}; got an empty string")
    p = pathlib.Path(text)
    if folder and p.exists() and not p.is_dir():
        raise ValueError(f"{name} must be a folder; {text!r} is an existing file")
    if not folder and p.is_dir():
        raise ValueError(f"{name} must be a file; {text!r} is an existing folder")
    for parent in p.parents:
        if parent.exists() and not parent.is_dir():
            raise ValueError(f"{name}: {str(parent)!r} in {text!r} is an existing file, not a folder")
    return text
