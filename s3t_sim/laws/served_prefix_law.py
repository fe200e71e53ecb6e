"""The served prefix as a frozen law (scipy.stats' interface): per shard and for the whole system.

After ``r`` requests (``request_model``: ``"iid"``, with replacement, slice ``i`` of shard
``s`` hit with probability ``p_si``; or ``"without-replacement"``, ``r`` distinct points of
the ``sizes[s, i]`` points per slice) a shard's hit set ``D`` has

    iid:                  P(D ⊆ S) = (1 - w_out(S) / W)^r,
    without replacement:  P(D ⊆ S) = C(W - w_out(S), r) / C(W, r),

``w_out(S)`` the shard's mass (probability or points) outside ``S`` and ``W`` the total
(1 or all points), Möbius-inverted over the ``2^L`` sets (:mod:`s3t_sim.laws.hitsets`).
Uniform rotations (equal slice sizes) beyond ``L = 14`` use :mod:`s3t_sim.laws.rotations` (any ``L``).

The total ``K = sum_s k_s`` splits the requests over the shards one at a time: shard ``s``
gets ``n ~ Binomial(j, W_s / W_{s..m})`` (iid) or ``Hypergeometric`` (without replacement)
of the ``j`` not yet placed, and given ``n`` its prefix law is the one above with ``r = n``
inside the shard alone. Every law is a :class:`~s3t_sim.laws.count.FiniteLaw`.
"""
from __future__ import annotations

import numpy as np

from s3t_sim.checks import check_choice, check_int
from s3t_sim.laws.count import FiniteLaw
from s3t_sim.laws.hitsets import mobius, subset_mass
from s3t_sim.laws.rotations import (
    hit_count_law,
    hit_count_law_without_replacement,
    rotation_prefix_pmf,
    uniform_rotation_starts,
)
from s3t_sim.laws.served_prefix import MAX_SHARD_SLICES, shard_tables
from s3t_sim.priors import parse_prior
from s3t_sim.system import S3TSystem

REQUEST_MODELS = ("iid", "without-replacement")
MAX_TOTAL_WORK = 5e8  # operations of the total law's split over the shards


def _weights(system: S3TSystem, prior, request_model: str, sizes) -> tuple[np.ndarray, float]:
    """Per-slice masses ``(m, L)`` and their total: probabilities (iid) or point counts."""
    check_choice("request_model", request_model, REQUEST_MODELS)
    if request_model == "iid":
        return parse_prior(prior, system.m, system.L), 1.0
    w = np.asarray(sizes)
    if w.shape != (system.m, system.L) or not np.issubdtype(w.dtype, np.integer) or np.any(w < 0) or w.sum() < 1:
        raise ValueError(f"sizes must be an (m, L) = ({system.m}, {system.L}) array of point counts >= 0, total >= 1")
    return w.astype(float), float(w.sum())


def _shard_pmf(system: S3TSystem, s: int, w_row: np.ndarray, total: float, r: int, model: str) -> tuple[np.ndarray, str]:
    """Shard ``s``'s prefix pmf after ``r`` requests drawn from mass ``total`` (module docstring)."""
    from scipy.special import gammaln

    L = system.L
    out_mass = w_row.sum()
    if out_mass == 0 or r == 0:
        return np.eye(L + 1)[L], "no hit possible"
    starts = uniform_rotation_starts(system.sequences[s], w_row) if system.checkpoint_fallback else None
    if starts is not None and L > MAX_SHARD_SLICES:
        counts = hit_count_law(L, w_row[0] / total, r) if model == "iid" else \
            hit_count_law_without_replacement(L, int(w_row[0]), int(total), r)
        return rotation_prefix_pmf(L, starts, counts), "uniform rotations (exact, any L)"
    if L > MAX_SHARD_SLICES:
        raise ValueError(
            f"the exact served-prefix law needs L <= {MAX_SHARD_SLICES} (2^L hit sets) unless the shard is a set of "
            f"rotations under a uniform prior (equal slice sizes); got L = {L}"
        )
    leave = out_mass - subset_mass(w_row)  # mass outside S
    with np.errstate(divide="ignore", invalid="ignore"):
        if model == "iid":
            inside = np.exp(r * np.log1p(-np.clip(leave / total, 0.0, 1.0)))
        else:
            a = total - leave
            inside = np.where(a >= r, np.exp(gammaln(a + 1) - gammaln(a - r + 1) - gammaln(total + 1)
                                             + gammaln(total - r + 1)), 0.0)
    law = np.clip(mobius(inside), 0.0, None)
    ks = shard_tables(system.sequences[s])[1] if system.checkpoint_fallback else np.where(np.arange(law.size) > 0, 0, L)
    return np.bincount(ks, weights=law, minlength=L + 1), "hit-set enumeration (Möbius)"


