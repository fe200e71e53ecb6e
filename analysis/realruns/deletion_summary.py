"""The summary and the files of ``s3t deletion-curves``: ``curves.csv``, ``costs.csv``,
``retrained.csv``, ``deletion_curves.json`` and the figure ``deletion_curves`` (PNG, PDF, SVG
and its CSV)."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from analysis.realruns.curves import CURVE_COLUMNS, all_dead_after
from analysis.realruns.mainfigure import FULL, SISA, deletion_figure, s3t_method
from analysis.style import DEFAULT_FORMATS
from analysis.tables import Table
from s3t_sim.output import write_json_atomic, write_text_atomic

SUMMARY_FILE = "deletion_curves.json"
FIGURE = "deletion_curves"
RETRAINED_COLUMNS = ("dataset", "method", "seed", "stream", "requests", "accuracy", "seconds", "stage_trainings", "shards_retrained")


def _at(rows: list[dict[str, Any]], dataset: str, method: str, requests: int) -> "float | None":
    found = [r["mean"] for r in rows if (r["dataset"], r["method"], r["requests"]) == (dataset, method, requests)]
    return found[0] if found else None


def summarise(config: Any, systems: list[Any], streams: list[np.ndarray], end: int, checkpoints: list[int], result: Any) -> dict[str, Any]:
    """One data set's summary: sizes, accuracy with nothing deleted, requests until every shard is
    dead, mean accuracy over the replayed requests, cost at the end, retraining seconds, checks."""
    dataset = systems[0].dataset
    m, L = systems[0].slice_sizes.shape
    curves = [r for r in result.curves if r["dataset"] == dataset]
    by_budget = {}
    for B in config.budgets:
        method = s3t_method(B)
        dead = np.concatenate([all_dead_after(s.sequences[s.budget_run[B]][:, :B], s.slice_of_point[p]) for s, p in zip(systems, streams)])
        means = [r["mean"] for r in curves if r["method"] == method and r["source"] == "cached"]
        by_budget[str(B)] = {"method": method, "accuracy_nothing_deleted": means[0], "mean_accuracy_over_replayed_requests": float(np.mean(means)),
                             "requests_until_every_shard_dead": float(dead.mean()), "run": systems[0].budget_run[B],
                             "training_cost_example_passes": _at(result.costs, dataset, method, 0)}
    retrained = [r for r in result.retrained if r["dataset"] == dataset]
    checks = {}
    if config.selection == "cyclic" and max(config.budgets) > 1:
        top = f"s3t-B{max(config.budgets)}"  # SISA's run is the B = max run's first sequence, trained again
        checks["sisa_run_equals_s3t_first_sequence"] = all(np.array_equal(s.logits["sisa"][:, 0], s.logits[top][:, 0]) for s in systems)
    return {
        "dataset": dataset, "training_points": int(len(systems[0].point_ids)), "eval_examples": int(len(systems[0].labels)),
        "shards": int(m), "slices": int(L), "examples_per_slice": float(systems[0].slice_sizes.mean()),
        "seeds": [s.seed for s in systems], "streams_per_seed": int(streams[0].shape[0]), "requests_replayed": int(end),
        "chance": result.chance[dataset], "runs_per_seed": sorted(systems[0].runs),
        "s3t": by_budget,
        "full_accuracy_nothing_deleted": float(np.mean([s.full_accuracy for s in systems])),
        "full_accuracy_nothing_deleted_by_seed": [s.full_accuracy for s in systems],
        "retrain_checkpoints": checkpoints,
        "retrained": {method: {"accuracy": [_at(curves, dataset, method, r) for r in checkpoints],
                               "seconds": float(sum(r["seconds"] for r in retrained if r["method"] == method)),
                               "stage_trainings": int(sum(r["stage_trainings"] for r in retrained if r["method"] == method))}
                      for method in (SISA, FULL)},
        "cost_at_end_example_passes": {method: _at(result.costs, dataset, method, end)
                                       for method in [s3t_method(B) for B in config.budgets] + [SISA, FULL]},
        "checks": checks,
    }


def _csv(rows: list[dict[str, Any]], columns: "tuple[str, ...]", title: str) -> str:
    return Table(list(columns), [[r.get(c) for c in columns] for r in rows], title).to_csv()


def write_deletion_outputs(result: Any, out_dir: "str | Path", formats: "tuple[str, ...]" = DEFAULT_FORMATS) -> dict[str, Any]:
    """Write the tables, the figure and ``deletion_curves.json``; returns the summary (with the
    seconds it took to draw)."""
    started = time.perf_counter()
    out_dir = Path(out_dir)
    write_text_atomic(out_dir / "curves.csv", _csv(result.curves, CURVE_COLUMNS, "accuracy against deletions"))
    write_text_atomic(out_dir / "costs.csv", _csv(result.costs, CURVE_COLUMNS, "cumulative training cost against deletions"))
    write_text_atomic(out_dir / "retrained.csv", _csv(result.retrained, RETRAINED_COLUMNS, "real retraining measurements"))
    first = result.summary["datasets"][0]
    samples = first["streams_per_seed"] * len(first["seeds"])
    caption = (f"Top: S3T's mean accuracy and central 95% band over {samples} (seed, stream) pairs "
               f"({result.summary['config']['prior']} requests, points without replacement), replayed from cached prefix logits "
               "(B = 1: SISA's checkpoints without retraining); markers: SISA and full fine-tuning measured after real "
               "retraining (mean, bars: central 95% over seeds x retrain streams, their range when few); dotted: chance. "
               "Bottom: cumulative training cost (initial + retraining, example-passes) along the same streams.")
    saved = deletion_figure(result.curves, result.costs, result.chance, out_dir, FIGURE, caption, formats=formats)
    result.summary["seconds"]["draw"] = time.perf_counter() - started
    result.summary["files"] = ["curves.csv", "costs.csv", "retrained.csv", SUMMARY_FILE, saved.png.name, saved.pdf.name, saved.csv.name]
    result.summary["figure"] = {"name": saved.name, "title": saved.title, "caption": saved.caption}
    write_json_atomic(out_dir / SUMMARY_FILE, result.summary)
    return result.summary
