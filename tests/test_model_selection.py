"""Issue 13's last gaps: ``s3t validate --device`` reaches the runs' training config, and
per-stage model selection on validation examples (``s3t train --select-on-validation``)."""
from __future__ import annotations

import argparse

import pytest

from analysis.commands.validate import register
from analysis.realruns.experiment import ValidationConfig, _run_config


def _validate_args(*extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="s3t")
    register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["validate", "--size", "tiny", "--out", "unused", *extra])


def _captured_config(monkeypatch, data, *extra: str) -> ValidationConfig:
    """Run ``validate`` up to the training, capturing the config it would train with."""
    import analysis.realruns.compare as compare

    seen = {}

    class Stop(Exception):
        pass

    def fake_run_validation(config, out, executor, progress=None):
        seen["config"] = config
        raise Stop

    monkeypatch.setattr(compare, "run_validation", fake_run_validation)
    monkeypatch.setattr("analysis.commands.validate.check_model", lambda model: None)
    args = _validate_args("--data-dir", str(data), *extra)
    with pytest.raises(Stop):
        args.func(args)
    return seen["config"]


@pytest.fixture
def data(tmp_path, monkeypatch):
    """An (empty) sst2 folder under tmp_path/data; the test runs in tmp_path."""
    (tmp_path / "data" / "sst2").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path / "data"


@pytest.mark.parametrize("device", ["cpu", "cuda:1"])
def test_validate_device_reaches_every_run_config(monkeypatch, data, device):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # only the flag's path is under test here
    config = _captured_config(monkeypatch, data, "--device", device)
    assert config.device == device
    for shards, slices, budget in ((2, 2, 2), (1, 1, 1)):  # the S3T system and the full-LoRA model
        assert _run_config(config, "sst2", 0, shards, slices, budget).training.device == device


def test_validate_default_device_is_cpu(monkeypatch, data):
    config = _captured_config(monkeypatch, data)
    assert config.device == "cpu" and _run_config(config, "sst2", 3, 2, 2, 2).training.device == "cpu"


def test_validate_refuses_cuda_without_gpu(monkeypatch, data, capsys):
    import torch

    from analysis.cli import main

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["validate", "--size", "tiny", "--data-dir", str(data), "--out", "v", "--device", "cuda"]) != 0
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no CUDA device" in err and "--device cuda" in err
    assert not (data.parent / "v").exists()  # refused before anything is written


@pytest.mark.parametrize("device", ["gpu", "cuda:x", ""])
def test_validate_refuses_malformed_device(data, device, capsys):
    from analysis.cli import main

    assert main(["validate", "--size", "tiny", "--data-dir", str(data), "--out", "v", "--device", device]) != 0
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "device must be 'cpu', 'cuda' or 'cuda:N'" in err


# --- model selection on validation examples ----------------------------------------------------

def _selection_config(data, fraction):
    from s3t_train.config import DataConfig, GroupLoRAConfig, RunConfig, SystemConfig, TrainingConfig

    return RunConfig(data=DataConfig(str(data / "sst2"), limit=48, split_seed=3), lora=GroupLoRAConfig(rank=4),
                     training=TrainingConfig(model="tiny", epochs=4, batch_size=8, lr=5e-3, max_length=32, seed=11,
                                             select_on_validation=fraction),
                     system=SystemConfig(shards=2, slices=2, budget=2))


@pytest.fixture(scope="module")
def selected_run(tmp_path_factory, shared_data):
    pytest.importorskip("peft")
    from s3t_train.driver import train_run
    from s3t_train.run_folder import create_run

    run_dir = tmp_path_factory.mktemp("sel") / "run"
    create_run(_selection_config(shared_data, 0.25), run_dir)
    train_run(run_dir, progress=False)
    return run_dir


