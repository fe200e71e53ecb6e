"""The paper's main figure: accuracy against the number of deletions, and the training cost
each method paid (one drawing function for ``s3t deletion-curves`` and ``s3t validate``).

Per data set, two panels sharing the x axis (deletion requests):

- top: each S3T budget's mean accuracy with its central 95% band over (seed, stream) pairs,
  replayed from cached prefix logits (``source = cached``); methods measured by real
  retraining (``source = retrained``: SISA, full fine-tuning) as markers with error bars
  (their central 95% over seeds x retrain streams: with a handful of samples, their range)
  joined by lines; optional reference lines; the chance line;
- bottom: cumulative training cost (initial training + retraining, example-passes, log
  scale) along the same streams (:mod:`analysis.realruns.retraining_cost`), mean and band.

``s3t validate`` replays its own streams (:func:`deletion_curves`, :func:`deletion_costs`)
but retrains nothing, so its figure has no retrained markers: its B = 1 line is SISA's
checkpoints *without* retraining, and full LoRA appears as a reference line at its
accuracy with nothing deleted, beside the retraining cost both would pay.
"""
from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import numpy as np

from analysis.realruns.bands import sample_point_streams
from analysis.realruns.curves import CURVE_COLUMNS, accuracy_along_streams, band_rows
from analysis.realruns.retraining_cost import cumulative, full_request_costs, prefix_tree_cost, sisa_request_costs
from analysis.style import DEFAULT_FORMATS, OKABE_ITO, SavedFigure, new_figure, save_figure
from analysis.tables import Table

S3T_COLOURS = [OKABE_ITO[c] for c in ("blue", "orange", "green", "sky", "purple", "yellow")]
SISA, FULL = "SISA, retrained", "full fine-tuning, retrained"


def s3t_method(B: int) -> str:
    """The name of S3T with budget ``B`` in every deletion-curve table."""
    return "S3T, B=1 (SISA checkpoints, no retraining)" if B == 1 else f"S3T, B={B}"


def system_streams(system: Any, streams: int, points: int, seed: int) -> np.ndarray:
    """The uniform point streams of ``s3t validate``'s main figure for one trained system:
    positions (streams, points), shared by every budget (nested sub-systems see the same requests)."""
    rng = np.random.default_rng([seed, system.seed, zlib.crc32(system.dataset.encode()), 31])
    return sample_point_streams(np.ones(len(system.slice_of_point)), points, streams, rng)


def deletion_curves(systems: list[Any], budgets: tuple[int, ...], streams: int, points: int, seed: int, level: float) -> list[dict[str, Any]]:
    """``s3t validate``'s curve rows (:data:`CURVE_COLUMNS`, source ``cached``) for S3T at each B
    over ``streams`` uniform streams per seed of ``points`` requests (every point deleted)."""
    counts = np.arange(points + 1)
    hits = [s.slice_of_point[system_streams(s, streams, points, seed)] for s in systems]
    rows = []
    for B in budgets:
        values = np.concatenate([accuracy_along_streams(s.logits[:, :B], s.labels, s.sequences[:, :B], h, counts)
                                 for s, h in zip(systems, hits)])
        rows += band_rows(values, counts, level, dataset=systems[0].dataset, method=s3t_method(B), B=B, source="cached")
    return rows


def deletion_costs(systems: list[Any], budgets: tuple[int, ...], streams: int, points: int, seed: int, level: float,
                   epochs: int) -> list[dict[str, Any]]:
    """Cumulative training cost rows along the streams of :func:`deletion_curves`: S3T at each
    B (flat), SISA retraining from checkpoints on every request (B = 1), full fine-tuning."""
    counts = np.arange(points + 1)
    rows = []
    dataset = systems[0].dataset
    m, _, L = systems[0].sequences.shape
    sizes = [np.bincount(s.slice_of_point, minlength=m * L).reshape(m, L) for s in systems]
    for B in budgets:
        flat = np.array([[prefix_tree_cost(s.sequences[:, :B], n, epochs)] * len(counts) for s, n in zip(systems, sizes)])
        rows += band_rows(flat, counts, level, dataset=dataset, method=s3t_method(B), B=B, source="streams")
    sisa = [cumulative(prefix_tree_cost(s.sequences[:, :1], n, epochs),
                       sisa_request_costs(s.sequences[:, 0], n, s.slice_of_point[system_streams(s, streams, points, seed)], epochs), counts)
            for s, n in zip(systems, sizes)]
    rows += band_rows(np.concatenate(sisa), counts, level, dataset=dataset, method=SISA, B=1, source="streams")
    n_points = len(systems[0].slice_of_point)
    full = cumulative(float(n_points * epochs), full_request_costs(n_points, points, epochs), counts)
    rows += band_rows(full, counts, level, dataset=dataset, method=FULL, B=None, source="streams")
    return rows


