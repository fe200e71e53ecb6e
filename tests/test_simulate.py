import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from s3t_sim.criteria import Criterion, parse_criterion
from s3t_sim.laws import HitSetChainLaw, PoissonEmbeddingLaw, all_dead_law, system_served_prefix_distribution
from s3t_sim.performance import saturating_performance
from s3t_sim.montecarlo import (
    apportion_points,
    expected_sisa_cost_per_request,
    naive_failure_counts,
    naive_served_prefix,
    simulate_failure_counts,
    simulate_performance,
    simulate_served_prefix,
    simulate_sisa_cost,
)
from s3t_sim.montecarlo.streams import first_marked_position
from s3t_sim.selection import build_system
from s3t_sim.system import S3TSystem

# Hypothesis draws a fixed sequence of examples (derandomize) so that every 4-SE check is reproducible.
PROPERTY = settings(max_examples=30, deadline=None, derandomize=True)


def within(mc_mean, se, exact, k=4.0):
    return abs(mc_mean - exact) <= k * se


def cell_tolerance(p, runs):
    """4 standard errors of a frequency, with a 1/runs floor for cells of probability ~0."""
    return 4 * np.sqrt((p * (1 - p) + 1 / runs) / runs)


@st.composite
def small_case(draw, max_m=2, max_L=3):
    m = draw(st.integers(1, max_m))
    L = draw(st.integers(2, max_L))
    B = draw(st.integers(1, L))
    system = build_system(m, L, B, draw(st.sampled_from(["cyclic", "strided"])))[0]
    prior = None
    if draw(st.booleans()):
        prior = np.random.default_rng(draw(st.integers(0, 10**6))).dirichlet(np.full(m * L, 0.8)).reshape(m, L)
    kind = draw(st.sampled_from(["all-dead", "any-dead", "prefix-below", "performance-below"]))
    if kind == "prefix-below":
        criterion = parse_criterion(f"prefix-below:{draw(st.sampled_from([0.3, 0.5, 1.0]))}")
    elif kind == "performance-below":
        criterion = Criterion(kind, 0.75, saturating_performance(L, 0.5, 0.9, 1.5))
    else:
        criterion = parse_criterion(kind)
    return system, prior, criterion


@PROPERTY
@given(small_case(), st.integers(0, 2**31))
def test_monte_carlo_agrees_with_the_exact_law(case, seed):
    system, prior, criterion = case
    law = HitSetChainLaw(system, prior, criterion)
    result = simulate_failure_counts(system, prior, criterion, runs=4000, seed=seed)
    assert within(result.mean, result.se, law.mean())
    median = int(law.ppf([0.5])[0])
    p = float(law.cdf(median))
    assert abs((result.values <= median).mean() - p) <= cell_tolerance(p, 4000)


@PROPERTY
@given(small_case(max_m=3, max_L=4), st.integers(0, 2**31), st.integers(1, 12))
def test_served_prefix_distribution_agrees_with_enumeration(case, seed, r):
    system, prior, _ = case
    runs = 4000
    k = simulate_served_prefix(system, prior, [r], runs=runs, seed=seed)[:, 0, :]
    exact = system_served_prefix_distribution(system, prior, r)
    for s in range(system.m):
        freq = np.bincount(k[:, s], minlength=system.L + 1) / runs
        assert np.all(np.abs(freq - exact[s]) <= cell_tolerance(exact[s], runs))


@PROPERTY
@given(st.integers(1, 4), st.integers(1, 6), st.sampled_from(["all-dead", "any-dead", "prefix-below:0.5"]),
       st.integers(0, 2**31))
def test_sisa_with_fallback_is_s3t_with_one_sequence(m, L, criterion, seed):
    sisa = S3TSystem.sisa(m, L, fallback=True)
    s3t = build_system(m, L, 1)[0]
    a = simulate_failure_counts(sisa, None, criterion, runs=200, seed=seed)
    b = simulate_failure_counts(s3t, None, criterion, runs=200, seed=seed)
    assert np.array_equal(a.values, b.values)


