"""``s3t deletion-curves``: retraining equalities, the cost formulas, curve properties that
must hold, refused inputs and the files (tiny random model, toy data, seconds)."""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from analysis.cli import main
from analysis.realruns.curves import CURVE_COLUMNS, accuracy_along_streams, all_dead_after, band_end, band_rows
from analysis.realruns.retraining_cost import cumulative, full_request_costs, prefix_tree_cost, sisa_request_costs
from s3t_sim.prefix import served_states_after


# --------------------------------------------------------------------------- costs (no torch)

def test_sisa_cost_against_a_hand_count():
    sequence = np.array([[2, 0, 1], [0, 1, 2]])
    sizes = np.array([[2, 3, 4], [1, 1, 1]])
    # (shard, slice) hit: (0, 0) at position 2 of [2, 0, 1]: stages 2..3 = (4+1) + (4+1+3) = 13
    # (1, 2) at position 3: stage 3 = 1+1+0 = 2; (0, 2) at position 1: 3 + (3+1) + (3+1+3) = 14;
    # (0, 0) again at position 2: (3+0) + (3+0+3) = 9; times 2 epochs
    hits = np.array([[0, 5, 2, 0]])
    assert sisa_request_costs(sequence, sizes, hits, epochs=2).tolist() == [[26.0, 4.0, 28.0, 18.0]]
    assert prefix_tree_cost(sequence[:, None, :], sizes, 2) == 2 * ((4 + 6 + 9) + (1 + 2 + 3))
    assert cumulative(10.0, np.array([[26.0, 4.0, 28.0, 18.0]]), np.array([0, 1, 4])).tolist() == [[10.0, 36.0, 86.0]]


def _sisa_naive(sequence, sizes, hits, epochs):
    sizes = np.array(sizes, dtype=float)
    L = sequence.shape[1]
    out = []
    for h in hits:
        shard, slice_ = divmod(int(h), L)
        sizes[shard, slice_] -= 1
        j = list(sequence[shard]).index(slice_)
        out.append(epochs * sum(sizes[shard, sequence[shard, :k]].sum() for k in range(j + 1, L + 1)))
    return out


def test_sisa_cost_equals_the_naive_loop_on_random_streams():
    rng = np.random.default_rng(3)
    m, L = 3, 4
    sequence = np.array([rng.permutation(L) for _ in range(m)])
    slice_of_point = np.repeat(np.arange(m * L), rng.integers(1, 6, size=m * L))
    sizes = np.bincount(slice_of_point, minlength=m * L).reshape(m, L)
    streams = np.array([slice_of_point[rng.permutation(slice_of_point.size)] for _ in range(5)])
    costs = sisa_request_costs(sequence, sizes, streams, 3)
    assert costs.tolist() == [_sisa_naive(sequence, sizes, s, 3) for s in streams]
    assert np.all(costs[:, -1] == 0)  # the last point deleted: nothing left to retrain on
    assert np.all(np.diff(cumulative(0.0, costs, np.arange(streams.shape[1] + 1)), axis=1) >= 0)


def test_full_fine_tuning_cost_is_the_sum_of_the_remaining_sizes():
    n, epochs = 7, 3
    costs = full_request_costs(n, n, epochs)
    assert costs.tolist() == [epochs * (n - r) for r in range(1, n + 1)]
    assert cumulative(n * epochs, costs, np.array([n]))[0, 0] == epochs * sum(range(n + 1))
    with pytest.raises(ValueError, match="requests must be at most"):
        full_request_costs(3, 4, 1)


# --------------------------------------------------------------------------- curves (no torch)

def _system(seed=0, m=3, B=3, L=3, n=40, C=3):
    rng = np.random.default_rng(seed)
    sequences = np.array([[np.roll(np.arange(L), -b) for b in range(B)]] * m)
    return rng.normal(size=(m, B, L + 1, n, C)), rng.integers(0, C, size=n), sequences


