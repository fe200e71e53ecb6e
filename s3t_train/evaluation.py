"""Evaluation: accuracy of the served ensemble on held-out data, and the measured f(k)."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from s3t_sim.output import write_text_atomic
from s3t_sim.checks import check_int
from s3t_train.data import TextDataset, load_examples
from s3t_train.metrics import classification_metrics, regression_metrics
from s3t_train.run import S3TRun
from s3t_train.serving import predict_logits, stages_logits


def eval_dataset(run: S3TRun, limit: int | None = None, seed: int = 0, source: "datasets.Dataset | None" = None) -> TextDataset:
    """Held-out examples: ``dev``/``test`` file of the data folder (or the data itself if a
    file), the held-out split of a hub set, or ``source`` (a ``datasets.Dataset``)."""
    d = run.config.data
    label_names = None if d.task == "regression" else run.label_names
    return load_examples(d.source if source is None else source, "eval", d.text_column, d.label_column, label_names=label_names, limit=limit, seed=seed, task=d.task, text_pair_column=d.text_pair_column, header=d.header)


def evaluate(run: S3TRun, dataset: TextDataset | None = None, vote: str = "mean", limit: int | None = None, progress: bool | None = None) -> dict:
    """Accuracy (with its binomial SE), macro F1 and MCC of the served ensemble, or for a
    regression run Pearson, Spearman and MSE of the mean output
    (:func:`s3t_train.metrics.regression_metrics`), with the served prefix of each shard
    (frozen trunk shared by the shards, :func:`s3t_train.serving.stages_logits`)."""
    dataset = dataset if dataset is not None else eval_dataset(run, limit)
    logits = predict_logits(run, dataset.texts, vote, progress)
    n = len(dataset)
    if run.config.data.task == "regression":
        scores = regression_metrics(dataset.labels, logits[:, 0].numpy())
    else:
        predicted = logits.argmax(dim=-1).numpy()
        accuracy = float((predicted == dataset.labels).mean())
        scores = {
            "accuracy": accuracy,
            "accuracy_se": float(np.sqrt(accuracy * (1 - accuracy) / n)),
            **classification_metrics(dataset.labels, predicted, len(run.label_names)),
        }
    return {
        "task": run.config.data.task,
        **scores,
        "examples": n,
        "served_prefix": run.deletions.served_prefix(),
        "dead_shards": run.deletions.dead_shards(),
        "deleted": len(run.deletions.deleted),
        "train_examples": len(run.store),
        "vote": vote,
    }


def performance_profile(run: S3TRun, shard: int = 0, dataset: TextDataset | None = None, path: str | Path | None = None, limit: int | None = None) -> list[tuple[int, float]]:
    """Measured f(k): accuracy of ``shard``'s first sequence with k = 0..L active groups
    (k = 0: pretrained encoder with the untrained head). Optionally writes CSV ``k,accuracy``.
    Classification runs only (a regression run is refused)."""
    if run.config.data.task == "regression":
        raise ValueError("the f(k) profile measures accuracy: it needs a classification run (task 'classification' or 'pairs'), not 'regression'")
    shard = check_int("shard", shard, 0, run.m - 1)
    dataset = dataset if dataset is not None else eval_dataset(run, limit)
    order = tuple(int(s) for s in run.sequences[shard][0])
    logits = stages_logits(run, [(shard, order[:k]) for k in range(run.L + 1)], dataset.texts)
    rows = [(k, float((logits[k].argmax(dim=-1).numpy() == dataset.labels).mean())) for k in range(run.L + 1)]
    if path is not None:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["k", "accuracy"])
        writer.writerows(rows)
        write_text_atomic(path, buffer.getvalue())
    return rows
