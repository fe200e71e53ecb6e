"""Bound verdicts, the grid of exact and Monte Carlo deletion rates, the gap table, saturation."""
import json
import math

import numpy as np
import pytest

from analysis import bounds
from analysis.expression import parse_bound
from analysis.bound_check import ANALYTIC, RATES, check_bound


def H(k: int) -> float:
    return math.fsum(1 / i for i in range(1, k + 1))


# --------------------------------------------------------------------------- bound verdicts
DEFAULT = [(m, L, B) for m in (2, 4, 8, 16, 32) for L in (2, 4, 8, 16) for B in (1, 2, 4, 8, 16)]
WIDE = [(m, L, B) for m in (2, 4, 8, 16, 32, 64, 128) for L in (2, 4, 8, 16, 32) for B in (1, 2, 4, 8, 16, 32)]


def _check(expression, grid=DEFAULT, target="s3t", **kw):
    exact = np.array([float(RATES[target](*map(float, p))) for p in grid])
    return check_bound(parse_bound(expression), grid, exact, expression, target, **kw)


def test_closed_form_rate_is_the_harmonic_sum():
    assert float(RATES["s3t"](5.0, 6.0, 6.0)) == pytest.approx(30 * H(30), rel=1e-15)
    assert float(RATES["s3t"](5.0, 6.0, 12.0)) == float(RATES["s3t"](5.0, 6.0, 6.0))  # B' = min(B, L)
    assert float(RATES["sisa"](5.0, 6.0, 3.0)) == pytest.approx(30 * H(5), rel=1e-15)


def test_true_bound_with_constant_three_holds():
    """Issue 10: m L (log(m L B') + 3) is a true bound (largest grid ratio 0.60)."""
    check = _check("m*L*(log(m*L*Bp)+3)")
    assert check.verdict == "holds" and check.constant == 1.0 and check.constant_source.startswith("analytic")
    assert check.grid_constant == pytest.approx(0.604, abs=1e-3)
    assert not check.growing and len(check.rays) == 5 * len(DEFAULT)


@pytest.mark.parametrize("form", ["m*L*log(m)", "m*L*log(2*m)"])
def test_log_m_forms_grow_along_L_equals_B(form):
    """Issue 10: exact / (m L log m) grows without limit along B' = L."""
    check = _check(form)
    assert check.verdict == "grows" and "grows along ray L=B" in check.summary()
    assert {t.ray for t in check.growing} == {"L=B"}
    assert all(t.ratio_end > 2 * check.grid_constant for t in check.growing)


@pytest.mark.parametrize("form", ["m*L*log(m*L*Bp)", "m*L*log(m*Bp)"])
def test_paper_forms_hold_with_analytic_constant_and_numerically(form):
    check = _check(form, WIDE)
    assert check.verdict == "holds" and check.constant == pytest.approx(1.5 / math.log(2))
    assert check.grid_constant <= check.constant + 1e-12
    exact = np.array([float(RATES["s3t"](*map(float, p))) for p in WIDE])
    numeric = check_bound(parse_bound(form), WIDE, exact, "", "s3t")  # no analytic entry: rays alone
    assert numeric.verdict == "holds" and numeric.constant_source.startswith("numerical")


def test_analytic_constants_are_true_on_a_large_domain():
    axis = np.unique(np.geomspace(1, 1e6, 30).round())
    m, L, B = (v.ravel() for v in np.meshgrid(axis, axis, axis))
    for (expression, target), analytic in ANALYTIC.items():
        y = RATES[target](m, L, B)
        g = parse_bound(expression)(m, L, B)
        ok = g > 0
        assert np.all(y[ok] <= analytic.constant * g[ok] * (1 + 1e-12)), expression


def test_a_bound_that_is_zero_where_the_rate_is_positive_fails():
    check = _check("m*L*log(m*Bp)", [(1, 4, 1), (2, 4, 2)])
    assert check.verdict == "fails" and check.undefined == [(1, 4, 1)]


def test_without_a_closed_form_the_verdict_is_undecided():
    check = _check("m*L*(log(m*L*Bp)+3)", closed_form=False)
    assert check.verdict == "undecided" and not check.rays and "no closed form" in check.summary()


def test_fit_constant_is_labelled_not_a_bound():
    check = _check("m*L*log(m)")
    assert check.fit_constant < check.grid_constant
    assert "not a bound" in check.summary() and "fit_constant_least_squares" in check.record()
    assert check.violations == len(DEFAULT)  # delta > m L log m at every point: the form as written fails


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
    assert bounds.has_closed_form(tiny_grid)
    checks = {c.name: c for c in bounds.check_bound_forms(tiny_grid, ["m*L", "2*m*L*log(m*L*Bp)"])}
    assert all(checks[name].verdict == "holds" for name in ("poster", "arxiv", "sisa-poster", "sisa-arxiv"))
    too_small = checks["user-1"]  # exact / (mL) = H_K grows like log(mL)
    assert too_small.verdict == "grows" and too_small.violations == tiny_grid.column("exact").size
    generous = checks["user-2"]
    assert generous.verdict == "holds" and generous.violations == 0
    # the grid constant really envelopes: c_grid * g >= exact at every point
    g = parse_bound("m*L*log(m*L*Bp)")(tiny_grid.column("m"), tiny_grid.column("L"), tiny_grid.column("B"))
    assert np.all(checks["poster"].grid_constant * g >= tiny_grid.column("exact") * (1 - 1e-12))
    assert len(bounds.checks_table(list(checks.values())).rows) == 6


