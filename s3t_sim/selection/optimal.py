"""Exact optimisation of a sequence set for tiny systems, and local search for larger ones.

Both maximise the exact expected served prefix (:mod:`~s3t_sim.selection.objectives`)
after R requests, or averaged over r = 1..R. That objective is linear in the hit-set law,

    f(T) = Σ_D P(D) · max_{π ∈ T} k_π(D),

with ``k_π(D)`` the clean prefix of π, so a table of ``k_π(D)`` over all L! orders and
2^L hit sets turns every candidate set into one vectorised max-and-dot.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
from numpy.typing import ArrayLike

from s3t_sim.checks import as_generator, check_budget, check_int, check_sequences
from s3t_sim.laws.hitsets import hit_set_law, subset_masks
from s3t_sim.laws.served_prefix import EXACT_MAX_L
from s3t_sim.prefix import sequence_prefixes
from s3t_sim.priors import shard_prior
from s3t_sim.selection.baselines import full_budget

MAX_OPTIMAL_L = 6
DEFAULT_MAX_SETS = 10_000_000


def _clean_prefix_table(sequences: np.ndarray) -> np.ndarray:
    """``k_π(D)`` for every row π and hit set D: int8 array (rows, 2^L)."""
    masks = subset_masks(sequences.shape[1])
    return sequence_prefixes(sequences, masks).T.astype(np.int8)


def relabelling_representatives(perms: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """Bool mask of the orders that are canonical under prior-preserving relabellings.

    Relabelling slices that have equal prior probability maps optimal sets to optimal
    sets. The canonical form of an order renames, within every class of equal
    probability, its slices in order of appearance to the class's members in increasing
    order; every orbit holds exactly one canonical order.
    """
    classes = {}
    for s, value in enumerate(np.asarray(prior).tolist()):
        classes.setdefault(value, []).append(s)
    canonical = np.empty_like(perms)
    for members in classes.values():
        in_class = np.isin(perms, members)
        rank_in_class = np.cumsum(in_class, axis=1) - 1
        canonical[in_class] = np.asarray(members)[rank_in_class[in_class]]
    return np.all(canonical == perms, axis=1)


def count_candidate_sets(L: int, B: int, prior: np.ndarray) -> int:
    """Number of sets :func:`optimal_sequences` evaluates (after symmetry reduction)."""
    perms = full_budget(L)
    reps = np.flatnonzero(relabelling_representatives(perms, prior))
    n = len(perms)
    # Under representative i the others avoid i and every representative below it.
    return sum(math.comb(n - 1 - rank, B - 1) for rank, _ in enumerate(reps))


def optimal_sequences(
    L: int,
    B: int,
    prior: ArrayLike | None = None,
    requests: int = 10,
    *,
    average: bool = True,
    shard_share: float = 1.0,
    max_sets: int = DEFAULT_MAX_SETS,
) -> np.ndarray:
    """The set of B distinct orders maximising the expected served prefix (exhaustive search).

    Every set is equivalent, by a relabelling of equal-probability slices, to one that
    contains a canonical order ρ (:func:`relabelling_representatives`); taking ρ as the
    smallest canonical order in the set, the search runs over ρ and the (B-1)-subsets
    of the orders that are not canonical orders below ρ. Under a uniform prior there is
    one canonical order (the identity), so ``C(L!-1, B-1)`` sets remain; with all
    probabilities distinct it is all ``C(L!, B)`` sets. Raises ``ValueError`` when more
    than ``max_sets`` sets would be evaluated.

    Examples
    --------
    >>> optimal_sequences(3, 2, requests=2).tolist()
    [[0, 1, 2], [1, 2, 0]]
    """
    L = check_int("L", L, 1, MAX_OPTIMAL_L)
    B = check_budget(B, L)
    p = shard_prior(prior, L)
    max_sets = check_int("max_sets", max_sets, 1)
    count = count_candidate_sets(L, B, p)
    if count > max_sets:
        raise ValueError(
            f"exhaustive search at L={L}, B={B} needs {count:,} sets, more than max_sets={max_sets:,}; "
            "use a smaller system, a larger max_sets, or method 'local-search'"
        )
    weights = hit_set_law(p, requests, average=average, shard_share=shard_share)
    perms = full_budget(L)
    table = _clean_prefix_table(perms)
    best_value, best_set = -np.inf, None
    reps = np.flatnonzero(relabelling_representatives(perms, p))
    for rho in reps:
        others = np.setdiff1d(np.arange(len(perms)), reps[reps <= rho])
        value, chosen = _best_subset(table, weights, table[rho], others, B - 1)
        if value > best_value + 1e-12:
            best_value, best_set = value, [rho, *chosen]
    return perms[best_set]


def _best_subset(table, weights, base, candidates, size) -> tuple[float, list[int]]:
    """Best ``size``-subset of ``candidates`` added to a set whose row-wise max is ``base``.

    A Python loop runs over the first ``size - 2`` members; the last two are vectorised
    over a precomputed table of all candidate pairs.
    """
    if size == 0:
        return float(base @ weights), []
    if len(candidates) < size:
        return -np.inf, []
    tail_size = min(size, 2)
    tails = np.array(list(itertools.combinations(range(len(candidates)), tail_size)), dtype=np.int64)
    tails = tails.reshape(-1, tail_size)
    tail_max = table[candidates[tails]].max(axis=1)  # (pairs, 2^L), sorted by first member
    tail_first = tails[:, 0]
    best_value, best = -np.inf, []
    for head in itertools.combinations(range(len(candidates)), size - tail_size):
        start = np.searchsorted(tail_first, head[-1] + 1) if head else 0
        if start == len(tails):
            continue
        head_max = np.max(table[candidates[list(head)]], axis=0, initial=0) if head else 0
        values = np.maximum(np.maximum(base, head_max), tail_max[start:]) @ weights
        i = int(np.argmax(values))
        if values[i] > best_value + 1e-12:
            best_value = float(values[i])
            best = [int(candidates[j]) for j in (*head, *tails[start + i])]
    return best_value, best


def local_search(
    initial: ArrayLike,
    prior: ArrayLike | None = None,
    requests: int = 10,
    *,
    average: bool = True,
    shard_share: float = 1.0,
    iterations: int = 2000,
    seed: int | np.random.Generator | None = None,
) -> np.ndarray:
    """Improve a sequence set by first-improvement hill climbing on the exact objective.

    Each iteration draws one move (seeded): swap two slices within a sequence, move a
    slice to another position, or replace a sequence by a random order; the move is kept
    when it yields distinct sequences and a strictly larger expected served prefix. The
    result is never worse than ``initial``. Needs ``L <= EXACT_MAX_L`` (exact objective).

    Examples
    --------
    >>> from s3t_sim.selection.cyclic import cyclic_sequences
    >>> local_search(cyclic_sequences(4, 2), [0.4, 0.3, 0.2, 0.1], requests=3, iterations=200, seed=0).shape
    (2, 4)
    """
    arr = np.asarray(initial)
    L = arr.shape[-1] if arr.ndim == 2 else -1
    rows = check_sequences("initial", arr, L).copy()
    if L > EXACT_MAX_L:
        raise ValueError(f"local search uses the exact objective: L must be <= {EXACT_MAX_L}; got L={L}")
    p = shard_prior(prior, L)
    iterations = check_int("iterations", iterations, 0)
    rng = as_generator(seed)
    weights = hit_set_law(p, requests, average=average, shard_share=shard_share)
    table = _clean_prefix_table(rows)
    value = float(table.max(axis=0) @ weights)
    present = {tuple(r) for r in rows.tolist()}
    B = rows.shape[0]
    for _ in range(iterations):
        b = int(rng.integers(B))
        candidate = _propose(rows[b], rng)
        key = tuple(candidate.tolist())
        if key in present:
            continue
        row_table = _clean_prefix_table(candidate[None, :])[0]
        others = np.delete(table, b, axis=0).max(axis=0, initial=0)
        new_value = float(np.maximum(others, row_table) @ weights)
        if new_value > value + 1e-12:
            present.discard(tuple(rows[b].tolist()))
            present.add(key)
            rows[b], table[b], value = candidate, row_table, new_value
    return rows


def _propose(row: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    L = len(row)
    move = rng.integers(3) if L > 1 else 2
    if move == 2:
        return rng.permutation(L)
    i, j = rng.choice(L, size=2, replace=False)
    out = row.copy()
    if move == 0:
        out[i], out[j] = out[j], out[i]
    else:
        out = np.insert(np.delete(out, i), j, row[i])
    return out