def test_spec_means_by_monte_carlo():
    for B in range(1, 7):
        system = build_system(5, 6, B)[0]
        result = simulate_failure_counts(system, None, "all-dead", runs=20000, seed=B)
        assert within(result.mean, result.se, all_dead_law(system).mean())
    sisa = simulate_failure_counts(S3TSystem.sisa(5, 6, fallback=False), None, "all-dead", runs=20000, seed=7)
    assert within(sisa.mean, sisa.se, 5 * sum(1 / i for i in range(1, 6)))  # 11.42


@pytest.mark.parametrize("criterion", ["all-dead", "any-dead", "prefix-below:0.5"])
@pytest.mark.parametrize("prior", [None, "zipf:1.2"])
def test_fast_and_naive_simulators_agree(criterion, prior):
    system = build_system(4, 5, 3, "strided")[0]
    fast = simulate_failure_counts(system, prior, criterion, runs=20000, seed=1)
    naive = naive_failure_counts(system, prior, criterion, runs=800, seed=2)
    assert abs(fast.mean - naive.mean) <= 4 * math.hypot(fast.se, naive.se)


def _exact_without_replacement(system, sizes, criterion):
    """Failure-count law by enumerating every order of the N labelled points."""
    labels = np.repeat(np.arange(sizes.size), sizes.ravel())
    law = {}
    orders = list(itertools.permutations(range(labels.size)))
    for order in orders:
        deleted = np.zeros(sizes.size, bool)
        for count, point in enumerate(order, start=1):
            deleted[labels[point]] = True
            if criterion.holds(system.served_prefix(deleted.reshape(sizes.shape)), system.L):
                law[count] = law.get(count, 0) + 1 / len(orders)
                break
    return law


@pytest.mark.parametrize("criterion", ["all-dead", "any-dead", "prefix-below:0.6"])
def test_without_replacement_matches_exact_enumeration(criterion):
    system = build_system(2, 2, 1)[0]
    sizes = np.array([[2, 1], [1, 3]])
    crit = parse_criterion(criterion)
    exact = _exact_without_replacement(system, sizes, crit)
    mean = sum(c * p for c, p in exact.items())
    runs = 20000
    fast = simulate_failure_counts(system, None, crit, runs, seed=3, request_model="without-replacement", points=sizes)
    assert within(fast.mean, fast.se, mean)
    for count, p in exact.items():
        assert abs((fast.values == count).mean() - p) <= cell_tolerance(p, runs)
    naive = naive_failure_counts(system, None, crit, 2000, seed=4, request_model="without-replacement", points=sizes)
    assert within(naive.mean, naive.se, mean)


def test_without_replacement_served_prefix_matches_naive_loop():
    system = build_system(3, 4, 2)[0]
    counts = [3, 8, 15]
    fast = simulate_served_prefix(system, "zipf:1", counts, 8000, seed=5, request_model="without-replacement", points=36)
    naive = naive_served_prefix(system, "zipf:1", counts, 1500, seed=6, request_model="without-replacement", points=36)
    for i in range(len(counts)):
        a, b = fast[:, i].sum(axis=1), naive[:, i].sum(axis=1)
        assert abs(a.mean() - b.mean()) <= 4 * math.hypot(a.std() / math.sqrt(a.size), b.std() / math.sqrt(b.size))


def test_first_marked_position_law():
    # first of U = 3 marked items among M = 9 in random order: P(G > g) = C(9 - g, 3) / C(9, 3)
    rng = np.random.default_rng(0)
    runs = 40000
    g = first_marked_position(rng, np.full(runs, 9), np.full(runs, 3))
    for value in range(1, 8):
        p = (math.comb(9 - value + 1, 3) - math.comb(9 - value, 3)) / math.comb(9, 3)
        assert abs((g == value).mean() - p) <= cell_tolerance(p, runs)
    assert g.min() >= 1 and g.max() <= 7