def test_curves_start_clean_end_at_chance_and_larger_budgets_serve_longer_prefixes():
    logits, labels, sequences = _system()
    m, B, L = sequences.shape
    slice_of_point = np.repeat(np.arange(m * L), 2)
    rng = np.random.default_rng(1)
    hits = np.array([slice_of_point[rng.permutation(slice_of_point.size)] for _ in range(450)])  # > CHUNK: blocks
    counts = np.arange(hits.shape[1] + 1)
    curve = accuracy_along_streams(logits, labels, sequences, hits, counts)
    full = np.full((1, m), L)
    from analysis.realruns.bands import ensemble_accuracy

    assert np.all(curve[:, 0] == ensemble_accuracy(logits, labels, np.zeros_like(full), full)[0])
    assert np.all(curve[:, -1] == 1 / 3)
    prefixes = {b: served_states_after(sequences[:, :b], hits, counts)[1] for b in (1, 2, 3)}
    assert np.all(prefixes[3] >= prefixes[2]) and np.all(prefixes[2] >= prefixes[1])  # nested sets: never shorter
    assert np.all(np.diff(prefixes[1], axis=1) <= 0)  # SISA's checkpoints only shrink without retraining
    dead = all_dead_after(sequences, hits)
    alive = (prefixes[3] > 0).any(axis=-1)
    assert np.array_equal(alive.sum(axis=1), dead)  # alive exactly before the all-dead count
    rows = band_rows(curve, counts, 0.95, dataset="d", method="S3T, B=3", B=3, source="cached")
    assert set(rows[0]) == set(CURVE_COLUMNS) and len(rows) == len(counts)
    assert band_end(rows, 1 / 3) <= dead.max() and rows[band_end(rows, 1 / 3)]["high"] == 1 / 3


# --------------------------------------------------------------------------- runs of a seed (no training)

def test_bms_under_a_skewed_prior_uses_the_weights_and_trains_non_nested_budgets_apart(tmp_path, write_toy):
    import dataclasses

    from analysis.realruns.deletion_config import DeletionCurvesConfig
    from analysis.realruns.deletion_experiment import prepare_runs
    from s3t_train.run_folder import RunInfo

    write_toy(tmp_path / "data" / "toy", 96, 20)
    config = DeletionCurvesConfig(datasets=("toy",), data_dir=str(tmp_path / "data"), model="tiny", shards=2, slices=3, budgets=(1, 2, 3),
                                  selection="bms", prior="zipf:1.0", train_limit=96, eval_limit=20)
    runs, budget_run = prepare_runs(config, "toy", 0, tmp_path / "bms")
    # the prior-aware split puts each shard's most requested points in slice 0, which BMS serves last
    assert RunInfo.open(runs["sisa"]).sequences[:, 0, -1].tolist() == [0, 0]
    assert budget_run == {1: "sisa", 2: "s3t-B2", 3: "s3t-B3"}  # BMS's B = 2 set is not the first two of its B = 3 set
    assert not np.array_equal(RunInfo.open(runs["s3t-B2"]).sequences, RunInfo.open(runs["s3t-B3"]).sequences[:, :2])
    runs, budget_run = prepare_runs(dataclasses.replace(config, selection="cyclic", prior="uniform"), "toy", 0, tmp_path / "cyclic")
    assert budget_run == {1: "sisa", 2: "s3t-B3", 3: "s3t-B3"} and set(runs) == {"sisa", "full", "s3t-B3"}  # rotations nest
    assert not (tmp_path / "cyclic" / "runs" / "toy" / "seed0" / "s3t-B2").exists()


# --------------------------------------------------------------------------- real retraining (tiny model)