def _style(method: str, s3t_index: dict[str, int]) -> dict[str, Any]:
    if method.startswith("SISA"):
        return {"color": OKABE_ITO["black"], "marker": "s", "linestyle": "-"}
    if method.startswith("full"):
        return {"color": OKABE_ITO["vermillion"], "marker": "D", "linestyle": "--"}
    i = s3t_index.setdefault(method, len(s3t_index))
    return {"color": S3T_COLOURS[i % len(S3T_COLOURS)], "marker": None, "linestyle": ["-", "--", "-.", ":"][i % 4]}


def _x_end(rows: list[dict[str, Any]], chance: float) -> float:
    """Where every S3T band has reached chance (beyond: every shard dead in every stream)."""
    alive = [r["requests"] for r in rows if r["source"] == "cached" and (r["high"] != chance or r["low"] != chance)]
    measured = [r["requests"] for r in rows if r["source"] == "retrained"]
    if not alive + measured:  # at chance from the start: show every request
        return max([r["requests"] for r in rows] + [1])
    return 1.08 * max(alive + measured) + 1


def _draw_accuracy(ax: Any, rows: list[dict[str, Any]], style: Any, references: list[tuple[str, float]], chance: float,
                   dodge: float) -> None:
    measured = list(dict.fromkeys(r["method"] for r in rows if r["source"] == "retrained"))
    for method in dict.fromkeys(r["method"] for r in rows):
        sel = [r for r in rows if r["method"] == method]
        x, mean = np.array([r["requests"] for r in sel], dtype=float), np.array([r["mean"] for r in sel])
        if method in measured:  # side by side at the same request counts
            x += dodge * (measured.index(method) - (len(measured) - 1) / 2)
        low, high = np.array([r["low"] for r in sel]), np.array([r["high"] for r in sel])
        s = style(method)
        if sel[0]["source"] == "retrained":
            ax.errorbar(x, mean, yerr=[mean - low, high - mean], color=s["color"], marker=s["marker"], linestyle=s["linestyle"],
                        capsize=3, markersize=5, linewidth=1.4, label=method, zorder=4)
        else:
            ax.fill_between(x, low, high, color=s["color"], alpha=0.10, linewidth=0)
            for edge in (low, high):
                ax.plot(x, edge, color=s["color"], linewidth=0.6, alpha=0.55)
            ax.plot(x, mean, color=s["color"], linestyle=s["linestyle"], label=method)
    for label, value in references:
        ax.axhline(value, color=OKABE_ITO["vermillion"], linestyle=(0, (5, 2)), linewidth=1.2, label=label)
    ax.axhline(chance, color="0.45", linestyle=":", linewidth=1.2, label="chance")
    ax.set_ylabel("ensemble accuracy")


def _draw_costs(ax: Any, rows: list[dict[str, Any]], style: Any) -> None:
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    for method in dict.fromkeys(r["method"] for r in rows):
        sel = [r for r in rows if r["method"] == method]
        x = [r["requests"] for r in sel]
        s = style(method)
        if any(r["high"] > r["low"] for r in sel):
            ax.fill_between(x, [r["low"] for r in sel], [r["high"] for r in sel], color=s["color"], alpha=0.14, linewidth=0)
        ax.plot(x, [r["mean"] for r in sel], color=s["color"], linestyle=s["linestyle"], label=method)
    ax.set_yscale("log")
    values = [v for r in rows for v in (r["low"], r["high"]) if v > 0]
    decades = np.log10(max(values) / min(values)) if values else 0.0
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0,) if decades > 3 else (1.0, 2.0, 5.0)))  # plain numbers, 1-2-5 when few decades
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_ylabel("cumulative training cost\n(example-passes)")
    ax.set_xlabel("deletion requests")