def test_served_prefix_is_non_increasing_along_a_stream():
    system = build_system(3, 5, 3)[0]
    k = simulate_served_prefix(system, "exponential:3", [0, 2, 4, 8, 16, 64], 500, seed=0)
    assert np.all(k[:, 0] == 5) and np.all(np.diff(k, axis=1) <= 0)


def test_results_are_reproducible_and_record_the_seed():
    system = build_system(3, 4, 2)[0]
    a = simulate_failure_counts(system, None, "any-dead", 300, seed=11)
    b = simulate_failure_counts(system, None, "any-dead", 300, seed=11)
    assert np.array_equal(a.values, b.values) and a.seed == 11 and a.runs == 300 and a.seconds >= 0
    c = simulate_failure_counts(system, None, "any-dead", 300, seed=None)
    d = simulate_failure_counts(system, None, "any-dead", 300, seed=c.seed)
    assert isinstance(c.seed, int) and np.array_equal(c.values, d.values)


def test_many_chunks_agree_with_the_exact_law():
    system = build_system(20, 16, 16)[0]  # prefix criteria need several chunks here
    result = simulate_failure_counts(system, None, "all-dead", 3000, seed=2)
    assert within(result.mean, result.se, all_dead_law(system).mean())
    any_dead = simulate_failure_counts(system, None, "any-dead", 3000, seed=3)
    assert any_dead.values.min() >= 16 and any_dead.mean < result.mean


def test_sisa_retraining_cost():
    sisa = S3TSystem.sisa(2, 3)
    assert sisa.retraining_stage_cost().tolist() == [[3, 2, 1], [3, 2, 1]]
    assert sisa.retraining_stage_cost("slice-passes").tolist() == [[6, 5, 3], [6, 5, 3]]
    per_request = expected_sisa_cost_per_request(sisa, None)
    assert per_request == pytest.approx(2.0)
    cost = simulate_sisa_cost(sisa, None, [10, 40], 4000, seed=0)
    assert within(cost[:, 1].mean(), cost[:, 1].std() / math.sqrt(4000), 40 * per_request)
    # Same stream, up to S3T's failure: Wald gives E[cost] = E[T] * E[c].
    s3t = build_system(2, 3, 2)[0]
    run = naive_failure_counts(s3t, None, "any-dead", 3000, seed=1, sisa=sisa)
    total = run.extra["sisa_cost"]
    exact = HitSetChainLaw(s3t, None, "any-dead").mean() * per_request
    assert within(total.mean(), total.std() / math.sqrt(total.size), exact)


def test_apportion_points():
    assert apportion_points(np.array([[1 / 3, 1 / 3, 1 / 3]]), 10).sum() == 10
    assert apportion_points(np.full((2, 2), 0.25), 8).tolist() == [[2, 2], [2, 2]]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(runs=0), r"runs must be an integer in \[1, inf\]"),
        (dict(request_model="poisson"), "request_model must be one of"),
        (dict(request_model="without-replacement"), "needs points"),
        (dict(prior=np.ones(5) / 5), r"prior must have m\*L = 6 entries"),
        (dict(criterion="prefix-below:1.5"), r"prefix-below fraction must be a finite number in \(0, 1\]"),
        (dict(criterion="prefix-below"), "needs a threshold"),
        (dict(prior=np.array([[0, 0, 1 / 3], [0, 1 / 3, 1 / 3]])), "never holds"),
        (dict(seed=-1), r"seed must be an integer in \[0, inf\]"),
    ],
)
def test_bad_input_names_the_parameter(kwargs, message):
    args = dict(system=build_system(2, 3, 2)[0], prior=None, criterion="all-dead", runs=10, seed=0)
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=message):
        simulate_failure_counts(**args)