@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, write_toy) -> Path:
    pytest.importorskip("peft")
    from s3t_train.config import DataConfig, RunConfig, SystemConfig, TrainingConfig
    from s3t_train.driver import train_run
    from s3t_train.run_folder import create_run

    folder = tmp_path_factory.mktemp("dc")
    data = write_toy(folder / "toy", 48, 30)
    config = RunConfig(DataConfig(str(data), limit=48, split_seed=0),
                       training=TrainingConfig(model="tiny", epochs=2, lr=2e-2, batch_size=8, max_length=16, seed=0),
                       system=SystemConfig(shards=2, slices=3, budget=1))
    create_run(config, folder / "run")
    train_run(folder / "run", progress=False)
    return folder / "run"


def test_per_request_retrains_equal_one_retrain_after_all_deletions(tiny_run, tmp_path):
    """SISA's key fact: training is deterministic given (seed, shard, prefix, data), so r requests
    each followed by a retrain give bitwise the checkpoints of one retrain after all r deletions."""
    from analysis.realruns.retrained import retrained_curve
    from s3t_train.evaluation import eval_dataset, evaluate
    from s3t_train.layout import node_path
    from s3t_train.retraining import retrain
    from s3t_train.run import S3TRun
    from s3t_train.serving import stages_logits

    each, once = tmp_path / "each", tmp_path / "once"
    shutil.copytree(tiny_run, each)
    shutil.copytree(tiny_run, once)
    a, b = S3TRun(each), S3TRun(once)
    ids = [int(i) for i in np.random.default_rng(5).choice(sorted(a.deletions.trained_location), 7, replace=False)]
    for i in ids:
        retrain(a, a.deletions.delete(i).shard, progress=False)
    b.deletions.delete_many(ids)
    for shard in range(b.m):
        retrain(b, shard, progress=False)
    stages = [(s, tuple(a.sequences[s, 0, :k].tolist())) for s in range(a.m) for k in range(1, a.L + 1)]
    assert all(node_path(each, s, p).read_bytes() == node_path(once, s, p).read_bytes() for s, p in stages)
    texts = eval_dataset(a, limit=30).texts
    assert np.array_equal(stages_logits(a, stages, texts, progress=False).numpy(), stages_logits(b, stages, texts, progress=False).numpy())
    eval_set = eval_dataset(a, limit=30)
    expected = evaluate(a, eval_set)["accuracy"]
    a.close()
    b.close()
    rows = retrained_curve(tiny_run, ids, [0, 3, 7], eval_set, tmp_path / "work")  # one retrain per checkpoint
    assert [r["requests"] for r in rows] == [0, 3, 7] and rows[-1]["accuracy"] == expected
    assert rows[0]["stage_trainings"] == 0 and all(r["served_prefix"] == [3, 3] for r in rows)
    assert not (tmp_path / "work").exists()


# --------------------------------------------------------------------------- the command

