"""Sequence selection: methods, objectives, prefix tree, exact optimiser, local search."""
from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np
import pytest

from s3t_sim.prefix import served_prefix
from s3t_sim.selection import (
    METHODS,
    balanced_prefix_tree,
    bipartite_matching_selection,
    cyclic_rotations,
    expected_requests_to_death,
    expected_served_prefix,
    full_budget,
    local_search,
    optimal_sequences,
    prefix_tree,
    random_permutations,
    rotation_starts,
    select_sequences,
    training_cost,
)
from s3t_sim.laws.hitsets import hit_set_law
from s3t_sim.laws.served_prefix import served_prefix_distribution
from s3t_sim.selection.optimal import count_candidate_sets

ZIPF5 = np.arange(1, 6) ** -1.1 / np.sum(np.arange(1, 6) ** -1.1)


def zipf(L: int, a: float = 1.1) -> np.ndarray:
    w = np.arange(1, L + 1, dtype=float) ** -a
    return w / w.sum()


def brute_force_served_prefix(sequences, prior, requests: int) -> float:
    """E[k] by summing over every request sequence (the definition, no inclusion-exclusion)."""
    prior = np.asarray(prior)
    total = 0.0
    for stream in itertools.product(range(len(prior)), repeat=requests):
        deleted = np.zeros(len(prior), dtype=bool)
        deleted[list(stream)] = True
        total += np.prod(prior[list(stream)]) * served_prefix(np.asarray(sequences), deleted)
    return float(total)


# -- cyclic ------------------------------------------------------------------------------
def test_starter_rotations_unchanged():
    assert rotation_starts(6, 3).tolist() == [0, 1, 2]
    assert rotation_starts(6, 3, "strided").tolist() == [0, 2, 4]
    assert cyclic_rotations(4, 2, "strided").tolist() == [[0, 1, 2, 3], [2, 3, 0, 1]]


def test_balanced_tree_extends_rotations():
    tree = balanced_prefix_tree(4, 10)
    assert tree[:4].tolist() == cyclic_rotations(4, 4).tolist()
    assert np.bincount(tree[:, 0], minlength=4).tolist() == [3, 3, 2, 2]
    assert sorted(map(tuple, balanced_prefix_tree(4, 24).tolist())) == sorted(itertools.permutations(range(4)))


# -- select_sequences --------------------------------------------------------------------
@pytest.mark.parametrize("method", METHODS)
def test_every_method_returns_distinct_permutations(method):
    L, B = {"full": (4, 24), "sisa": (5, 1), "optimal": (4, 4)}.get(method, (5, 4))
    seqs = select_sequences(method, L, B, prior=ZIPF5[:L] / ZIPF5[:L].sum(), seed=1, horizon=5)
    assert seqs.shape == (B, L) and seqs.dtype == np.int64
    assert all(sorted(row) == list(range(L)) for row in seqs.tolist())
    assert len({tuple(r) for r in seqs.tolist()}) == B


