"""The comparison with real runs (``analysis.realruns``, command ``s3t validate``): prediction side (bands, streams, ensembles, coverage) and its CLI on a tiny run."""
from __future__ import annotations

import argparse
import json
import math

import numpy as np
import pytest

from analysis.realruns.bands import (
    AccuracyBand,
    band_coverage,
    ensemble_accuracy,
    predict_accuracy_band,
    sample_point_streams,
    sample_request_streams,
    stream_accuracy_band,
)
from s3t_sim.performance import PerformanceModel
from s3t_sim.prefix import best_sequence, served_states_after
from s3t_sim.system import S3TSystem


def test_band_matches_exact_expectation_for_one_sisa_shard():
    """m=1, L=2, order (0, 1), uniform i.i.d. requests: k = 1 iff every request hit slice 1,
    so E[f(k_r)] = 2^-r f(1) + (1 - 2^-r) f(0) for r >= 1."""
    f = PerformanceModel(np.array([0.5, 0.7, 0.9]))
    counts = [0, 1, 2, 3]
    runs, seed = 4000, 11
    band = predict_accuracy_band(S3TSystem.sisa(1, 2), np.array([[0.5, 0.5]]), f, counts, runs=runs, seed=seed)
    exact = np.array([0.9] + [2.0**-r * 0.7 + (1 - 2.0**-r) * 0.5 for r in counts[1:]])
    assert band.mean[0] == pytest.approx(0.9) and band.se[0] == pytest.approx(0, abs=1e-12)
    assert np.all(np.abs(band.mean[1:] - exact[1:]) <= 4 * band.se[1:])
    assert band.lower[1] == 0.5 and band.upper[1] == 0.7 and band.runs == runs and band.seed == seed


def test_point_streams_are_without_replacement_and_weighted():
    weights = np.array([0.0, 1.0, 2.0, 5.0])
    streams = sample_point_streams(weights, 3, 5000, seed=3)
    assert all(len(set(row)) == 3 for row in streams.tolist())
    assert not np.any(streams == 0)  # weight 0: never requested
    first = np.bincount(streams[:, 0], minlength=4) / 5000
    p = weights / weights.sum()
    assert np.all(np.abs(first - p) <= 4 * np.sqrt(p * (1 - p) / 5000) + 1e-12)
    with pytest.raises(ValueError, match=r"length must be an integer in \[0, 3\]"):
        sample_point_streams(weights, 4, 2, seed=0)


def test_slice_streams_with_replacement_follow_the_slice_prior():
    slice_of_point = np.array([0, 0, 0, 1, 2])
    hits = sample_request_streams(slice_of_point, None, 10, 3000, seed=5, replacement=True)
    freq = np.bincount(hits.ravel(), minlength=3) / hits.size
    p = np.array([0.6, 0.2, 0.2])
    assert np.all(np.abs(freq - p) <= 4 * np.sqrt(p * (1 - p) / hits.size))
    with pytest.raises(ValueError, match="point_weights must be 5 finite non-negative weights"):
        sample_request_streams(slice_of_point, np.ones(4), 3, 2)


