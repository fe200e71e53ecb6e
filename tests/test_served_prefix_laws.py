"""Issue 10/11: served-prefix frozen laws (scipy's interface), exact rotation laws at any L,
the method dispatch of deletion_law, and the variance / served-prefix self-checks of simulate."""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import scipy.stats as ss

from s3t_sim.criteria import parse_criterion
from s3t_sim.laws import CouponCollectorLaw, FiniteLaw, HitSetChainLaw, deletion_law
from s3t_sim.laws.hitsets import served_prefix_by_hit_set
from s3t_sim.laws.rotations import below_counts, hit_count_law, rotation_prefix_pmf, rotation_starts_of
from s3t_sim.laws.served_prefix_law import (
    shard_served_prefix_law,
    system_served_prefix_laws,
    total_served_prefix_law,
)
from s3t_sim.montecarlo.fast import simulate_served_prefix
from s3t_sim.montecarlo.streams import apportion_points
from s3t_sim.performance import linear_performance
from s3t_sim.selection.build import build_system
from s3t_sim.selection.cyclic import cyclic_rotations
from s3t_sim.system import S3TSystem


def _scipy_twin(law: FiniteLaw):
    return ss.rv_discrete(values=(np.arange(law.table.size), law.table))


def _assert_like_scipy(law: FiniteLaw) -> None:
    ref = _scipy_twin(law)
    k = np.arange(-1, law.table.size + 1)
    q = np.array([0.0, 0.01, 0.25, 0.5, 0.9, 0.999, 1.0])
    assert np.allclose(law.pmf(k), ref.pmf(k), atol=1e-15)
    assert np.allclose(law.cdf(k), ref.cdf(k), atol=1e-14) and np.allclose(law.sf(k), ref.sf(k), atol=1e-14)
    assert np.array_equal(law.ppf(q), ref.ppf(q)) and np.array_equal(law.isf(q[1:-1]), ref.isf(q[1:-1]))
    assert law.median() == ref.median() and law.interval(0.9) == tuple(map(float, ref.interval(0.9)))
    assert np.allclose(law.stats("mvsk"), ref.stats(moments="mvsk"), rtol=1e-10, atol=1e-12)
    assert math.isclose(law.moment(3), ref.moment(3), rel_tol=1e-12)
    assert math.isclose(law.expect(lambda x: x * x), ref.expect(lambda x: x * x), rel_tol=1e-12)
    assert math.isclose(law.std(), ref.std(), rel_tol=1e-12)
    draws = law.rvs(size=4000, random_state=5)
    assert draws.shape == (4000,) and abs(draws.mean() - law.mean()) < 5 * law.std() / math.sqrt(4000) + 1e-12


def _assert_pmf_matches_sample(pmf: np.ndarray, sample: np.ndarray) -> None:
    """Every frequency within 5 binomial SE of its exact probability (impossible values never drawn)."""
    n = sample.size
    emp = np.bincount(sample, minlength=pmf.size) / n
    assert emp.size == pmf.size
    assert np.all(np.abs(emp - pmf) <= 5 * np.sqrt(pmf * (1 - pmf) / n) + 1e-12), (emp, pmf)


@pytest.fixture(scope="module")
def skewed():
    return build_system(3, 4, 2, "cyclic", "zipf:1.2", 0)


def test_finite_law_matches_scipy_rv_discrete():
    law = FiniteLaw(np.array([0.1, 0.0, 0.3, 0.6]), "example")
    _assert_like_scipy(law)
    with pytest.raises(ValueError, match="pmf must sum to 1"):
        FiniteLaw([0.5, 0.4])


