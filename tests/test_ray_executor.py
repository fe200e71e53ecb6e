"""The Ray backend: a prefix tree runs as Ray tasks with the local backend's results.

One local Ray instance (2 CPUs) serves the whole module and is shut down at the end.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import networkx as nx
import pytest

from s3t_train.backends import add_backend_arguments, executor_from_args
from s3t_train.executors import LocalTreeExecutor, run_tree_sequential
from s3t_train.ray_executor import RayTreeExecutor

pytestmark = pytest.mark.ray


def chain_value(node, parent):
    """Depends on the parent's value and the node, so a wrong order or parent shows."""
    return (parent if parent is not None else 7) * 31 + sum(node) * (len(node) + 1)


def failing_node(node, parent):
    if node == (1, 2):
        raise ArithmeticError("node (1, 2) failed")
    return 0


def small_tree() -> nx.DiGraph:
    edges = [((0,), (0, 1)), ((0, 1), (0, 1, 2)), ((0,), (0, 2)), ((1,), (1, 2)), ((1, 2), (1, 2, 0))]
    return nx.DiGraph(edges)


@pytest.fixture(scope="module")
def ray_executor():
    ray = pytest.importorskip("ray")
    from ray import cloudpickle

    # Workers cannot import this test module: ship its toy node functions by value.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    executor = RayTreeExecutor(num_cpus=2)
    executor.start()
    yield executor
    executor.shutdown()
    assert not ray.is_initialized()


def test_ray_tree_matches_sequential_walk(ray_executor):
    tree = small_tree()
    expected = run_tree_sequential(tree, chain_value)
    assert ray_executor.run(tree, chain_value) == expected
    assert expected[(0, 1, 2)] == ((7 * 31 + 0) * 31 + 1 * 3) * 31 + 3 * 4


def test_ray_task_errors_reach_the_caller(ray_executor):
    with pytest.raises(Exception, match=r"node \(1, 2\) failed"):
        ray_executor.run(small_tree(), failing_node)


def test_ray_map_keeps_order(ray_executor):
    assert ray_executor.map(pow, [3, 1, 2], 2) == [9, 1, 4]


def test_tree_must_be_a_forest():
    with pytest.raises(ValueError, match="at most one parent"):
        run_tree_sequential(nx.DiGraph([("a", "c"), ("b", "c")]), chain_value)
    with pytest.raises(TypeError, match="networkx.DiGraph"):
        run_tree_sequential([("a", "b")], chain_value)


def test_backend_arguments_build_the_executor():
    parser = add_backend_arguments(argparse.ArgumentParser())
    assert isinstance(executor_from_args(parser.parse_args([])), LocalTreeExecutor)
    ray_exec = executor_from_args(parser.parse_args(["--backend", "ray", "--address", "auto"]))
    assert isinstance(ray_exec, RayTreeExecutor) and ray_exec.address == "auto"
    with pytest.raises(ValueError, match="address is only used with backend 'ray'"):
        executor_from_args(parser.parse_args(["--address", "auto"]))
    with pytest.raises(SystemExit):
        parser.parse_args(["--backend", "spark"])
    with pytest.raises(ValueError, match=r"num_cpus must be an integer in \[1, inf\]"):
        RayTreeExecutor(num_cpus=0)


def test_ray_training_equals_local_training(ray_executor, shared_data, tmp_path, monkeypatch):
    """Bitwise-equal node checkpoints (tensors and provenance) from both backends."""
    pytest.importorskip("peft")
    monkeypatch.setenv("S3T_TORCH_THREADS", "1")  # one thread: fastest here, and never oversubscribed
    import torch

    from s3t_train.checkpoints import load_node, read_node_metadata
    from s3t_train.config import DataConfig, RunConfig, SystemConfig, TrainingConfig
    from s3t_train.driver import train_run, train_run_ray
    from s3t_train.run_folder import create_run

    config = RunConfig(
        data=DataConfig(source=str(shared_data / "sst2"), limit=48, split_seed=3),
        training=TrainingConfig(model="tiny", epochs=1, batch_size=8, max_length=16, seed=5),
        system=SystemConfig(shards=1, slices=2, budget=2),
    )
    local_dir, ray_dir = tmp_path / "local", tmp_path / "ray"
    create_run(config, local_dir)
    local = train_run(local_dir, progress=False)
    create_run(config, ray_dir)
    remote = train_run_ray(ray_dir, ray_executor)
    assert len(remote.trained) == len(local.trained) == 4  # prefixes (0), (0,1), (1), (1,0)
    assert train_run_ray(ray_dir, ray_executor).skipped == 4  # resume: nothing left to do

    files = sorted(p.relative_to(local_dir) for p in (local_dir / "shards").rglob("*.safetensors"))
    assert len(files) == 4
    for name in files:
        a, b = load_node(local_dir / name), load_node(ray_dir / name)
        assert read_node_metadata(local_dir / name) == read_node_metadata(ray_dir / name)
        for mine, theirs in ((a.group, b.group), (a.head, b.head)):
            assert mine.keys() == theirs.keys()
            assert all(torch.equal(mine[k], theirs[k]) for k in mine), name
    # the trained adapters moved away from the identity (B != 0): the comparison is not vacuous
    assert any(v.abs().max() > 0 for k, v in load_node(local_dir / files[0]).group.items() if "lora_B" in k)
    shutil.rmtree(ray_dir)
