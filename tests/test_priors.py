import numpy as np
import pytest

from s3t_sim.performance import linear_performance, parse_performance, performance_from_csv, saturating_performance
from s3t_sim.priors import load_prior_csv, parse_prior, per_point_prior, point_weights, slice_prior, uniform_prior


def test_uniform_prior_sums_to_one():
    p = uniform_prior(3, 4)
    assert p.shape == (3, 4) and np.allclose(p, 1 / 12)


def test_pareto_116_gives_the_80_20_rule():
    w = point_weights("pareto", 1.16, 1000)
    assert w[:200].sum() == pytest.approx(0.2 ** (1 - 1 / 1.16))  # 0.8008
    assert np.all(np.diff(point_weights("pareto", 0.8, 100)) < 0)


@pytest.mark.parametrize("law, param", [("zipf", 1.2), ("exponential", 3.0), ("pareto", 1.16)])
def test_point_laws_are_decreasing_in_rank(law, param):
    w = point_weights(law, param, 1000)
    assert np.all(np.diff(w) < 0) and w.sum() == pytest.approx(1.0)


def test_exponential_rate_sets_the_ratio_of_first_to_last_point():
    w = point_weights("exponential", 3.0, 1000)
    assert w[0] / w[-1] == pytest.approx(np.exp(3.0 * 999 / 1000))


def test_per_point_prior_sorted_and_random_assignment():
    sorted_prior = per_point_prior("zipf", 1.2, 2, 3, points_per_slice=10, assignment="sorted")
    w = point_weights("zipf", 1.2, 60)
    assert sorted_prior[0, 0] == pytest.approx(w[:10].sum())
    a = per_point_prior("zipf", 1.2, 4, 4, assignment="random", seed=3)
    b = per_point_prior("zipf", 1.2, 4, 4, assignment="random", seed=3)
    c = per_point_prior("zipf", 1.2, 4, 4, assignment="random", seed=4)
    assert np.array_equal(a, b) and not np.array_equal(a, c) and a.sum() == pytest.approx(1.0)


def test_csv_prior_rows_or_one_column(tmp_path):
    grid = tmp_path / "grid.csv"
    grid.write_text("# weights\n1,1,2\n0,4,0\n")
    p = load_prior_csv(grid, 2, 3)
    assert p.tolist() == [[0.125, 0.125, 0.25], [0.0, 0.5, 0.0]]
    column = tmp_path / "column.csv"
    column.write_text("probability\n" + "\n".join(["0.25"] * 4))
    assert np.allclose(parse_prior(str(column), 2, 2), 0.25)


@pytest.mark.parametrize(
    "spec, message",
    [
        ("zipf", "needs a parameter"),
        ("zipf:-1", r"zipf parameter must be a finite number in \(0, inf\]"),
        ("pareto:abc", "must be a number"),
        ("nonsense", "prior must be 'uniform'"),
        ("missing.csv", "not found"),
    ],
)
def test_bad_prior_specs(spec, message):
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        parse_prior(spec, 2, 2)


def test_slice_prior_checks_size_and_sum():
    with pytest.raises(ValueError, match="m\\*L = 4"):
        slice_prior(np.ones(3) / 3, 2, 2)
    with pytest.raises(ValueError, match="sum to 1"):
        slice_prior(np.ones(4), 2, 2)


def test_performance_models():
    f = saturating_performance(8, 0.5, 0.9, 2.0)
    assert f(0) == pytest.approx(0.5) and f(8) == pytest.approx(0.5 + 0.4 * (1 - np.exp(-4))) and np.all(np.diff(f.values) > 0)
    # the scale is in examples seen: 50 per slice and a scale of 100 equals 1 per slice and a scale of 2
    assert saturating_performance(8, 0.5, 0.9, 100, samples_per_slice=50).values == pytest.approx(f.values)
    assert linear_performance(4).values.tolist() == [0, 0.25, 0.5, 0.75, 1.0]
    assert f.aggregate(np.array([[8, 0]])) == pytest.approx([(f(8) + 0.5) / 2])
    assert parse_performance("saturating:0.5,0.9,2", 8).values == pytest.approx(f.values)
    with pytest.raises(ValueError, match="fmax must be"):
        saturating_performance(4, 0.9, 0.5)


def test_performance_from_measured_csv(tmp_path):
    path = tmp_path / "acc.csv"
    path.write_text("k,accuracy\n1,0.6\n2,0.7\n2,0.72\n4,0.8\n")
    f = performance_from_csv(path, f0=0.5)
    assert f.values == pytest.approx([0.5, 0.6, 0.71, 0.755, 0.8])
    with pytest.raises(ValueError, match="columns 'k' and 'accuracy'"):
        bad = tmp_path / "bad.csv"
        bad.write_text("x,y\n1,2\n")
        performance_from_csv(bad)