@pytest.mark.parametrize("model", ["iid", "without-replacement"])
def test_served_prefix_laws_like_scipy_and_monte_carlo(skewed, model):
    system, p = skewed
    sizes = apportion_points(p, 60) if model == "without-replacement" else None
    points = sizes if sizes is not None else None
    r, runs = 5, 40000
    shard_laws = system_served_prefix_laws(system, p, r, request_model=model, sizes=sizes)
    total = total_served_prefix_law(system, p, r, request_model=model, sizes=sizes)
    for law in shard_laws + [total]:
        _assert_like_scipy(law)
        assert model in law.method
    assert math.isclose(total.mean(), math.fsum(law.mean() for law in shard_laws), rel_tol=1e-12)
    k = simulate_served_prefix(system, p, [r], runs, seed=11, request_model=model, points=points)[:, 0, :]
    for s, law in enumerate(shard_laws):
        _assert_pmf_matches_sample(law.table, k[:, s])
    _assert_pmf_matches_sample(total.table, k.sum(axis=1))


def test_total_law_of_one_shard_is_its_law_and_shards_are_dependent(skewed):
    system, p = skewed
    one = S3TSystem(system.sequences[:1])
    assert np.allclose(total_served_prefix_law(one, None, 4).table, shard_served_prefix_law(one, None, 0, 4).table,
                       atol=1e-15)
    # with a fixed request count the shards compete for requests: the total is not their convolution
    laws = system_served_prefix_laws(system, p, 5)
    independent = np.convolve(np.convolve(laws[0].table, laws[1].table), laws[2].table)
    assert np.abs(total_served_prefix_law(system, p, 5).table - independent).max() > 1e-3


def _exact_rotation_pmf(L: int, seqs: np.ndarray, r: int) -> np.ndarray:
    """Independent reference: exact rational occupancy law times exact subset counts."""
    ks = served_prefix_by_hit_set(seqs)
    sizes = np.array([bin(b).count("1") for b in range(2**L)])
    law = [Fraction(1)] + [Fraction(0)] * L
    u = Fraction(1, L)
    for _ in range(r):
        law = [law[h] * (1 - (L - h) * u) + (law[h - 1] * (L - h + 1) * u if h else 0) for h in range(L + 1)]
    return np.array([float(sum(law[h] * int(((ks == k) & (sizes == h)).sum()) / math.comb(L, h)
                               for h in range(L + 1))) for k in range(L + 1)])


