"""The Poisson-embedding law against the independent exact reference (issue 10, part 1).

:mod:`exact_reference` solves the hit-set chain in rational or 60-digit arithmetic from the
definitions; here every criterion, both fallback modes, Dirichlet(0.2) priors and two-level
priors up to ratio 1e20 must agree to 1e-9 relative, and the four reported defects are
reproduced through the CLI.
"""
from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest

from exact_reference import exact_moments, exact_sf
from s3t_sim.laws import HitSetChainLaw, PoissonEmbeddingLaw, deletion_law
from s3t_sim.laws.quadrature import count_moments, log1mexp
from s3t_sim.priors import parse_prior
from s3t_sim.selection.build import build_system
from s3t_sim.system import S3TSystem

RTOL = 1e-9
CRITERIA = [("all-dead", None), ("any-dead", None), ("prefix-below:0.5", "1/2"), ("prefix-below:0.75", "3/4")]


def _assert_close(system, prior, criterion, threshold):
    kind = criterion.partition(":")[0]
    mean, var = exact_moments(system.sequences.tolist(), prior.tolist(), kind, threshold, system.checkpoint_fallback)
    mean, var = float(mean), float(var)
    got = PoissonEmbeddingLaw(system, prior, criterion).moments
    assert got.mean == pytest.approx(mean, rel=RTOL, abs=0)
    # Var[N] has absolute accuracy ~ rtol (Var[N] + 2 E[N]) (quadrature module docstring)
    assert got.var == pytest.approx(var, rel=RTOL, abs=RTOL * 2 * mean)
    assert abs(got.mean - mean) <= max(got.mean_error, 1e-15 * mean) * 10  # the stated bound is honest
    return got


def _random_system(rng: np.random.Generator, m: int, L: int, B: int, fallback: bool) -> S3TSystem:
    if not fallback:
        return S3TSystem.sisa(m, L, fallback=False)
    seqs = []
    for _ in range(m):
        chosen: list[tuple[int, ...]] = []
        while len(chosen) < B:
            perm = tuple(int(i) for i in rng.permutation(L))
            if perm not in chosen:
                chosen.append(perm)
        seqs.append(chosen)
    return S3TSystem(np.array(seqs))


# --- issue 10, part 1: the four reproductions, through the CLI ------------------------------
def _cli(capsys, *args: str):
    from analysis.cli import main

    main(list(args))
    return capsys.readouterr().out


def test_cli_exponential_sorted_any_dead(capsys):
    out = json.loads(_cli(capsys, "simulate", "-m", "2", "-L", "4", "-B", "1", "--prior", "exponential:30",
                          "--assignment", "sorted", "--criterion", "any-dead", "--runs", "20000", "--seed", "1", "--json"))
    assert out["exact"] == pytest.approx(1.0240838375238110, rel=1e-12)
    assert abs(out["mc_minus_exact_in_se"]) < 5 and out["self_check"] == "agrees"


def test_cli_prefix_below_with_tiny_slice(capsys, tmp_path):
    (tmp_path / "p.csv").write_text("1,1,1,1\n1,1,1,1e-6\n")
    out = json.loads(_cli(capsys, "simulate", "-m", "2", "-L", "4", "-B", "2", "--prior", str(tmp_path / "p.csv"),
                          "--criterion", "prefix-below:0.5", "--runs", "20000", "--json"))
    system, prior = build_system(2, 4, 2, prior=str(tmp_path / "p.csv"))
    mean, var = exact_moments(system.sequences.tolist(), prior.tolist(), "prefix-below", "1/2")
    assert out["exact"] == pytest.approx(float(mean), rel=RTOL) and out["exact"] == pytest.approx(4.366667, abs=1e-6)
    assert out["exact_var"] == pytest.approx(float(var), rel=RTOL) and out["exact_var"] == pytest.approx(3.748, abs=1e-3)


def test_cli_plan_days_to_stop(capsys, tmp_path):
    (tmp_path / "t.csv").write_text("1,1,1,1e-9\n1,1,1,1\n")
    out = _cli(capsys, "plan", "--prior", str(tmp_path / "t.csv"), "--shards", "2", "--slices", "4",
               "--budgets", "1,2,4", "--deletions-per-day", "1", "--horizon-days", "5", "--json")
    rows = json.loads(out)
    rows = rows["ranked"]
    days = sorted(float(r["expected_days_to_stop"]) for r in rows)
    assert days == pytest.approx([3.5, 6.4167, 14.58], abs=0.005)