def test_aliases_and_strided_starts():
    assert np.array_equal(select_sequences("cyclic", 7, 3), select_sequences("consecutive", 7, 3))
    assert select_sequences("strided", 6, 3)[:, 0].tolist() == [0, 2, 4]
    assert select_sequences("strided", 6, 9)[:6, 0].tolist() == [0, 1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(method="greedy", L=4, B=2), "method must be one of"),
        (dict(method="cyclic", L=4, B=25), r"B must be an integer in \[1, L!\] = \[1, 24\]"),
        (dict(method="cyclic", L=0, B=1), r"L must be an integer in \[1, inf\]"),
        (dict(method="full", L=4, B=5), "B must equal L! = 24"),
        (dict(method="sisa", L=4, B=2), "B must be 1"),
        (dict(method="bms", L=3, B=2, prior=[0.5, 0.5]), r"prior must have shape \(3,\)"),
        (dict(method="bms", L=2, B=2, prior=[0.7, 0.7]), "prior must sum to 1"),
        (dict(method="bms", L=3, B=2, horizon=0), "horizon must be a finite number in"),
        (dict(method="optimal", L=6, B=4, prior=zipf(6)), "more than max_sets"),
        (dict(method="optimal", L=7, B=2), r"L must be an integer in \[1, 6\]"),
        (dict(method="cyclic", L=4, B=2, weight="score"), "takes no options"),
        (dict(method="bms", L=4, B=2, weight="gain"), "weight must be one of"),
    ],
)
def test_bad_input_names_parameter_and_range(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        select_sequences(**kwargs)


def test_random_is_seeded_and_distinct():
    a = random_permutations(6, 50, seed=3)
    assert np.array_equal(a, random_permutations(6, 50, seed=3))
    assert not np.array_equal(a, random_permutations(6, 50, seed=4))
    assert len({tuple(r) for r in a.tolist()}) == 50
    big = random_permutations(25, 5, seed=0)  # beyond L! in int64: rejection path
    assert big.shape == (5, 25) and len({tuple(r) for r in big.tolist()}) == 5


def test_random_first_slice_is_uniform():
    # 6000 draws of one order of 4 slices: first slice ~ Multinomial(1/4); chi-square at 4 SE scale.
    firsts = np.array([random_permutations(4, 1, seed=s)[0, 0] for s in range(6000)])
    counts = np.bincount(firsts, minlength=4)
    se = math.sqrt(6000 * 0.25 * 0.75)
    assert np.all(np.abs(counts - 1500) < 4 * se)


# -- BMS ---------------------------------------------------------------------------------
def test_bms_matching_is_maximum_weight_against_networkx():
    """At every position of BMS (B = L, one round) the chosen slices form a maximum-weight
    matching of the score gains; networkx's max_weight_matching gives the same total."""
    L, t = 6, 8.0
    p = zipf(L, 1.3)
    seqs = bipartite_matching_selection(L, L, p, horizon=t)
    for k in range(L):
        mass = p[seqs[:, :k]].sum(axis=1)
        gain = (k + 1) * np.clip(1 - mass[:, None] - p[None, :], 0, 1) ** t
        graph = nx.Graph()
        for b in range(L):
            for s in range(L):
                if s not in seqs[b, :k]:
                    graph.add_edge(("row", b), ("slice", s), weight=gain[b, s])
        matching = nx.max_weight_matching(graph, maxcardinality=True)
        best = sum(graph.edges[u, v]["weight"] for u, v in matching)
        chosen = gain[np.arange(L), seqs[:, k]].sum()
        assert len(matching) == L
        assert chosen == pytest.approx(best, rel=1e-9, abs=1e-12)


def test_bms_puts_likely_slices_late():
    p = zipf(8, 1.5)
    seqs = bipartite_matching_selection(8, 4, p, horizon=20)  # at B = L every mean position is 3.5
    mean_position = np.argsort(seqs, axis=1).mean(axis=0)  # average position of each slice
    assert mean_position[0] > mean_position[7] and mean_position[0] == mean_position.max()
    assert set(bipartite_matching_selection(8, 3, p, horizon=20)[:, 0]) == {5, 6, 7}  # least likely lead


def test_bms_objective_weight_and_large_budget():
    p = zipf(5)
    a = select_sequences("bms", 5, 4, p, horizon=10, weight="objective")
    assert a.shape == (4, 5)
    big = select_sequences("bms", 5, 50, p, horizon=10)
    counts = np.bincount(big[:, 0], minlength=5)
    assert counts.max() - counts.min() <= 1  # balanced leaders, as the balanced tree


def test_bms_beats_cyclic_and_random_under_zipf():
    from s3t_sim.selection.experiments import compare_methods

    rows = {r["method"]: r for r in compare_methods(L=8, budgets=(4,), methods=("cyclic", "random", "bms"), seed=0)}
    bms, cyclic, random = rows["bms"], rows["cyclic"], rows["random"]
    assert random["random_sets"] == 20 and random["se_average"] > 0
    assert bms["served_prefix_average"] > cyclic["served_prefix_average"]
    assert bms["served_prefix_average"] > random["served_prefix_average"] + 4 * random["se_average"]


def test_quick_selection_report_is_consistent():
    from s3t_sim.selection.experiments import selection_report

    report = selection_report(quick=True)
    assert set(report) == {"methods_zipf", "strided_vs_consecutive", "optimality_gaps", "training_costs", "served_prefix_curves"}
    for row in report["optimality_gaps"]:
        gaps = [v for k, v in row.items() if k.startswith("gap_") and not k.endswith("_se")]
        assert all(-1e-12 <= g < 1 for g in gaps)
    assert all(r["gain"] > 0.05 for r in report["strided_vs_consecutive"])
    full = [r for r in report["training_costs"] if r["method"] == "full"][0]
    assert full["B"] == 120 and full["distinct_prefixes"] == 325


# -- prefix tree and training cost -------------------------------------------------------
def test_prefix_tree_and_cost():
    seqs = [[0, 1, 2], [0, 2, 1], [1, 0, 2]]
    tree = prefix_tree(seqs)
    assert nx.is_arborescence(tree)
    assert tree.nodes[(0,)]["length"] == 1 and set(tree.successors((0,))) == {(0, 1), (0, 2)}
    cost = training_cost(seqs)
    assert cost["distinct_prefixes"] == tree.number_of_nodes() - 1 == 8
    assert cost["shared_cost"] == sum(length for _, length in tree.nodes(data="length")) == 1 + 2 + 3 + 2 + 3 + 1 + 2 + 3
    assert cost["separate_cost"] == 18 and cost["saving"] == pytest.approx(1 - 17 / 18)


def test_full_budget_cost_counts_every_prefix():
    L = 5
    cost = training_cost(full_budget(L))
    assert cost["distinct_prefixes"] == sum(math.perm(L, n) for n in range(1, L + 1))
    assert cost["shared_cost"] == sum(n * math.perm(L, n) for n in range(1, L + 1))


# -- objectives --------------------------------------------------------------------------
@pytest.mark.parametrize("requests", [0, 1, 3])
def test_exact_served_prefix_matches_request_enumeration(requests):
    p = np.array([0.4, 0.3, 0.2, 0.1])
    seqs = [[0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2]]
    assert float(expected_served_prefix(seqs, p, requests)) == pytest.approx(
        brute_force_served_prefix(seqs, p, requests), abs=1e-12
    )


def test_distribution_average_and_shard_share():
    p = zipf(6)
    seqs = select_sequences("bms", 6, 3, p, horizon=6)
    pmf = served_prefix_distribution(seqs, p, 6)
    assert pmf.sum() == pytest.approx(1.0) and np.all(pmf >= 0)
    assert pmf @ np.arange(7) == pytest.approx(float(expected_served_prefix(seqs, p, 6)))
    per_r = [float(expected_served_prefix(seqs, p, r)) for r in range(1, 7)]
    assert float(expected_served_prefix(seqs, p, 6, average=True)) == pytest.approx(np.mean(per_r))
    # a request reaches the shard w.p. q: a Binomial(R, q) number of shard requests
    q, R = 1 / 3, 7
    mixture = sum(math.comb(R, r) * q**r * (1 - q) ** (R - r) * float(expected_served_prefix(seqs, p, r)) for r in range(R + 1))
    assert float(expected_served_prefix(seqs, p, R, shard_share=q)) == pytest.approx(mixture, abs=1e-12)
    law = hit_set_law(p, 5)
    assert law.sum() == pytest.approx(1.0) and law[0] == 0.0


def test_requests_to_death():
    for L, F in [(4, 1), (6, 4), (30, 30)]:
        seqs = select_sequences("cyclic", L, F)
        assert expected_requests_to_death(seqs) == pytest.approx(L * sum(1 / i for i in range(1, F + 1)), rel=1e-9)
    p = zipf(5)
    seqs = select_sequences("cyclic", 5, 3)
    firsts = [0, 1, 2]
    exact = sum(
        (-1) ** (len(S) + 1) / p[list(S)].sum() for n in range(1, 4) for S in itertools.combinations(firsts, n)
    )
    assert expected_requests_to_death(seqs, p) == pytest.approx(exact, rel=1e-9)
    assert expected_requests_to_death(seqs, p, shard_share=0.25) == pytest.approx(4 * exact, rel=1e-9)
    assert expected_requests_to_death(seqs, [0.0, 0.5, 0.5, 0.0, 0.0]) == math.inf


@pytest.mark.parametrize("average, share", [(False, 1.0), (True, 1 / 3)])
def test_monte_carlo_matches_exact(average, share):
    p = zipf(7)
    seqs = select_sequences("bms", 7, 3, p, horizon=8)
    exact = float(expected_served_prefix(seqs, p, 8, average=average, shard_share=share))
    mc = expected_served_prefix(seqs, p, 8, average=average, shard_share=share, method="mc", runs=20_000, seed=11)
    assert mc.method == "mc" and mc.runs == 20_000 and mc.se > 0
    assert abs(mc.mean - exact) < 4 * mc.se


def test_strided_beats_consecutive_as_in_spec():
    """Spec §1: strided starts give about +10% expected served prefix at L=6, m=3, B=2 or 3
    after 5-10 deletions (exact enumeration)."""
    for B in (2, 3):
        for R in (5, 10):
            consecutive = float(expected_served_prefix(select_sequences("consecutive", 6, B), None, R, shard_share=1 / 3))
            strided = float(expected_served_prefix(select_sequences("strided", 6, B), None, R, shard_share=1 / 3))
            assert 0.08 < strided / consecutive - 1 < 0.12


# -- exact optimiser and local search ----------------------------------------------------
def brute_force_optimum(L, B, p, R):
    perms = full_budget(L)
    return max(
        float(expected_served_prefix(perms[list(T)], p, R, average=True))
        for T in itertools.combinations(range(len(perms)), B)
    )


@pytest.mark.parametrize(
    "L, B, prior",
    [(3, 2, None), (3, 4, [0.5, 0.3, 0.2]), (4, 2, [0.4, 0.3, 0.2, 0.1]), (4, 3, [0.3, 0.3, 0.2, 0.2]), (4, 3, None)],
)
def test_optimal_equals_brute_force(L, B, prior):
    best = optimal_sequences(L, B, prior, requests=3)
    assert float(expected_served_prefix(best, prior, 3, average=True)) == pytest.approx(
        brute_force_optimum(L, B, prior, 3), abs=1e-12
    )


def test_symmetry_reduction_counts():
    assert count_candidate_sets(5, 4, np.full(5, 0.2)) == math.comb(119, 3)
    assert count_candidate_sets(5, 4, ZIPF5) == math.comb(120, 4)


def test_optimum_bounds_every_heuristic_on_tiny_systems():
    p = ZIPF5
    best = float(expected_served_prefix(optimal_sequences(5, 3, p, requests=5), p, 5, average=True))
    for method in ("cyclic", "strided", "random", "bms", "local-search"):
        seqs = select_sequences(method, 5, 3, p, seed=0, horizon=5)
        assert float(expected_served_prefix(seqs, p, 5, average=True)) <= best + 1e-12


def test_local_search_improves_and_is_seeded():
    p = zipf(8)
    start = select_sequences("cyclic", 8, 4)
    before = float(expected_served_prefix(start, p, 8, average=True))
    a = local_search(start, p, requests=8, iterations=300, seed=5)
    assert np.array_equal(a, local_search(start, p, requests=8, iterations=300, seed=5))
    after = float(expected_served_prefix(a, p, 8, average=True))
    assert after > before
    assert len({tuple(r) for r in a.tolist()}) == 4


def test_bms_objective_weight_is_a_different_rule():
    from s3t_sim.selection import bms_score

    p = zipf(12)
    score = select_sequences("bms", 12, 12, p, horizon=12)
    objective = select_sequences("bms", 12, 12, p, horizon=12, weight="objective")
    assert not np.array_equal(score, objective)
    # the "objective" weight is the single sequence's served prefix averaged over r = 1..t
    one = objective[:1]
    assert bms_score(one, p, horizon=12, weight="objective")[0] == pytest.approx(
        float(expected_served_prefix(one, p, 12, average=True))
    )


def test_objective_agrees_with_the_project_laws():
    """The selection objective and ``s3t_sim.laws`` enumerate hit sets independently."""
    from s3t_sim.laws import system_expected_served_prefix as law_expected_prefix
    from s3t_sim.system import S3TSystem

    p = zipf(6)
    seqs = select_sequences("bms", 6, 3, p, horizon=6)
    one = S3TSystem(seqs[None])
    assert float(expected_served_prefix(seqs, p, 7)) == pytest.approx(law_expected_prefix(one, p[None], 7)[0], abs=1e-12)
    three = S3TSystem(np.broadcast_to(seqs, (3, 3, 6)))  # shard 0 gets 1/3 of the requests
    assert float(expected_served_prefix(seqs, p, 7, shard_share=1 / 3)) == pytest.approx(
        law_expected_prefix(three, np.tile(p / 3, (3, 1)), 7)[0], abs=1e-12
    )
