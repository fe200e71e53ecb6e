"""The planner on a case small enough to check by hand, its constraints, ranking and CLI.

Hand case: N = 1200 samples, 1 request per day, 10 days (U = 10 requests in the rate-1
clock), L = 2, m in {1, 2}, B in {1, 2}, uniform prior, any-dead, linear f(k) = k/L, one
epoch on the full set costs 1 (a sample-pass costs 1/1200).

- cost = (prefix-tree slice-passes) x N/L x 1/1200: B = 1 -> 3/2, B = 2 -> 6/2 = 3, for any m.
- P(stop by U): a shard of slices with rate p is dead when its first slices are all hit:
  (1,2,1): 1 - e^{-5};  (1,2,2): (1 - e^{-5})^2;  (2,2,1): 1 - e^{-5};
  (2,2,2): 1 - (1 - (1 - e^{-2.5})^2)^2.
- δ: (1,2,1) 2;  (1,2,2) 2 H_2 = 3;  (2,2,1) 2;  (2,2,2) ∫(2a - a^2)^2 dt with a = e^{-t/4}: 8 - 16/3 + 1 = 11/3.
- performance, time-averaged over [0, U]: with slice rate p, B = 1 serves k = 2 w.p. e^{-2pu} and
  k = 1 w.p. e^{-pu}(1 - e^{-pu}), so f = (e^{-2pu} + e^{-pu})/2; B = 2 serves the number of clean
  slices, f = e^{-pu}.
"""
import json
import math

import numpy as np
import pytest

from analysis import planning

E = math.exp


def hand_config(**constraints) -> planning.PlanConfig:
    return planning.PlanConfig(
        dataset_size=1200, deletions_per_day=1.0, horizon_days=10.0, epoch_cost=1.0, performance="linear:0,1",
        criterion="any-dead", shards=(1, 2), slices=(2,), budgets=(1, 2), **constraints,
    )


def avg(f, U=10.0, steps=200_001):
    u = np.linspace(0, U, steps)
    return float(np.trapezoid(f(u), u) / U)


HAND = {  # (m, L, B): cost, P(stop), days, performance
    (1, 2, 1): (1.5, 1 - E(-5), 2.0, avg(lambda u: (np.exp(-u) + np.exp(-u / 2)) / 2)),
    (1, 2, 2): (3.0, (1 - E(-5)) ** 2, 3.0, avg(lambda u: np.exp(-u / 2))),
    (2, 2, 1): (1.5, 1 - E(-5), 2.0, avg(lambda u: (np.exp(-u / 2) + np.exp(-u / 4)) / 2)),
    (2, 2, 2): (3.0, 1 - (1 - (1 - E(-2.5)) ** 2) ** 2, 11 / 3, avg(lambda u: np.exp(-u / 4))),
}


def test_every_number_matches_the_hand_computation():
    result = planning.plan(hand_config())
    assert len(result.rows) == 4
    for row in result.rows:
        cost, stop, days, perf = HAND[(row.m, row.L, row.B)]
        assert row.training_cost == pytest.approx(cost, rel=1e-12)
        assert row.stop_probability == pytest.approx(stop, rel=1e-9)
        assert row.expected_days_to_stop == pytest.approx(days, rel=1e-6)
        assert row.expected_performance == pytest.approx(perf, rel=1e-6)
        assert row.training_cost_without_sharing == pytest.approx(cost)  # L = 2: the two orders share nothing


def test_stop_constraint_and_ranking_by_cost_then_stop():
    result = planning.plan(hand_config(max_stop_probability=0.99))
    assert [(r.m, r.B) for r in result.ranked] == [(2, 2), (1, 2)]  # same cost 3; lower P(stop) first
    excluded = {(r.m, r.B): r.reasons for r in result.rows if not r.feasible}
    assert excluded == {(1, 1): ["maximum stop probability"], (2, 1): ["maximum stop probability"]}
    assert [r.pareto for r in result.ranked] == [True, False]  # (2,2,2) beats (1,2,2) on all three
    # days to stop are computed for infeasible rows too: (1, 2, 1) dies at the first hit on
    # its one first slice of 2, δ = 2 requests at 1 request per day
    assert next(r for r in result.rows if not r.feasible).expected_days_to_stop == pytest.approx(2.0, rel=1e-12)
    assert not any(math.isnan(r.expected_days_to_stop) for r in result.rows)
    assert "m = 2 shards of L = 2 slices with B = 2" in result.recommendation()


