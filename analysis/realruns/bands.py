"""Prediction meets reality: the accuracy an S3T system should have after r deletion requests.

Three predictors, from the paper's model to the exact law of a replayed stream:

1. **simulator + f(k)** (:func:`predict_accuracy_band`): the project simulator draws the
   shards' served prefixes ``k_s`` after r requests (slice hits i.i.d. from the slice prior,
   with replacement) and a performance model maps them to accuracy,
   ``A = (1/m) sum_s f(k_s)`` (``PerformanceModel.aggregate``). This is what ``s3t simulate``
   and ``s3t plan`` assume.
2. **ensemble table, slice model** (:func:`stream_accuracy_band` with ``replacement=True``):
   the same law of deleted slices, but each state is scored by the *actual* ensemble of the
   trained system (its cached per-prefix logits): no f(k) averaging, no ensemble
   non-linearity, no shard-to-shard spread.
3. **ensemble table, point model** (``replacement=False``): requests delete *points* without
   replacement, with the per-point weights of the replayed streams. This is the exact law of
   the replay, so its band covers the measured curves at ~95% of checkpoints; its gap to 2.
   is the finite-population effect (a deleted point cannot be requested again, so skewed
   laws flatten and slices' hit rates drift as they shrink).

Bands are the central ``level`` quantile interval over Monte Carlo runs; means carry their
standard error, the run count and the seed. Coverage is the share of (stream, checkpoint)
pairs whose measured accuracy lies inside the band (closed interval).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from s3t_sim.prefix import served_states_after
from s3t_sim.montecarlo import simulate_served_prefix
from s3t_sim.system import S3TSystem
from s3t_sim.checks import check_int, check_real, check_request_counts

SeedLike = "int | np.random.Generator | None"


@dataclass
class AccuracyBand:
    """Predicted accuracy after each request count: mean +- SE and a central ``level`` band."""

    requests: np.ndarray
    mean: np.ndarray
    se: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    level: float
    runs: int
    seed: Any
    predictor: str

    def to_dict(self) -> dict[str, Any]:
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in asdict(self).items()}


def band_from_samples(samples: np.ndarray, requests: np.ndarray, level: float, seed: Any, predictor: str) -> AccuracyBand:
    """Band of ``samples`` (runs, len(requests)): mean, SE of the mean and the central ``level`` interval."""
    level = check_real("level", level, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
    samples = np.asarray(samples, dtype=float)
    runs = samples.shape[0]
    tail = (1.0 - level) / 2
    lower, upper = np.quantile(samples, [tail, 1.0 - tail], axis=0, method="inverted_cdf")
    se = samples.std(axis=0, ddof=1) / np.sqrt(runs) if runs > 1 else np.full(samples.shape[1], np.nan)
    return AccuracyBand(np.asarray(requests), samples.mean(axis=0), se, lower, upper, level, runs, seed, predictor)


def predict_accuracy_band(
    system: S3TSystem,
    prior: np.ndarray,
    performance: Any,
    request_counts: Any,
    runs: int = 2000,
    seed: SeedLike = 0,
    level: float = 0.95,
    aggregate: Any = None,
    name: str = "simulator + f(k)",
) -> AccuracyBand:
    """Predictor 1: expected accuracy after r requests and its band, from the simulator and f(k).

    ``A_r = (1/m) sum_s f(k_s(D_r))`` with ``D_r`` the slices hit by r i.i.d. requests drawn
    from ``prior`` (m, L); ``k_s`` from ``s3t_sim.simulate.simulate_served_prefix``.
    ``aggregate`` (a function of the prefixes array (..., m)) replaces
    ``performance.aggregate``, e.g. an :class:`EnsembleTable`.

    Example
    -------
    >>> from s3t_sim.selection import build_system
    >>> from s3t_sim.performance import linear_performance
    >>> from s3t_sim.priors import uniform_prior
    >>> band = predict_accuracy_band(build_system(2, 3, 2)[0], uniform_prior(2, 3),
    ...                              linear_performance(3, 0.5, 0.9), [0, 6], runs=500, seed=1)
    >>> round(float(band.mean[0]), 9)
    0.9
    """
    counts = check_request_counts(request_counts)
    runs = check_int("runs", runs, 2)
    prefixes = np.asarray(simulate_served_prefix(system, prior, counts, runs, seed))  # (runs, R, m)
    aggregate = performance.aggregate if aggregate is None else aggregate
    return band_from_samples(aggregate(prefixes), counts, level, seed, name)


@dataclass
class EnsembleTable:
    """Measured ensemble accuracy ``g(k_1, ..., k_m)`` as a function of the served prefixes.

    Shards are exchangeable, so ``g`` is stored by the sorted prefix vector. Used as the
    aggregate of :func:`predict_accuracy_band` it replaces ``mean_s f(k_s)``: the ensemble's
    non-linearity (a dead shard leaves the vote instead of scoring f(0); averaging logits beats
    averaging accuracies) is then measured, not modelled.
    """

    values: dict[tuple[int, ...], float]

    def __call__(self, prefixes: np.ndarray) -> np.ndarray:
        prefixes = np.sort(np.asarray(prefixes), axis=-1)
        flat = prefixes.reshape(-1, prefixes.shape[-1])
        unique, inverse = np.unique(flat, axis=0, return_inverse=True)
        try:
            scores = np.array([self.values[tuple(int(k) for k in row)] for row in unique])
        except KeyError as exc:
            raise ValueError(f"the ensemble table has no entry for served prefixes {exc.args[0]}") from None
        return scores[inverse.ravel()].reshape(prefixes.shape[:-1])


# --------------------------------------------------------------------------- streams

def sample_request_streams(
    slice_of_point: np.ndarray,
    point_weights: "np.ndarray | None",
    length: int,
    runs: int,
    seed: SeedLike = 0,
    replacement: bool = False,
) -> np.ndarray:
    """Draw ``runs`` request streams of ``length`` requests; return the hit slice of each, (runs, length).

    ``slice_of_point[i]`` is the flat slice index ``shard * L + slice`` of training point i and
    ``point_weights[i]`` its request weight (uniform when ``None``).

    - ``replacement=False`` (point model): each request deletes one remaining point, chosen
      with probability proportional to its weight among the remaining points. Drawn as an
      exponential race: the order of ``E_i / w_i`` (``E_i ~ Exp(1)``) is a weighted sampling
      without replacement (Efraimidis & Spirakis, 2006).
    - ``replacement=True`` (the paper's slice model): requests hit slice ``j`` i.i.d. with
      probability ``sum of weights in j`` / total.
    """
    slice_of_point = np.asarray(slice_of_point, dtype=np.int64)
    n = slice_of_point.size
    weights = np.ones(n) if point_weights is None else np.asarray(point_weights, dtype=float)
    if weights.shape != (n,) or np.any(weights < 0) or not np.all(np.isfinite(weights)) or weights.sum() <= 0:
        raise ValueError(f"point_weights must be {n} finite non-negative weights, not all zero")
    runs = check_int("runs", runs, 1)
    rng = np.random.default_rng(seed)
    if replacement:
        length = check_int("length", length, 0)
        n_slices = int(slice_of_point.max()) + 1
        slice_p = np.bincount(slice_of_point, weights=weights, minlength=n_slices)
        return rng.choice(n_slices, size=(runs, length), p=slice_p / slice_p.sum())
    return slice_of_point[sample_point_streams(weights, length, runs, rng)]


def sample_point_streams(point_weights: np.ndarray, length: int, runs: int, seed: SeedLike = 0) -> np.ndarray:
    """Positions of the points deleted by ``runs`` streams of ``length`` requests, (runs, length).

    Weighted sampling without replacement by an exponential race: sort ``E_i / w_i`` with
    ``E_i ~ Exp(1)`` (Efraimidis & Spirakis, 2006); points of weight 0 are never drawn.

    >>> sample_point_streams(np.array([0.0, 1.0, 1.0]), 2, 3, seed=0).shape
    (3, 2)
    """
    weights = np.asarray(point_weights, dtype=float)
    if weights.ndim != 1 or np.any(weights < 0) or not np.all(np.isfinite(weights)):
        raise ValueError("point_weights must be a 1-D array of finite non-negative weights")
    length = check_int("length", length, 0, int(np.count_nonzero(weights)))
    runs = check_int("runs", runs, 1)
    rng = np.random.default_rng(seed)
    with np.errstate(divide="ignore"):
        keys = rng.exponential(size=(runs, weights.size)) / weights
    return np.argsort(keys, axis=1, kind="stable")[:, :length]


def ensemble_accuracy(
    logits: np.ndarray, labels: np.ndarray, sequence_index: np.ndarray, prefix: np.ndarray, chance: float | None = None
) -> np.ndarray:
    """Accuracy of the served ensemble for every state.

    ``logits`` (m, B, L+1, n, C): outputs of shard s's sequence b with its first k groups
    active, on n evaluation examples. The ensemble averages the logits of the shards that are
    alive (k > 0) and predicts the arg-max, as ``S3TRun.predict_logits(vote="mean")`` does;
    with every shard dead the accuracy is ``chance`` (default 1/C). ``sequence_index`` and
    ``prefix`` are int arrays (..., m); each distinct state is scored once (``np.unique``).
    """
    logits = np.asarray(logits, dtype=float)
    labels = np.asarray(labels)
    m, B, L1, n, C = logits.shape
    chance = 1.0 / C if chance is None else float(chance)
    states = np.stack([np.asarray(sequence_index), np.asarray(prefix)], axis=-1).reshape(-1, m, 2)
    unique, inverse = np.unique(states.reshape(len(states), -1), axis=0, return_inverse=True)
    scores = np.empty(len(unique))
    for u, row in enumerate(unique.reshape(-1, m, 2)):
        alive = [(s, b, k) for s, (b, k) in enumerate(row) if k > 0]
        if not alive:
            scores[u] = chance
            continue
        summed = sum(logits[s, b, k] for s, b, k in alive)
        scores[u] = float(np.mean(summed.argmax(axis=1) == labels))
    return scores[inverse.ravel()].reshape(np.asarray(prefix).shape[:-1])


def stream_accuracy_band(
    logits: np.ndarray,
    labels: np.ndarray,
    sequences: np.ndarray,
    slice_of_point: np.ndarray,
    point_weights: "np.ndarray | None",
    request_counts: Any,
    runs: int = 1000,
    seed: SeedLike = 0,
    level: float = 0.95,
    replacement: bool = False,
) -> AccuracyBand:
    """Predictors 2 and 3: the band of the trained ensemble's accuracy over random request streams."""
    counts = check_request_counts(request_counts)
    streams = sample_request_streams(slice_of_point, point_weights, int(counts[-1]), runs, seed, replacement)
    index, prefix = served_states_after(sequences, streams, counts)
    accuracy = ensemble_accuracy(logits, labels, index, prefix)
    name = "ensemble table, slice model" if replacement else "ensemble table, point model"
    return band_from_samples(accuracy, counts, level, seed, name)


@dataclass
class Coverage:
    """Share of checkpoints whose measured accuracy lies inside the predicted band."""

    share: float
    inside: int
    checkpoints: int
    se: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def inside_band(band: AccuracyBand, measured: np.ndarray, atol: float = 1e-12) -> np.ndarray:
    """Whether each of ``measured`` (streams, len(band.requests)) lies in the closed band ``[lower, upper]``."""
    measured = np.atleast_2d(np.asarray(measured, dtype=float))
    if measured.shape[1] != band.requests.size:
        raise ValueError(f"measured must have {band.requests.size} columns (one per request count); got {measured.shape}")
    return (measured >= band.lower - atol) & (measured <= band.upper + atol)


def coverage_of(inside: np.ndarray) -> Coverage:
    """Coverage from inside/outside flags of any shape.

    ``se`` is the binomial standard error ``sqrt(q(1-q)/n)`` treating checkpoints as independent
    (they are not: consecutive checkpoints of one stream are correlated, so it is a lower bound).
    """
    inside = np.asarray(inside, dtype=bool)
    n = inside.size
    share = float(inside.mean())
    return Coverage(share, int(inside.sum()), n, float(np.sqrt(share * (1 - share) / n)))


def band_coverage(band: AccuracyBand, measured: np.ndarray, atol: float = 1e-12) -> Coverage:
    """Coverage of ``measured`` (streams, len(band.requests)) by the closed band (:func:`inside_band`)."""
    return coverage_of(inside_band(band, measured, atol))
