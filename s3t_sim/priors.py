"""Deletion priors: the probability that a request hits slice ``(shard, slice)``.

A prior is a float array of shape ``(m, L)`` that sums to one. This module builds them:

- :func:`uniform_prior` — every slice ``1/(mL)`` (the paper's model);
- :func:`slice_prior` — any per-slice vector for the whole system, checked and reshaped;
- :func:`shard_prior` — one shard's per-slice vector (length ``L``), checked; ``None`` is uniform;
- :func:`per_point_prior` — a per-*point* request law (Zipf, exponential, Pareto) over
  ``N = m * L * points_per_slice`` data points, mapped onto slices by summing the weights
  of the points each slice holds;
- :func:`load_prior_csv` — a CSV file of per-slice weights;
- :func:`parse_prior` — the command-line spellings ``uniform``, ``zipf:1.2``,
  ``exponential:3``, ``pareto:1.16`` or a CSV path.

Per-point laws (points ranked ``i = 1..N`` by popularity, ``x_i = (i - 1/2) / N``):

- ``zipf:s``        weight ``i^(-s)``, ``s > 0``;
- ``exponential:r`` weight ``exp(-r * x_i)``, ``r > 0`` (rate over the normalised rank);
- ``pareto:a``      weight ``~ x^(-1/a)``, ``a > 0``: the weights are the quantiles of a
  Pareto(a) law at evenly spaced levels (for ``a > 1`` averaged over each point's band
  ``((i-1)/N, i/N]``, exactly), so ``a = 1.16`` gives the 80/20 rule (the top 20% of points
  draw 80% of the requests).

Points are then assigned to slices: ``"random"`` (default; the data are randomly
partitioned into equal slices, as SISA does) or ``"sorted"`` (contiguous blocks in rank
order: slice ``(0, 0)`` holds the most popular points).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from s3t_sim.checks import check_choice, check_int, check_probabilities, check_real

POINT_LAWS = ("zipf", "exponential", "pareto")
ASSIGNMENTS = ("random", "sorted")


def uniform_prior(m: int, L: int) -> np.ndarray:
    """Uniform prior ``1/(mL)`` on every slice, shape ``(m, L)``.

    Examples
    --------
    >>> uniform_prior(2, 2).tolist()
    [[0.25, 0.25], [0.25, 0.25]]
    """
    m = check_int("m", m, 1)
    L = check_int("L", L, 1)
    return np.full((m, L), 1.0 / (m * L))


def slice_prior(p: np.ndarray, m: int, L: int, normalise: bool = False) -> np.ndarray:
    """Check a per-slice prior (any shape with ``m * L`` entries) and return it as ``(m, L)``.

    With ``normalise=True`` non-negative weights are divided by their sum first.
    """
    m = check_int("m", m, 1)
    L = check_int("L", L, 1)
    arr = np.asarray(p, dtype=float)
    if arr.size != m * L:
        raise ValueError(f"prior must have m*L = {m * L} entries (m={m}, L={L}); got {arr.size}")
    arr = arr.reshape(m, L)
    if normalise:
        if not np.all(np.isfinite(arr)) or np.any(arr < 0) or arr.sum() <= 0:
            raise ValueError("prior weights must be finite, non-negative and not all zero")
        arr = arr / arr.sum()
    return check_probabilities("prior", arr, (m, L))


def shard_prior(prior: "ArrayLike | None", L: int) -> np.ndarray:
    """One shard's per-slice deletion probabilities (length ``L``, summing to one); ``None`` is uniform.

    Examples
    --------
    >>> shard_prior(None, 4).tolist()
    [0.25, 0.25, 0.25, 0.25]
    """
    if prior is None:
        return np.full(L, 1.0 / L)
    return check_probabilities("prior", prior, shape=(L,))


def point_weights(law: str, param: float, n_points: int) -> np.ndarray:
    """Per-point request probabilities of ``n_points`` points ranked by popularity (see module doc).

    Examples
    --------
    >>> w = point_weights("pareto", 1.16, 1000)
    >>> round(float(w[:200].sum()), 3)   # the 80/20 rule
    0.801
    """
    check_choice("law", law, POINT_LAWS)
    n_points = check_int("n_points", n_points, 1)
    param = check_real(f"{law} parameter", param, 0.0, None, low_inclusive=False)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # an extreme parameter: refused below
        w = _point_weights(law, param, n_points)
    if not np.all(np.isfinite(w)):
        raise ValueError(f"{law} parameter {param!r} is too extreme: the weights of {n_points} points overflow")
    return w


def _point_weights(law: str, param: float, n_points: int) -> np.ndarray:
    rank = np.arange(1, n_points + 1, dtype=float)
    x = (rank - 0.5) / n_points
    if law == "zipf":
        log_w = -param * np.log(rank)
    elif law == "exponential":
        log_w = -param * x
    elif param > 1:
        # mean of the Pareto quantile x^(-1/a) over each point's band of levels (exact 80/20 at 1.16)
        edges = np.arange(n_points + 1, dtype=float) / n_points
        w = np.diff(edges ** (1 - 1 / param))
        return w / w.sum()
    else:
        log_w = -np.log(x) / param  # a <= 1 has no finite mean: the quantile at the band's midpoint
    w = np.exp(log_w - log_w.max())
    return w / w.sum()


def per_point_prior(
    law: str,
    param: float,
    m: int,
    L: int,
    points_per_slice: int = 100,
    assignment: str = "random",
    seed: "int | np.random.Generator | None" = 0,
) -> np.ndarray:
    """Slice prior ``(m, L)`` from a per-point law over ``m * L * points_per_slice`` points.

    Each slice holds ``points_per_slice`` points; its probability is the sum of their weights.
    ``assignment="random"`` partitions the points uniformly at random (using ``seed``);
    ``"sorted"`` fills slices in rank order.

    Examples
    --------
    >>> p = per_point_prior("zipf", 1.2, 2, 3, assignment="sorted")
    >>> p.shape, bool(p[0, 0] > p[1, 2])
    ((2, 3), True)
    """
    m = check_int("m", m, 1)
    L = check_int("L", L, 1)
    points_per_slice = check_int("points_per_slice", points_per_slice, 1)
    check_choice("assignment", assignment, ASSIGNMENTS)
    w = point_weights(law, param, m * L * points_per_slice)
    if assignment == "random":
        w = np.random.default_rng(seed).permutation(w)
    p = w.reshape(m * L, points_per_slice).sum(axis=1).reshape(m, L)
    return p / p.sum()


def load_prior_csv(path: "str | Path", m: int, L: int) -> np.ndarray:
    """Read per-slice weights from a CSV file and normalise them to a prior ``(m, L)``.

    The file holds ``m`` rows of ``L`` comma-separated non-negative numbers, or ``m * L``
    numbers in one row or column (row-major: shard by shard). Lines starting with ``#``
    and a non-numeric header line are skipped.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"prior CSV file not found: {path}")
    lines = [ln for ln in path.read_text().splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    values: list[float] = []
    for number, line in enumerate(lines):
        try:
            values.extend(float(v) for v in line.split(","))
        except ValueError:
            if number == 0:
                continue  # header
            raise ValueError(f"prior CSV {path}: line {number + 1} is not numeric: {line!r}") from None
    return slice_prior(np.array(values), m, L, normalise=True)


def parse_prior(
    spec: "str | np.ndarray | None",
    m: int,
    L: int,
    *,
    points_per_slice: int = 100,
    assignment: str = "random",
    seed: "int | np.random.Generator | None" = 0,
) -> np.ndarray:
    """Prior ``(m, L)`` from ``None``/``"uniform"``, ``"zipf:s"``, ``"exponential:r"``,
    ``"pareto:a"``, a CSV path, or an array of per-slice probabilities.

    Examples
    --------
    >>> parse_prior("uniform", 1, 2).tolist()
    [[0.5, 0.5]]
    >>> parse_prior("zipf:1.2", 4, 4).shape
    (4, 4)
    """
    if spec is None or (isinstance(spec, str) and spec == "uniform"):
        return uniform_prior(m, L)
    if not isinstance(spec, str):
        return slice_prior(spec, m, L)
    law, sep, param = spec.partition(":")
    if law in POINT_LAWS:
        if not sep:
            raise ValueError(f"prior {spec!r} needs a parameter, e.g. '{law}:1.2'")
        try:
            value = float(param)
        except ValueError:
            raise ValueError(f"prior parameter in {spec!r} must be a number; got {param!r}") from None
        return per_point_prior(law, value, m, L, points_per_slice, assignment, seed)
    if Path(spec).suffix.lower() == ".csv" or Path(spec).exists():
        return load_prior_csv(spec, m, L)
    raise ValueError(
        f"prior must be 'uniform', 'zipf:S', 'exponential:R', 'pareto:A' or a CSV file; got {spec!r}"
    )
