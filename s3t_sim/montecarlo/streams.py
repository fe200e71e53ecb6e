"""Request streams: the request models, and the request count at each first hit of a slice.

Request models (``request_model``):

- ``"iid"`` (the paper's): each request hits slice ``i`` with probability ``p_i``, with
  replacement. The first-hit order has the law of sorting independent ``Exp(p_i)`` clocks
  (a uniformly random permutation when the ``p_i`` are equal); given the set ``H`` already
  hit, the wait for the next new slice is ``Geometric(1 - p(H))``.
- ``"without-replacement"``: ``N`` data points, each request deletes a remaining point chosen
  uniformly; slice ``i`` holds ``n_i`` points (``points``: an ``(m, L)`` array, or a total
  ``N`` apportioned in proportion to the prior). The first-hit order sorts ``Exp(n_i)``
  clocks; after ``r`` requests with ``U`` points in unhit slices, the wait for the next new
  slice is the position of the first of ``U`` marked items in a random order of the ``N - r``
  remaining ones (negative hypergeometric), drawn by exact inverse-cdf bisection. Points
  are equally likely: a per-point law with unequal weights (successive sampling) is not this
  model, and ``s3t simulate`` refuses that combination.

:func:`open_simulation` is the check/seed/setup opening of every simulator entry point.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from s3t_sim.checks import check_choice, check_int
from s3t_sim.priors import parse_prior
from s3t_sim.system import S3TSystem
from s3t_sim.montecarlo.result import resolve_seed

REQUEST_MODELS = ("iid", "without-replacement")


def apportion_points(prior: np.ndarray, total: int) -> np.ndarray:
    """Split ``total`` points over slices in proportion to ``prior`` (largest remainders).

    Examples
    --------
    >>> apportion_points(np.array([[0.5, 0.3, 0.2]]), 10).tolist()
    [[5, 3, 2]]
    """
    total = check_int("points", total, 1)
    exact = np.asarray(prior, dtype=float) * total
    base = np.floor(exact).astype(np.int64)
    short = total - int(base.sum())
    if short > 0:
        order = np.argsort(-(exact - base), axis=None, kind="stable")[:short]
        base.flat[order] += 1
    return base


@dataclass(frozen=True)
class Setup:
    """Everything a simulation needs, checked once."""

    system: S3TSystem
    prior: np.ndarray  # (m, L)
    request_model: str
    sizes: np.ndarray | None  # (m, L) points per slice (without replacement)


def _setup(system, prior, request_model, points) -> Setup:
    if not isinstance(system, S3TSystem):
        raise TypeError(f"system must be an S3TSystem; got {type(system).__name__}")
    prior = parse_prior(prior, system.m, system.L)
    check_choice("request_model", request_model, REQUEST_MODELS)
    sizes = None
    if request_model == "without-replacement":
        if points is None:
            raise ValueError(
                "request_model 'without-replacement' needs points: a total N >= 1 or an (m, L) array of slice sizes"
            )
        if np.ndim(points) == 0:
            sizes = apportion_points(prior, points)
        else:
            sizes = np.asarray(points)
            if sizes.shape != (system.m, system.L) or not np.issubdtype(sizes.dtype, np.integer) or np.any(sizes < 0):
                raise ValueError(
                    f"points must be an int >= 1 or a non-negative int array of shape (m, L) = {(system.m, system.L)}"
                )
            if sizes.sum() < 1:
                raise ValueError("points must hold at least one data point")
            sizes = sizes.astype(np.int64)
        prior = sizes / sizes.sum()
    return Setup(system, prior, request_model, sizes)


def geometric(rng: np.random.Generator, q: np.ndarray) -> np.ndarray:
    """Geometric(q) on {1, 2, ...}: ``floor(E / -log(1 - q)) + 1`` with ``E ~ Exp(1)``."""
    with np.errstate(divide="ignore"):
        rate = -np.log1p(-np.minimum(q, 1.0))  # q = 1 gives rate inf and G = 1
        return np.floor(rng.standard_exponential(np.shape(q)) / rate).astype(np.int64) + 1


def first_marked_position(rng: np.random.Generator, remaining: np.ndarray, marked: np.ndarray) -> np.ndarray:
    """Position of the first of ``marked`` items in a uniform random order of ``remaining`` items.

    Inverse cdf: ``P(G > g) = C(remaining - g, marked) / C(remaining, marked)``, bisected in
    log space (exact up to floating-point rounding of ``gammaln``).
    """
    from scipy.special import gammaln

    M = remaining.astype(float)
    U = marked.astype(float)
    log_u = np.log(rng.random(np.shape(remaining)))
    lo = np.ones(np.shape(remaining), dtype=np.int64)
    hi = (remaining - marked + 1).astype(np.int64)
    base = gammaln(M - U + 1) - gammaln(M + 1)
    while np.any(lo < hi):
        mid = (lo + hi) // 2
        log_sf = base + gammaln(M - mid + 1) - gammaln(M - U - mid + 1)
        below = log_sf <= log_u
        hi = np.where(below, mid, hi)
        lo = np.where(below, lo, mid + 1)
    return lo


def first_hit_order(rng: np.random.Generator, rates: np.ndarray, runs: int) -> np.ndarray:
    """Order of first hits among slices with the given positive rates, ``(runs, n)``."""
    n = rates.size
    if np.all(rates == rates[0]):
        return np.argsort(rng.random((runs, n)), axis=1)
    return np.argsort(rng.standard_exponential((runs, n)) / rates, axis=1)


def first_hit_counts(setup: Setup, relevant: np.ndarray, rng: np.random.Generator, runs: int, need_order: bool):
    """Request count at each first hit of a relevant slice (and the order of those slices).

    Returns ``(order, counts)``: ``order[r, i]`` indexes ``relevant`` (``None`` when not
    needed and not drawn), ``counts[r, i]`` is the 1-based request count of the ``i``-th event.
    """
    if setup.request_model == "iid":
        p = setup.prior.ravel()[relevant]
        if np.all(p == p[0]):
            order = first_hit_order(rng, p, runs) if need_order else None
            unhit = p[0] * np.arange(p.size, 0, -1)  # relevant mass not yet hit, per event
            gaps = geometric(rng, np.broadcast_to(unhit, (runs, p.size)))
        else:
            order = first_hit_order(rng, p, runs)
            p_in_order = p[order]
            unhit = np.cumsum(p_in_order[:, ::-1], axis=1)[:, ::-1]
            gaps = geometric(rng, unhit)
        return order, np.cumsum(gaps, axis=1)

    sizes = setup.sizes.ravel()[relevant]
    total = int(setup.sizes.sum())
    order = first_hit_order(rng, sizes.astype(float), runs) if (need_order or np.any(sizes != sizes[0])) else None
    sizes_in_order = np.broadcast_to(sizes, (runs, sizes.size)) if order is None else sizes[order]
    unhit = np.cumsum(sizes_in_order[:, ::-1], axis=1)[:, ::-1]
    counts = np.empty((runs, sizes.size), dtype=np.int64)
    done = np.zeros(runs, dtype=np.int64)
    for i in range(sizes.size):
        done = done + first_marked_position(rng, total - done, unhit[:, i])
        counts[:, i] = done
    return order, counts


def last_first_hit_count(setup: Setup, relevant: np.ndarray, rng: np.random.Generator, runs: int) -> np.ndarray:
    """Request count at which the last relevant slice is first hit (the ``all-dead`` failure)."""
    p = setup.prior.ravel()[relevant]
    if setup.request_model != "iid" or np.any(p != p[0]):
        return first_hit_counts(setup, relevant, rng, runs, need_order=False)[1][:, -1]
    # Equal probabilities: the waits do not depend on the order, Geometric(i * p) for i = K..1.
    with np.errstate(divide="ignore"):
        scale = -1.0 / np.log1p(-np.minimum(p[0] * np.arange(p.size, 0, -1), 1.0))
    waits = rng.standard_exponential((runs, p.size))
    waits *= scale
    np.floor(waits, out=waits)  # in place: this loop is memory-bound
    return waits.sum(axis=1).astype(np.int64) + p.size  # integer sums are exact in float64


def hit_events(system: S3TSystem, relevant: np.ndarray, order: np.ndarray) -> np.ndarray:
    """``hit_event[r, s, i]``: event index of slice ``(s, i)``; unsimulated slices get ``n``."""
    runs, n_rel = order.shape
    n = system.n_slices
    dtype = np.int16 if n < 2**15 else np.int32
    hit_event = np.full((runs, n), n, dtype=dtype)
    np.put_along_axis(hit_event, relevant[order], np.arange(n_rel, dtype=dtype)[None, :], axis=1)
    return hit_event.reshape(runs, system.m, system.L)


@dataclass(frozen=True)
class Simulation:
    """A checked simulation: run count, the recorded seed, its SeedSequence and the setup."""

    runs: int
    seed: Any
    seed_seq: np.random.SeedSequence
    setup: Setup


def open_simulation(system, prior, runs, seed, request_model: str = "iid", points=None, min_runs: int = 1) -> Simulation:
    """Check ``runs``, resolve ``seed`` and set up the request model: the opening of every simulator."""
    runs = check_int("runs", runs, min_runs)
    recorded, seed_seq = resolve_seed(seed)
    return Simulation(runs, recorded, seed_seq, _setup(system, prior, request_model, points))