def _err(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("flags, named", [
    (["--shards", "0"], "--shards must be an integer in [1, 1024]"),
    (["--slices", "2", "--budgets", "1,3"], "--budgets must be an integer in [1, 2]"),
    (["--seeds", "2"], "--seeds must be an integer in [3, 100]"),
    (["--streams", str(10**12)], "--streams must be an integer in [1, 100000]"),
    (["--retrain-checkpoints", "-1"], "--retrain-checkpoints"),
    (["--prior", "zipf:-1"], "prior must be 'uniform' or LAW:PARAM"),
    (["--prior", "nope"], "prior must be"),
    (["--requests", "1000"], "requests must be an integer in [1, 48]"),
    (["--data", "/nonexistent/toy"], "--data '/nonexistent/toy'"),
    (["--model", "/nonexistent/model"], "--model"),
    (["--device", "gpu"], "device must be 'cpu', 'cuda'"),
    (["--streams", "100000", "--train-limit", "10000000"], "too large"),
    (["--selection", "random"], "invalid choice"),
    (["--epochs", "x"], "invalid int value"),
])
def test_bad_input_is_refused_in_one_line(flags, named, tmp_path, capsys, monkeypatch, write_toy):
    monkeypatch.chdir(tmp_path)
    write_toy(tmp_path / "data" / "toy")
    argv = ["deletion-curves", "--size", "tiny", "--data-dir", str(tmp_path / "data"), "--data", "toy", "--out", "o", *flags]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse
        code = exc.code
    assert code == 2
    assert named in _err(capsys)
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_command_writes_curves_costs_and_figure(tmp_path, capsys, monkeypatch, write_toy):
    pytest.importorskip("peft")
    monkeypatch.setenv("S3T_TORCH_THREADS", "1")
    write_toy(tmp_path / "data" / "toy", 64, 40)
    out = tmp_path / "out"
    assert main(["deletion-curves", "--size", "tiny", "--data-dir", str(tmp_path / "data"), "--data", "toy", "--out", str(out),
                 "--streams", "40", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    for name in ("curves.csv", "costs.csv", "retrained.csv", "deletion_curves.json", "deletion_curves.png", "deletion_curves.pdf",
                 "deletion_curves.csv"):
        assert (out / name).stat().st_size > 0, name
    d = summary["datasets"][0]
    assert d["checks"] == {"sisa_run_equals_s3t_first_sequence": True}
    assert set(summary["seconds"]) == {"train", "evaluate", "replay", "retrain", "draw"}
    curves = list(csv.DictReader((out / "curves.csv").open()))
    assert list(curves[0]) == list(CURVE_COLUMNS)
    assert {r["source"] for r in curves} == {"cached", "retrained"}
    cached = {r["method"] for r in curves if r["source"] == "cached"}
    assert cached == {"S3T, B=1 (SISA checkpoints, no retraining)", "S3T, B=2"}
    assert {int(r["samples"]) for r in curves if r["source"] == "cached"} == {3 * 40}
    retrained = [r for r in curves if r["source"] == "retrained"]
    assert {int(r["samples"]) for r in retrained} == {3} and [int(r["requests"]) for r in retrained][:1] == [0]
    sisa0 = next(r for r in retrained if r["method"] == "SISA, retrained" and r["requests"] == "0")
    b1 = next(r for r in curves if r["method"].startswith("S3T, B=1") and r["requests"] == "0")
    assert float(sisa0["mean"]) == pytest.approx(float(b1["mean"]))  # the run's evaluate = the cached-logit ensemble
    costs = list(csv.DictReader((out / "costs.csv").open()))
    full = [float(r["mean"]) for r in costs if r["method"] == "full fine-tuning, retrained"]
    n, epochs = d["training_points"], 4
    assert full == [epochs * (n + sum(n - k for k in range(1, r + 1))) for r in range(len(full))]
    sisa = [float(r["mean"]) for r in costs if r["method"] == "SISA, retrained"]
    assert sisa[0] == d["s3t"]["1"]["training_cost_example_passes"] and np.all(np.diff(sisa) > 0)
    assert d["s3t"]["2"]["training_cost_example_passes"] == 2 * sisa[0]  # equal slices, L = B = 2: prefixes (0), (0, 1), (1), (1, 0)

    # the report adds a section from <out>/deletion-curves
    import shutil

    from analysis.realruns.report_section import deletion_curves_section
    from analysis.report.document import ReportContext, render_html, render_markdown

    shutil.copytree(out, tmp_path / "report" / "deletion-curves")
    section = deletion_curves_section(ReportContext(out_dir=tmp_path / "report", seed=0, size="small"))
    assert section is not None and len(section.figures) == 1 and section.figures[0].png.is_file()
    assert [c.claim for c in section.checks] == ["toy: S3T with nothing deleted within 0.05 of full fine-tuning", "toy: sisa run equals s3t first sequence"]
    assert "s3t deletion-curves --size tiny" in render_html("r", {}, [section])
    markdown = render_markdown("r", {}, [section], tmp_path / "report")  # figures linked where they are, beside report.md or below
    assert "(deletion-curves/deletion_curves.png)" in markdown and "[PDF](deletion-curves/deletion_curves.pdf)" in markdown
    assert deletion_curves_section(ReportContext(out_dir=tmp_path, seed=0, size="small")) is None
