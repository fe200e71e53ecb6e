"""The ``s3t select`` command."""
from __future__ import annotations

import json

import numpy as np
import pytest

from analysis.cli import main
from s3t_sim.priors import parse_prior
from s3t_sim.selection import expected_served_prefix, select_sequences, training_cost


def test_select_text_output(capsys):
    assert main(["select", "--slices", "8", "--budget", "5", "--method", "bms", "--prior", "zipf:1.1", "--horizon", "20"]) == 0
    out = capsys.readouterr().out
    assert "distinct prefixes" in out and "expected served prefix after R requests" in out
    assert "expected requests to shard death" in out and "(exact; R=20 requests)" in out


def test_select_json_matches_library():
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(["select", "-L", "8", "-B", "5", "--method", "bms", "--prior", "zipf:1.1", "--horizon", "20", "--json"])
    assert code == 0
    result = json.loads(buffer.getvalue())
    prior = parse_prior("zipf:1.1", 1, 8)[0]
    expected = select_sequences("bms", 8, 5, prior, horizon=20)
    assert result["sequences"] == expected.tolist()
    assert result["distinct_prefixes"] == training_cost(expected)["distinct_prefixes"]
    assert result["objective"]["served_prefix_after"] == pytest.approx(float(expected_served_prefix(expected, prior, 20)))
    assert result["objective"]["method"] == "exact"


def test_select_monte_carlo_reports_se(capsys):
    assert main(["select", "-L", "20", "-B", "3", "--method", "strided", "--seed", "2", "--runs", "500", "--json"]) == 0
    objective = json.loads(capsys.readouterr().out)["objective"]
    assert objective["method"] == "mc" and objective["runs"] == 500 and objective["served_prefix_after_se"] > 0


@pytest.mark.parametrize(
    "argv, message",
    [
        (["select", "-L", "4", "-B", "30"], "B must be an integer in [1, L!]"),
        (["select", "-L", "4", "-B", "2", "--method", "nope"], "method must be one of"),
        (["select", "-L", "4", "-B", "2", "--prior", "zipf"], "needs a parameter"),
        (["select", "-L", "4", "-B", "2", "--shards", "0"], "--shards must be an integer in [1, inf]"),
    ],
)
def test_select_errors_exit_2(capsys, argv, message):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_select_optimal_with_shards(capsys):
    argv = ["select", "-L", "4", "-B", "2", "--method", "optimal", "--shards", "3", "--requests", "4", "--json"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert np.asarray(result["sequences"]).shape == (2, 4) and result["objective"]["shard_share"] == pytest.approx(1 / 3)