def test_budget_constraint_breaks_the_cost_and_stop_tie_by_performance():
    result = planning.plan(hand_config(max_training_cost=2.0))
    assert [(r.m, r.B) for r in result.ranked] == [(2, 1), (1, 1)]


def test_performance_constraint_and_other_rankings():
    assert [(r.m, r.B) for r in planning.plan(hand_config(min_performance=0.3)).ranked] == [(2, 2)]
    by_perf = planning.plan(hand_config(rank_by="performance")).ranked
    assert [(r.m, r.B) for r in by_perf] == [(2, 2), (2, 1), (1, 2), (1, 1)]  # 0.367, 0.283, 0.199, 0.149
    by_stop = planning.plan(hand_config(rank_by="stop")).ranked
    assert [(r.m, r.B) for r in by_stop][:2] == [(2, 2), (1, 2)]


def test_no_feasible_setting_says_which_constraint_binds():
    result = planning.plan(hand_config(max_stop_probability=0.5))
    assert result.best is None
    assert "maximum stop probability" in result.recommendation()


def test_performance_models():
    assert planning.performance_for("linear:0.2,0.6", 2).values.tolist() == pytest.approx([0.2, 0.4, 0.6])
    sat = planning.performance_for("saturating:0.5,0.9,100", 4, samples_per_slice=50).values
    assert sat == pytest.approx(0.5 + 0.4 * -np.expm1(-np.arange(5) * 0.5))
    with pytest.raises(ValueError, match="at most 2 parameters"):
        planning.performance_for("linear:0,1,2", 3)
    with pytest.raises(ValueError, match="CSV file with columns k,accuracy"):
        planning.performance_for("cubic", 3)


def test_measured_csv_is_rescaled_to_the_fraction_of_slices(tmp_path):
    path = tmp_path / "acc.csv"
    path.write_text("k,accuracy\n0,0.5\n1,0.6\n2,0.8\n4,0.9\n")
    values = planning.performance_for(str(path), 2).values  # k/L = 0, 0.5, 1 -> k' = 0, 2, 4
    assert values.tolist() == pytest.approx([0.5, 0.8, 0.9])


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("dataset_size", 0, "dataset_size must be an integer in [1, inf]"),
        ("deletions_per_day", 0.0, "deletions_per_day must be a finite number in (0, inf]"),
        ("slices", (2, 300), "slices must be an integer in [1, 256]"),
        ("criterion", "prefix-below:0.5", "needs slices <= 14"),
        ("max_stop_probability", 1.5, "max_stop_probability must be a finite number in [0, 1]"),
        ("criterion", "performance-below:0.8", "criterion must be one of"),
        ("selections", ("magic",), "selection must be one of"),
        ("rank_by", "speed", "rank_by must be one of"),
    ],
)
def test_config_validation_names_the_parameter(field, value, message):
    extra = {"slices": (20,)} if value == "prefix-below:0.5" else {}
    with pytest.raises(ValueError) as info:
        planning.PlanConfig(**{field: value}, **extra)
    assert message in str(info.value)


