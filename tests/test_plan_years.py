"""With retraining policies the planner ranks and draws the years in production."""
from __future__ import annotations

import json

import numpy as np
import pytest

from analysis import planning
from analysis.cli import main
from analysis.plan_ranking import nondominated, year_objectives

GRID = dict(dataset_size=100_000, deletions_per_day=10.0, horizon_days=365.0, shards=(4, 16), slices=(4, 8),
            budgets=(4, 8), policies=("retrain-dead-shard", "periodic-full"), retrain_days=0.5,
            seconds_per_sample_pass=0.002)


def test_nondominated_by_hand():
    points = np.array([[1, 1, 1], [2, 2, 2], [0, 3, 1], [1, 1, 1], [1, 0, 5]])
    assert nondominated(points).tolist() == [True, False, True, True, True]  # equal points do not dominate each other


@pytest.mark.parametrize("rank_by, key", [("cost", lambda o: o["cost_per_year"]), ("stop", lambda o: -o["serving"]),
                                          ("performance", lambda o: -o["performance"])])
def test_years_ranked_by_their_own_figures(rank_by, key):
    result = planning.plan(planning.PlanConfig(**GRID, rank_by=rank_by, max_training_cost=20.0))
    feasible = {(r.m, r.L, r.B, r.selection) for r in result.rows if r.feasible}
    assert 0 < len(feasible) < len(result.rows)  # the budget rules some settings out
    years = result.settings
    assert all(y["feasible"] == ((y["m"], y["L"], y["B"], y["selection"]) in feasible) for y in years)
    ranked = sorted((y for y in years if y["feasible"]), key=lambda y: y["rank"])
    assert [y["rank"] for y in ranked] == list(range(1, len(ranked) + 1))
    assert all(y["rank"] is None and not y["pareto"] for y in years if not y["feasible"])
    values = [key(y["objectives"]) for y in ranked]
    assert values == sorted(values) or np.allclose(values, sorted(values), rtol=1e-11)
    assert result.best_year is ranked[0]
    # Pareto flags by the definition, brute force over the feasible years
    for y in ranked:
        me = np.array([y["objectives"]["cost_per_year"], -y["objectives"]["serving"], -y["objectives"]["performance"]])
        beaten = any(np.all(o <= me) and np.any(o < me) for o in (
            np.array([z["objectives"]["cost_per_year"], -z["objectives"]["serving"], -z["objectives"]["performance"]])
            for z in ranked if z is not y))
        assert y["pareto"] == (not beaten)
    assert f"Over a year in production the first by {rank_by}" in result.recommendation()


def test_cost_unit_is_money_then_device_hours_then_sample_passes():
    year = {"compute_per_year": {"money": None, "device_hours": 3.0, "sample_passes": 10.0},
            "availability": {"stopped": 0.25}, "performance": 0.7}
    assert year_objectives(year) == {"cost_per_year": 3.0, "cost_unit": "device-hours", "serving": 0.75, "performance": 0.7}
    year["compute_per_year"]["money"] = 7.5
    assert year_objectives(year)["cost_unit"] == "money"
    year["compute_per_year"].update(money=None, device_hours=None)
    assert year_objectives(year)["cost_per_year"] == 10.0


def test_cli_writes_the_year_figure_and_json(tmp_path, capsys):
    assert main(["plan", "--shards", "4,16", "--slices", "4", "--budgets", "4", "--policy", "retrain-dead-shard,periodic-full",
                 "--retrain-days", "0.5", "--horizon-days", "365", "--figure", str(tmp_path), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["best_year"]["rank"] == 1 and payload["best_year"]["objectives"]["cost_unit"] == "sample-passes"
    assert payload["year_figure"].endswith("plan_pareto_year.png")
    assert (tmp_path / "plan_pareto_year.png").stat().st_size > 0 and (tmp_path / "plan_pareto_year.csv").is_file()
