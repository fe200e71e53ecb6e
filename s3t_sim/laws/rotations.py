"""Exact served-prefix laws of rotation sets under a uniform prior, at any L (no 2^L enumeration).

A shard whose sequences are rotations ``j, j+1, ..., j-1`` (start set ``J``: consecutive
``0..B-1`` or strided ``floor(iL/B)``, :mod:`s3t_sim.selection.cyclic`) serves
``k(D) = max_{j in J} run_D(j)``, the longest clean run along the cycle from a start. Under a
uniform prior the hit set ``D`` is exchangeable: given ``|D| = h`` it is a uniform ``h``-subset.
Hence

    P(k < kappa) = sum_h P(|D| = h) N_kappa(h) / C(L, h),

with ``N_kappa(h)`` the number of ``h``-subsets in which every start has a hit within
``kappa`` slices. ``P(|D| = h)`` is the occupancy chain (``h -> h + 1`` with probability
``(L - h) u`` per request, ``u`` a slice's probability; non-negative terms), its
without-replacement twin (equal slice sizes), or
``Binomial(L, 1 - e^{-u t})`` at Poisson time ``t``. ``N_kappa(h)``:

- ``B = L`` (every start): ``k`` is the longest cyclic clean run, and cutting the cycle at a
  marked hit gives ``N_kappa(h) = (L / h) [x^{L-h}] (1 + x + ... + x^{kappa-1})^h`` (gaps
  between ``h`` hits as a composition with parts ``< kappa``);
- any ``J``: a transfer matrix along the cycle cut at the first hit ``f`` after ``J[0]``
  (``f - J[0] < kappa``), state = distance since the last hit (capped at ``kappa``), with a
  polynomial in the hit count; ``O(L^2 sum kappa^2)`` operations, refused beyond ``MAX_WORK``.

Counts are floats summed from non-negative terms (exact integers up to 2^53, then relative
error ~L 1e-16); laws are differences of cumulative values (absolute error ~1e-15).
"""
from __future__ import annotations

import numpy as np

from s3t_sim.checks import check_int, check_real

MAX_WORK = 2e9  # element operations allowed for the general-J transfer matrix


def rotation_starts_of(sequences: np.ndarray) -> "np.ndarray | None":
    """The sorted start slices ``J`` if every row is a rotation of ``0, 1, ..., L-1``; else ``None``.

    Examples
    --------
    >>> rotation_starts_of(np.array([[2, 3, 0, 1], [0, 1, 2, 3]])).tolist()
    [0, 2]
    >>> rotation_starts_of(np.array([[1, 0, 2]])) is None
    True
    """
    seqs = np.asarray(sequences)
    L = seqs.shape[-1]
    starts = seqs[:, 0]
    if not np.array_equal(seqs, (starts[:, None] + np.arange(L)[None, :]) % L):
        return None
    return np.unique(starts)


def uniform_rotation_starts(sequences: np.ndarray, prior_row: np.ndarray) -> "np.ndarray | None":
    """:func:`rotation_starts_of` where the shard's prior is uniform (and not zero), else ``None``."""
    p = np.asarray(prior_row)
    if p.max() <= 0 or p.min() != p.max():
        return None
    return rotation_starts_of(sequences)


def _binomials(L: int) -> np.ndarray:
    """``C(L, h)``, ``h = 0..L``, as floats (rounded: exact integers while below 2^53)."""
    from scipy.special import gammaln

    h = np.arange(L + 1)
    return np.round(np.exp(gammaln(L + 1) - gammaln(h + 1) - gammaln(L - h + 1)))


def _all_starts_counts(L: int) -> np.ndarray:
    """``N[kappa, h]`` for ``J`` = every slice, ``kappa = 0..L+1``, ``h = 0..L``."""
    counts = np.zeros((L + 2, L + 1))
    counts[L + 1] = _binomials(L)
    for kappa in range(1, L + 1):
        part = np.ones(kappa)  # 1 + x + ... + x^(kappa - 1)
        poly = np.zeros(L + 1)
        poly[0] = 1.0
        for h in range(1, L + 1):
            poly = np.convolve(poly, part)[: L + 1]
            counts[kappa, h] = L / h * poly[L - h]
    return counts


def _general_counts(L: int, starts: np.ndarray) -> np.ndarray:
    """``N[kappa, h]`` for any start set (module docstring), ``kappa = 0..L+1``."""
    is_start = np.zeros(L, dtype=bool)
    is_start[starts] = True
    j0 = int(starts[0])
    counts = np.zeros((L + 2, L + 1))
    counts[L + 1] = _binomials(L)
    for kappa in range(1, L + 1):
        e = np.arange(kappa)  # first hit f = j0 + e
        state = np.zeros((kappa, kappa + 1, L + 1))  # [e, d = distance since last hit (cap kappa), hits]
        state[:, 0, 1] = 1.0
        for t in range(1, L):
            forced_clean = t >= L - e  # the e slices j0..f-1, unrolled to the end
            ends_window = is_start[(j0 + e + t - kappa + 1) % L] & (t >= kappa)
            new = np.zeros_like(state)
            new[:, 0, 1:] = np.where(forced_clean[:, None], 0.0, state.sum(axis=1)[:, :-1])
            new[:, 1:kappa + 1] = state[:, :kappa]
            new[:, kappa] += state[:, kappa]
            new[ends_window, kappa] = 0.0  # a start whose window of kappa slices stayed clean
            state = new
        counts[kappa] = state.sum(axis=(0, 1))
    return counts


