"""Bound fitting, the grid of exact and Monte Carlo deletion rates, the gap table, saturation."""
import json
import math

import numpy as np
import pytest

from analysis import bounds
from analysis.expression import parse_bound
from analysis.fitting import fit_bound


def H(k: int) -> float:
    return math.fsum(1 / i for i in range(1, k + 1))


# --------------------------------------------------------------------------- fitting
def test_fit_recovers_a_known_constant_and_calls_a_flat_ratio_bounded():
    m = np.array([2, 4, 8, 16, 32, 2, 4, 8, 16, 32], dtype=float)
    L = np.array([2] * 5 + [4] * 5, dtype=float)
    g = parse_bound("m*L*log(m*L)")
    fit = fit_bound("x", g, m, L, np.ones_like(m), 3.0 * g(m, L, 1))
    assert fit.constant_max == pytest.approx(3.0)
    assert fit.constant_lsq == pytest.approx(3.0)
    assert abs(fit.slope) < 1e-9 and fit.bounded
    assert fit.violations and len(fit.violations) == m.size  # 3g > g everywhere: the bound as written fails


def test_fit_flags_a_ratio_that_grows_with_log_mL():
    m = np.array([2, 4, 8, 16, 32, 64], dtype=float)
    ones = np.ones_like(m)
    exact = m * np.log(m) ** 2  # exact / (m log m) = log m grows
    fit = fit_bound("too small", parse_bound("m*log(m)"), m, ones, ones, exact)
    assert fit.slope == pytest.approx(1.0)  # ratio = log(m) = log(mL) exactly: slope 1
    assert not fit.bounded
    assert "grows" in fit.verdict()


def test_fit_lists_violations_and_skips_undefined_points():
    m = np.array([1, 2, 4, 8], dtype=float)
    ones = np.ones_like(m)
    exact = np.array([5.0, 1.0, 100.0, 1.0])
    fit = fit_bound("log m", parse_bound("m*log(m)"), m, ones, ones, exact)
    assert fit.undefined_points == 1  # log(1) = 0 at m = 1
    assert fit.points == 3
    assert [(v["m"], v["exact"]) for v in fit.violations] == [(4, 100.0)]
    assert fit.constant_max == pytest.approx(100 / (4 * math.log(4)))


def test_noisy_ratio_with_decreasing_trend_is_bounded():
    rng = np.random.default_rng(0)
    m = np.repeat([2, 4, 8, 16, 32, 64], 5).astype(float)
    ones = np.ones_like(m)
    g = m * np.log(m)
    exact = g * (2 - 0.1 * np.log(m) + rng.normal(0, 0.01, m.size))
    fit = fit_bound("noisy", parse_bound("m*log(m)"), m, ones, ones, exact)
    assert fit.slope == pytest.approx(-0.1, abs=4 * fit.slope_se)
    assert fit.bounded


# --------------------------------------------------------------------------- grid
def test_parse_grid_presets_lists_and_errors():
    assert bounds.parse_grid("m=4,2;L=3;B=1,3").points() == [(2, 3, 1), (2, 3, 3), (4, 3, 1), (4, 3, 3)]
    assert len(bounds.parse_grid("tiny").points()) == 3 * (2 + 4 + 4)  # B > L! is skipped: L=2 allows B <= 2
    with pytest.raises(ValueError, match="missing B"):
        bounds.parse_grid("m=2;L=2")
    with pytest.raises(ValueError, match="could not read"):
        bounds.parse_grid("q=2;m=2;L=2;B=1")
    with pytest.raises(ValueError, match=r"grid L must be an integer in \[1, 64\]"):
        bounds.parse_grid("m=2;L=0;B=1")
    with pytest.raises(ValueError, match="must be integers"):
        bounds.parse_grid("m=2.5;L=2;B=1")


@pytest.fixture(scope="module")
def tiny_grid():
    return bounds.deletion_rate_grid(bounds.parse_grid("m=2,4,8;L=2,4,8;B=1,2,8"), runs=400, seed=0)


def test_grid_exact_rates_are_the_coupon_collector_means(tiny_grid):
    for row in tiny_grid.rows:
        m, L, B = row["m"], row["L"], row["B"]
        assert row["exact"] == pytest.approx(m * L * H(m * min(B, L)), rel=1e-12)
        assert row["sisa_exact"] == pytest.approx(m * L * H(m), rel=1e-12)


def test_grid_monte_carlo_agrees_with_exact_within_4_se(tiny_grid):
    z = tiny_grid.column("z")
    assert np.all(np.abs(z) < 4), z
    assert [row["seed"] for row in tiny_grid.rows] == list(range(len(tiny_grid.rows)))