def test_served_states_agree_with_best_sequence():
    sequences = np.array([[[0, 1, 2], [1, 2, 0]], [[2, 0, 1], [0, 1, 2]]])  # (m=2, B=2, L=3)
    streams = np.array([[0, 4, 3, 1]])  # flat slices: shard*3 + slice
    index, prefix = served_states_after(sequences, streams, [0, 1, 2, 4])
    deleted = np.zeros((2, 3), bool)
    expected = []
    hits = [0, 4, 3, 1]
    for count in [0, 1, 2, 4]:
        deleted[:] = False
        for h in hits[:count]:
            deleted[h // 3, h % 3] = True
        expected.append([best_sequence(sequences[s], deleted[s]) for s in range(2)])
    assert index[0].tolist() == [[b for b, _ in row] for row in expected]
    assert prefix[0].tolist() == [[k for _, k in row] for row in expected]
    assert prefix[0, 1].tolist() == [2, 3] and prefix[0, 3].tolist() == [0, 1]


def test_ensemble_accuracy_averages_live_shards_and_scores_chance_when_dead():
    logits = np.zeros((2, 1, 2, 3, 2))  # m=2, B=1, L=1, n=3 examples, C=2
    logits[0, 0, 1] = [[2, 0], [0, 1], [3, 0]]
    logits[1, 0, 1] = [[0, 1], [0, 3], [0, 1]]
    labels = np.array([0, 1, 1])
    index = np.zeros((4, 2), int)
    prefix = np.array([[1, 1], [1, 0], [0, 1], [0, 0]])
    # both alive: means [1, .5], [0, 2], [1.5, .5] -> 0, 1, 0: 2 of 3 right; shard 0 alone: 0,1,0; shard 1 alone: 1,1,1
    assert ensemble_accuracy(logits, labels, index, prefix).tolist() == pytest.approx([2 / 3, 2 / 3, 2 / 3, 0.5])
    assert ensemble_accuracy(logits, labels, index, prefix, chance=0.1)[3] == pytest.approx(0.1)


def test_point_model_band_covers_fresh_streams_of_the_same_law():
    """The exact-law band holds >= 95% of independent streams at each checkpoint (within 4 SE)."""
    rng = np.random.default_rng(0)
    m, B, L, n, C = 2, 2, 3, 60, 2
    logits = rng.normal(size=(m, B, L + 1, n, C)) + np.arange(L + 1)[None, None, :, None, None] * 0.0
    labels = rng.integers(0, C, size=n)
    for k in range(1, L + 1):  # longer prefixes are better: bias towards the label
        logits[:, :, k, np.arange(n), labels] += 0.4 * k
    sequences = np.array([[[0, 1, 2], [1, 2, 0]]] * m)
    slice_of_point = np.repeat(np.arange(m * L), 5)
    weights = rng.uniform(0.2, 1.0, size=slice_of_point.size)
    counts = [0, 2, 4, 6]
    band = stream_accuracy_band(logits, labels, sequences, slice_of_point, weights, counts, runs=3000, seed=1)
    streams = sample_request_streams(slice_of_point, weights, 6, 600, seed=99)
    index, prefix = served_states_after(sequences, streams, counts)
    fresh = ensemble_accuracy(logits, labels, index, prefix)  # (600, 4)
    inside = (fresh >= band.lower) & (fresh <= band.upper)
    share = inside.mean(axis=0)
    assert np.all(share >= 0.95 - 4 * math.sqrt(0.95 * 0.05 / 600))
    assert band.predictor == "ensemble table, point model"


def test_ensemble_table_is_symmetric_in_shards_and_names_missing_states():
    from analysis.realruns.bands import EnsembleTable

    g = EnsembleTable({(0, 0): 0.5, (0, 2): 0.7, (2, 2): 0.9})
    assert g(np.array([[2, 0], [0, 2], [2, 2], [0, 0]])).tolist() == [0.7, 0.7, 0.9, 0.5]
    with pytest.raises(ValueError, match=r"no entry for served prefixes \(1, 2\)"):
        g(np.array([[1, 2]]))


def test_band_coverage_counts_closed_interval():
    band = AccuracyBand(np.array([0, 1]), np.zeros(2), np.zeros(2), np.array([0.5, 0.6]), np.array([0.7, 0.8]), 0.95, 10, 0, "x")
    coverage = band_coverage(band, np.array([[0.5, 0.9], [0.7, 0.6]]))
    assert (coverage.inside, coverage.checkpoints, coverage.share) == (3, 4, 0.75)
    with pytest.raises(ValueError, match="measured must have 2 columns"):
        band_coverage(band, np.zeros((1, 3)))


def test_band_rejects_bad_request_counts():
    with pytest.raises(ValueError, match="request_counts must be non-negative and non-decreasing"):
        predict_accuracy_band(S3TSystem.sisa(1, 2), np.array([[0.5, 0.5]]), PerformanceModel(np.array([0.5, 0.6, 0.7])), [3, 1])


# --------------------------------------------------------------------------- tiny end-to-end run

@pytest.mark.slow
def test_validate_cli_tiny_end_to_end(tmp_path, capsys, monkeypatch, write_toy):
    pytest.importorskip("peft")
    from analysis.commands.validate import register
    from s3t_sim.performance import performance_from_csv

    monkeypatch.setenv("S3T_TORCH_THREADS", "1")
    write_toy(tmp_path / "data" / "toy", 64, 40, seed=0)
    parser = argparse.ArgumentParser(prog="s3t")
    register(parser.add_subparsers(dest="command"))
    out = tmp_path / "out" / "validation"
    args = parser.parse_args(["validate", "--size", "tiny", "--data-dir", str(tmp_path / "data"), "--datasets", "toy",
                              "--out", str(out), "--json"])
    assert args.func(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["checkpoints"] == 4 * 2 * 2 * 2 * 5  # seeds x priors x budgets x streams x request counts
    assert 0.0 <= summary["coverage"] <= 1.0
    phases = summary["phase_seconds"]  # the phase breakdown, in the order the phases first ran
    assert list(phases)[:4] == ["train", "evaluate", "replay", "predict"] and "figures" in phases and min(phases.values()) > 0
    by = summary["coverage_by_predictor"]
    assert set(by) == {"simulator + f(k)", "simulator + ensemble g(k)", "ensemble table, slice model", "ensemble table, point model"}
    held = summary["heldout"]  # leave one seed out: 4 targets x 2 priors x 2 budgets x (2 replayed + 20 fresh) streams x 5 checkpoints
    assert held["checkpoints"] == 4 * 2 * 2 * 22 * 5 and held["independent_streams"] == 4 * 2 * 22 and held["clusters"] == 4
    assert held["mean_curve_checkpoints"] == 80 and held["nontrivial_checkpoints_replayed"] <= 4 * 2 * 2 * 2 * 4
    for key in ("mean_curve_coverage", "band_coverage_nontrivial", "band_coverage", "mean_curve_coverage_se"):
        assert 0.0 <= held[key] <= 1.0
    assert 0.0 < held["band_width"] and 0.0 < held["trivial_band_width"] and 0.0 <= held["mean_curve_width"] <= 1.0
    assert held["nontrivial_checkpoints"] < held["checkpoints"]
    # the run's own serving path (S3TRun.evaluate) equals the cached-logit ensemble
    assert summary["serving_checks"] and all(c["cached"] == c["served"] for c in summary["serving_checks"])
    # the measured f(k) is a file `s3t plan` reads, and the model learned the toy task
    f = performance_from_csv(out / "fk_toy.csv")
    assert f.L == 2 and f(2) > 0.6  # chance is 0.5
    for name in ("validation_fk", "validation_bands", "validation_ensemble", "validation_comparison", "validation_heldout", "validation_main"):
        assert (out / f"{name}.png").stat().st_size > 0 and (out / f"{name}.pdf").is_file()
    saved = json.loads((out / "validation.json").read_text())
    methods = [row["method"] for row in saved["comparison"]]
    assert methods == ["SISA (B=1, checkpoints)", "S3T (B=2)", "full LoRA (one model, all data)"]
    assert saved["comparison"][1]["training_cost_example_passes"] == 2 * saved["comparison"][0]["training_cost_example_passes"]

    # the cached prefix logits: every node in one shared-trunk pass equals each stage served alone
    from analysis.realruns.experiment import prefix_logits
    from s3t_train.run import S3TRun
    from s3t_train.serving import stage_logits

    run = S3TRun(out / "runs" / "toy" / "seed0" / "s3t")
    texts = ["good fine movie", "bad awful plot here", "a"]
    together = prefix_logits(run, texts)
    m, B, L = run.sequences.shape
    for s, b, k in [(s, b, k) for s in range(m) for b in range(B) for k in range(L + 1)]:
        alone = stage_logits(run, s, tuple(int(x) for x in run.sequences[s, b, :k]), texts).numpy()
        assert np.array_equal(together[s, b, k], alone)
    run.close()

    # s3t calibrate: the four pilot runs -> an f(k) file that simulate and plan read
    from analysis.cli import main

    perf = tmp_path / "perf.csv"
    pilots = [str(out / "runs" / "toy" / f"seed{s}" / "s3t") for s in range(4)]
    assert main(["calibrate", *pilots, "--out", str(perf), "--eval-limit", "40", "--json"]) == 0
    calibrated = json.loads(capsys.readouterr().out)
    assert calibrated["pilots"] == 4 and calibrated["f"][0]["accuracy"] == 0.5  # f(0) is chance
    assert [row["accuracy"] for row in calibrated["f"]] == pytest.approx(list(f.values))  # same logits as validate's f(k)
    assert calibrated["saturating"]["spec"].startswith("saturating:0.5,")
    assert main(["simulate", "-m", "2", "-L", "2", "-B", "2", "--criterion", "performance-below:0.55", "--performance", str(perf),
                 "--runs", "200", "--json"]) == 0
    assert main(["plan", "--performance", str(perf), "--shards", "2", "--slices", "2", "--budgets", "1,2", "--json"]) == 0
    capsys.readouterr()
    assert main(["calibrate", *pilots[:2], "--out", str(perf)]) == 2
    assert "at least 3 pilot run folders" in capsys.readouterr().err

    # the report section picks the results up from <out>/validation
    from analysis.realruns.report_section import validation_section
    from analysis.report.document import ReportContext, render_html

    section = validation_section(ReportContext(out_dir=tmp_path / "out", seed=0, size="small"))
    assert section is not None and len(section.figures) == 6 and len(section.checks) >= 5
    assert "Validation against real fine-tuning runs" in render_html("r", {}, [section])
    assert validation_section(ReportContext(out_dir=tmp_path, seed=0, size="small")) is None


def test_validate_cli_rejects_bad_arguments(tmp_path):
    from analysis.commands.validate import register

    parser = argparse.ArgumentParser(prog="s3t")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["validate", "--size", "tiny", "--seeds", "2", "--out", str(tmp_path)])
    with pytest.raises(ValueError, match=r"seeds must be an integer in \[3, 100\]"):
        args.func(args)
    args = parser.parse_args(["validate", "--size", "tiny", "--data-dir", str(tmp_path), "--out", str(tmp_path)])
    with pytest.raises(FileNotFoundError, match="data set folder not found"):
        args.func(args)


def test_prefix_logits_cache_is_reused_only_for_the_same_texts_and_sequences(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from analysis.realruns import experiment

    calls = []

    def fake(run, texts):
        calls.append(list(texts))
        return np.full((1, 1, 2, len(texts), 2), float(len(calls)))

    monkeypatch.setattr(experiment, "prefix_logits", fake)
    run = SimpleNamespace(sequences=np.array([[[0]]]))
    path = tmp_path / "logits.npz"
    first = experiment.cached_prefix_logits(run, SimpleNamespace(texts=["a", "b"]), path)
    again = experiment.cached_prefix_logits(run, SimpleNamespace(texts=["a", "b"]), path)
    assert len(calls) == 1 and np.array_equal(first, again) and (path.stat().st_mode & 0o777) == 0o644
    other = experiment.cached_prefix_logits(run, SimpleNamespace(texts=["a", "c"]), path)
    assert len(calls) == 2 and other[0, 0, 0, 0, 0] == 2.0
    run.sequences = np.array([[[1]]])
    experiment.cached_prefix_logits(run, SimpleNamespace(texts=["a", "c"]), path)
    assert len(calls) == 3