def test_cli_select_requests_to_death(capsys, tmp_path):
    (tmp_path / "t4.csv").write_text("0.5,0.3,0.1999999999,1e-10\n")
    out = _cli(capsys, "select", "-L", "4", "-B", "2", "--prior", str(tmp_path / "t4.csv"), "--requests", "4")
    line = next(x for x in out.splitlines() if "requests to shard death" in x)
    assert float(line.split()[-1]) == pytest.approx(2 + 1 / 0.3 - 1 / 0.8, abs=1e-4)  # 4.0833


def test_select_requests_to_death_exact():
    prior = np.array([[0.5, 0.3, 0.1999999999, 1e-10]])
    system = S3TSystem(np.array([[[0, 1, 2, 3], [1, 2, 3, 0]]]))
    got = _assert_close(system, prior, "all-dead", None)
    assert got.mean == pytest.approx(2 + 1 / 0.3 - 1 / 0.8, rel=1e-12)


# --- properties against the exact reference -------------------------------------------------
@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("fallback", [True, False])
def test_dirichlet_priors(seed, fallback):
    rng = np.random.default_rng(seed)
    m, L = [(2, 3), (2, 4), (3, 3), (2, 5)][seed % 4]
    B = int(rng.integers(1, L + 1)) if fallback else 1
    system = _random_system(rng, m, L, B, fallback)
    prior = rng.dirichlet(np.full(m * L, 0.2)).reshape(m, L)
    prior = np.where(prior > 0, prior, 1e-300)  # Dirichlet(0.2) can underflow to 0
    prior /= prior.sum()
    for criterion, threshold in CRITERIA:
        _assert_close(system, prior, criterion, threshold)


@pytest.mark.parametrize("ratio", [1e3, 1e6, 1e9, 1e12, 1e20])
@pytest.mark.parametrize("fallback", [True, False])
def test_two_level_priors(ratio, fallback):
    rng = np.random.default_rng(int(np.log10(ratio)))
    system = _random_system(rng, 2, 4, 2 if fallback else 1, fallback)
    for low in ([[0, 0, 0, 1], [0, 0, 0, 0]], [[1, 1, 0, 0], [0, 0, 1, 1]], [[0, 0, 0, 0], [1, 1, 1, 1]]):
        prior = np.where(np.array(low, bool), 1.0 / ratio, 1.0)
        prior /= prior.sum()
        for criterion, threshold in CRITERIA:
            _assert_close(system, prior, criterion, threshold)


def test_uniform_closed_forms():
    for m, L, B in [(5, 6, 6), (5, 6, 1), (3, 4, 2)]:
        system = build_system(m, L, B)[0]
        n, K = m * L, m * min(B, L)
        H = sum(1 / i for i in range(1, K + 1))
        H2 = sum(1 / i**2 for i in range(1, K + 1))
        got = PoissonEmbeddingLaw(system, None, "all-dead")
        assert got.mean() == pytest.approx(n * H, rel=1e-12)
        assert got.var() == pytest.approx(n**2 * H2 - n * H, rel=1e-11)


def test_deterministic_count_variance_is_zero():
    """SISA without fallback, any-dead: N = 1 surely, Var[N] = 0."""
    got = PoissonEmbeddingLaw(S3TSystem.sisa(3, 2, fallback=False), None, "any-dead")
    assert got.mean() == pytest.approx(1.0, rel=1e-13)
    assert abs(got.var()) < 1e-12


def test_error_bound_is_small_and_honest():
    p = np.array([1.0, 1e-12]) / (2 + 1e-12)

    def pair(t):  # both of two slices hit
        log_f = log1mexp(t * p[0]) + log1mexp(t * p[1])
        return -np.expm1(log_f), np.exp(log_f)

    got = count_moments(pair, p)
    exact = 1 / p[0] + 1 / p[1] - 1 / (p[0] + p[1])
    assert got.mean_error < 1e-12 * got.mean
    assert abs(got.mean - exact) <= got.mean_error + 1e-15 * exact


def test_log1mexp_accuracy():
    import mpmath

    mpmath.mp.dps = 40
    for x in [1e-300, 1e-20, 1e-8, 0.5, np.log(2), 1.0, 30.0, 700.0]:
        want = float(mpmath.log(-mpmath.expm1(-mpmath.mpf(x))))
        assert float(log1mexp(np.array(x))) == pytest.approx(want, rel=4e-16)