def test_plan_cli_json_and_figure(tmp_path, capsys):
    from analysis.cli import main

    code = main(["plan", "--dataset-size", "1200", "--deletions-per-day", "1", "--horizon-days", "10",
                 "--performance", "linear:0,1", "--shards", "1,2", "--slices", "2", "--budgets", "1,2",
                 "--max-stop-probability", "0.99", "--json", "--figure", str(tmp_path)])
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["candidates"] == 4 and payload["feasible"] == 2
    assert (payload["best"]["m"], payload["best"]["B"]) == (2, 2)
    assert payload["best"]["stop_probability"] == pytest.approx(HAND[(2, 2, 2)][1])
    assert (tmp_path / "plan_pareto.png").stat().st_size > 0 and (tmp_path / "plan_pareto.csv").is_file()


def test_plan_cli_refuses_two_costs(capsys):
    from analysis.cli import main

    with pytest.raises(SystemExit):
        main(["plan", "--sample-pass-cost", "1", "--epoch-cost", "2"])
    assert "not allowed with argument" in capsys.readouterr().err


def test_plan_policy_json_holds_a_year_per_setting_and_policy(capsys):
    """Hand case: L = B = 2 rotations, uniform prior, instant retraining of dead shards.

    A shard dies when both its slices are hit: E[T] = (m L H_L) / λ days, so the system
    retrains 365 λ / (L H_L) = 365 · 4 / 3 shards a year whatever m; a year's compute is the
    initial training (6 slice-passes of N/(mL) samples per shard, amortised over the 10-day
    horizon) plus 3 slice-passes per retraining of a shard.
    """
    from analysis.cli import main

    code = main(["plan", "--dataset-size", "1200", "--deletions-per-day", "2", "--horizon-days", "10",
                 "--shards", "1,4", "--slices", "2", "--budgets", "2", "--policy", "retrain-dead-shard,periodic-full",
                 "--retrain-days", "0", "--period-days", "5", "--seconds-per-sample-pass", "3.6", "--price-per-device-hour", "2",
                 "--json", "--no-progress"])
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    settings = {(s["m"], s["policy"]): s for s in payload["settings"]}
    assert len(settings) == 4
    for m in (1, 4):
        s = settings[(m, "retrain-dead-shard")]
        assert {"m", "L", "B", "selection", "policy", "retrains_per_year", "stops_per_year", "availability",
                "performance", "compute_per_year", "exact", "method"} <= set(s)
        assert s["exact"] is True and s["method"]["retrains_per_year"].startswith("exact")
        assert s["retrains_per_year"] == pytest.approx(365 * 2 / (2 * 1.5), rel=1e-9)
        assert s["stops_per_year"] == 0 and s["availability"]["stopped"] == 0
        passes_per_slice = 1200 / (m * 2)
        initial = m * 6 * passes_per_slice  # prefix tree of the two rotations: (0) (01) (1) (10) = 6 slice-passes
        compute = s["compute_per_year"]
        assert compute["initial_amortised_sample_passes"] == pytest.approx(initial * 36.5)
        assert compute["retraining_sample_passes"] == pytest.approx(s["retrains_per_year"] * 6 * passes_per_slice)
        assert compute["device_hours"] == pytest.approx(compute["sample_passes"] * 3.6 / 3600)
        assert compute["money"] == pytest.approx(2 * compute["device_hours"])
        periodic = settings[(m, "periodic-full")]
        assert periodic["retrains_per_year"] == pytest.approx(m * 73) and periodic["stops_per_year"] == pytest.approx(73)


def test_plan_policy_needs_a_retraining_time():
    with pytest.raises(ValueError, match="retrain_days or seconds_per_sample_pass"):
        planning.PlanConfig(policies=("retrain-dead-shard",))
    with pytest.raises(ValueError, match="policy"):
        planning.PlanConfig(policies=("retrain-later",), retrain_days=1.0)