def test_system_checks():
    with pytest.raises(ValueError, match="must have shape \\(m, B, L\\)"):
        S3TSystem(np.zeros((2, 3), dtype=int))
    with pytest.raises(ValueError, match="B must be 1"):
        S3TSystem(np.array([[[0, 1], [1, 0]]]), checkpoint_fallback=False)
    with pytest.raises(ValueError, match=r"B must be an integer in \[1, L!\]"):
        build_system(2, 3, 7)[0]


@pytest.mark.parametrize("criterion", ["all-dead", "any-dead", "prefix-below:0.5"])
def test_embedded_sisa_cost_matches_the_naive_same_stream_loop(criterion):
    system = build_system(2, 3, 2, "strided")[0]
    prior = np.array([[0.05, 0.1, 0.25], [0.3, 0.2, 0.1]])
    sisa = S3TSystem.sisa(2, 3)
    fast = simulate_failure_counts(system, prior, criterion, 20000, seed=8, sisa_cost="stages")
    naive = naive_failure_counts(system, prior, criterion, 2000, seed=9, sisa=sisa)
    assert within(fast.mean, fast.se, HitSetChainLaw(system, prior, criterion).mean())
    # the joint law of (count, cost): compare the cost's mean and the mean of count x cost
    for f in (lambda r: r.extra["sisa_cost"], lambda r: r.extra["sisa_cost"] * r.values):
        a, b = f(fast), f(naive)
        assert abs(a.mean() - b.mean()) <= 4 * math.hypot(a.std() / math.sqrt(a.size), b.std() / math.sqrt(b.size))
    with pytest.raises(ValueError, match="sisa_cost needs request_model 'iid'"):
        simulate_failure_counts(system, prior, criterion, 10, seed=0, request_model="without-replacement",
                                points=30, sisa_cost="stages")


@pytest.mark.parametrize("criterion", ["all-dead", "any-dead", "prefix-below:0.5"])
def test_monte_carlo_matches_poisson_embedding_at_high_precision(criterion):
    # 10^5 runs: an SE near 0.1% of the mean, so a biased wait or order would show.
    system = build_system(5, 6, 3, "strided")[0]
    prior = "zipf:1.2"
    result = simulate_failure_counts(system, prior, criterion, runs=100_000, seed=12)
    law = PoissonEmbeddingLaw(system, prior, criterion)
    assert within(result.mean, result.se, law.mean())
    centred = result.values - result.mean
    var_se = math.sqrt(((centred**4).mean() - centred.var() ** 2) / result.runs)  # SE of the sample variance
    assert within(result.values.var(ddof=1), var_se, law.var())


def test_simulated_performance_matches_the_exact_expectation():
    from s3t_sim.laws import expected_performance

    system = build_system(3, 5, 2, "strided")[0]
    f = saturating_performance(5, 0.5, 0.9, 2.0)
    counts = [0, 4, 10, 25]
    runs = 5000
    values = simulate_performance(system, "pareto:1.16", counts, f, runs, seed=3)
    exact = expected_performance(system, "pareto:1.16", counts, f)
    assert values[:, 0] == pytest.approx(f(5))
    for i in range(1, len(counts)):
        assert within(values[:, i].mean(), values[:, i].std() / math.sqrt(runs), exact[i])


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("criterion", ["all-dead", "any-dead", "prefix-below:0.5"])
def test_a_slice_hit_with_probability_one_is_quiet_and_exact(criterion):
    # one shard whose first slice takes the whole prior: every request hits it, so the count is 1
    system = build_system(1, 2, 1)[0]
    result = simulate_failure_counts(system, np.array([[1.0, 0.0]]), criterion, runs=50, seed=3)
    assert result.values.tolist() == [1] * 50 and result.se == 0.0
    served = simulate_served_prefix(system, np.array([[1.0, 0.0]]), [0, 1, 3], runs=20, seed=3)
    assert served[:, :, 0].tolist() == [[2, 0, 0]] * 20
