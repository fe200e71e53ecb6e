"""Property tests (hypothesis) of the selection methods: validity, balance, Latin squares."""
from __future__ import annotations

import math
from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from s3t_sim.selection import (
    bipartite_matching_selection,
    cyclic_sequences,
    expected_served_prefix,
    prefix_tree,
    random_permutations,
    training_cost,
)

FAST = settings(max_examples=60, deadline=None)


@st.composite
def size_and_budget(draw, max_L=6, max_B=150):
    L = draw(st.integers(1, max_L))
    B = draw(st.integers(1, min(math.factorial(L), max_B)))
    return L, B


@st.composite
def priors(draw, L):
    weights = draw(st.lists(st.floats(0.01, 1.0), min_size=L, max_size=L))
    p = np.array(weights)
    return p / p.sum()


def assert_distinct_permutations(seqs, L, B):
    assert seqs.shape == (B, L)
    assert np.all(np.sort(seqs, axis=1) == np.arange(L))
    assert len({tuple(r) for r in seqs.tolist()}) == B


def assert_balanced_tree(seqs):
    """Below every prefix with c sequences and n slices left, each of the n slices leads
    floor(c/n) or ceil(c/n) of them (slices leading none included)."""
    L = seqs.shape[1]
    for depth in range(L):
        below = Counter(tuple(r[:depth]) for r in seqs.tolist())
        leads = Counter(tuple(r[: depth + 1]) for r in seqs.tolist())
        n = L - depth
        for prefix, c in below.items():
            counts = [leads.get(prefix + (s,), 0) for s in range(L) if s not in prefix]
            assert len(counts) == n and sum(counts) == c
            assert set(counts) <= {c // n, -(-c // n)}, (prefix, counts)


@FAST
@given(size_and_budget(), st.sampled_from(["consecutive", "strided"]))
def test_cyclic_sets_are_valid_and_balanced(sizes, starts):
    L, B = sizes
    seqs = cyclic_sequences(L, B, starts)
    assert_distinct_permutations(seqs, L, B)
    assert_balanced_tree(seqs)


@FAST
@given(st.data())
def test_bms_sets_are_valid_and_balanced(data):
    L, B = data.draw(size_and_budget(max_B=60))
    p = data.draw(priors(L))
    horizon = data.draw(st.sampled_from([1.0, 10.0, 100.0]))
    seqs = bipartite_matching_selection(L, B, p, horizon=horizon)
    assert_distinct_permutations(seqs, L, B)
    assert_balanced_tree(seqs)


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_bms_latin_square_at_full_rotation_budget(data):
    L = data.draw(st.integers(1, 12))
    p = data.draw(priors(L))
    seqs = bipartite_matching_selection(L, L, p, horizon=data.draw(st.sampled_from([5.0, 100.0])))
    for position in range(L):
        assert sorted(seqs[:, position]) == list(range(L))


@FAST
@given(size_and_budget(max_L=5, max_B=40), st.integers(0, 2**32 - 1))
def test_cost_matches_prefix_tree(sizes, seed):
    L, B = sizes
    seqs = random_permutations(L, B, seed=seed)
    assert_distinct_permutations(seqs, L, B)
    tree = prefix_tree(seqs)
    cost = training_cost(seqs)
    assert cost["distinct_prefixes"] == tree.number_of_nodes() - 1
    assert cost["shared_cost"] == sum(length for _, length in tree.nodes(data="length"))
    assert cost["shared_cost"] <= cost["separate_cost"] == B * L * (L + 1) // 2


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_served_prefix_falls_with_requests(data):
    L, B = data.draw(size_and_budget(max_L=6, max_B=20))
    p = data.draw(priors(L))
    seqs = random_permutations(L, B, seed=data.draw(st.integers(0, 1000)))
    values = [float(expected_served_prefix(seqs, p, r)) for r in range(6)]
    assert values[0] == L
    assert all(a >= b - 1e-12 for a, b in zip(values, values[1:]))
    assert all(0 <= v <= L for v in values)
