"""Sentence pairs and regression (STS-B style) with the tiny random BERT: token types through
the padding-free path, deletion exact bitwise, the regression metrics against scipy."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")
scipy_stats = pytest.importorskip("scipy.stats")

from analysis.cli import main as s3t  # noqa: E402
from exactness_oracle import retrained_without  # noqa: E402
from s3t_train.audit import audit  # noqa: E402
from s3t_train.config import DataConfig, GroupLoRAConfig, RunConfig, SystemConfig, TrainingConfig  # noqa: E402
from s3t_train.data import load_examples  # noqa: E402
from s3t_train.driver import train_run  # noqa: E402
from s3t_train.evaluation import eval_dataset, evaluate  # noqa: E402
from s3t_train.metrics import average_ranks, regression_metrics  # noqa: E402
from s3t_train.model import load_grouped_model, load_tokenizer  # noqa: E402
from s3t_train.run import S3TRun  # noqa: E402
from s3t_train.run_folder import create_run  # noqa: E402
from s3t_train.serving import live_stages, predict, predict_logits, shard_logits, stage_logits, stages_logits  # noqa: E402
from s3t_train.tasks import encode, padded_inputs  # noqa: E402

WORDS = "film good bad story actor music plot long short funny dull bright dark movie scene great".split()



def write_pairs(folder: Path, n_train: int = 36, n_dev: int = 12, seed: int = 0) -> Path:
    """train.tsv / dev.tsv with sentence1, sentence2, label (shared first word) and score
    (number of shared words, a float)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name, n in (("train", n_train), ("dev", n_dev)):
        lines = ["sentence1\tsentence2\tlabel\tscore"]
        for _ in range(n):
            a, b = rng.choice(WORDS, 5).tolist(), rng.choice(WORDS, 4).tolist()
            if rng.random() < 0.5:
                b[0] = a[0]
            lines.append(f"{' '.join(a)}\t{' '.join(b)}\t{int(a[0] == b[0])}\t{len(set(a) & set(b)) + 0.25:.2f}")
        (folder / f"{name}.tsv").write_text("\n".join(lines) + "\n")
    return folder


def task_config(data: Path, task: str) -> RunConfig:
    label = "score" if task == "regression" else "label"
    return RunConfig(
        data=DataConfig(str(data), label_column=label, task=task, text_pair_column="sentence2"),
        lora=GroupLoRAConfig(rank=4),
        training=TrainingConfig(model="tiny", epochs=1, batch_size=8, lr=5e-3, max_length=32, seed=5),
        system=SystemConfig(shards=2, slices=2, budget=2),
    )


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_pairs(tmp_path_factory.mktemp("pairs") / "data")


@pytest.fixture(scope="module", params=["pairs", "regression"])
def trained(request, tmp_path_factory, data) -> Path:
    run_dir = tmp_path_factory.mktemp(request.param) / "run"
    create_run(task_config(data, request.param), run_dir)
    train_run(run_dir, progress=False)
    return run_dir


# --- data and tokens --------------------------------------------------------------------
def test_pairs_and_float_labels_are_read(data):
    pairs = load_examples(data, task="pairs", text_pair_column="sentence2")
    assert len(pairs) == 36 and all(isinstance(t, tuple) and len(t) == 2 for t in pairs.texts)
    assert pairs.label_names == ["0", "1"] and pairs.labels.dtype == np.int64
    scores = load_examples(data, label_column="score", task="regression", text_pair_column="sentence2")
    raw = [float(line.split("\t")[3]) for line in (data / "train.tsv").read_text().splitlines()[1:]]
    assert scores.label_names == ["score"] and scores.labels.tolist() == raw


