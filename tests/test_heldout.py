"""Held-out prediction (``analysis.realruns.heldout``): exact values on small systems, calibration
over fresh seeds of a known random-effect model, the interval score and clustered standard errors."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from analysis.realruns.bands import ensemble_accuracy, sample_request_streams
from analysis.realruns.heldout import clustered_share, interval_score, predict_heldout, stage_accuracy, summarise_heldout
from s3t_sim.prefix import served_states_after


def _sisa_logits(good: float) -> np.ndarray:
    """m=1, B=1, L=2, n=10 examples, C=2: prefix k >= 1 gets `good` share right (labels all 0)."""
    logits = np.zeros((1, 1, 3, 10, 2))
    right = int(round(good * 10))
    logits[0, 0, 1:, :right, 0] = 1.0
    logits[0, 0, 1:, right:, 1] = 1.0
    return logits


def test_identical_pilots_give_the_exact_stream_expectation():
    """One shard, order (0, 1), 2 points per slice, uniform without replacement: after r = 2 the
    prefix is 1 iff both requests hit slice 1, P = (2/4)(1/3) = 1/6; else the system is dead (chance)."""
    logits = _sisa_logits(0.8)
    labels = np.zeros(10, dtype=int)
    runs, seed = 6000, 4
    pred = predict_heldout([logits] * 3, labels, np.array([[[0, 1]]]), np.array([0, 0, 1, 1]), None, [0, 1, 2],
                           streams=2, target_stage_accuracy=stage_accuracy(logits, labels), target_clean_accuracy=0.8, runs=runs, seed=seed)
    exact = np.array([0.8, 0.5 * 0.8 + 0.5 * 0.5, 0.8 / 6 + 0.5 * 5 / 6])
    sd = np.array([0.0, 0.15, math.sqrt(5) / 6 * 0.3])  # Bernoulli spread of the two values
    assert pred.mean[0] == pytest.approx(0.8) and pred.between_seed_sd.max() == 0
    assert np.all(np.abs(pred.mean - exact) <= 4 * sd / math.sqrt(runs) + 1e-12)
    assert pred.within_seed_sd == pytest.approx(sd, abs=0.01)
    # no seed spread: zero residuals and slope, no conformal shift; the band is the stream law's own range; the mean interval t_nu sqrt(sw2 / J) with
    # Welch-Satterthwaite nu = S (runs - 1) (all of the variance is from the Monte Carlo streams)
    assert pred.band_low == pytest.approx([0.8, 0.5, 0.5]) and pred.band_high == pytest.approx([0.8, 0.8, 0.8])
    assert (pred.band_slope, pred.band_shift) == (0.0, 0.0)
    t = stats.t.ppf(0.975, 3 * (runs - 1))
    assert pred.mean_high - pred.mean == pytest.approx(np.minimum(t * pred.within_seed_sd / math.sqrt(2), 1 - pred.mean))


def test_predictor_refuses_fewer_than_three_pilots():
    with pytest.raises(ValueError, match="at least 3 pilot seeds"):
        predict_heldout([_sisa_logits(0.8)] * 2, np.zeros(10, int), np.array([[[0, 1]]]), np.array([0, 1]), None, [0, 1], 1,
                        np.zeros((1, 1, 3)), 0.5)


def _population(rng: np.random.Generator, base: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """A new training seed: the common logits plus a seed effect per example and one per stage
    (shard, sequence, prefix) on the true class (a better or worse trained stage)."""
    stage = rng.normal(scale=0.4, size=base.shape[:3])
    out = base + rng.normal(scale=0.3, size=base.shape)
    out[..., np.arange(base.shape[3]), labels] += stage[..., None]
    return out


def test_heldout_intervals_cover_new_seeds_of_a_random_effect_model():
    """Fit on 3 pilots, score 3 fresh seeds on 3 fresh streams each, over 40 pilot draws (seed effects per example, scale 0.3, and per stage, 0.4). Mean curve:
    >= 90% (nominal 95%, Student t over seeds). One-stream band at the non-trivial checkpoints
    (r > 0, a shard alive): within 3 clustered SEs (clusters: pilot draws) of the nominal 95%, and
    narrower than the trivial band [chance, accuracy with nothing deleted]."""
    rng = np.random.default_rng(2024)
    m, B, L, n, C = 2, 2, 2, 40, 2
    labels = rng.integers(0, C, size=n)
    base = rng.normal(scale=0.5, size=(m, B, L + 1, n, C))
    for k in range(1, L + 1):
        base[:, :, k, np.arange(n), labels] += 0.5 * k
    sequences = np.array([[[0, 1], [1, 0]]] * m)
    slice_of_point = np.repeat(np.arange(m * L), 6)
    counts = [0, 1, 2, 3, 4]
    full = np.full((1, m), L)
    mean_in, band_in, clusters, widths, trivial = [], [], [], [], []
    for rep in range(40):
        pilots = [_population(rng, base, labels) for _ in range(3)]
        for _ in range(3):
            target = _population(rng, base, labels)
            clean = float(ensemble_accuracy(target, labels, np.zeros_like(full), full)[0])
            pred = predict_heldout(pilots, labels, sequences, slice_of_point, None, counts, streams=3,
                                   target_stage_accuracy=stage_accuracy(target, labels), target_clean_accuracy=clean, runs=400, seed=rep)
            hits = sample_request_streams(slice_of_point, None, 4, 3, rng)
            index, prefix = served_states_after(sequences, hits, counts)
            measured = ensemble_accuracy(target, labels, index, prefix)  # (3, C)
            curve = measured.mean(axis=0)
            mean_in.append((curve >= pred.mean_low) & (curve <= pred.mean_high))
            nontrivial = (np.asarray(counts) > 0) & (prefix.max(axis=-1) > 0)
            inside = (measured >= pred.band_low) & (measured <= pred.band_high)
            band_in += inside[nontrivial].tolist()
            clusters += [rep] * int(nontrivial.sum())
            widths += np.broadcast_to(pred.band_high - pred.band_low, measured.shape)[nontrivial].tolist()
            trivial += [clean - 1 / C] * int(nontrivial.sum())
    assert 0.90 <= np.mean(mean_in) < 1.0
    coverage, se, G = clustered_share(np.array(band_in), np.array(clusters))
    assert G == 40 and abs(coverage - 0.95) <= 3 * se, (coverage, se)
    assert np.mean(widths) < np.mean(trivial), (np.mean(widths), np.mean(trivial))


def test_interval_score_by_hand():
    # width 0.2; miss below by 0.1 at alpha 0.05: + 40 * 0.1; miss above by 0.05: + 40 * 0.05
    scores = interval_score(np.array([0.5, 0.5, 0.5]), np.array([0.7, 0.7, 0.7]), np.array([0.6, 0.4, 0.75]), 0.95)
    assert scores.tolist() == pytest.approx([0.2, 4.2, 2.2])


def test_clustered_share_by_hand_and_singleton_clusters():
    mean, se, G = clustered_share(np.array([1, 0, 1, 1]), np.array(["a", "a", "b", "b"]))
    assert (mean, G) == (0.75, 2) and se == pytest.approx(0.25)  # sums -0.5, 0.5: sqrt(2 * 0.5) / 4
    x = np.array([1, 0, 0, 1, 1, 1, 0, 1])
    mean, se, G = clustered_share(x, np.arange(8))
    assert G == 8 and se == pytest.approx(math.sqrt(mean * (1 - mean) / 7))
    with pytest.raises(ValueError, match="clusters must have one label per value"):
        clustered_share(x, np.arange(3))


def test_summary_counts_nontrivial_checkpoints_and_clusters():
    def row(y, stream, nontrivial):
        return {"measured": y, "band_low": 0.6, "band_high": 0.8, "trivial_low": 0.5, "trivial_high": 0.9, "exact_low": 0.65,
                "exact_high": 0.75, "nontrivial": nontrivial, "cluster": stream, "stream_id": stream,
                "source": "replayed" if stream == "s0" else "cached", "dataset": "a" if stream == "s0" else "b"}
    streams = [row(0.9, "s0", False), row(0.7, "s0", True), row(0.5, "s1", False), row(0.55, "s1", True)]
    means = [{"measured": 0.7, "mean_low": 0.65, "mean_high": 0.75, "cluster": "d/0", "dataset": "a", "horizon_measured": 0.7,
              "horizon_predicted": 0.72, "horizon_low": 0.6, "horizon_high": 0.8}]
    out = summarise_heldout(streams, means, 0.95)
    assert (out["checkpoints"], out["nontrivial_checkpoints"], out["independent_streams"]) == (4, 2, 2)
    assert out["band_coverage"] == 0.25 and out["band_coverage_nontrivial"] == 0.5 and out["band_coverage_nontrivial_replayed"] == 1.0
    assert out["band_width"] == pytest.approx(0.2) and out["trivial_band_width"] == pytest.approx(0.4)
    assert out["trivial_band_width_nontrivial"] == pytest.approx(0.4) and out["band_width_nontrivial"] == pytest.approx(0.2)
    # non-trivial rows: y = 0.7 inside both (widths 0.2, 0.4); y = 0.55 misses the band by 0.05 (+ 40 x 0.05)
    assert out["band_interval_score_nontrivial"] == pytest.approx((0.2 + 2.2) / 2) and out["trivial_interval_score_nontrivial"] == pytest.approx(0.4)
    assert out["trivial_band_coverage_nontrivial"] == 1.0 and out["exact_band_width_in_sample"] == pytest.approx(0.1)
    assert out["mean_curve_coverage"] == 1.0 and out["horizon_bias"] == pytest.approx(0.02)
    a, b = out["by_dataset"]["a"], out["by_dataset"]["b"]  # each data set alone: s0's rows, s1's rows
    assert (a["band_coverage_nontrivial"], b["band_coverage_nontrivial"], a["nontrivial_checkpoints"]) == (1.0, 0.0, 1)
    assert a["band_width"] == pytest.approx(0.2) and b["trivial_band_width"] == pytest.approx(0.4)
    assert a["mean_curve_width"] == pytest.approx(0.1) and math.isnan(b["mean_curve_coverage"])


def test_calibrate_saturating_fit_recovers_an_exact_curve():
    from analysis.commands.calibrate import saturating_fit

    x = np.array([0.0, 40.0, 80.0, 120.0])
    y = 0.5 + (0.9 - 0.5) * -np.expm1(-x / 60.0)
    fit = saturating_fit(x, y, 0.5)
    assert fit["fmax"] == pytest.approx(0.9, abs=1e-6) and fit["scale"] == pytest.approx(60.0, rel=1e-5)
    assert fit["fmax_se"] == pytest.approx(0.0, abs=1e-6) and fit["spec"].startswith("saturating:0.5,0.9")
    with pytest.raises(ValueError, match="at least 2 prefix lengths"):
        saturating_fit(x[:2], y[:2], 0.5)


def test_alive_vote_leaves_dead_shards_out():
    from s3t_sim.performance import PerformanceModel

    f = PerformanceModel(np.array([0.5, 0.7, 0.9]))
    prefixes = np.array([[2, 0], [0, 0], [1, 2], [2, 2]])
    assert f.alive_vote(prefixes).tolist() == pytest.approx([0.9, 0.5, 0.8, 0.9])
    assert f.aggregate(prefixes).tolist() == pytest.approx([0.7, 0.5, 0.8, 0.9])  # dead shards at f(0)


def test_deletion_curves_start_at_the_clean_ensemble_and_end_at_chance():
    from types import SimpleNamespace

    from analysis.realruns.mainfigure import deletion_curves

    rng = np.random.default_rng(7)
    m, B, L, n, C = 2, 2, 2, 30, 3
    labels = rng.integers(0, C, size=n)
    sequences = np.array([[[0, 1], [1, 0]]] * m)
    systems = [SimpleNamespace(dataset="d", seed=s, logits=rng.normal(size=(m, B, L + 1, n, C)), labels=labels, sequences=sequences,
                               slice_of_point=np.repeat(np.arange(m * L), 3)) for s in range(2)]
    rows = deletion_curves(systems, (1, 2), streams=20, points=12, seed=0, level=0.95)
    assert len(rows) == 2 * 13 and {r["samples"] for r in rows} == {40}
    full = np.full((1, m), L)
    for B in (1, 2):
        clean = [ensemble_accuracy(s.logits[:, :B], labels, np.zeros_like(full), full)[0] for s in systems]
        first = next(r for r in rows if r["B"] == B and r["requests"] == 0)
        last = next(r for r in rows if r["B"] == B and r["requests"] == 12)
        assert first["mean"] == pytest.approx(np.mean(clean)) and first["low"] == pytest.approx(min(clean))
        assert [last[k] for k in ("mean", "low", "high")] == pytest.approx([1 / C] * 3)  # every point deleted: every shard dead
