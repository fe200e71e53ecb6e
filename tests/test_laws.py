import doctest
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import s3t_sim.criteria
import s3t_sim.laws.bound_forms
import s3t_sim.laws.chain
import s3t_sim.laws.coupon
import s3t_sim.laws.deletion
import s3t_sim.laws.poisson
import s3t_sim.laws.served_prefix
import s3t_sim.montecarlo.fast
import s3t_sim.montecarlo.streams
import s3t_sim.performance
import s3t_sim.priors
import s3t_sim.system
from s3t_sim.laws import (
    CouponCollectorLaw,
    HitSetChainLaw,
    PoissonEmbeddingLaw,
    all_dead_law,
    deletion_law,
    harmonic,
    sisa_law,
    system_served_prefix_distribution,
)
from s3t_sim.selection import build_system
from s3t_sim.system import S3TSystem

SPEC_MEANS = [68.5, 87.9, 99.5, 107.9, 114.5, 119.8]  # ../shared/spec/S3T.md, m=5, L=6, B=1..6


@pytest.mark.parametrize("module", [s3t_sim.laws.coupon, s3t_sim.laws.chain, s3t_sim.laws.poisson,
                                    s3t_sim.laws.served_prefix, s3t_sim.laws.deletion, s3t_sim.laws.bound_forms,
                                    s3t_sim.priors, s3t_sim.performance, s3t_sim.criteria, s3t_sim.system,
                                    s3t_sim.montecarlo.fast, s3t_sim.montecarlo.streams])
def test_docstring_examples_run(module):
    assert doctest.testmod(module, optionflags=doctest.ELLIPSIS).failed == 0


@pytest.mark.parametrize("B, expected", list(zip(range(1, 7), SPEC_MEANS)))
def test_spec_exact_means_m5_L6(B, expected):
    law = all_dead_law(build_system(5, 6, B)[0])
    assert round(law.mean(), 1) == expected
    assert law.mean() == pytest.approx(30 * harmonic(5 * B))


def test_spec_sisa_means():
    assert round(sisa_law(5, 6, fallback=False).mean(), 2) == 11.42  # 5 H_5
    assert sisa_law(5, 6, fallback=True).mean() == pytest.approx(30 * harmonic(5))
    assert sisa_law(5, 6).mean() == pytest.approx(all_dead_law(build_system(5, 6, 1)[0]).mean())


def test_coupon_collector_moments_from_its_pmf():
    law = CouponCollectorLaw(12, 7)
    r = np.arange(2000)
    pmf = law.pmf(r)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-12)
    assert (r * pmf).sum() == pytest.approx(12 * harmonic(7), rel=1e-10)
    assert (r**2 * pmf).sum() - law.mean() ** 2 == pytest.approx(law.var(), rel=1e-9)
    assert law.cdf(6) == 0 and law.pmf(7) == pytest.approx(math.prod(range(1, 8)) / 12**7)


def test_coupon_collector_cdf_by_brute_force_enumeration():
    # n = 4 coupons, K = 2 specific ones: enumerate every request sequence of length r.
    law = CouponCollectorLaw(4, 2)
    for r in range(1, 7):
        seen_both = sum({0, 1} <= set(seq) for seq in itertools.product(range(4), repeat=r))
        assert law.cdf(r) == pytest.approx(seen_both / 4**r, abs=1e-14)


def test_coupon_rvs_matches_mean_within_4se():
    law = CouponCollectorLaw(40, 25)
    x = law.rvs(20000, random_state=1)
    assert abs(x.mean() - law.mean()) < 4 * x.std() / math.sqrt(x.size)
    assert law.ppf([0.5])[0] == np.searchsorted(law.cdf(np.arange(400)), 0.5)


def _random_system(data, max_m=2, max_L=3):
    m = data.draw(st.integers(1, max_m))
    L = data.draw(st.integers(2, max_L))
    B = data.draw(st.integers(1, L))
    selection = data.draw(st.sampled_from(["cyclic", "strided"]))
    return build_system(m, L, B, selection)[0]


