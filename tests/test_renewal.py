"""Steady state under retraining policies: renewal–reward against closed forms, sampled laws and a direct Monte Carlo."""
from __future__ import annotations

import numpy as np
import pytest

from s3t_sim.laws import harmonic
from s3t_sim.montecarlo.policy import QUANTITIES, simulate_policy
from s3t_sim.renewal import POLICIES, RetrainingPolicy, ShardKind, repair_costs, sampled_steady_state, shard_kinds, steady_state
from s3t_sim.selection.cyclic import cyclic_rotations

SEQS = np.array([[0, 1, 2], [1, 2, 0]])
RATES = np.array([[0.5, 0.3, 0.2], [0.2, 0.2, 0.4]])
F = np.array([0.1, 0.5, 0.7, 0.9])


@pytest.mark.parametrize("m, L", [(1, 2), (7, 5), (64, 8), (3, 12)])
def test_instant_retraining_of_dead_rotations_is_lambda_over_L_H_L_whatever_m(m, L):
    lam = 40.0
    kinds = [ShardKind(cyclic_rotations(L, L), np.full(L, lam / (m * L)), m)]
    s = steady_state(kinds, np.linspace(0, 1, L + 1), RetrainingPolicy("retrain-dead-shard", retrain_days=0.0))
    assert s.shard_retrains_per_day == pytest.approx(lam / (L * harmonic(L)), rel=1e-10)
    assert s.stopped == 0.0 and s.stops_per_day == 0.0
    # full service: no shard hit since its last retraining; a shard's clean time is 1/(λ/m) per cycle
    assert s.full == pytest.approx((1.0 / (L * harmonic(L))) ** m, rel=1e-8)


def test_stop_all_any_dead_cycle_is_expected_first_death_plus_retraining():
    # one shard of SISA-like rotations B = 1: dies at its first slice's hit, Exp(r_0)
    kinds = [ShardKind(np.array([[0, 1]]), np.array([0.25, 1.0]), 3)]  # 3 shards: min of 3 Exp(0.25) = Exp(0.75)
    s = steady_state(kinds, np.array([0.0, 0.5, 1.0]), RetrainingPolicy("stop-and-retrain-all", retrain_days=2.0))
    cycle = 1 / 0.75 + 2.0
    assert s.stops_per_day == pytest.approx(1 / cycle, rel=1e-10)
    assert s.shard_retrains_per_day == pytest.approx(3 / cycle, rel=1e-10)
    assert s.stopped == pytest.approx(2.0 / cycle, rel=1e-10)
    assert s.full == pytest.approx((1 / (3 * 1.25)) / cycle, rel=1e-8)  # all three clean: Exp(3 * 1.25)


def test_periodic_full_counts_are_deterministic():
    kinds = shard_kinds(np.broadcast_to(SEQS, (2, 2, 3)), RATES)
    s = steady_state(kinds, F, RetrainingPolicy("periodic-full", retrain_days=1.0, period_days=10.0))
    assert (s.shard_retrains_per_day, s.stops_per_day) == (pytest.approx(0.2), pytest.approx(0.1))
    assert s.stopped > 0.1  # the retraining day plus time with every shard dead


def test_repair_costs_count_the_prefix_tree_nodes_holding_the_slice():
    assert repair_costs(np.array([[0, 1, 2], [0, 2, 1]])).tolist() == [11.0, 8.0, 8.0]  # nodes (0)(01)(012)(02)(021)


@pytest.mark.parametrize("policy", POLICIES)
def test_renewal_matches_direct_monte_carlo_within_4_se(policy):
    seqs = np.broadcast_to(SEQS, (2, 2, 3))
    p = RetrainingPolicy(policy, retrain_days=1.5, retrain_all_days=2.0, period_days=6.0)
    exact = steady_state(shard_kinds(seqs, RATES), F, p)
    mc = simulate_policy(seqs, RATES, F, p, horizon_days=300, runs=40, seed=1, warmup_days=30)
    for q in QUANTITIES:
        result = mc[q]
        assert abs(result.mean - getattr(exact, q)) <= 4 * result.se + 1e-9, (q, result.mean, result.se, getattr(exact, q))


@pytest.mark.parametrize("policy", POLICIES)
def test_sampled_laws_match_the_exact_ones_within_4_se(policy):
    kinds = shard_kinds(np.broadcast_to(SEQS, (2, 2, 3)), RATES)
    p = RetrainingPolicy(policy, retrain_days=1.5, retrain_all_days=2.0, period_days=6.0)
    exact = steady_state(kinds, F, p)
    mean, se = sampled_steady_state(kinds, F, p, samples=20_000, batches=10, seed=3)
    for q in QUANTITIES:
        assert abs(getattr(mean, q) - getattr(exact, q)) <= 4 * getattr(se, q) + 1e-9, q


def test_bad_policies_are_refused_with_the_parameter_named():
    with pytest.raises(ValueError, match="policy"):
        RetrainingPolicy("retrain-sometimes")
    with pytest.raises(ValueError, match="period_days"):
        RetrainingPolicy("periodic-full", retrain_days=3.0, period_days=2.0)
    with pytest.raises(ValueError, match="retrain_days"):
        RetrainingPolicy(retrain_days=-1.0)


def test_docstring_examples():
    import doctest

    import analysis.plan_scenario
    import s3t_sim.renewal

    for module in (s3t_sim.renewal, analysis.plan_scenario):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__