def test_sisa_arxiv_form_fails_at_one_shard():
    grid = bounds.deletion_rate_grid(bounds.parse_grid("m=1,2,4;L=2,4;B=1"), runs=50, seed=3)
    checks = {c.name: c for c in bounds.check_bound_forms(grid)}
    assert checks["sisa-arxiv"].verdict == "fails" and len(checks["sisa-arxiv"].undefined) == 2  # log(1) = 0


def test_a_skewed_prior_gives_no_rays():
    grid = bounds.deletion_rate_grid(bounds.parse_grid("m=2,4;L=2,4;B=1,2"), prior="zipf:1.5", runs=50, seed=3)
    assert not bounds.has_closed_form(grid)
    assert {c.verdict for c in bounds.check_bound_forms(grid)} == {"undecided"}


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


def test_poisson_gap_matches_independent_enumeration():
    """Poisson(r) requests: each slice hit independently with q = 1 - e^{-r/L}; brute force over hit sets."""
    import itertools

    from exact_reference import served_prefix
    from s3t_sim.selection import select_sequences

    L, B, r = 5, 3, 3
    table = bounds.performance_gap(L, [B], [r], request_model="poisson")
    q = -math.expm1(-r / L)
    s3t, sisa = select_sequences("cyclic", L, B).tolist(), select_sequences("sisa", L, 1).tolist()
    for j in range(1, L + 1):
        want = 0.0
        for hit in itertools.product((0, 1), repeat=L):
            weight = math.prod(q if h else 1 - q for h in hit)
            D = {i for i in range(L) if hit[i]}
            want += weight * ((served_prefix(s3t, D) >= j) - (served_prefix(sisa, D) >= j))
        row = next(row for row in table.rows if row[2] == j)
        assert row[5] == pytest.approx(want, abs=1e-14) and row[9] == "poisson"


def test_harris_fkg_bound_holds_with_poisson_requests_only():
    for reading in bounds.GAP_READINGS:
        poisson = bounds.gap_summary(bounds.performance_gap(8, (2, 4, 8), (1, 2, 4, 8, 16, 32), reading=reading,
                                                           request_model="poisson"))
        assert poisson["upper_bound_cells"] == poisson["informative_cells"] > 0
        fixed = bounds.gap_summary(bounds.performance_gap(8, (2, 4, 8), (1, 2, 4, 8, 16, 32), reading=reading))
        assert fixed["upper_bound_cells"] < fixed["informative_cells"]  # negative association: violated somewhere


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
    user = next(c for c in payload["checks"] if c["form"] == "user-1")
    assert user["expression"] == "m*L" and user["violations_at_constant_1"] == 8 and user["verdict"] == "grows"
    assert set(payload["gap"]) == {"fixed_spec", "fixed_paper", "poisson_spec", "poisson_paper"}


def test_bounds_cli_rejects_bad_runs(capsys):
    from analysis.cli import main

    assert main(["bounds", "--grid", "tiny", "--runs", "1"]) == 2
    assert "runs must be an integer in [2, inf]" in capsys.readouterr().err


def test_bounds_cli_classifies_the_three_bounds_of_issue_10(capsys):
    from analysis.cli import main

    main(["bounds", "--runs", "2", "--no-gap", "--no-saturation", "--bound", "m*L*(log(m*L*Bp)+3)",
          "--bound", "m*L*log(m)", "--bound", "m*L*log(2*m)", "--json"])
    checks = {c["expression"]: c for c in json.loads(capsys.readouterr().out)["checks"] if c["form"].startswith("user")}
    assert checks["m*L*(log(m*L*Bp)+3)"]["verdict"] == "holds" and checks["m*L*(log(m*L*Bp)+3)"]["constant"] == 1.0
    for form in ("m*L*log(m)", "m*L*log(2*m)"):
        assert checks[form]["verdict"] == "grows" and checks[form]["growing_ray"] == "L=B"


def test_bounds_cli_csv_and_json_share_keys(capsys, tmp_path):
    import csv

    from analysis.cli import main

    main(["bounds", "--grid", "m=2,4;L=2,4;B=1,2", "--runs", "20", "--no-gap", "--no-saturation", "--json",
          "--out", str(tmp_path)])
    payload = json.loads(capsys.readouterr().out)
    with open(tmp_path / "bounds_checks.csv") as f:
        header = next(csv.reader(f))
    assert header == list(payload["checks"][0]) and all(k == k.lower() for k in header)
    assert set(payload["check_summaries"]) == {c["form"] for c in payload["checks"]}
