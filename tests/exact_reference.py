"""Independent exact reference for the failure count: a test oracle sharing no code with the package.

The hit set ``D`` (which of the ``n = m L`` slices have been hit) is a Markov chain under
i.i.d. requests: from ``D`` a request hits an unhit slice ``i`` with probability ``p_i`` and
leaves ``D`` unchanged with probability ``1 - q_D``, ``q_D = sum_{i not in D} p_i``. The
failure count from a live set ``D`` is ``N_D = G + N_{D + i}``, ``G ~ Geometric(q_D)`` on
``{1, 2, ...}`` independent of the next set, which is ``D + i`` with probability
``p_i / q_D``. With ``E[G] = 1/q`` and ``E[G^2] = (2 - q)/q^2``:

    E[N_D]   = 1/q_D + sum_i (p_i/q_D) E[N_{D+i}],
    E[N_D^2] = (2 - q_D)/q_D^2 + (2/q_D) sum_i (p_i/q_D) E[N_{D+i}] + sum_i (p_i/q_D) E[N_{D+i}^2],

and ``N_D = 0`` on failed sets. Solved from the largest sets down in exact rational
arithmetic (:class:`fractions.Fraction`, priors given as rationals) or in ``mpmath`` at
``dps`` digits. ``P(N > r)`` is the chain iterated ``r`` steps in the same arithmetic.

The served prefix and the criteria are re-implemented here from their definitions:
``k_s(D) = max_{pi in P_s} #(leading elements of pi not in D)`` with fallback; without
fallback ``k_s = L`` before the shard's first hit and ``0`` after.
``all-dead``: every ``k_s = 0``; ``any-dead``: some ``k_s = 0``;
``prefix-below:f``: ``sum_s k_s < f m L`` (``f`` a rational, compared exactly).
"""
from __future__ import annotations

from fractions import Fraction
from typing import Sequence, Union

import mpmath

Number = Union[Fraction, "mpmath.mpf"]
MAX_REFERENCE_SLICES = 12


def served_prefix(sequences: Sequence[Sequence[int]], hit: set[int]) -> int:
    """``max_pi`` number of leading elements of ``pi`` not in ``hit`` (local slice indices)."""
    best = 0
    for seq in sequences:
        k = 0
        for i in seq:
            if i in hit:
                break
            k += 1
        best = max(best, k)
    return best


def criterion_holds(
    prefixes: Sequence[int], L: int, criterion: str, threshold: "Fraction | None" = None
) -> bool:
    """The criterion from its definition on the shards' served prefixes."""
    if criterion == "all-dead":
        return all(k == 0 for k in prefixes)
    if criterion == "any-dead":
        return any(k == 0 for k in prefixes)
    if criterion == "prefix-below":
        return sum(prefixes) < Fraction(threshold) * len(prefixes) * L
    raise ValueError(f"unknown criterion {criterion!r}")


def _failed_table(
    sequences: Sequence[Sequence[Sequence[int]]], fallback: bool, criterion: str, threshold
) -> list[bool]:
    m, L = len(sequences), len(sequences[0][0])
    n = m * L
    table = []
    for mask in range(2**n):
        prefixes = []
        for s in range(m):
            hit = {i for i in range(L) if mask >> (s * L + i) & 1}
            if fallback:
                prefixes.append(served_prefix(sequences[s], hit))
            else:
                prefixes.append(0 if hit else L)
        table.append(criterion_holds(prefixes, L, criterion, threshold))
    return table


def _convert(prior: Sequence[Sequence], arithmetic: str, dps: int) -> list:
    flat = [x for row in prior for x in row]
    if arithmetic == "fraction":
        values = [Fraction(x) for x in flat]  # exact: a float converts to its binary value
        total = sum(values)
        return [v / total for v in values]
    mpmath.mp.dps = dps
    values = [mpmath.mpf(x) if not isinstance(x, Fraction) else mpmath.mpf(x.numerator) / x.denominator for x in flat]
    total = mpmath.fsum(values)
    return [v / total for v in values]