def test_chosen_epoch_is_the_argmin_and_its_weights_are_kept(selected_run):
    """Every node records 4 validation losses and keeps the argmin epoch; the saved weights'
    loss on the validation ids, recomputed through the serving path, is that minimum."""
    import numpy as np
    import torch

    from s3t_train.checkpoints import read_node_metadata
    from s3t_train.layout import node_path
    from s3t_train.run import S3TRun
    from s3t_train.serving import stage_logits
    from s3t_train.tasks import targets

    run = S3TRun(selected_run)
    try:
        chosen = []
        for shard in range(run.m):
            for prefix in run.deletions.stages[shard]:
                meta = read_node_metadata(node_path(selected_run, shard, prefix))
                sel = meta["selection"]
                assert len(sel["validation_losses"]) == 4
                assert sel["chosen_epoch"] == int(np.argmin(sel["validation_losses"])) + 1
                members = [i for s in prefix for i in run.store.slice_ids(shard, s)]
                assert set(sel["validation_ids"]) < set(meta["seen_ids"]) == set(members)  # validation ids are provenance
                assert len(sel["validation_ids"]) == sum(round(0.25 * len(run.store.slice_ids(shard, s))) for s in prefix)
                texts, labels = run.store.get(sel["validation_ids"])
                logits = stage_logits(run, shard, prefix, texts)
                y = targets(run.config.data.task, labels)
                recomputed = float(torch.nn.functional.cross_entropy(logits.float(), y))
                assert recomputed == pytest.approx(min(sel["validation_losses"]), abs=1e-4)
                chosen.append(sel["chosen_epoch"])
        assert len(chosen) == 8 and len(set(chosen)) > 1, chosen  # 4 stages per shard; not all one epoch
    finally:
        run.close()


def test_deleting_a_validation_example_deactivates_its_stages_and_audit_passes(selected_run, tmp_path):
    import shutil

    from s3t_train.audit import audit
    from s3t_train.checkpoints import read_node_metadata
    from s3t_train.layout import node_path
    from s3t_train.retraining import retrain
    from s3t_train.run import S3TRun

    copy = tmp_path / "run"
    shutil.copytree(selected_run, copy)
    run = S3TRun(copy)
    try:
        first = tuple(int(s) for s in run.sequences[1][0][:1])
        victim = read_node_metadata(node_path(copy, 1, first))["selection"]["validation_ids"][0]
        report = run.deletions.delete(victim)
        assert (report.shard, report.slice) == (1, first[0])
        assert sorted(map(tuple, report.deactivated)) == sorted(p for p in run.deletions.stages[1] if first[0] in p)
        assert audit(run)["ok"]
        retrain(run, 1)
        assert audit(run)["ok"]
        for prefix in run.deletions.stages[1]:
            meta = read_node_metadata(node_path(copy, 1, prefix))
            assert victim not in meta["seen_ids"] and victim not in meta["selection"]["validation_ids"]
    finally:
        run.close()


def test_selection_without_validation_examples_equals_no_selection_bitwise(tmp_path, shared_data):
    """F so small that every slice holds out round(F n) = 0 examples: the same training as
    with the option off, so the same weights bit for bit (and off writes no selection record)."""
    pytest.importorskip("peft")
    import torch

    from s3t_train.checkpoints import load_node, read_node_metadata
    from s3t_train.layout import node_path
    from s3t_train.run_folder import create_run
    from s3t_train.training import train_node

    nodes = {}
    for fraction in (None, 0.01):
        run_dir = tmp_path / f"run{fraction}"
        create_run(_selection_config(shared_data, fraction), run_dir)
        train_node(run_dir, 0, (0,))
        train_node(run_dir, 0, (0, 1))
        nodes[fraction] = load_node(node_path(run_dir, 0, (0, 1)))
        selection = read_node_metadata(node_path(run_dir, 0, (0, 1)))["selection"]
        assert selection is None if fraction is None else selection == {"chosen_epoch": 4, "validation_losses": [], "validation_ids": []}
    off, on = nodes[None], nodes[0.01]
    assert off.seen_ids == on.seen_ids
    assert all(torch.equal(off.group[n], on.group[n]) for n in off.group) and all(torch.equal(off.head[n], on.head[n]) for n in off.head)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.5, float("nan")])
def test_select_on_validation_outside_0_1_is_refused(tmp_path, fraction, capsys):
    from analysis.cli import main

    assert main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "r"), "--model", "tiny",
                 "--select-on-validation", str(fraction)]) != 0
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "select_on_validation" in err
