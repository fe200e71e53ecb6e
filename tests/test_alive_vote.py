"""Time-averaged alive-vote performance: against the mean for one shard, a binomial closed form
for alike shards, and a direct Monte Carlo of the vote (within 4 SE) for unlike shards."""
from __future__ import annotations

import math

import numpy as np
import pytest

from s3t_sim.alive_vote import alive_vote_average
from s3t_sim.laws.hitsets import served_prefix_by_hit_set, time_averaged_hit_set_law
from s3t_sim.performance import PerformanceModel
from s3t_sim.prefix import served_prefix
from s3t_sim.renewal import ShardKind, exact_law

SEQS = np.array([[0, 1, 2], [1, 2, 0]])
F = np.array([0.5, 0.7, 0.8, 0.9])


def test_one_shard_is_the_mean_performance():
    rates = np.array([0.5, 0.3, 0.2])
    exact = time_averaged_hit_set_law(rates, 7.0) @ F[served_prefix_by_hit_set(SEQS)]
    assert alive_vote_average([ShardKind(SEQS, rates, 1)], F, 7.0) == pytest.approx(exact, rel=1e-11)


@pytest.mark.parametrize("m", [2, 9, 400])
def test_alike_shards_match_the_binomial_closed_form(m):
    """E[V(u)] = g(u)(1 - (1-a)^m) + f(0)(1-a)^m, g = E[f(K) | K > 0] (exchangeable shards);
    integrated by a fine trapezoid rule."""
    rates, U = np.full(3, 0.2), 12.0
    u = np.linspace(0.0, U, 200_001)
    law = exact_law(SEQS, rates)(u)
    a = 1.0 - law[:, 0]
    g = (law[:, 1:] @ F[1:]) / a
    vote = g * (1 - (1 - a) ** m) + F[0] * (1 - a) ** m
    direct = float(np.trapezoid(vote, u) / U)
    assert alive_vote_average([ShardKind(SEQS, rates, m)], F, U) == pytest.approx(direct, rel=1e-8)


def test_unlike_shards_match_a_direct_monte_carlo():
    kinds = [ShardKind(SEQS, np.array([0.4, 0.1, 0.2]), 2), ShardKind(SEQS[:1], np.array([0.05, 0.15, 0.1]), 3)]
    U, runs = 10.0, 40_000
    rng = np.random.default_rng(4)
    u = rng.uniform(0.0, U, size=runs)
    prefixes = []
    for kind in kinds:
        for _ in range(kind.count):
            first = rng.exponential(size=(runs, 3)) / kind.rates
            prefixes.append(served_prefix(kind.sequences, first <= u[:, None]))
    votes = PerformanceModel(F, "test").alive_vote(np.stack(prefixes, axis=1))
    exact = alive_vote_average(kinds, F, U)
    se = votes.std(ddof=1) / math.sqrt(runs)
    assert abs(votes.mean() - exact) < 4 * se
    mean = np.mean(PerformanceModel(F, "test")(np.stack(prefixes, axis=1)))  # the vote differs from mean f(k) here
    assert exact - mean > 10 * se


def test_planner_uses_the_alive_vote_when_asked(capsys):
    import json

    from analysis import planning
    from analysis.cli import main

    grid = dict(dataset_size=1200, deletions_per_day=1.0, horizon_days=10.0, performance="linear:0.5,1",
                shards=(1, 4), slices=(3,), budgets=(1, 3))
    mean = {(r.m, r.B): r for r in planning.plan(planning.PlanConfig(**grid)).rows}
    vote = {(r.m, r.B): r for r in planning.plan(planning.PlanConfig(**grid, aggregate="alive-vote")).rows}
    for B in (1, 3):
        assert vote[1, B].expected_performance == pytest.approx(mean[1, B].expected_performance, rel=1e-10)
        assert vote[4, B].expected_performance > mean[4, B].expected_performance + 1e-3  # dead shards leave the vote
        assert vote[4, B].training_cost == mean[4, B].training_cost
        system, prior = planning.setting_system(planning.PlanConfig(**grid), 4, 3, B, "cyclic")
        kinds = [ShardKind(system.sequences[0], prior[0], 4)]
        expected = alive_vote_average(kinds, planning.performance_for("linear:0.5,1", 3, 100).values, 10.0)
        assert vote[4, B].expected_performance == pytest.approx(expected, rel=1e-12)
    assert main(["plan", "--shards", "4", "--slices", "3", "--budgets", "3", "--aggregate", "alive-vote", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["config"]["aggregate"] == "alive-vote"
    with pytest.raises(ValueError, match="aggregate 'alive-vote' needs slices <= 14"):
        planning.PlanConfig(slices=(16,), aggregate="alive-vote")