def deletion_figure(curves: list[dict[str, Any]], costs: list[dict[str, Any]], chance: dict[str, float], out_dir: "str | Path",
                    name: str, caption: str, references: "dict[str, list[tuple[str, float]]] | None" = None,
                    formats: "tuple[str, ...]" = DEFAULT_FORMATS) -> SavedFigure:
    """The main figure (module doc), one column per data set; writes ``name``.png/.pdf/... and
    ``name``.csv (the curve rows, then the cost rows, one schema)."""
    datasets = list(dict.fromkeys(r["dataset"] for r in curves))
    fig, axes = new_figure(ncols=len(datasets), nrows=2, width=4.6 * len(datasets) + 0.8, height=6.4)
    axes = np.asarray(axes).reshape(2, len(datasets))
    index: dict[str, int] = {}
    for column, dataset in enumerate(datasets):
        top, bottom = axes[0, column], axes[1, column]
        rows = [r for r in curves if r["dataset"] == dataset]
        end = _x_end(rows, chance[dataset])
        _draw_accuracy(top, [r for r in rows if r["requests"] <= end], lambda m: _style(m, index), (references or {}).get(dataset, []),
                       chance[dataset], 0.012 * end)
        _draw_costs(bottom, [r for r in costs if r["dataset"] == dataset and r["requests"] <= end], lambda m: _style(m, index))
        for ax in (top, bottom):
            ax.set_xlim(-0.01 * end, end)
        top.set_title(dataset, fontsize=10)
        if column:
            top.set_ylabel("")
            bottom.set_ylabel("")
    handles = {}
    for ax in axes.ravel():
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    fig.legend(handles.values(), handles.keys(), loc="outside lower center", ncol=2 if len(datasets) == 1 else 3, fontsize=7.5, frameon=False)
    table = Table(list(CURVE_COLUMNS) + ["quantity"],
                  [[r[c] for c in CURVE_COLUMNS] + ["accuracy"] for r in curves] + [[r[c] for c in CURVE_COLUMNS] + ["cost"] for r in costs],
                  "deletion curves", COLUMN_MEANINGS)
    return save_figure(fig, out_dir, name, table, "Accuracy and training cost against deletions", caption, formats=formats)


COLUMN_MEANINGS = {
    "dataset": "data set", "method": "S3T at a budget (no retraining), SISA or full fine-tuning (retrained)",
    "B": "budget: sequences per shard (empty for full fine-tuning)", "requests": "deletion requests so far",
    "mean": "mean over (seed, stream) samples: ensemble accuracy (fraction) or cumulative training cost (example-passes)",
    "low": "lower end of the central 95% band over the samples (their minimum when there are few)",
    "high": "upper end of that band", "samples": "(seed, stream) samples",
    "source": "cached: replayed from cached prefix logits; retrained: measured after real retraining; streams: cost counted along the streams",
    "quantity": "accuracy or cost",
}


def main_figure(rows: list[dict[str, Any]], costs: list[dict[str, Any]], comparison: list[dict[str, Any]], chance: dict[str, float],
                out_dir: Path, formats: "tuple[str, ...]" = DEFAULT_FORMATS) -> SavedFigure:
    """``s3t validate``'s ``validation_main``: :func:`deletion_figure` without retrained markers
    (validate retrains nothing); full LoRA as a reference line at its accuracy with nothing deleted."""
    references = {c["dataset"]: [("full LoRA, nothing deleted (kept only by retraining on every request)", c["accuracy_nothing_deleted"])]
                  for c in comparison if c["B"] is None}
    samples = rows[0]["samples"] if rows else 0
    caption = (f"Top: S3T's mean accuracy and central 95% band over {samples} (seed, stream) pairs of uniform deletions, replayed "
               "from cached prefix logits (B = 1: SISA's checkpoints without retraining, a shard dies at its first hit); full "
               "LoRA at its accuracy with nothing deleted (no retraining is measured here: `s3t deletion-curves` measures it); "
               "dotted: chance. Bottom: cumulative training cost (initial + retraining) along the same streams. The axis ends "
               "where every stream has every shard dead.")
    return deletion_figure(rows, costs, chance, out_dir, "validation_main", caption, references, formats)