BELOW_COUNTS: dict = {}  # (L, start set) -> N, computed once per process


def below_counts(L: int, starts: np.ndarray) -> np.ndarray:
    """``N[kappa, h]``: ``h``-subsets of the ``L`` slices with ``k < kappa``, shape ``(L + 2, L + 1)``.

    Examples
    --------
    >>> below_counts(3, np.array([0, 1, 2]))[2].tolist()   # k < 2: some hit; 1 hit leaves a run of 2
    [0.0, 0.0, 3.0, 1.0]
    """
    L = check_int("L", L, 1)
    starts = np.unique(np.asarray(starts, dtype=np.int64))
    key = (L, starts.tobytes())
    if key not in BELOW_COUNTS:
        BELOW_COUNTS[key] = _below_counts(L, starts)
    return BELOW_COUNTS[key]


def _below_counts(L: int, starts: np.ndarray) -> np.ndarray:
    if starts.size == L:
        work = L**4 / 2
        if work > MAX_WORK * 5:
            raise ValueError(f"the exact rotation law with B = L needs L^4/2 = {work:.3g} operations "
                             f"(limit {MAX_WORK * 5:g}, L <= 376): simulate")
        return _all_starts_counts(L)
    work = L * L * sum(k * k for k in range(1, L + 1))
    if work > MAX_WORK:
        raise ValueError(
            f"the exact rotation law with B={starts.size} < L={L} needs {work:.3g} operations (limit {MAX_WORK:g}); "
            "(B = L is exact up to L = 376), otherwise simulate"
        )
    return _general_counts(L, starts)


def hit_count_law(L: int, slice_probability: float, requests: int) -> np.ndarray:
    """``P(|D| = h)``, ``h = 0..L``, after ``requests`` i.i.d. requests, each hitting a given slice
    of the shard with probability ``u`` (the occupancy chain; non-negative terms only).

    Examples
    --------
    >>> hit_count_law(2, 0.5, 2).tolist()
    [0.0, 0.5, 0.5]
    """
    u = min(check_real("slice_probability", slice_probability, 0.0, (1.0 + 1e-9) / L), 1.0 / L)  # rounding
    r = check_int("requests", requests, 0)
    h = np.arange(L + 1)
    stay = np.clip(1.0 - (L - h) * u, 0.0, 1.0)  # the request hits a hit slice or another shard
    move = (L - h) * u
    law = np.zeros(L + 1)
    law[0] = 1.0
    for _ in range(r):
        law = np.concatenate([[0.0], law[:-1] * move[:-1]]) + law * stay
    return law


def hit_count_law_without_replacement(L: int, per_slice: int, total: int, draws: int) -> np.ndarray:
    """``P(|D| = h)``, ``h = 0..L``, after ``draws`` points drawn without replacement from ``total``,
    the shard holding ``per_slice`` points in each of its ``L`` slices. Draw ``j`` (``j`` drawn so
    far) hits a new slice with probability ``(L - h) c / (N - j)``: every earlier draw left the
    unhit slices whole, so the chain is Markov in ``h`` (integer numerators, non-negative terms).

    Examples
    --------
    >>> hit_count_law_without_replacement(2, 1, 2, 2).tolist()
    [0.0, 0.0, 1.0]
    """
    c = check_int("per_slice", per_slice, 1)
    N = check_int("total", total, L * c)
    r = check_int("draws", draws, 0, N)
    unhit = (L - np.arange(L + 1)) * c  # points in unhit slices
    law = np.zeros(L + 1)
    law[0] = 1.0
    for j in range(r):
        move = unhit / (N - j)
        stay = (N - j - unhit) / (N - j)
        law = np.concatenate([[0.0], law[:-1] * move[:-1]]) + law * stay
    return law


def rotation_prefix_pmf(L: int, starts: np.ndarray, count_law: np.ndarray) -> np.ndarray:
    """The served prefix's pmf on ``0..L`` given the law of ``|D|`` (module docstring), shape
    ``(L + 1,)``, or ``(L + 1, T)`` for ``T`` laws given as columns ``(L + 1, T)``.

    ``P(k = kappa) = sum_h P(|D| = h) (N_{kappa+1}(h) - N_kappa(h)) / C(L, h)``: the count
    differences are exact integers while below 2^53 (``L <= 50``), so every term is non-negative.
    """
    counts = below_counts(L, starts)
    exactly = np.clip(np.diff(counts, axis=0), 0.0, None) / _binomials(L)  # (L + 1, L + 1): [kappa, h]
    return exactly @ count_law


def poisson_count_law(L: int, slice_rate: float, t: np.ndarray) -> np.ndarray:
    """``P(|D(t)| = h)``, shape ``(L + 1, T)``, at Poisson times ``t``: each slice is hit by time
    ``t`` independently with probability ``1 - e^{-u t}`` (``u`` its rate): Binomial."""
    from scipy.stats import binom

    return binom.pmf(np.arange(L + 1)[:, None], L, -np.expm1(-slice_rate * np.asarray(t, dtype=float))[None, :])
