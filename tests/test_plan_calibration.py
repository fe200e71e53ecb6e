"""s3t train records seconds per sample-pass per stage; s3t plan --calibrate-run reads them."""
from __future__ import annotations

import json

import pytest

from analysis import planning
from analysis.cli import main
from analysis.plan_scenario import calibration, scenario_config
from s3t_sim.output import write_json_atomic


@pytest.fixture(scope="module")
def trained_run(shared_data, tmp_path_factory):
    from s3t_train.config import DataConfig, RunConfig, SystemConfig, TrainingConfig
    from s3t_train.driver import train_run
    from s3t_train.run_folder import create_run

    run_dir = tmp_path_factory.mktemp("calibrate") / "run"
    config = RunConfig(
        data=DataConfig(source=str(shared_data / "sst2"), limit=48, split_seed=3),
        training=TrainingConfig(model="tiny", epochs=2, batch_size=8, max_length=16, seed=5),
        system=SystemConfig(shards=1, slices=2, budget=2),
    )
    create_run(config, run_dir)
    summary = train_run(run_dir, progress=False)
    return run_dir, summary


def test_train_records_seconds_per_sample_pass_per_stage(trained_run):
    run_dir, summary = trained_run
    timings = json.loads((run_dir / "timings.json").read_text())
    assert set(timings["stages"]) == {"1", "2"}  # prefixes (0), (1) then (0,1), (1,0)
    for depth, stage in timings["stages"].items():
        mine = [r for r in summary.trained if len(r.prefix) == int(depth)]
        assert stage["nodes"] == len(mine) == 2
        assert stage["sample_passes"] == sum(r.examples * 2 for r in mine)  # examples x epochs
        assert stage["seconds"] == pytest.approx(sum(r.seconds for r in mine))
        assert stage["seconds_per_sample_pass"] == pytest.approx(stage["seconds"] / stage["sample_passes"])
    assert timings["sample_passes"] == sum(s["sample_passes"] for s in timings["stages"].values())
    assert timings["model"] == "tiny" and timings["device"].startswith("cpu")


def test_plan_calibrated_cost_is_measured_seconds_in_device_hours(trained_run, capsys):
    run_dir, _ = trained_run
    timings = json.loads((run_dir / "timings.json").read_text())
    per_pass = timings["seconds"] / timings["sample_passes"]
    config = scenario_config({"calibrate_run": str(run_dir)}, {"shards": (2,), "slices": (2,), "budgets": (2,)})
    assert config.seconds_per_sample_pass == pytest.approx(per_pass)
    assert config.cost_per_sample_pass == pytest.approx(per_pass / 3600)
    given = planning.plan(planning.PlanConfig(shards=(2,), slices=(2,), budgets=(2,), epoch_cost=None,
                                              sample_pass_cost=per_pass / 3600)).rows[0]
    assert planning.plan(config).rows[0].training_cost == pytest.approx(given.training_cost, rel=1e-12)
    assert main(["plan", "--shards", "2", "--slices", "2", "--budgets", "2", "--calibrate-run", str(run_dir), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["config"]["cost_unit"] == "device-hours"
    assert payload["config"]["cost_source"].startswith(f"calibrated from {run_dir / 'timings.json'}")
    assert "device-hours" in payload["recommendation"] and "calibrated from" in payload["recommendation"]


def test_calibration_refuses_bad_input(tmp_path, trained_run):
    with pytest.raises(FileNotFoundError, match="calibrate_run: .*timings.json does not exist"):
        calibration(tmp_path)
    write_json_atomic(tmp_path / "timings.json", {"sample_passes": 0, "seconds": 1.0, "stages": {}, "device": "cpu", "model": "x"})
    with pytest.raises(ValueError, match="0 sample-passes"):
        calibration(tmp_path)
    write_json_atomic(tmp_path / "timings.json", {"seconds": 1.0})
    with pytest.raises(ValueError, match="not a timings file"):
        calibration(tmp_path)
    with pytest.raises(ValueError, match="calibrate_run sets the cost; drop sample_pass_cost"):
        scenario_config({"calibrate_run": str(trained_run[0])}, {"sample_pass_cost": 0.1})
