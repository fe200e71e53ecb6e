"""BMS solver order: the same matching value as a straightforward reference at every round.

`bipartite_matching_selection` hands the solver slices by decreasing prior and slots by
increasing prefix mass (faster augmenting paths). That may pick another matching among
equal-value ones, so the sets can differ from the index-order solver's; the value of every
round's matching may not. `reference_bms` below is the plain algorithm (weights from
scratch, `linear_sum_assignment` in index order).
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from s3t_sim.selection import bipartite_matching_selection
from s3t_sim.selection.bms import TIE_BREAK, _mean_power, _split_groups


def reference_bms(L: int, B: int, prior, horizon: float, weight: str = "score", follow=None):
    """Plain BMS. With ``follow`` (a set of sequences), every round adopts follow's slices
    and the function returns a list of (optimal round value, value of follow's round)."""
    p = np.asarray(prior, dtype=float)
    rows = np.empty((B, L), dtype=np.int64)
    group_of_row = np.zeros(B, dtype=np.int64)
    rounds = []
    for k in range(L):
        slot_of_row, slot_group, slot_rank = _split_groups(group_of_row, L - k)
        n_slots = len(slot_group)
        first = np.zeros(n_slots, dtype=np.int64)
        first[slot_of_row] = np.arange(B)
        size = np.bincount(slot_of_row, minlength=n_slots)
        prefix = rows[first, :k]
        used = np.zeros((n_slots, L), dtype=bool)
        used[np.repeat(np.arange(n_slots), k), prefix.ravel()] = True
        clean = np.clip(1.0 - p[prefix].sum(axis=1)[:, None] - p[None, :], 0.0, 1.0)
        gain = (k + 1) * clean**horizon if weight == "score" else _mean_power(clean, max(1, round(horizon)))
        in_prefixes = np.bincount(rows[:, :k].ravel(), minlength=L)
        weights = np.where(used, -np.inf, gain * size[:, None] * (1.0 - TIE_BREAK * in_prefixes / B))
        followed = None if follow is None else follow[first, k]
        taken = np.zeros((int(slot_group.max()) + 1, L), dtype=bool)
        choice = np.empty(n_slots, dtype=np.int64)
        order = np.lexsort((slot_group, slot_rank))
        pending = [order[i:i + L] for i in range(0, n_slots, L)]
        while pending:
            chunk = pending.pop(0)
            sub = np.where(taken[slot_group[chunk]], -np.inf, weights[chunk])
            try:
                matched, columns = linear_sum_assignment(sub, maximize=True)
            except ValueError:
                pending[:0] = [chunk[: len(chunk) // 2], chunk[len(chunk) // 2:]]
                continue
            if followed is not None:
                rounds.append((sub[matched, columns].sum(), sub[np.arange(len(chunk)), followed[chunk]].sum()))
                matched, columns = np.arange(len(chunk)), followed[chunk]
            choice[chunk[matched]] = columns
            taken[slot_group[chunk[matched]], columns] = True
        rows[:, k] = choice[slot_of_row]
        group_of_row = slot_of_row
    return rows if follow is None else rounds


def dirichlet_prior(L: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).dirichlet(np.full(L, 0.7))


@pytest.mark.parametrize("L", [5, 9, 16, 24])
@pytest.mark.parametrize("budget", ["B < L", "B = L", "B > L"])
@pytest.mark.parametrize("horizon", [8.0, 100.0])
def test_every_round_has_the_reference_matching_value(L, budget, horizon):
    B = {"B < L": L // 2 + 1, "B = L": L, "B > L": 2 * L + 3}[budget]
    for seed in range(3):
        p = dirichlet_prior(L, seed)
        seqs = bipartite_matching_selection(L, B, p, horizon=horizon)
        rounds = reference_bms(L, B, p, horizon, follow=seqs)
        assert len(rounds) >= L
        for best, ours in rounds:
            assert np.isfinite(ours)  # a feasible matching: no slice repeated in a prefix
            assert ours == pytest.approx(best, rel=1e-12, abs=0.0)


def test_objective_weight_has_the_reference_matching_value():
    p = dirichlet_prior(12, 7)
    for B in (5, 12, 30):
        seqs = bipartite_matching_selection(12, B, p, horizon=12, weight="objective")
        for best, ours in reference_bms(12, B, p, 12, weight="objective", follow=seqs):
            assert ours == pytest.approx(best, rel=1e-12, abs=0.0)


def test_l256_zipf_rounds_match_the_reference():
    """The benchmark case (L = B = 256, Zipf(1.1)), every position against the reference."""
    from s3t_sim.priors import parse_prior

    p = parse_prior("zipf:1.1", 1, 256)[0]
    seqs = bipartite_matching_selection(256, 256, p)
    rounds = reference_bms(256, 256, p, 100.0, follow=seqs)
    assert len(rounds) == 256
    best, ours = np.array(rounds).T
    np.testing.assert_allclose(ours, best, rtol=1e-12, atol=0.0)


@pytest.mark.parametrize("L, B", [(4, 2), (4, 4), (5, 3), (6, 6), (7, 20), (12, 5), (12, 12)])
def test_uniform_prior_sets_equal_the_reference(L, B):
    """Equal priors and equal prefix masses leave the index order, so the sets are the
    reference's own (the uniform rows of docs/selection.md are unchanged)."""
    p = np.full(L, 1.0 / L)
    np.testing.assert_array_equal(bipartite_matching_selection(L, B, p, horizon=L), reference_bms(L, B, p, L))
