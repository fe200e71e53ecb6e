"""Performance models ``f(k)``: the accuracy of a shard model that serves ``k`` active stages.

A model is a non-decreasing table ``f(0), f(1), ..., f(L)``; ``f(0)`` is a dead shard (by
default chance accuracy). The system's aggregate performance is the mean over shards,
``(1/m) * sum_s f(k_s)`` — the accuracy of an ensemble that weighs shards equally,
counting dead shards at ``f(0)``.

- :func:`saturating_performance` — ``f(k) = f0 + (fmax - f0) (1 - e^{-k n / scale})``, ``n`` the
  examples per slice (1 where no data size is known: then ``scale`` counts slices);
- :func:`linear_performance` — ``f(k) = f0 + (fL - f0) k / L``;
- :func:`performance_from_csv` — a measured table with columns ``k,accuracy`` (the training
  backend writes one); missing ``k`` are linearly interpolated, ``k = 0`` defaults to ``f0``.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from s3t_sim.checks import check_int, check_real


@dataclass(frozen=True)
class PerformanceModel:
    """A table ``values[k] = f(k)`` for ``k = 0..L`` (non-decreasing)."""

    values: np.ndarray
    name: str = "table"

    def __post_init__(self) -> None:
        v = np.asarray(self.values, dtype=float)
        if v.ndim != 1 or v.size < 2 or not np.all(np.isfinite(v)):
            raise ValueError(f"performance values must be a finite 1-D table f(0..L) with L >= 1; got shape {v.shape}")
        if np.any(np.diff(v) < -1e-12):
            raise ValueError("performance values must be non-decreasing in k (more stages never hurt)")
        object.__setattr__(self, "values", v)

    @property
    def L(self) -> int:
        return self.values.size - 1

    def __call__(self, k: "np.ndarray | int") -> np.ndarray:
        """``f(k)`` element-wise for integer ``k`` in ``0..L``."""
        return self.values[np.asarray(k)]

    def aggregate(self, prefixes: np.ndarray) -> np.ndarray:
        """Aggregate performance ``mean_s f(k_s)`` over the last axis (shards)."""
        return self(prefixes).mean(axis=-1)

    def alive_vote(self, prefixes: np.ndarray) -> np.ndarray:
        """Served-ensemble model: mean of ``f(k_s)`` over the *live* shards (``k_s > 0``; a dead
        shard leaves the vote), ``f(0)`` when every shard is dead; last axis = shards."""
        prefixes = np.asarray(prefixes)
        alive = prefixes > 0
        live = np.where(alive, self(prefixes), 0.0).sum(axis=-1)
        count = alive.sum(axis=-1)
        return np.where(count > 0, live / np.maximum(count, 1), self.values[0])


def saturating_performance(
    L: int, f0: float = 0.5, fmax: float = 0.9, scale: float = 2.0, samples_per_slice: float = 1.0
) -> PerformanceModel:
    """Saturating curve ``f(k) = f0 + (fmax - f0) (1 - exp(-k * samples_per_slice / scale))``.

    ``f0`` is a dead shard's accuracy, ``fmax`` the limit with unlimited data, ``scale`` the
    number of training examples a served prefix must have seen to close the gap by ``1/e``.
    Where no data size is known (``samples_per_slice = 1``) ``scale`` counts slices.

    Examples
    --------
    >>> f = saturating_performance(4, 0.5, 0.9, 2.0)
    >>> round(float(f(0)), 3), round(float(f(4)), 4)  # 0.5 + 0.4 (1 - e^-2)
    (0.5, 0.8459)
    """
    L = check_int("L", L, 1)
    f0 = check_real("f0", f0)
    fmax = check_real("fmax", fmax, f0)
    scale = check_real("scale", scale, 0.0, None, low_inclusive=False)
    samples_per_slice = check_real("samples_per_slice", samples_per_slice, 0.0, None, low_inclusive=False)
    seen = np.arange(L + 1) * samples_per_slice
    return PerformanceModel(f0 + (fmax - f0) * -np.expm1(-seen / scale), f"saturating({f0:g},{fmax:g},{scale:g})")


def linear_performance(L: int, f0: float = 0.0, fL: float = 1.0) -> PerformanceModel:
    """Linear curve ``f(k) = f0 + (fL - f0) k / L``; with the defaults ``f(k) = k / L``."""
    L = check_int("L", L, 1)
    f0 = check_real("f0", f0)
    fL = check_real("fL", fL, f0)
    return PerformanceModel(f0 + (fL - f0) * np.arange(L + 1) / L, "linear")


def performance_from_csv(path: "str | Path", L: int | None = None, f0: float | None = None) -> PerformanceModel:
    """Measured table from a CSV with columns ``k,accuracy`` (one row per active prefix length).

    Rows for missing ``k`` are linearly interpolated; ``k = 0`` takes ``f0`` when given (chance
    accuracy), else the smallest measured value. Several rows for one ``k`` are averaged.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"performance CSV file not found: {path}")
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or not {"k", "accuracy"} <= set(reader.fieldnames):
            raise ValueError(f"performance CSV {path} must have columns 'k' and 'accuracy'; got {reader.fieldnames}")
        rows = [(int(float(r["k"])), float(r["accuracy"])) for r in reader]
    if not rows:
        raise ValueError(f"performance CSV {path} has no rows")
    ks = np.array([k for k, _ in rows])
    acc = np.array([a for _, a in rows])
    if np.any(ks < 0):
        raise ValueError(f"performance CSV {path}: k must be >= 0")
    L = int(ks.max()) if L is None else check_int("L", L, 1)
    if ks.max() > L:
        raise ValueError(f"performance CSV {path} has k up to {ks.max()} but L={L}")
    known = np.unique(ks)
    means = np.array([acc[ks == k].mean() for k in known])
    if 0 not in known:
        known = np.concatenate([[0], known])
        means = np.concatenate([[means.min() if f0 is None else f0], means])
    values = np.interp(np.arange(L + 1), known, means)
    # Measured curves are noisy; the model needs f non-decreasing (a prefix never beats a longer one).
    return PerformanceModel(np.maximum.accumulate(values), f"measured({path.name})")


def parse_performance(spec: "str | PerformanceModel", L: int, samples_per_slice: float = 1.0) -> PerformanceModel:
    """Model from ``saturating[:f0,fmax,scale]``, ``linear[:f0,fL]`` or a CSV path with columns ``k,accuracy``.

    ``samples_per_slice`` gives the saturating curve's ``scale`` its unit (examples; slices
    when it is 1), see :func:`saturating_performance`.

    Examples
    --------
    >>> parse_performance("linear:0,1", 4).values.tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0]
    """
    if isinstance(spec, PerformanceModel):
        return spec
    name, sep, params = spec.partition(":")
    if name in ("saturating", "linear"):
        try:
            values = [float(v) for v in params.split(",")] if sep else []
        except ValueError:
            raise ValueError(f"performance parameters in {spec!r} must be numbers") from None
        most = 3 if name == "saturating" else 2
        if len(values) > most:
            raise ValueError(f"performance {name} takes at most {most} parameters; got {len(values)} in {spec!r}")
        if name == "linear":
            return linear_performance(L, *values)
        return saturating_performance(L, *values, samples_per_slice=samples_per_slice)
    if Path(spec).suffix.lower() == ".csv" or Path(spec).exists():
        return performance_from_csv(spec, L)
    raise ValueError(f"performance must be 'saturating[:f0,fmax,scale]', 'linear[:f0,fL]' or a CSV file; got {spec!r}")
