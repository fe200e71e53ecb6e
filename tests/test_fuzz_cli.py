"""Fuzz every flag of every ``s3t`` sub-command (hypothesis): nothing a user can type
produces a traceback, a hang or unbounded memory (issue 14, items 8 and 9).

The strategies are built from the parser itself (``analysis.cli.build_parser()``): for each
sub-command, a subset of its flags (every option, positional and choice it declares) with
hostile values: zero, negative, huge (10**12) and 400-digit integers, nan, inf, 1e308, empty
strings, unicode, missing paths and paths to an existing file or folder. Each example runs
``main(argv)`` in-process under a small memory budget (``S3T_MEMORY_GB=0.5``) and a
watchdog; it must exit 0, or 2 with exactly one stderr line, and never print a traceback.

Slow commands are reached only with inputs that fail validation fast, appended last so that
they win over a drawn value of the same flag (:data:`FAST_FAIL`): ``train`` gets a missing
``--model`` (nothing is loaded or written), ``figures`` an unknown ``--only`` figure,
``report`` an existing file as ``--out``, ``validate`` a missing ``--data-dir``,
``deletion-curves`` a missing ``--data``, and the run commands (``delete``, ``predict``,
``export``, ``eval``, ``audit``, ``retrain``, ``profile``) a missing ``--run``: their other
flags are still drawn and parsed, and every check that runs before those is fuzzed. The default run draws a few examples per command
(about 20 s in all); ``-m reliability_long`` runs :func:`test_fuzz_long` with more::

    PYTHONPATH=. python -m pytest -q tests/test_fuzz_cli.py                       # default
    S3T_TEST_SIZE=full PYTHONPATH=. python -m pytest -q -m reliability_long tests/test_fuzz_cli.py
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import signal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.cli import build_parser, main

HUGE, DIGITS400 = str(10**12), "9" * 400
INTS = ("0", "1", "2", "3", "-1", HUGE, "-" + HUGE, DIGITS400, "1.5", "nan", "", "x")
FLOATS = ("0", "0.5", "1", "-1", "nan", "inf", "-inf", "1e308", "1e-320", DIGITS400, "", "x")
STRINGS = ("", " ", "nan", "-1", "0", "ünï©ødé ✓", "/nonexistent/s3t-fuzz", "existing.txt", "existing_dir",
           "1,2", ",", "a,b", "zipf:-1", "pareto:0", "exponential:inf", "zipf:1e308", "pareto:1e-308", "prefix-below:2",
           "performance-below:0.6", "saturating:1,0,0", "saturating:0.5,0.9,1e308",
           "m=1;L=1;B=1", "m=0;L=99;B=1", "x" * 600)
MISSING = "/nonexistent/s3t-fuzz"
# required flags that must be present for the parser to reach the command at all
REQUIRED = {"data": MISSING + ".tsv", "out": "fuzz_out", "run": MISSING, "id": "1", "shard": "0", "slices": "4",
            "budget": "2"}
FAST_FAIL = {  # sub-command -> flags appended last: slow commands fail validation fast
    "train": ["--model", MISSING], "figures": ["--only", "no-such-figure"], "report": ["--out", "existing.txt"],
    "validate": ["--data-dir", MISSING], "deletion-curves": ["--data", MISSING], "delete": ["--run", MISSING], "predict": ["--run", MISSING],
    "export": ["--run", MISSING], "eval": ["--run", MISSING], "audit": ["--run", MISSING],
    "retrain": ["--run", MISSING], "profile": ["--run", MISSING],
}
FAST_BASE = {  # sizes that keep a valid draw quick (a drawn flag comes later and overrides)
    "simulate": ["--runs", "200"], "bounds": ["--grid", "tiny", "--runs", "20", "--no-saturation"],
    "plan": ["--shards", "1,2", "--slices", "2,4", "--budgets", "1,2"],
}
WATCHDOG_S = 60
SUBCOMMANDS = build_parser()._subparsers._group_actions[0].choices  # name -> sub-parser


class Hang(BaseException):
    """Raised by the watchdog: a BaseException, so ``main`` cannot swallow it."""


def _values(action: argparse.Action) -> st.SearchStrategy[str]:
    pool = INTS if action.type is int else FLOATS if action.type is float else STRINGS
    if action.choices:
        pool = (*map(str, action.choices), "not-a-choice", "")
    if isinstance(action.default, (int, float, str)) and not isinstance(action.default, bool):
        pool = (*pool, str(action.default))  # a valid value beside the hostile ones: the others get checked too
    return st.sampled_from(pool)


def _flag(action: argparse.Action) -> st.SearchStrategy[list[str]]:
    option = max(action.option_strings, key=len)
    if action.nargs == 0:
        return st.just([option])
    if action.nargs in ("+", "*"):
        return st.lists(_values(action), min_size=1, max_size=3).map(lambda v: [option, *v])
    return _values(action).map(lambda v: [f"{option}={v}"])


@st.composite
def command_lines(draw: st.DrawFn, name: str) -> list[str]:
    parser = SUBCOMMANDS[name]
    actions = [a for a in parser._actions if not isinstance(a, argparse._HelpAction)]
    options = [a for a in actions if a.option_strings]
    argv = [name, *FAST_BASE.get(name, [])]
    for action in actions:  # positionals and required flags always appear
        if not action.option_strings:
            argv += draw(st.lists(_values(action), min_size=1, max_size=3))
        elif action.required:
            argv += [max(action.option_strings, key=len), REQUIRED[action.dest]]
    for action in draw(st.lists(st.sampled_from(options), unique_by=id, max_size=5)):
        argv += draw(_flag(action))
    return argv + FAST_FAIL.get(name, [])


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory):
    """A scratch current folder holding ``existing.txt`` and ``existing_dir``; a small memory budget."""
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "existing.txt").write_text("not a folder\n")
    (folder / "existing_dir").mkdir()
    old_cwd, old_budget = Path.cwd(), os.environ.get("S3T_MEMORY_GB")
    os.chdir(folder)
    os.environ["S3T_MEMORY_GB"] = "0.5"
    yield folder
    os.chdir(old_cwd)
    if old_budget is None:
        os.environ.pop("S3T_MEMORY_GB")
    else:
        os.environ["S3T_MEMORY_GB"] = old_budget


def _on_alarm(signum, frame):
    raise Hang(f"no answer within {WATCHDOG_S} s")


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """``main(argv)`` in-process: exit status, stdout, stderr (an argparse exit included)."""
    out, err = io.StringIO(), io.StringIO()
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(WATCHDOG_S)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:  # argparse refusals and --help
                code = exc.code if isinstance(exc.code, int) else 2
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return code, out.getvalue(), err.getvalue()


def check_answer(argv: list[str]) -> None:
    code, _, err = run_cli(argv)
    assert "Traceback" not in err, (argv, err)
    assert code in (0, 2), (argv, code, err)
    if code == 2:
        assert len(err.strip().splitlines()) == 1, (argv, err)
        assert err.strip(), argv


def _fuzz(examples: int):
    return settings(max_examples=examples, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_fuzz(name: str, sandbox: Path) -> None:
    """Every sub-command, a few hostile examples each (deterministic: derandomized)."""
    _fuzz(8)(given(argv=command_lines(name))(lambda argv: check_answer(argv)))()


@pytest.mark.reliability_long
@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_fuzz_long(name: str, sandbox: Path) -> None:
    """The long run: 20 examples per sub-command (200 with ``S3T_TEST_SIZE=full``)."""
    examples = 200 if os.environ.get("S3T_TEST_SIZE", "small") == "full" else 20
    _fuzz(examples)(given(argv=command_lines(name))(lambda argv: check_answer(argv)))()


@pytest.mark.parametrize("argv, named", [
    (["simulate", "--shards", HUGE, "--runs", "10"], "--shards"),
    (["simulate", "--slices", HUGE, "--runs", "10"], "--slices"),
    (["simulate", "--runs", HUGE], "--runs"),
    (["simulate", "--slices", str(10**8), "--runs", "10"], "--slices"),
    (["simulate", "--points", DIGITS400], "--points"),
    (["simulate", "--runs", "200", "--served-at", "x", "--progress"], "--served-at"),  # no bar drawn before
    (["select", "--slices", HUGE, "--budget", "2"], "--slices"),
    (["select", "-L", "4", "-B", "2", "--horizon", "inf"], "--horizon"),
    (["bounds", "--grid", "tiny", "--runs", HUGE], "--runs"),
    (["bounds", "--grid", "tiny", "--runs", "20", "--bound", DIGITS400], "bound expression"),
    (["bounds", "--grid", "tiny", "--runs", "20", "--bound", "log(-1)"], "finite and positive"),
    (["bounds", "--grid", "tiny", "--runs", "20", "--bound", "1/0"], "finite and positive"),
    (["bounds", "--grid", "tiny", "--runs", "20", "--out", "existing.txt"], "--out"),
    (["validate", "--seeds", HUGE, "--size", "tiny"], "--seeds"),
    (["validate", "--model", MISSING, "--size", "tiny", "--out", "v"], "--model"),
    (["plan", "--figure", "existing.txt"], "--figure"),
    (["plan", "--selections", ""], "--selections"),
    (["plan", "--dataset-size", "1"], "dataset_size"),
    (["figures", "--out", "existing.txt"], "--out"),
    (["calibrate", "a", "b", "c", "--out", "existing_dir"], "--out"),
    (["plan", "--steady-samples", HUGE], "steady_samples"),
    (["plan", "--shards", ",".join(map(str, range(1, 6001)))], "102000 settings"),  # hours of work
    (["plan", "--deletions-per-day", "1e308"], "deletions_per_day"),
    (["simulate", "--prior", "pareto:1e-308"], "pareto parameter"),
])
def test_issue_inputs_refused_in_one_line(argv: list[str], named: str, sandbox: Path) -> None:
    """The inputs issue 14 lists: each is refused with one line naming the parameter, writing nothing."""
    before = sorted(p.name for p in sandbox.iterdir())
    code, _, err = run_cli(argv)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert named in err, err
    assert sorted(p.name for p in sandbox.iterdir()) == before  # no output folder left behind


def test_plan_skips_settings_with_fewer_examples_than_slices(sandbox: Path) -> None:
    """``plan --dataset-size 3`` may not recommend 8 slices: m*L > N is skipped, saying why."""
    import json

    code, out, _ = run_cli(["plan", "--dataset-size", "3", "--json"])
    result = json.loads(out)
    assert code == 0 and result["ranked"]
    assert all(row["m"] * row["L"] <= 3 for row in result["ranked"])
    assert {s["reason"] for s in result["skipped"]} == {"fewer examples (3) than slices m*L"}


def test_internal_error_is_one_line_asking_for_a_report(monkeypatch: pytest.MonkeyPatch, sandbox: Path) -> None:
    """An unexpected exception: one line with "please report", exit 1; the traceback only with S3T_DEBUG=1."""
    import s3t_sim.commands

    def broken(args):
        raise KeyError("boom")

    monkeypatch.setattr(s3t_sim.commands, "_check_simulate_size", broken)
    monkeypatch.delenv("S3T_DEBUG", raising=False)
    code, _, err = run_cli(["simulate"])
    assert code == 1 and len(err.strip().splitlines()) == 1 and "please report" in err and "KeyError" in err
    monkeypatch.setenv("S3T_DEBUG", "1")
    code, _, err = run_cli(["simulate"])
    assert code == 1 and "Traceback" in err


def test_closed_stdout_is_quiet(tmp_path: Path) -> None:
    """``s3t select ... --json | head -c 1`` (180 kB of JSON): no BrokenPipeError message, exit status 0."""
    import subprocess
    import sys

    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    script = f"{sys.executable} -m analysis select -L 200 -B 200 --runs 2 --json | head -c 1 >/dev/null"
    done = subprocess.run(["bash", "-c", f"set -o pipefail; {script}"], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120)
    assert done.stderr == "" and done.returncode == 0, done.stderr


@pytest.mark.parametrize("m, L, B, runs", [(1, 20000, 20, 10), (4, 2000, 50, 1000), (20, 16, 16, 100_000),
                                           (50, 64, 64, 20_000)])
def test_simulate_memory_estimate_bounds_the_measured_peak(m: int, L: int, B: int, runs: int, sandbox: Path) -> None:
    """The estimate that refuses oversized runs is an upper bound of the traced peak (numpy
    reports its buffers to tracemalloc) and, beside the fixed 64 MB of one chunk, within 8x of it."""
    import tracemalloc

    from s3t_sim.commands import simulate_memory

    tracemalloc.start()
    try:
        code, _, err = run_cli(["simulate", "-m", str(m), "-L", str(L), "-B", str(B), "--runs", str(runs)])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    parts = simulate_memory(m, L, B, runs, m * L * 100, 1)
    estimate = sum(parts.values())
    assert code == 0, err
    assert peak <= estimate and estimate - parts["one chunk of runs"] <= 8 * peak, (peak, parts)