@pytest.mark.parametrize("kwargs, message", [
    ({"task": "pairs"}, "text_pair_column"),
    ({"task": "classification", "text_pair_column": "sentence2"}, "task 'pairs'"),
    ({"task": "ranking"}, "task"),
    ({"task": "pairs", "text_pair_column": "nope"}, "text_pair_column must name a column"),
    ({"task": "regression", "label_column": "sentence1"}, "regression labels"),
])
def test_bad_task_settings_are_refused_with_the_parameter(data, kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_examples(data, **kwargs)


def test_pair_token_types_reach_the_packed_forward():
    """Pairs carry token types (0 then 1); the packed forward with them equals the padded peft
    forward given token_type_ids, and differs from the forward that drops them."""
    rows = encode(load_tokenizer("tiny"), [("a good film", "great music"), ("dull", "a long dark scene")], 32)
    sep = load_tokenizer("tiny").sep_token_id
    for row in rows:
        assert row.shape[0] == 2 and set(row[1].tolist()) == {0, 1}
        first_sep = row[0].tolist().index(sep)
        assert row[1, : first_sep + 1].sum() == 0 and bool(row[1, first_sep + 1 :].eq(1).all())
    model = load_grouped_model("tiny", 2, L=2, lora=GroupLoRAConfig(rank=4), seed=1)
    ids, mask, types = padded_inputs(rows)
    with torch.no_grad():
        packed = model.packed_logits(rows)
        padded = model.logits(ids, mask, types)
        without = model.logits(ids, mask)
    torch.testing.assert_close(packed, padded, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(packed, without, atol=1e-4)


# --- deletion is exact, audit -----------------------------------------------------------
def test_delete_is_exact_bitwise(trained, tmp_path):
    """After a deletion each shard's served output equals a stage trained from scratch
    without the example; the audit passes; the ensemble is the mean of the live shards."""
    run_dir = tmp_path / "run"
    shutil.copytree(trained, run_dir)
    run = S3TRun(run_dir)
    texts = eval_dataset(run).texts
    second = int(run.sequences[0][0][1])
    victim = run.store.slice_ids(0, second)[0]
    report = run.deletions.delete(victim)
    served = run.deletions.served_stages()[0]
    assert (report.shard, report.slice) == (0, second) and second not in served and len(served) == 1
    served_outputs = shard_logits(run, 0, texts)

    fresh = retrained_without(run, 0, served, victim, tmp_path / "scratch")
    assert torch.equal(stage_logits(fresh, 0, served, texts), served_outputs)
    assert audit(run)["ok"]
    per_shard = stages_logits(run, live_stages(run), texts)
    assert torch.equal(predict_logits(run, texts), per_shard.mean(dim=0))


def test_served_stages_differ_from_untrained_and_by_task(trained):
    """The trained stages changed the model (the test above would also pass for a no-op)."""
    run = S3TRun(trained)
    texts = eval_dataset(run).texts
    stage = live_stages(run)[0]
    assert not torch.equal(stage_logits(run, stage[0], stage[1], texts), stage_logits(run, stage[0], (), texts))
    expected_width = 1 if run.config.data.task == "regression" else 2
    assert predict_logits(run, texts).shape == (len(texts), expected_width)


def test_regression_predicts_and_evaluates_the_mean_output(tmp_path, data):
    run_dir = tmp_path / "run"
    create_run(task_config(data, "regression"), run_dir)
    train_run(run_dir, progress=False)
    run = S3TRun(run_dir)
    dataset = eval_dataset(run)
    outputs = predict_logits(run, dataset.texts)[:, 0].numpy()
    assert predict(run, dataset.texts) == outputs.tolist()
    result = evaluate(run)
    assert result["task"] == "regression" and "accuracy" not in result
    assert result["pearson"] == pytest.approx(scipy_stats.pearsonr(outputs, dataset.labels)[0], abs=1e-9)
    assert result["spearman"] == pytest.approx(scipy_stats.spearmanr(outputs, dataset.labels)[0], abs=1e-9)
    assert result["mse"] == pytest.approx(float(np.mean((outputs - dataset.labels) ** 2)), rel=1e-12)
    with pytest.raises(ValueError, match="vote must be 'mean'"):
        predict_logits(run, dataset.texts, vote="majority")


# --- metrics ----------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(5))
def test_regression_metrics_match_scipy_with_ties(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 40))
    y = rng.integers(0, 4, n).astype(float)  # many ties
    p = np.round(y + rng.normal(0, 1.5, n), 1)
    if np.ptp(y) == 0 or np.ptp(p) == 0:
        y[0], p[0] = y[0] + 1, p[0] - 1
    got = regression_metrics(y, p)
    assert got["pearson"] == pytest.approx(scipy_stats.pearsonr(p, y)[0], abs=1e-12)
    assert got["spearman"] == pytest.approx(scipy_stats.spearmanr(p, y)[0], abs=1e-12)
    np.testing.assert_allclose(average_ranks(p), scipy_stats.rankdata(p), rtol=0, atol=0)


def test_regression_metrics_extremes():
    y = np.array([1.0, 2.0, 3.0])
    assert regression_metrics(y, 2 * y + 1) == {"pearson": 1.0, "spearman": 1.0, "mse": float(np.mean((y + 1) ** 2))}
    assert regression_metrics(y, -y)["spearman"] == -1.0
    assert regression_metrics(y, np.full(3, 7.0))["pearson"] == 0.0  # undefined: reported as 0
    big = np.array([1e150, -1e150, 3e149])
    assert regression_metrics(big, big)["pearson"] == pytest.approx(1.0)
    for bad in (np.array([1.0]), np.array([np.nan, 1.0])):
        with pytest.raises(ValueError, match="targets and predicted"):
            regression_metrics(bad, bad)


# --- command line -----------------------------------------------------------------------
def test_cli_regression_pairs_train_delete_eval_predict(tmp_path, data, capsys):
    out = tmp_path / "run"
    args = ["train", "--data", str(data), "--out", str(out), "--task", "regression", "--text-pair-column", "sentence2",
            "--label-column", "score", "--model", "tiny", "--shards", "1", "--slices", "2", "--budget", "2",
            "--rank", "2", "--max-length", "24", "--batch-size", "12"]
    assert s3t(args) == 0
    assert s3t(["delete", "--run", str(out), "--id", "3", "--json"]) == 0
    capsys.readouterr()
    assert s3t(["eval", "--run", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["task"] == "regression" and result["examples"] == 12 and -1 <= result["pearson"] <= 1
    assert s3t(["predict", "--run", str(out), "--text", "a good film\tgood music", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)[0]
    assert float(row["label"]) == pytest.approx(row["scores"][0], rel=1e-5)
    assert s3t(["predict", "--run", str(out), "--text", "no pair here"]) == 2
    assert "TEXT<TAB>PAIR" in capsys.readouterr().err
    assert s3t(["audit", "--run", str(out)]) == 0