def _chain(sequences, prior, criterion, threshold, fallback, arithmetic, dps) -> tuple:
    """``(n, p, failed, zero)``: the slice count, the prior in the chosen arithmetic, the
    failure table over the ``2^n`` hit sets, and that arithmetic's zero."""
    m, L = len(sequences), len(sequences[0][0])
    n = m * L
    if n > MAX_REFERENCE_SLICES:
        raise ValueError(f"reference needs m L <= {MAX_REFERENCE_SLICES}; got {n}")
    p = _convert(prior, arithmetic, dps)
    failed = _failed_table(sequences, fallback, criterion, threshold)
    return n, p, failed, Fraction(0) if arithmetic == "fraction" else mpmath.mpf(0)


def exact_moments(
    sequences: Sequence[Sequence[Sequence[int]]],
    prior: Sequence[Sequence],
    criterion: str = "all-dead",
    threshold=None,
    fallback: bool = True,
    arithmetic: str = "fraction",
    dps: int = 60,
) -> tuple[Number, Number]:
    """``(E[N], Var[N])`` exactly for sequence sets ``(m, B, L)`` and prior ``(m, L)``
    (normalised here; floats are taken at their exact binary value). ``m L <= 12``.

    Examples
    --------
    >>> exact_moments([[[0, 1, 2]]], [[1, 1, 1]])            # 3 H_1: first slice hit
    (Fraction(3, 1), Fraction(6, 1))
    """
    n, p, failed, zero = _chain(sequences, prior, criterion, threshold, fallback, arithmetic, dps)
    if not failed[2**n - 1]:
        raise ValueError("criterion never holds")
    first = [zero] * 2**n
    second = [zero] * 2**n
    for mask in sorted(range(2**n), key=lambda d: -bin(d).count("1")):
        if failed[mask]:
            continue
        moves = [(mask | 1 << i, p[i]) for i in range(n) if not mask >> i & 1 and p[i] != 0]
        q = sum((w for _, w in moves), zero)
        if q == 0:  # live set that can never move: infinite count
            first[mask] = second[mask] = None
            continue
        if any(first[b] is None for b, _ in moves):
            first[mask] = second[mask] = None
            continue
        e_next = sum((w * first[b] for b, w in moves), zero) / q
        e2_next = sum((w * second[b] for b, w in moves), zero) / q
        first[mask] = 1 / q + e_next
        second[mask] = (2 - q) / q**2 + 2 * e_next / q + e2_next
    if first[0] is None:
        raise ValueError("the count is infinite with positive probability")
    return first[0], second[0] - first[0] ** 2


def exact_sf(
    sequences: Sequence[Sequence[Sequence[int]]],
    prior: Sequence[Sequence],
    r_max: int,
    criterion: str = "all-dead",
    threshold=None,
    fallback: bool = True,
    arithmetic: str = "mpmath",
    dps: int = 60,
) -> list[Number]:
    """``[P(N > r) for r = 0..r_max]`` by iterating the chain in exact/high-precision arithmetic."""
    n, p, failed, zero = _chain(sequences, prior, criterion, threshold, fallback, arithmetic, dps)
    state = {0: zero + 1}
    out = [zero + 1]
    for _ in range(r_max):
        new: dict[int, Number] = {}
        for mask, prob in state.items():
            stay = 1 - sum((p[i] for i in range(n) if not mask >> i & 1), zero)
            new[mask] = new.get(mask, zero) + prob * stay
            for i in range(n):
                if not mask >> i & 1 and p[i] != 0:
                    b = mask | 1 << i
                    new[b] = new.get(b, zero) + prob * p[i]
        state = {d: v for d, v in new.items() if not failed[d]}
        out.append(sum(state.values(), zero))
    return out