def test_large_L_performance_is_monte_carlo_within_4_se_of_the_closed_form():
    """B = 1 (one order per shard), uniform prior, L = 20: K(u) >= j iff the first j slices are clean,
    P = e^{-j p u}, so the time average over [0, U] is f(0) + sum_j (f(j) - f(j-1)) (1 - e^{-j p U}) / (j p U)."""
    m, L, U = 2, 20, 30.0
    config = planning.PlanConfig(dataset_size=4000, deletions_per_day=1.0, horizon_days=U, shards=(m,), slices=(L,),
                                 budgets=(1,), performance="linear:0.2,0.9", steady_samples=4000, seed=5)
    row = planning.evaluate_setting(config, m, L, 1, "cyclic")
    p = 1.0 / (m * L)
    j = np.arange(1, L + 1)
    exact = 0.2 + np.sum(0.7 / L * -np.expm1(-j * p * U) / (j * p * U))
    assert row.exact is False and row.performance_se > 0
    assert abs(row.expected_performance - exact) <= 4 * row.performance_se


def test_plan_policy_beyond_L_14_is_labelled_monte_carlo_with_se():
    config = planning.PlanConfig(dataset_size=10_000, deletions_per_day=5.0, horizon_days=365, shards=(8,), slices=(16,),
                                 budgets=(16,), policies=("retrain-dead-shard",), retrain_days=0.0, steady_samples=2000)
    (year,) = planning.plan(config).settings
    from s3t_sim.laws import harmonic

    assert year["exact"] is False and year["method"]["retrains_per_year"].startswith("monte-carlo")
    expected = 365 * 5.0 / (16 * harmonic(16))  # instant retraining of dead rotations, uniform prior
    assert abs(year["retrains_per_year"] - expected) <= 4 * year["se"]["retrains_per_year"]


def test_plan_file_holds_a_scenario_and_flags_override_it(tmp_path, capsys):
    from analysis.cli import main

    path = tmp_path / "plan.toml"
    path.write_text('dataset_size = 1200\ndeletions_per_day = 2\nhorizon_days = 10\nsample_pass_cost = 0.5\n'
                    '[policy]\npolicies = ["retrain-dead-shard"]\nretrain_days = 0\n'
                    '[search]\nshards = [1, 4]\nslices = [2]\nbudgets = [2]\n')
    assert main(["plan", "--plan-file", str(path), "--shards", "4", "--json", "--no-progress"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["config"]["dataset_size"] == 1200 and payload["config"]["shards"] == [4]  # the flag wins
    assert payload["config"]["sample_pass_cost"] == 0.5 and payload["config"]["epoch_cost"] is None
    assert [s["m"] for s in payload["settings"]] == [4]
    assert payload["settings"][0]["retrains_per_year"] == pytest.approx(365 * 2 / 3)


@pytest.mark.parametrize("text, message", [
    ("shardz = [1]\n", "unknown key 'shardz'"),
    ("shards = [1\n", "is not valid TOML"),
    ("[a]\nseed = 1\n[b]\nseed = 2\n", "given twice"),
])
def test_plan_file_errors_name_the_file_and_key(tmp_path, text, message):
    from analysis.plan_scenario import read_plan_file

    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        read_plan_file(path)


def test_model_layer_count_bounds_L_and_skipped_settings_say_why(tmp_path):
    """MiniLM (offline) has 6 layers; a local config with 24 layers allows L = 16."""
    config = planning.PlanConfig(shards=(2,), slices=(4, 8), budgets=(1,), model="minilm")
    result = planning.plan(config)
    assert {r.L for r in result.rows} == {4}
    assert result.skipped == [dict(m=2, L=8, B=1, selection="cyclic",
                                   reason="L = 8 > 6 layers of minilm: s3t train needs one layer group per slice")]
    local = tmp_path / "big-bert"
    local.mkdir()
    (local / "config.json").write_text(json.dumps({"model_type": "bert", "num_hidden_layers": 24}))
    wide = planning.plan(planning.PlanConfig(shards=(2,), slices=(8, 16), budgets=(1,), model=str(local)))
    assert {r.L for r in wide.rows} == {8, 16} and wide.skipped == []
    with pytest.raises(ValueError, match="model 'tiny' is the random test model"):
        planning.plan(planning.PlanConfig(shards=(2,), slices=(4,), budgets=(1,), model="tiny"))