def test_paper_forms_hold_and_a_too_small_user_bound_is_caught(tiny_grid):
    fits = {f.name: f for f in bounds.check_bound_forms(tiny_grid, ["m*L", "2*m*L*log(m*L*Bp)"])}
    assert fits["poster"].bounded and fits["arxiv"].bounded and fits["sisa-poster"].bounded
    assert fits["poster"].slope < 0  # H_K / log(mL B') decreases
    too_small = fits["user-1"]  # exact / (mL) = H_K grows like log(mL)
    assert not too_small.bounded and too_small.slope > 0
    assert len(too_small.violations) == tiny_grid.column("exact").size  # H_K >= 1 with K >= 2 everywhere
    generous = fits["user-2"]
    assert generous.bounded and not generous.violations
    # the envelope constant really envelopes: c_max * g >= exact at every defined point
    g = parse_bound("m*L*log(m*L*Bp)")(tiny_grid.column("m"), tiny_grid.column("L"), tiny_grid.column("B"))
    assert np.all(fits["poster"].constant_max * g >= tiny_grid.column("exact") * (1 - 1e-12))


def test_sisa_arxiv_form_is_undefined_at_one_shard():
    grid = bounds.deletion_rate_grid(bounds.parse_grid("m=1,2,4;L=2,4;B=1"), runs=50, seed=3)
    fits = {f.name: f for f in bounds.check_bound_forms(grid)}
    assert fits["sisa-arxiv"].undefined_points == 2  # log(1) = 0 for both L


# --------------------------------------------------------------------------- gap
def test_closed_forms_of_both_readings():
    assert float(bounds.closed_form_gap(0.5, 3)) == pytest.approx(0.5 * (1 - 0.25))
    assert float(bounds.closed_form_gap(0.5, 3, "paper")) == pytest.approx(0.5 * (1 - 0.125))
    with pytest.raises(ValueError, match="reading must be one of"):
        bounds.closed_form_gap(0.5, 3, "other")


def test_exact_gap_at_level_one_matches_inclusion_exclusion():
    L, B, r = 6, 3, 5
    table = bounds.performance_gap(L, [B], [r])
    row = next(row for row in table.rows if row[2] == 1)
    # P(all B distinct first slices hit after r requests) by inclusion-exclusion
    all_hit = sum((-1) ** k * math.comb(B, k) * (1 - k / L) ** r for k in range(B + 1))
    sisa_clean = (1 - 1 / L) ** r
    assert row[4] == pytest.approx(1 - sisa_clean)
    assert row[5] == pytest.approx((1 - all_hit) - sisa_clean, abs=1e-12)


def test_gap_is_zero_for_one_sequence_and_summary_counts_cells():
    table = bounds.performance_gap(4, [1], [1, 3])
    assert all(abs(row[5]) < 1e-12 and abs(row[6]) < 1e-12 for row in table.rows)
    summary = bounds.gap_summary(bounds.performance_gap(6, [2, 3], [2, 4]))
    assert summary["cells"] == 2 * 2 * 6
    assert 0 < summary["upper_bound_cells"] <= summary["informative_cells"]


def test_saturation_shows_no_gain_beyond_L():
    table = bounds.budget_saturation(shards=(3,), slices=(4,), multiples=(0.5, 1, 2), runs=300, seed=1)
    rows = {row[2]: row for row in table.rows}
    assert rows[8][3] == 4 and rows[4][3] == 4 and rows[2][3] == 2  # distinct first slices
    assert rows[8][-1] == pytest.approx(0.0, abs=1e-12)
    assert rows[2][-1] < 0
    for row in table.rows:
        assert abs(row[5] - row[4]) < 4 * row[6]


# --------------------------------------------------------------------------- CLI
def test_bounds_cli_json_and_user_bound(capsys):
    from analysis.cli import main

    code = main(["bounds", "--grid", "m=2,4;L=2,4;B=1,2", "--runs", "100", "--bound", "m*L", "--json",
                 "--gap-slices", "4", "--gap-budgets", "2", "--gap-requests", "1,2", "--no-saturation"])
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    assert len(payload["points"]) == 8
    user = next(f for f in payload["fits"] if f["name"] == "user-1")
    assert user["expression"] == "m*L" and len(user["violations"]) == 8
    assert set(payload["gap"]) == {"spec", "paper"}


def test_bounds_cli_rejects_bad_runs(capsys):
    from analysis.cli import main

    assert main(["bounds", "--grid", "tiny", "--runs", "1"]) == 2
    assert "runs must be an integer in [2, inf]" in capsys.readouterr().err
