import json
import math
import re

import pytest

from analysis.cli import main


def run_json(capsys, *argv):
    assert main(["simulate", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_issue_command_json_keys_and_values(capsys):
    out = run_json(capsys, "--shards", "20", "--slices", "16", "--budget", "16", "--selection", "cyclic",
                   "--prior", "uniform", "--criterion", "all-dead", "--runs", "20000", "--seed", "0")
    for key in ("mc_mean", "mc_se", "exact", "runs", "seed", "seconds"):
        assert key in out
    assert out["runs"] == 20000 and out["seed"] == 0
    assert out["exact"] == pytest.approx(320 * sum(1 / i for i in range(1, 321)))  # 2031.07
    assert abs(out["mc_mean"] - out["exact"]) <= 4 * out["mc_se"]
    assert out["bound_poster"] == pytest.approx(320 * math.log(320 * 16))
    assert out["bound_arxiv"] == pytest.approx(320 * math.log(20 * 16))
    assert out["sisa_fallback_exact"] == pytest.approx(320 * sum(1 / i for i in range(1, 21)))


def test_same_seed_same_answer(capsys):
    a = run_json(capsys, "-m", "3", "-L", "4", "-B", "2", "--criterion", "any-dead", "--runs", "500", "--seed", "4")
    b = run_json(capsys, "-m", "3", "-L", "4", "-B", "2", "--criterion", "any-dead", "--runs", "500", "--seed", "4")
    assert a["mc_mean"] == b["mc_mean"] and a["exact_method"] == "Poisson embedding"


@pytest.mark.parametrize("selection", ["strided", "consecutive"])
@pytest.mark.parametrize("prior", ["zipf:1.2", "exponential:3", "pareto:1.16"])
def test_selection_and_prior_options(capsys, selection, prior):
    out = run_json(capsys, "-m", "4", "-L", "6", "-B", "3", "--selection", selection, "--prior", prior,
                   "--criterion", "prefix-below:0.5", "--runs", "2000", "--served-at", "0,5,10")
    assert abs(out["mc_mean"] - out["exact"]) <= 4 * out["mc_se"]
    rows = out["served_prefix"]
    assert rows[0]["mc_fraction"] == 1.0
    for row in rows[1:]:
        assert abs(row["mc_fraction"] - row["exact_fraction"]) <= 4 * row["mc_se"] + 1e-12


def test_csv_prior_and_without_replacement(capsys, tmp_path):
    path = tmp_path / "prior.csv"
    path.write_text("\n".join(",".join(["1"] * 4) for _ in range(2)))
    out = run_json(capsys, "-m", "2", "-L", "4", "-B", "4", "--prior", str(path), "--runs", "1000",
                   "--request-model", "without-replacement", "--points", "40")
    assert out["exact"] is None and out["points"] == 40 and out["mc_mean"] >= 8


def test_readable_table(capsys):
    assert main(["simulate", "-m", "5", "-L", "6", "-B", "6", "--runs", "5000", "--seed", "1"]) == 0
    text = capsys.readouterr().out
    assert "Monte Carlo mean ± SE" in text and "coupon collector n=30, K=30" in text
    assert "mL·log(mL·min(B,L))" in text and "119.85" in text


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--shards", "0"], r"m \(--shards\) must be an integer in \[1, inf\]"),
        (["--criterion", "prefix-below:2"], r"prefix-below fraction must be a finite number in \(0, 1\]"),
        (["--criterion", "performance-below:0.99"], r"performance-below floor must be a finite number in \(0.5, 0\.\d+\]"),
        (["--prior", "zipf:x"], "must be a number"),
        (["--runs", "1"], r"runs must be an integer in \[2, inf\]"),
        (["--request-model", "x"], "request_model must be one of"),
        (["--served-at", "5,a"], "--served-at must be comma-separated integers"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(capsys, argv, message):
    assert main(["simulate", "-m", "2", "-L", "3", "-B", "2", *argv]) == 2
    assert re.search(message, capsys.readouterr().err)


def test_progress_bar_on_request_and_not_by_default(capsys):
    assert main(["simulate", "-m", "3", "-L", "4", "-B", "2", "--runs", "200", "--progress", "--json"]) == 0
    assert "simulate" in capsys.readouterr().err
    assert main(["simulate", "-m", "3", "-L", "4", "-B", "2", "--runs", "200", "--json"]) == 0
    assert capsys.readouterr().err == ""  # stderr is not a terminal under pytest


def test_readable_table_when_the_count_is_deterministic(capsys):
    # m = L = B = 1: every run fails at request 1, SE = 0, so (MC - exact) / SE is undefined
    assert main(["simulate", "-m", "1", "-L", "1", "-B", "1", "--runs", "50", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\(MC - exact\) / SE\s+— \(SE = 0: MC - exact = 0\)", out)
