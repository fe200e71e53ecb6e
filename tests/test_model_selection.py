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
    monkeypatch.setattr("analysis.commands.validate._check_model", lambda model: None)
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