def shard_served_prefix_law(system: S3TSystem, prior=None, shard: int = 0, requests: int = 1, *,
                            request_model: str = "iid", sizes=None) -> FiniteLaw:
    """Frozen law of shard ``shard``'s served prefix after ``requests`` requests to the system.

    Examples
    --------
    >>> law = shard_served_prefix_law(S3TSystem(np.array([[[0, 1], [1, 0]]])), None, 0, 1)
    >>> law.pmf([0, 1, 2]).tolist(), law.method
    ([0.0, 1.0, 0.0], 'hit-set enumeration (Möbius), iid requests')
    """
    s = check_int("shard", shard, 0, system.m - 1)
    r = check_int("requests", requests, 0)
    w, total = _weights(system, prior, request_model, sizes)
    if request_model == "without-replacement" and r > total:
        raise ValueError(f"requests must be <= the {int(total)} points without replacement; got {r}")
    pmf, method = _shard_pmf(system, s, w[s], total, r, request_model)
    return FiniteLaw(pmf, f"{method}, {request_model} requests")


def system_served_prefix_laws(system: S3TSystem, prior=None, requests: int = 1, *, request_model: str = "iid",
                              sizes=None) -> list[FiniteLaw]:
    """Every shard's served-prefix law (:func:`shard_served_prefix_law`), one per shard."""
    w, _ = _weights(system, prior, request_model, sizes)
    laws: dict = {}  # identical shards (sequence set and prior row) share one law
    out = []
    for s in range(system.m):
        key = system.sequences[s].tobytes() + w[s].tobytes()
        if key not in laws:
            laws[key] = shard_served_prefix_law(system, prior, s, requests, request_model=request_model, sizes=sizes)
        out.append(laws[key])
    return out


def total_served_prefix_law(system: S3TSystem, prior=None, requests: int = 1, *, request_model: str = "iid",
                            sizes=None) -> FiniteLaw:
    """Frozen law of the total served prefix ``K = sum_s k_s`` on ``0..mL`` (module docstring).

    Examples
    --------
    >>> law = total_served_prefix_law(S3TSystem(np.broadcast_to([[0, 1]], (2, 1, 2))), None, 1)
    >>> law.pmf([2, 3]).tolist()   # one request leaves one shard at 0 (first slice) or 1
    [0.5, 0.5]
    """
    from scipy.stats import binom, hypergeom

    r = check_int("requests", requests, 0)
    w, total = _weights(system, prior, request_model, sizes)
    m, L = system.m, system.L
    if m * r * r * m * L * L > MAX_TOTAL_WORK:
        raise ValueError(f"the total served-prefix law needs m^2 r^2 L^2 <= {MAX_TOTAL_WORK:g}; got m={m}, r={r}, L={L}")
    shard_mass = w.sum(axis=1)
    state = np.zeros((r + 1, m * L + 1))  # [requests not yet placed, sum of prefixes so far]
    state[r, 0] = 1.0
    methods = set()
    for s in range(m):
        rest = shard_mass[s:].sum()
        cond = []
        for n in range(r + 1):  # the shard's law given that n requests reach it
            pmf, method = _shard_pmf(system, s, w[s], shard_mass[s], n, request_model)
            cond.append(pmf)
            methods.add(method)
        new = np.zeros_like(state)
        for j in np.flatnonzero(state.any(axis=1)):
            n = np.arange(j + 1)
            if s == m - 1 or rest == shard_mass[s]:
                split = (n == j).astype(float)
            elif request_model == "iid":
                split = binom.pmf(n, j, shard_mass[s] / rest)
            else:
                split = hypergeom.pmf(n, int(round(rest)), int(round(shard_mass[s])), j)
            for k in np.flatnonzero(split > 0):
                new[j - k] += split[k] * np.convolve(state[j], cond[k])[: m * L + 1]
        state = new
    methods.discard("no hit possible")
    return FiniteLaw(state[0], f"{', '.join(sorted(methods)) or 'no hit possible'}, {request_model} requests, split over shards")


def system_served_prefix_distribution(system: S3TSystem, prior, r: int) -> np.ndarray:
    """Exact law of each shard's served prefix after ``r`` i.i.d. requests, ``(m, L + 1)``.

    Row ``s`` is :func:`shard_served_prefix_law`'s pmf: the hit-set law
    ``P(D = S) = sum_{E subset S} (-1)^{|S| - |E|} (1 - P_s + p(E))^r`` summed over the sets
    with ``k(D) = k`` (``L <= 14``), or the rotation law at any ``L`` (uniform rotations).

    Examples
    --------
    >>> law = system_served_prefix_distribution(S3TSystem(np.array([[[0, 1]]])), None, 1)
    >>> law.round(3).tolist()
    [[0.5, 0.5, 0.0]]
    """
    return np.array([law.table for law in system_served_prefix_laws(system, prior, r)])


def system_expected_served_prefix(system: S3TSystem, prior, r: int) -> np.ndarray:
    """``E[k_s]`` after ``r`` i.i.d. requests for every shard, ``(m,)`` (exact)."""
    return np.array([law.mean() for law in system_served_prefix_laws(system, prior, r)])


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