def _random_prior(data, m, L):
    if data.draw(st.booleans()):
        return None
    rng = np.random.default_rng(data.draw(st.integers(0, 10**6)))
    return rng.dirichlet(np.full(m * L, 0.7)).reshape(m, L)


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_chain_and_poisson_embedding_agree_on_mean_and_variance(data):
    system = _random_system(data)
    prior = _random_prior(data, system.m, system.L)
    criterion = data.draw(st.sampled_from(["all-dead", "any-dead", "prefix-below:0.5", "prefix-below:1"]))
    chain = HitSetChainLaw(system, prior, criterion)
    poisson = PoissonEmbeddingLaw(system, prior, criterion)
    assert poisson.mean() == pytest.approx(chain.mean(), rel=1e-7)
    assert poisson.var() == pytest.approx(chain.var(), rel=1e-6, abs=1e-9)


def test_chain_law_equals_coupon_collector_for_uniform_all_dead():
    system = build_system(2, 3, 2)[0]
    chain = HitSetChainLaw(system, None, "all-dead")
    coupon = all_dead_law(system)  # K = 4 of n = 6
    r = np.arange(60)
    assert chain.cdf(r) == pytest.approx(coupon.cdf(r), abs=1e-13)
    assert chain.mean() == pytest.approx(coupon.mean()) and chain.var() == pytest.approx(coupon.var())


@pytest.mark.parametrize("m, L, B", [(3, 4, 2), (1, 2, 1), (16, 12, 12), (64, 14, 4)])
def test_poisson_embedding_matches_the_closed_forms_to_1e10(m, L, B):
    from scipy.integrate import quad

    system = build_system(m, L, B)[0]
    # all-dead, uniform prior: the coupon collector over the m min(B, L) first slices
    coupon = CouponCollectorLaw(m * L, m * min(B, L))
    law = PoissonEmbeddingLaw(system, None, "all-dead")
    assert law.mean() == pytest.approx(coupon.mean(), rel=1e-10)
    assert law.var() == pytest.approx(coupon.var(), rel=1e-10)
    # spec: any-dead, uniform prior: delta = n int_0^inf [1 - (1 - e^{-u})^F]^m du
    F, n = min(B, L), m * L
    closed = n * quad(lambda u: (1 - (1 - math.exp(-u)) ** F) ** m, 0, np.inf, epsabs=0, epsrel=1e-13, limit=500)[0]
    assert PoissonEmbeddingLaw(system, None, "any-dead").mean() == pytest.approx(closed, rel=1e-10)


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("prior", ["zipf:1.2", "zipf:3.0", "exponential:0.5"])
@pytest.mark.parametrize("criterion", ["all-dead", "any-dead", "prefix-below:0.5"])
def test_poisson_embedding_is_quiet_and_agrees_with_the_chain_under_skewed_priors(prior, criterion):
    system = build_system(3, 4, 2)[0]
    p = s3t_sim.priors.parse_prior(prior, 3, 4, seed=0)
    law, chain = PoissonEmbeddingLaw(system, p, criterion), HitSetChainLaw(system, p, criterion)
    assert law.mean() == pytest.approx(chain.mean(), rel=1e-10)
    assert law.var() == pytest.approx(chain.var(), rel=1e-9)


def test_deletion_law_dispatch():
    system = build_system(5, 6, 3)[0]
    assert isinstance(deletion_law(system), CouponCollectorLaw)
    assert deletion_law(system).mean() == pytest.approx(30 * sum(1 / i for i in range(1, 16)))
    skewed = s3t_sim.priors.parse_prior("zipf:1.2", 5, 6)
    assert isinstance(deletion_law(system, skewed), PoissonEmbeddingLaw)
    assert isinstance(deletion_law(system, None, "any-dead"), PoissonEmbeddingLaw)
    # a uniform-prior all-dead Poisson law equals the coupon collector
    assert PoissonEmbeddingLaw(system).mean() == pytest.approx(deletion_law(system).mean(), rel=1e-10)
    from analysis.bounds import deletion_law as bounds_deletion_law

    assert bounds_deletion_law(system, skewed, "any-dead").mean() == deletion_law(system, skewed, "any-dead").mean()


