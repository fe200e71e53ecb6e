"""The paper-style figure of ``s3t validate``: accuracy against the number of deletions until every shard is dead.

For each data set and method — S3T with each trained B (B = 1: SISA with checkpoints and no
retraining, a shard dies on its first hit slice) and full LoRA (one model; kept at its
accuracy only by retraining on every request) — thousands of uniform deletion streams
(points without replacement, as many requests as training points, so every shard ends dead)
are replayed from each seed's cached prefix logits (the served states equal the run's own:
``compare._check_serving``). The band is the central 95% over seeds x streams, the line the
mean; the legend gives the training cost each method paid (example-passes: prefix-tree cost
x slice size x epochs for S3T, N x epochs per request for full LoRA).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from analysis.realruns.bands import ensemble_accuracy, sample_request_streams
from analysis.style import DEFAULT_FORMATS, SavedFigure, colour, linestyle, new_figure, save_figure
from analysis.tables import Table
from s3t_sim.prefix import served_states_after


def deletion_curves(systems: list[Any], budgets: tuple[int, ...], streams: int, points: int, seed: int, level: float) -> list[dict[str, Any]]:
    """Rows ``dataset, method, B, requests, mean, low, high, samples`` for S3T/SISA (each B) over
    ``streams`` uniform streams per seed of ``points`` requests (every point deleted)."""
    counts = np.arange(points + 1)
    tail = (1.0 - level) / 2
    rows = []
    for B in budgets:
        curves = []
        for system in systems:
            rng = np.random.default_rng([seed, system.seed, B, 31])
            hits = sample_request_streams(system.slice_of_point, None, points, streams, rng)
            index, prefix = served_states_after(system.sequences[:, :B], hits, counts)
            curves.append(ensemble_accuracy(system.logits[:, :B], system.labels, index, prefix))
        values = np.concatenate(curves)  # (seeds x streams, checkpoints)
        low, high = np.quantile(values, [tail, 1 - tail], axis=0, method="inverted_cdf")
        method = "SISA (B=1, no retraining)" if B == 1 else f"S3T (B={B})"
        rows += [{"dataset": systems[0].dataset, "method": method, "B": B, "requests": int(r), "mean": float(m), "low": float(lo),
                  "high": float(hi), "samples": int(values.shape[0])} for r, m, lo, hi in zip(counts, values.mean(axis=0), low, high)]
    return rows


def main_figure(rows: list[dict[str, Any]], comparison: list[dict[str, Any]], chance: dict[str, float], out_dir: Path,
                formats: "tuple[str, ...]" = DEFAULT_FORMATS) -> SavedFigure:
    """One panel per data set: each method's mean and 95% band, full LoRA, the chance line."""
    datasets = sorted({r["dataset"] for r in rows})
    fig, axes = new_figure(ncols=len(datasets), width=4.4 * len(datasets) + 0.6, height=4.0)
    axes = np.atleast_1d(axes)
    for ax, dataset in zip(axes, datasets):
        methods = list(dict.fromkeys(r["method"] for r in rows if r["dataset"] == dataset))
        for i, method in enumerate(methods):
            sel = [r for r in rows if (r["dataset"], r["method"]) == (dataset, method)]
            cost = next(c["training_cost_example_passes"] for c in comparison if c["dataset"] == dataset and c["B"] == sel[0]["B"])
            x = [r["requests"] for r in sel]
            ax.fill_between(x, [r["low"] for r in sel], [r["high"] for r in sel], color=colour(i), alpha=0.15)
            ax.plot(x, [r["mean"] for r in sel], color=colour(i), linestyle=linestyle(i), label=f"{method}: trained {cost:.0f}, then 0")
        full = next(c for c in comparison if c["dataset"] == dataset and c["B"] is None)
        ax.axhline(full["accuracy_nothing_deleted"], color=colour(5), linestyle="--",
                   label=f"full LoRA: {full['training_cost_example_passes']:.0f} per request")
        ax.axhline(chance[dataset], color=colour(6), linestyle=":", label="chance")
        chance_ = chance[dataset]
        alive = [r["requests"] for r in rows if r["dataset"] == dataset and (r["high"] > chance_ or r["low"] < chance_)]
        ax.set_xlim(-0.5, 1.15 * max(alive, default=1) + 1)  # beyond: every shard dead in every stream (chance)
        ax.set_title(f"{dataset}: uniform deletions until every shard is dead", fontsize=9)
        ax.set_xlabel("deletion requests")
        ax.legend(fontsize=7, title="training cost (example-passes)", title_fontsize=7)
    axes[0].set_ylabel("ensemble accuracy")
    table = Table(["dataset", "method", "B", "requests", "mean", "low", "high", "samples"],
                  [[r["dataset"], "sisa" if r["B"] == 1 else "s3t"] + [r[c] for c in ("B", "requests", "mean", "low", "high", "samples")]
                   for r in rows], "deletion curves",
                  {"dataset": "data set", "method": "s3t or sisa (B = 1, no retraining); full LoRA's line: comparison.csv",
                   "B": "budget: sequences per shard", "requests": "uniform deletion requests",
                   "mean": "ensemble accuracy, mean over (seed, stream) pairs (fraction)", "low": "lower end of the central band over the pairs (95% unless --level says otherwise)",
                   "high": "upper end of that band", "samples": "(seed, stream) pairs"})
    samples = rows[0]["samples"] if rows else 0
    return save_figure(fig, out_dir, "validation_main", table, "Accuracy against deletions: S3T, SISA, full LoRA",
                       f"Mean and central 95% band over {samples} (seed, stream) pairs per method, replayed from cached prefix logits; "
                       "full LoRA keeps its accuracy only by retraining on every request (cost per request in the legend); "
                       "dotted: chance; the axis ends where every stream has every shard dead.", formats=formats)