# --- the discrete law ---------------------------------------------------------------------------
@pytest.mark.parametrize("criterion, threshold", CRITERIA)
def test_sf_against_reference(criterion, threshold):
    rng = np.random.default_rng(7)
    system = _random_system(rng, 2, 3, 2, True)
    prior = rng.dirichlet(np.full(6, 0.5)).reshape(2, 3)
    prior[0, 0] = 1e-7  # a rare slice
    prior /= prior.sum()
    ref = exact_sf(system.sequences.tolist(), prior.tolist(), 40, criterion.partition(":")[0], threshold)
    got = PoissonEmbeddingLaw(system, prior, criterion).sf(np.arange(41))
    for r in range(41):
        assert got[r] == pytest.approx(float(ref[r]), rel=1e-12, abs=1e-300)


def test_sf_sums_to_the_mean():
    system = build_system(2, 3, 2)[0]
    law = PoissonEmbeddingLaw(system, parse_prior(None, 2, 3), "any-dead")
    assert law.sf(np.arange(400)).sum() == pytest.approx(law.mean(), rel=1e-12)


def test_discrete_law_refused_beyond_the_chain():
    law = deletion_law(build_system(3, 8, 8)[0], None, "any-dead")  # K = 24 relevant slices
    assert law.mean() > 0  # the moments are available
    with pytest.raises(ValueError, match="no stable shortcut"):
        law.sf(10)
    small = HitSetChainLaw(build_system(2, 4, 2)[0], None, "all-dead")
    with pytest.raises(ValueError, match="no stable shortcut"):
        small.sf(10**12)


def test_reference_fraction_is_exact():
    mean, var = exact_moments([[[0, 1]], [[0, 1]]], [[1, 1], [1, 1]], "all-dead")  # K = 2 of n = 4
    assert mean == Fraction(4) * (1 + Fraction(1, 2))
    assert var == 16 * (1 + Fraction(1, 4)) - mean


# --- the loud self-check --------------------------------------------------------------------------
def test_self_check_classifies():
    from s3t_sim.simulation_report import self_check

    assert self_check(10.0, 0.1, 10.3)[0] == "agrees"
    status, message = self_check(10.0, 0.1, 10.6)
    assert status == "DISAGREES" and "6.0 SE" in message
    assert self_check(1.0, 0.0, 1.0, 1e-14)[0] == "agrees"
    assert self_check(1.0, 0.0, 0.0)[0] == "DISAGREES"  # the old any-dead defect: exact 0, every run 1
    assert self_check(1.0, 0.1, None)[0] == "no exact value"


def test_simulate_reports_a_wrong_exact_value_loudly(monkeypatch):
    import s3t_sim.simulation_report as sr

    class Wrong(PoissonEmbeddingLaw):
        def mean(self) -> float:
            return 2 * super().mean()

    monkeypatch.setattr(sr, "deletion_law", lambda system, prior, criterion: Wrong(system, prior, criterion))
    report = sr.simulation_report(2, 3, 2, criterion="any-dead", runs=2000, seed=3)
    assert report["self_check"] == "DISAGREES"
    text = sr.format_simulation_report(report)
    assert text.startswith("SELF-CHECK FAILED") and text.rstrip().endswith("with the command line")


def test_per_point_prior_without_replacement_is_refused(capsys):
    """Issue 10, part 3: no silent reading of a per-point law as slice sizes."""
    from analysis.cli import main

    code = main(["simulate", "-m", "2", "-L", "3", "-B", "2", "--prior", "zipf:1.5", "--assignment", "sorted",
                 "--points-per-slice", "4", "--request-model", "without-replacement"])
    err = capsys.readouterr().err
    assert code == 2 and "per-point law" in err and "Traceback" not in err


@pytest.mark.parametrize("seed", range(4))
def test_chain_moments_against_reference(seed):
    rng = np.random.default_rng(100 + seed)
    system = _random_system(rng, 2, 3, 2, True)
    prior = rng.dirichlet(np.full(6, 0.2)).reshape(2, 3)
    prior = np.where(prior > 0, prior, 1e-300)
    prior /= prior.sum()
    for criterion, threshold in CRITERIA:
        kind = criterion.partition(":")[0]
        mean, var = exact_moments(system.sequences.tolist(), prior.tolist(), kind, threshold)
        law = HitSetChainLaw(system, prior, criterion)
        assert law.mean() == pytest.approx(float(mean), rel=RTOL)
        assert law.var() == pytest.approx(float(var), rel=RTOL, abs=RTOL * float(mean))