def test_served_prefix_distribution_by_brute_force_enumeration():
    # m = 2 shards, L = 2, B = 2, non-uniform prior, r = 4: enumerate all 4^4 request sequences.
    system = build_system(2, 2, 2)[0]
    prior = np.array([[0.1, 0.2], [0.3, 0.4]])
    r = 4
    want = np.zeros((2, 3))
    for seq in itertools.product(range(4), repeat=r):
        weight = math.prod(prior.ravel()[i] for i in seq)
        deleted = np.zeros((2, 2), bool)
        deleted.ravel()[list(seq)] = True
        for s, k in enumerate(system.served_prefix(deleted)):
            want[s, k] += weight
    assert system_served_prefix_distribution(system, prior, r) == pytest.approx(want, abs=1e-13)


def test_sisa_without_fallback_prefix_law():
    law = system_served_prefix_distribution(S3TSystem.sisa(2, 3, fallback=False), None, 2)
    alive = (1 - 0.5) ** 2  # no request on the shard
    assert law[0].tolist() == pytest.approx([1 - alive, 0, 0, alive])


def test_laws_reject_bad_input():
    with pytest.raises(ValueError, match=r"K must be an integer in \[1, 5\]"):
        CouponCollectorLaw(5, 6)
    with pytest.raises(ValueError, match="at most 20 relevant slices"):
        HitSetChainLaw(build_system(6, 4, 1)[0], None, "prefix-below:0.5")
    with pytest.raises(ValueError, match="moments need at most 14 relevant slices"):
        HitSetChainLaw(build_system(4, 4, 1)[0], None, "prefix-below:0.5").mean()
    zero_first = np.array([[0.0, 0.5, 0.5]])
    with pytest.raises(ValueError, match="never holds"):
        PoissonEmbeddingLaw(build_system(1, 3, 1)[0], zero_first, "all-dead")


@pytest.mark.parametrize("make", [
    lambda: CouponCollectorLaw(12, 7),
    lambda: HitSetChainLaw(build_system(2, 3, 2)[0], np.array([[0.5, 0.2, 0.1], [0.1, 0.05, 0.05]]), "any-dead"),
    lambda: PoissonEmbeddingLaw(build_system(2, 3, 2)[0], np.array([[0.5, 0.2, 1e-6], [0.1, 0.1, 0.1 - 1e-6]]), "prefix-below:0.5"),
])
def test_frozen_interface_matches_scipy(make):
    """Every law answers scipy.stats' frozen interface like rv_discrete built from its own pmf."""
    from scipy import stats

    law = make()
    k = np.arange(law._support_end(1e-18) + 1)
    ref = stats.rv_discrete(values=(k, law.pmf(k) / law.pmf(k).sum()))
    assert law.mean() == pytest.approx(ref.mean(), rel=1e-9)
    assert law.var() == pytest.approx(ref.var(), rel=1e-8)
    assert law.std() == pytest.approx(ref.std(), rel=1e-8)
    assert law.median() == ref.median()
    assert law.interval(0.9) == tuple(float(v) for v in ref.interval(0.9))
    assert np.array_equal(law.ppf([0.1, 0.5, 0.99]), ref.ppf([0.1, 0.5, 0.99]))
    assert np.allclose(law.cdf(k[:20]), ref.cdf(k[:20]), rtol=1e-12, atol=1e-15)
    assert law.expect(lambda x: x**2, lb=2, ub=9) == pytest.approx(ref.expect(lambda x: x**2, lb=2, ub=9), rel=1e-9)
    assert law.moment(3) == pytest.approx(ref.moment(3), rel=1e-8)
    for got, want in zip(law.stats("mvsk"), ref.stats(moments="mvsk")):
        assert got == pytest.approx(float(want), rel=1e-6, abs=1e-9)
    x = law.rvs(size=4000, random_state=5)
    assert x.shape == (4000,) and np.array_equal(x, law.rvs(size=4000, random_state=5))
    assert abs(x.mean() - law.mean()) < 4 * law.std() / math.sqrt(x.size)
    assert isinstance(law.rvs(random_state=1), int)
