"""s3t plan --backend ray: one task per L on a local 2-CPU Ray instance, results identical to the local search."""
from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from analysis import planning
from analysis.cli import main

CONFIG = dict(dataset_size=100_000, deletions_per_day=10.0, horizon_days=365.0, shards=(4, 16), slices=(4, 16),
              budgets=(4, 8), policies=("retrain-dead-shard", "stop-and-retrain-all"), retrain_days=0.5,
              steady_samples=400, selections=("cyclic", "random"), seed=3)


@pytest.fixture(scope="module")
def ray_executor():
    pytest.importorskip("ray")
    from s3t_train.ray_executor import RayTreeExecutor

    executor = RayTreeExecutor(num_cpus=2)
    executor.start()
    yield executor
    executor.shutdown()


def _strip(result: planning.PlanResult) -> dict:
    payload = result.to_json()
    payload.pop("seconds")
    return payload


def test_ray_plan_equals_local_plan(ray_executor):
    config = planning.PlanConfig(**CONFIG)  # L = 16: the Monte Carlo (seeded) performance and steady state too
    local = planning.plan(config)
    remote = planning.plan(config, executor=ray_executor)
    assert [asdict(r) for r in remote.rows] == [asdict(r) for r in local.rows]
    assert json.dumps(_strip(remote), sort_keys=True, default=str) == json.dumps(_strip(local), sort_keys=True, default=str)
    assert any(not r.exact for r in local.rows) and len(local.settings) == 2 * len(local.rows)


def test_cli_backend_ray_matches_local(capsys):
    args = ["plan", "--shards", "4,8", "--slices", "4,8", "--budgets", "4", "--json", "--no-progress"]
    assert main(args) == 0
    local = json.loads(capsys.readouterr().out)
    assert main(args + ["--backend", "ray", "--ray-cpus", "2"]) == 0
    remote = json.loads(capsys.readouterr().out)
    for payload in (local, remote):
        payload.pop("seconds")
    assert remote == local
    with pytest.raises(SystemExit):
        main(["plan", "--backend", "spark"])
