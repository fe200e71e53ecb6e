"""Long reliability loops (marker ``reliability_long``): real ``s3t`` processes racing and
killed with SIGKILL at chosen points, and hypothesis over every flag of the run commands.

``S3T_TEST_SIZE=small`` (the default, CI) runs each loop in a small size;
``S3T_TEST_SIZE=full`` runs the sizes recorded in docs/reliability.md::

    S3T_TORCH_THREADS=1 S3T_TEST_SIZE=full python -m pytest -m reliability_long tests/test_reliability_long.py
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from s3t_train.audit import audit  # noqa: E402
from s3t_train.run import S3TRun  # noqa: E402

pytestmark = pytest.mark.reliability_long
REPO = Path(__file__).resolve().parents[1]
FULL = os.environ.get("S3T_TEST_SIZE", "small") == "full"


def s3t(*args: str) -> list[str]:
    return [sys.executable, "-m", "analysis", *args]


def env() -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO), "S3T_TORCH_THREADS": "1"}


def train_args(data: Path, out: Path) -> list[str]:
    return ["train", "--data", str(data), "--shards", "2", "--slices", "3", "--budget", "3", "--epochs", "1",
            "--model", "tiny", "--limit", "48", "--split-seed", "3", "--seed", "11", "--out", str(out)]


@pytest.fixture(scope="module")
def reference(tmp_path_factory, shared_data) -> Path:
    out = tmp_path_factory.mktemp("long") / "ref"
    subprocess.run(s3t(*train_args(shared_data / "sst2", out)), env=env(), check=True, capture_output=True)
    return out


def node_bytes(run_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(run_dir.glob("shards/*/nodes/*.safetensors"))}


def test_kill9_during_train_then_resume_gives_identical_bytes(reference, shared_data, tmp_path):
    """SIGKILL once the k-th node file appears; rerunning `train` gives the reference's bytes."""
    points = (1, 5, 9, 14) if FULL else (3,)
    for k in points:
        out = tmp_path / f"killed{k}"
        proc = subprocess.Popen(s3t(*train_args(shared_data / "sst2", out)), env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while len(list(out.glob("shards/*/nodes/*.safetensors"))) < k and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        subprocess.run(s3t(*train_args(shared_data / "sst2", out)), env=env(), check=True, capture_output=True)
        assert node_bytes(out) == node_bytes(reference), f"killed at node {k}"
        assert not list(out.rglob("*.tmp")) and not list(out.rglob(".*.tmp"))


def test_cli_delete_racing_cli_retrain_is_never_served(reference, tmp_path):
    """The issue's reproduction with real processes: delete A, retrain shard 0 in the
    background, delete B once the first new node file appears; the audit must pass."""
    rounds = 3 if FULL else 1
    for r in range(rounds):
        run_dir = tmp_path / f"race{r}"
        shutil.copytree(reference, run_dir)
        run = S3TRun(run_dir)
        first = int(run.sequences[0][0][0])
        a, b = run.store.slice_ids(0, first)[r : r + 2]
        run.close()
        subprocess.run(s3t("delete", "--run", str(run_dir), "--id", str(a)), env=env(), check=True, capture_output=True)
        before = {p: p.stat().st_mtime_ns for p in run_dir.glob("shards/0/nodes/*.safetensors")}
        retrain = subprocess.Popen(s3t("retrain", "--run", str(run_dir), "--shard", "0"), env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and retrain.poll() is None:
            now = {p: p.stat().st_mtime_ns for p in run_dir.glob("shards/0/nodes/*.safetensors")}
            if any(before.get(p) != t for p, t in now.items()):
                break
            time.sleep(0.005)
        subprocess.run(s3t("delete", "--run", str(run_dir), "--id", str(b)), env=env(), check=True, capture_output=True)
        assert retrain.wait(120) == 0, retrain.stderr.read()
        done = subprocess.run(s3t("audit", "--run", str(run_dir), "--json"), env=env(), capture_output=True, text=True)
        assert done.returncode == 0, done.stdout
        assert json.loads(done.stdout)["deleted"] == 2


# --- fuzz: every flag of the run commands ----------------------------------------------------
weird_ints = st.one_of(st.integers(-5, 60), st.sampled_from([10**12, 10**29, 2**63, -(2**63)]))
weird_text = st.one_of(st.sampled_from(["", "1e999", "nan", "inf", "-1", "0x10", "10**29", "\x00", "é", " "]), st.integers().map(str), st.text(max_size=8))


def command_args(draw_cmd: str, values: list[str], out_dir: Path) -> list[str]:
    a, b, c = values
    table = {
        "delete": ["--id", a, b],
        "predict": ["--text", c, "--vote", b],
        "eval": ["--limit", a, "--vote", c],
        "audit": [],
        "retrain": ["--shard", a],
        "profile": ["--shard", b, "--limit", a, "--out", f"{out_dir}/{c}"],
    }
    return [draw_cmd, *table[draw_cmd]]


@settings(max_examples=200 if FULL else 25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cmd=st.sampled_from(["delete", "predict", "eval", "audit", "retrain", "profile"]),
       values=st.lists(st.one_of(weird_ints.map(str), weird_text), min_size=3, max_size=3),
       json_flag=st.booleans())
def test_fuzz_run_commands_never_give_a_traceback(reference, tmp_path, cmd, values, json_flag, capsys):
    from analysis.cli import main

    run_dir = tmp_path / "fuzz"
    if not run_dir.exists():
        shutil.copytree(reference, run_dir)
    args = command_args(cmd, values, tmp_path)
    args[1:1] = ["--run", str(run_dir)]
    if json_flag and cmd not in ("profile",):
        args.append("--json")
    try:
        code = main(args)
    except SystemExit as exc:  # argparse refusals: exit 2 with a usage line
        code = exc.code
    err = capsys.readouterr().err
    assert code in (0, 1, 2) and "Traceback" not in err, (args, err)
    if code == 2 and err:
        assert len(err.strip().splitlines()[-1]) > 0
    assert audit(S3TRun(run_dir))["ok"]