@pytest.mark.parametrize("L", [1, 2, 5, 8, 12])
def test_rotation_law_against_enumeration(L):
    for B in sorted({1, min(2, L), max(1, L // 3), max(1, L - 1), L}):
        for starts in ("consecutive", "strided"):
            seqs = cyclic_rotations(L, B, starts)
            J = rotation_starts_of(seqs)
            ks = served_prefix_by_hit_set(seqs)
            sizes = np.array([bin(b).count("1") for b in range(2**L)])
            brute = np.array([[((ks < kap) & (sizes == h)).sum() for h in range(L + 1)] for kap in range(L + 2)])
            assert np.array_equal(below_counts(L, J), brute)  # exact integer counts
            for r in (0, 1, 3, 17, 60):
                got = rotation_prefix_pmf(L, J, hit_count_law(L, 1 / L, r))
                assert np.abs(got - _exact_rotation_pmf(L, seqs, r)).max() < 1e-12


@pytest.mark.parametrize("L,B,starts,r,runs", [(64, 16, "strided", 40, 20000), (64, 8, "consecutive", 25, 20000),
                                               (256, 256, "consecutive", 300, 3000)])
def test_rotation_law_against_monte_carlo_at_large_L(L, B, starts, r, runs):
    system = S3TSystem(np.broadcast_to(cyclic_rotations(L, B, starts), (2, B, L)))
    laws = system_served_prefix_laws(system, None, r)
    assert all(law.method == "uniform rotations (exact, any L), iid requests" for law in laws)
    # a shard is dead once its B starts are hit: the coupon collector for B of the 2L slices
    assert math.isclose(laws[0].pmf(0), CouponCollectorLaw(2 * L, B).cdf(r), rel_tol=1e-9, abs_tol=1e-15)
    k = simulate_served_prefix(system, None, [r], runs, seed=3)[:, 0, :]
    for s, law in enumerate(laws):
        _assert_pmf_matches_sample(law.table, k[:, s])
        assert abs(k[:, s].mean() - law.mean()) <= 5 * law.std() / math.sqrt(k.shape[0])


def test_large_L_dispatch_refuses_what_it_cannot_do_exactly():
    rotations = S3TSystem(np.broadcast_to(cyclic_rotations(20, 5), (2, 5, 20)))
    assert "uniform rotations" in shard_served_prefix_law(rotations, None, 0, 7).method
    skewed = np.full((2, 20), 1.0)
    skewed[0, 0] = 5.0
    with pytest.raises(ValueError, match="L <= 14"):
        shard_served_prefix_law(rotations, skewed / skewed.sum(), 0, 7)
    shuffled = S3TSystem(np.broadcast_to(np.random.default_rng(0).permutation(20)[None, :], (2, 1, 20)))
    with pytest.raises(ValueError, match="rotations under a uniform prior"):
        shard_served_prefix_law(shuffled, None, 0, 7)
    with pytest.raises(ValueError, match="request_model"):
        shard_served_prefix_law(rotations, None, 0, 7, request_model="poisson")
    with pytest.raises(ValueError, match="sizes must be"):
        shard_served_prefix_law(rotations, None, 0, 7, request_model="without-replacement", sizes=[1, 2])
    with pytest.raises(ValueError, match="operations"):
        below_counts(400, np.arange(400))


@pytest.mark.parametrize("criterion", ["all-dead", "any-dead", "prefix-below:0.5", "performance-below:0.6"])
@pytest.mark.parametrize("prior", [None, "zipf:1.5"])
def test_deletion_law_every_criterion_has_one_interface(criterion, prior):
    system, p = build_system(2, 3, 2, "cyclic", prior or "uniform", 0)
    crit = parse_criterion(criterion, linear_performance(3) if criterion.startswith("performance") else None)
    law = deletion_law(system, p, crit)
    uniform_all_dead = prior is None and criterion == "all-dead"
    assert law.method.startswith("coupon collector" if uniform_all_dead else "Poisson embedding")
    chain = HitSetChainLaw(system, p, crit)
    assert math.isclose(law.mean(), chain.mean(), rel_tol=1e-9) and math.isclose(law.var(), chain.var(), rel_tol=1e-9)
    k = np.arange(0, 60)
    assert np.allclose(law.cdf(k), chain.cdf(k), atol=1e-12)
    assert law.median() == chain.median() and law.interval(0.9) == chain.interval(0.9)
    assert np.asarray(law.rvs(size=3, random_state=0)).shape == (3,)


def test_simulate_checks_the_variance_and_the_served_prefix_rows(monkeypatch):
    import s3t_sim.simulation_report as sr

    report = sr.simulation_report(2, 20, 20, criterion="any-dead", runs=4000, seed=2, served_at="0,10,40")
    assert report["var_self_check"] == "agrees" and report["mc_var_se"] > 0
    rows = report["served_prefix"]
    assert all(row["self_check"] == "agrees" and row["exact_fraction"] is not None for row in rows)
    assert all(row["var_self_check"] == "agrees" and row["exact_var"] is not None for row in rows[1:])
    assert "uniform rotations" in rows[0]["exact_method"]

    class WrongVariance(type(deletion_law(*build_system(2, 3, 2, "cyclic", "uniform", 0), "any-dead"))):
        def var(self) -> float:
            return 1.5 * super().var()

    monkeypatch.setattr(sr, "deletion_law", lambda system, prior, criterion: WrongVariance(system, prior, criterion))
    report = sr.simulation_report(2, 3, 2, criterion="any-dead", runs=20000, seed=3)
    assert report["self_check"] == "agrees" and report["var_self_check"] == "DISAGREES"
    assert sr.format_simulation_report(report).startswith("SELF-CHECK FAILED: exact variance")
    monkeypatch.setattr(sr, "_exact_fractions", lambda *a: ([1.0, 0.9], "wrong on purpose"))
    report = sr.simulation_report(2, 3, 2, criterion="any-dead", runs=2000, seed=3, served_at="0,5")
    assert [row["self_check"] for row in report["served_prefix"]] == ["agrees", "DISAGREES"]
    alarms = sr.format_simulation_report(report).splitlines()[:3]
    assert any(line.startswith("SELF-CHECK FAILED: exact served fraction after 5 requests") for line in alarms)


@pytest.mark.parametrize("criterion", ["prefix-below:0.5", "performance-below:0.7"])
def test_poisson_embedding_uses_the_rotation_law_beyond_enumeration(monkeypatch, criterion):
    """The rotation branch of the embedding equals the 2^L enumeration (forced on at L = 12)."""
    import s3t_sim.laws.poisson as poisson

    system = S3TSystem(np.broadcast_to(cyclic_rotations(12, 4, "strided"), (3, 4, 12)))
    crit = parse_criterion(criterion, linear_performance(12) if criterion.startswith("performance") else None)
    enumerated = poisson.PoissonEmbeddingLaw(system, None, crit)
    mean, var = enumerated.mean(), enumerated.var()
    monkeypatch.setattr(poisson, "MAX_SHARD_SLICES", 5)
    rotation = poisson.PoissonEmbeddingLaw(system, None, crit)
    assert math.isclose(rotation.mean(), mean, rel_tol=1e-12) and math.isclose(rotation.var(), var, rel_tol=1e-10)


def test_simulate_is_exact_for_prefix_criteria_of_uniform_rotations_at_L_64():
    from s3t_sim.simulation_report import simulation_report

    report = simulation_report(4, 64, 16, selection="strided", criterion="prefix-below:0.5", runs=20000, seed=1)
    assert report["exact_method"] == "Poisson embedding, uniform rotations (any L)"
    assert report["self_check"] == "agrees" and report["var_self_check"] == "agrees"
    assert abs(report["mc_mean"] - report["exact"]) < 5 * report["mc_se"]
    skewed = simulation_report(2, 20, 4, prior="zipf:1.2", criterion="prefix-below:0.5", runs=200, seed=1)
    assert skewed["exact"] is None and skewed["self_check"] == "no exact value"


def test_rotation_law_without_replacement(monkeypatch):
    """Equal slice sizes: the without-replacement rotation law equals the hypergeometric Möbius
    enumeration (forced at L = 10) and the Monte Carlo at L = 64."""
    import s3t_sim.laws.served_prefix_law as spl

    system = S3TSystem(np.broadcast_to(cyclic_rotations(10, 3, "strided"), (3, 3, 10)))
    sizes = np.full((3, 10), 4)
    enumerated = [law.table for law in system_served_prefix_laws(system, None, 20, request_model="without-replacement",
                                                                  sizes=sizes)]
    total = total_served_prefix_law(system, None, 20, request_model="without-replacement", sizes=sizes).table
    monkeypatch.setattr(spl, "MAX_SHARD_SLICES", 5)
    laws = system_served_prefix_laws(system, None, 20, request_model="without-replacement", sizes=sizes)
    assert laws[0].method == "uniform rotations (exact, any L), without-replacement requests"
    assert np.abs(np.array([law.table for law in laws]) - np.array(enumerated)).max() < 1e-11
    rotation_total = total_served_prefix_law(system, None, 20, request_model="without-replacement", sizes=sizes)
    assert np.abs(rotation_total.table - total).max() < 1e-11
    monkeypatch.undo()
    big = S3TSystem(np.broadcast_to(cyclic_rotations(64, 64), (2, 64, 64)))
    sizes = np.full((2, 64), 3)
    law = shard_served_prefix_law(big, None, 0, 100, request_model="without-replacement", sizes=sizes)
    k = simulate_served_prefix(big, None, [100], 5000, seed=4, request_model="without-replacement", points=sizes)
    _assert_pmf_matches_sample(law.table, k[:, 0, 0])
