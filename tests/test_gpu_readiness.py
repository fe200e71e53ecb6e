"""GPU readiness that can be checked without a GPU: device names, Ray GPU requests, clear refusals."""
from __future__ import annotations

import pytest

from s3t_train.backends import executor_from_args
from s3t_train.config import TrainingConfig
from s3t_train.ray_executor import RayTreeExecutor


@pytest.mark.parametrize("device", ["cpu", "cuda", "cuda:0", "cuda:7"])
def test_device_names_accepted(device):
    assert TrainingConfig(device=device).device == device


@pytest.mark.parametrize("device", ["gpu", "cuda:", "cuda:x", "CUDA", "cuda:0 ", 0])
def test_device_names_refused_with_the_allowed_forms(device):
    with pytest.raises(ValueError, match=r"device must be 'cpu', 'cuda' or 'cuda:N'"):
        TrainingConfig(device=device)


def test_ray_tasks_request_a_gpu_for_cuda_runs():
    assert executor_from_args({"backend": "ray", "device": "cuda:0"}).gpus_per_task == 1.0
    assert executor_from_args({"backend": "ray", "device": "cpu"}).gpus_per_task == 0.0
    assert executor_from_args({"backend": "ray"}).gpus_per_task == 0.0
    with pytest.raises(ValueError, match=r"gpus_per_task must be a finite number in \[0, inf\]"):
        RayTreeExecutor(gpus_per_task=-0.5)


def test_train_on_cuda_without_a_gpu_is_a_one_line_refusal(tmp_path, shared_data, capsys):
    torch = pytest.importorskip("torch")
    from analysis.cli import main

    if torch.cuda.is_available():
        pytest.skip("a GPU is present: bench/gpu_check.sh exercises it")  # the refusal only exists without one
    code = main(["train", "--data", str(shared_data / "sst2"), "--out", str(tmp_path / "run"), "--model", "tiny", "--device", "cuda:0"])
    err = capsys.readouterr().err
    assert code == 2 and "torch sees no CUDA device (got --device cuda:0)" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()
