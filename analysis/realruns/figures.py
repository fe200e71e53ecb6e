"""Files of ``s3t validate``: CSV tables, ``validation.json`` and four figures (PNG + PDF + CSV).

- ``validation_fk``: measured f(k) per data set with its interval over training seeds;
- ``validation_bands``: predicted bands (simulator + f(k), and the exact point-model band)
  against the measured accuracy of replayed deletion streams;
- ``validation_ensemble``: ensemble accuracy against the f(k) model ``mean_s f(k_s)``;
- ``validation_comparison``: S3T (several B) vs SISA vs full LoRA over the request stream;
- ``validation_heldout``: the held-out prediction (pilot seeds only) of a left-out seed against its streams;
- ``validation_main``: accuracy and training cost against deletions until every shard is dead (:mod:`analysis.realruns.mainfigure`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from analysis.figures import write_data_dictionary
from analysis.realruns.mainfigure import main_figure
from analysis.style import DEFAULT_FORMATS, SavedFigure, colour, linestyle, marker, new_figure, save_figure
from analysis.tables import Table
from s3t_sim.output import write_json_atomic, write_text_atomic

SUMMARY_FILE = "validation.json"


def _table(rows: list[dict[str, Any]], title: str) -> Table:
    columns = list(dict.fromkeys(c for r in rows for c in r)) if rows else ["empty"]  # union, in first-seen order
    return Table(columns, [[_cell(r.get(c, "")) for c in columns] for r in rows], title)


def _cell(value: Any) -> Any:
    return " ".join(map(str, value)) if isinstance(value, (list, tuple)) else value


def write_validation_outputs(result: Any, out_dir: "str | Path", formats: "tuple[str, ...]" = DEFAULT_FORMATS) -> list[SavedFigure]:
    """Write every table, ``validation.json``, the figures of a :class:`ValidationResult` (each in
    ``formats``, PNG and PDF always) and ``data_dictionary.csv``/``.json`` for the figures' CSVs."""
    out_dir = Path(out_dir)
    write_text_atomic(out_dir / "bands.csv", _table(result.bands, "predicted bands").to_csv())
    write_text_atomic(out_dir / "measured.csv", _table(result.measured, "measured accuracy").to_csv())
    write_text_atomic(out_dir / "comparison.csv", _table(result.comparison, "comparison").to_csv())
    for dataset, rows in result.ensemble.items():
        write_text_atomic(out_dir / f"ensemble_{dataset}.csv", _table(rows, f"ensemble {dataset}").to_csv())
    if result.heldout_streams:
        write_text_atomic(out_dir / "heldout_streams.csv", _table(result.heldout_streams, "held-out one-stream bands").to_csv())
        write_text_atomic(out_dir / "heldout_means.csv", _table(result.heldout_means, "held-out mean curves").to_csv())
    with result.timer("figures"):
        figures = [draw(result, out_dir, formats) for draw in (fk_figure, bands_figure, ensemble_figure, comparison_figure)]
        if result.heldout_streams:
            figures.append(heldout_figure(result, out_dir, formats))
        if result.main_rows:
            figures.append(main_figure(result.main_rows, result.main_costs, result.comparison, result.chance, out_dir, formats))
        write_data_dictionary(out_dir, figures)
    payload = {"summary": result.summary, "comparison": result.comparison, "performance": result.performance,
               "figures": [{"name": f.name, "title": f.title, "caption": f.caption} for f in figures]}
    write_json_atomic(out_dir / SUMMARY_FILE, payload)
    return figures


def fk_figure(result: Any, out_dir: Path, formats: "tuple[str, ...]" = DEFAULT_FORMATS) -> SavedFigure:
    """Measured f(k) per data set with its t-interval over training seeds."""
    fig, ax = new_figure()
    rows = []
    for i, (dataset, f) in enumerate(result.performance.items()):
        k, acc = np.array(f["k"]), np.array(f["accuracy"])
        low, high = np.array(f["low"]), np.array(f["high"])
        ax.errorbar(k + 0.04 * i, acc, yerr=[acc - low, high - acc], color=colour(i), marker=marker(i), linestyle=linestyle(i),
                    capsize=3, label=f"{dataset} (mean over {len(f['seeds'])} seeds, {int(f['level'] * 100)}% t-interval)")
        rows += [[dataset, int(a), float(b), float(c), float(d), float(e)] for a, b, c, d, e in zip(k, acc, f["se"], low, high)]
    ax.set_xlabel("active adapter groups k (served prefix length)")
    ax.set_ylabel("shard model accuracy f(k)")
    ax.set_title("Measured performance model f(k)")
    ax.set_xticks(range(int(max(len(f["k"]) for f in result.performance.values()))))
    ax.legend()
    table = Table(["dataset", "k", "accuracy", "se", "ci_low", "ci_high"], rows, "measured f(k)",
                  {"dataset": "data set", "k": "active adapter groups (served prefix length; 0: dead shard)",
                   "accuracy": "shard model accuracy f(k), mean over shards, sequences and training seeds (fraction)",
                   "se": "standard error of accuracy over training seeds", "ci_low": "lower end of the t-interval over seeds",
                   "ci_high": "upper end of the t-interval over seeds (the figure's error bars)"})
    return save_figure(fig, out_dir, "validation_fk", table, "Measured f(k)",
                       "Accuracy of a shard model with k active groups, mean over shards, sequences and training seeds; "
                       "k = 0 is a dead shard (chance); t-interval over seeds (S - 1 degrees of freedom). In-sample: every seed is in the mean.", formats=formats)


def bands_figure(result: Any, out_dir: Path, formats: "tuple[str, ...]" = DEFAULT_FORMATS) -> SavedFigure:
    """Largest B, first seed: one panel per (data set, prior)."""
    bands, measured = result.bands, result.measured
    B = max(r["B"] for r in bands)
    seed = min(r["seed"] for r in bands)
    panels = sorted({(r["dataset"], r["prior"]) for r in bands}, key=lambda p: (p[0], p[1] != "uniform", p[1]))
    fig, axes = new_figure(ncols=len(panels), width=3.6 * len(panels) + 0.8, height=3.8)
    axes = np.atleast_1d(axes)
    rows = []
    shown = [("simulator + f(k)", 0, 0.25), ("simulator + ensemble g(k)", 1, 0.0), ("ensemble table, point model", 2, 0.0)]
    for ax, (dataset, prior) in zip(axes, panels):
        for name, ci, alpha in shown:
            sel = [r for r in bands if (r["dataset"], r["prior"], r["B"], r["seed"], r["predictor"]) == (dataset, prior, B, seed, name)]
            x = np.array([r["requests"] for r in sel])
            lo, hi, mean = (np.array([r[k] for r in sel]) for k in ("lower", "upper", "mean"))
            if alpha:
                ax.fill_between(x, lo, hi, color=colour(ci), alpha=alpha, step=None, label=f"{name}: 95% band")
            else:
                ax.plot(x, lo, color=colour(ci), linestyle=linestyle(ci), linewidth=1.2, label=f"{name}: 95% band")
                ax.plot(x, hi, color=colour(ci), linestyle=linestyle(ci), linewidth=1.2)
            ax.plot(x, mean, color=colour(ci), linewidth=1.0, alpha=0.8)
            rows += [[dataset, prior, B, seed, name, r["requests"], r["mean"], r["lower"], r["upper"]] for r in sel]
        streams = sorted({r["stream"] for r in measured})
        for j in streams:
            sel = [r for r in measured if (r["dataset"], r["prior"], r["B"], r["seed"], r["stream"]) == (dataset, prior, B, seed, j)]
            ax.plot([r["requests"] for r in sel], [r["accuracy"] for r in sel], color=colour(6), marker=marker(j + 1), markersize=3.5,
                    linewidth=1.0, label="measured (replayed streams)" if j == 0 else None)
        ax.set_title(f"{dataset}, prior {prior}, B={B}, seed {seed}", fontsize=10)
        ax.set_xlabel("deletion requests r")
    axes[0].set_ylabel("ensemble accuracy")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=2, fontsize=8)
    table = Table(["dataset", "prior", "B", "seed", "predictor", "requests", "mean", "lower", "upper"], rows, "bands shown",
                  {"dataset": "data set", "prior": "deletion prior of the streams", "B": "budget: sequences per shard",
                   "seed": "training seed", "predictor": "how the band is predicted", "requests": "deletion requests r",
                   "mean": "predicted mean ensemble accuracy (fraction)", "lower": "lower end of the 95% band",
                   "upper": "upper end of the 95% band (measured streams: measured.csv)"})
    return save_figure(fig, out_dir, "validation_bands", table, f"In-sample bands vs measured streams (seed {seed}, B = {B})",
                       f"In-sample (the bands use the shown seed's f(k) or logits). Training seed {seed}, B = {B} of {sorted({r['B'] for r in bands})}. Shaded: simulator + measured f(k); dashed: simulator + measured ensemble table g(k); dash-dotted: exact law of the replay (trained ensemble, points deleted without replacement); thin lines: band means; markers: replayed streams.", formats=formats)


def ensemble_figure(result: Any, out_dir: Path, formats: "tuple[str, ...]" = DEFAULT_FORMATS) -> SavedFigure:
    """Measured ensemble accuracy against the f(k) model ``mean_s f(k_s)``."""
    fig, ax = new_figure()
    rows = []
    low, high = 1.0, 0.0
    for i, (dataset, table_rows) in enumerate(result.ensemble.items()):
        x = np.array([r["mean_f"] for r in table_rows])
        y = np.array([r["ensemble"] for r in table_rows])
        ax.scatter(x, y, color=colour(i), marker=marker(i), label=dataset, s=22)
        low, high = min(low, x.min(), y.min()), max(high, x.max(), y.max())
        rows += [[dataset, " ".join(map(str, r["prefixes"])), r["mean_f"], r["ensemble"], r["se"]] for r in table_rows]
    ax.plot([low, high], [low, high], color=colour(6), linestyle=":", linewidth=1.0, label="ensemble = mean f(k)")
    ax.set_xlabel("f(k) model: mean over shards of f(k_s)")
    ax.set_ylabel("measured ensemble accuracy")
    ax.set_title("Ensemble accuracy vs the shards' served prefixes")
    ax.legend()
    table = Table(["dataset", "served_prefixes", "mean_f", "ensemble", "se"], rows, "ensemble accuracy",
                  {"dataset": "data set", "served_prefixes": "the shards' served prefix lengths, sorted, space-separated (one state)",
                   "mean_f": "f(k) model: mean over shards of f(k_s) (fraction)", "ensemble": "measured ensemble accuracy, mean over seeds",
                   "se": "standard error of ensemble over seeds"})
    return save_figure(fig, out_dir, "validation_ensemble", table, "Ensemble non-linearity",
                       "Each point is one vector of served prefixes (each shard on its first sequence), mean over seeds; dead shards (k = 0) are left out of the ensemble but count at f(0) in the model.", formats=formats)


def comparison_figure(result: Any, out_dir: Path, formats: "tuple[str, ...]" = DEFAULT_FORMATS) -> SavedFigure:
    """S3T (each B), SISA and full LoRA: accuracy over uniform deletion streams."""
    datasets = sorted({r["dataset"] for r in result.measured})
    fig, axes = new_figure(ncols=len(datasets), width=4.2 * len(datasets) + 0.6, height=3.8)
    axes = np.atleast_1d(axes)
    rows = []
    for ax, dataset in zip(axes, datasets):
        budgets = sorted({r["B"] for r in result.measured if r["dataset"] == dataset})
        for i, B in enumerate(budgets):
            sel = [r for r in result.measured if r["dataset"] == dataset and r["B"] == B and r["prior"] == "uniform"]
            x = np.array(sorted({r["requests"] for r in sel}))
            values = [np.array([r["accuracy"] for r in sel if r["requests"] == c]) for c in x]
            mean = np.array([v.mean() for v in values])
            se = np.array([v.std(ddof=1) / np.sqrt(v.size) if v.size > 1 else 0.0 for v in values])
            label = "SISA (B=1, checkpoints)" if B == 1 else f"S3T (B={B})"
            ax.errorbar(x + 0.1 * i, mean, yerr=se, color=colour(i), marker=marker(i), linestyle=linestyle(i), capsize=2, label=label)
            rows += [[dataset, "sisa" if B == 1 else "s3t", B, int(c), float(a), float(s), int(v.size)] for c, a, s, v in zip(x, mean, se, values)]
        full = [r for r in result.comparison if r["dataset"] == dataset and r["B"] is None]
        if full:
            ax.axhline(full[0]["accuracy_nothing_deleted"], color=colour(6), linestyle=":", label="full LoRA (retrains on every request)")
            rows.append([dataset, "full_lora", None, 0, full[0]["accuracy_nothing_deleted"], full[0]["accuracy_nothing_deleted_se"], 0])
        ax.set_title(f"{dataset}: uniform deletion streams", fontsize=10)
        ax.set_xlabel("deletion requests r")
    axes[0].set_ylabel("ensemble accuracy (mean ± SE)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), fontsize=8)
    table = Table(["dataset", "method", "B", "requests", "accuracy", "se", "samples"], rows, "accuracy over the request stream",
                  {"dataset": "data set", "method": "s3t, sisa (B = 1, checkpoints) or full_lora (retrains on every request)",
                   "B": "budget: sequences per shard (empty for full_lora)", "requests": "uniform deletion requests r",
                   "accuracy": "measured ensemble accuracy, mean over streams and seeds (fraction)",
                   "se": "standard error of accuracy (the figure's error bars)", "samples": "(seed, stream) pairs behind the mean"})
    return save_figure(fig, out_dir, "validation_comparison", table, "S3T vs SISA vs full LoRA",
                       "Measured accuracy after r uniform deletion requests, mean ± SE over streams and training seeds; a dead system (every shard dead) scores chance.", formats=formats)


def heldout_figure(result: Any, out_dir: Path, formats: "tuple[str, ...]" = DEFAULT_FORMATS) -> SavedFigure:
    """Held-out prediction for the first seed at the largest B: mean-curve interval, one-stream band, streams."""
    rows_s, rows_m = result.heldout_streams, result.heldout_means
    B, seed = max(r["B"] for r in rows_m), min(r["seed"] for r in rows_m)
    panels = sorted({(r["dataset"], r["prior"]) for r in rows_m}, key=lambda p: (p[0], p[1] != "uniform", p[1]))
    fig, axes = new_figure(ncols=len(panels), width=3.6 * len(panels) + 0.8, height=3.8)
    axes = np.atleast_1d(axes)
    table = []
    for ax, (dataset, prior) in zip(axes, panels):
        key = (dataset, seed, prior, B)
        means = [r for r in rows_m if (r["dataset"], r["seed"], r["prior"], r["B"]) == key]
        x = np.array([r["requests"] for r in means])
        streams = [r for r in rows_s if (r["dataset"], r["seed"], r["prior"], r["B"]) == key and r["stream"] == 0]
        ax.fill_between(x, [r["band_low"] for r in streams], [r["band_high"] for r in streams], color=colour(0), alpha=0.2,
                        label="one-stream 95% band")
        ax.fill_between(x, [r["mean_low"] for r in means], [r["mean_high"] for r in means], color=colour(1), alpha=0.35,
                        label="mean-curve 95% interval")
        ax.plot(x, [r["predicted"] for r in means], color=colour(1), linewidth=1.2, label="predicted mean")
        for j in sorted({r["stream"] for r in rows_s if r["source"] == "replayed"}):
            sel = [r for r in rows_s if (r["dataset"], r["seed"], r["prior"], r["B"]) == key and r["stream"] == j]
            ax.plot(x, [r["measured"] for r in sel], color=colour(6), marker=marker(j + 1), markersize=3.5, linewidth=1.0,
                    label="measured stream (replayed through the run)" if j == 0 else None)
        ax.axhline(streams[0]["trivial_low"], color=colour(6), linestyle=":", linewidth=1.0, label="chance")
        ax.set_title(f"{dataset}, prior {prior}, B={B}, held-out seed {seed}", fontsize=9)
        ax.set_xlabel("deletion requests r")
        table += [[dataset, prior, B, seed, r["requests"], r["predicted"], r["mean_low"], r["mean_high"], s["band_low"], s["band_high"],
                   r["measured"]] for r, s in zip(means, streams)]
    axes[0].set_ylabel("ensemble accuracy")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=8)
    columns = ["dataset", "prior", "B", "seed", "requests", "predicted", "mean_low", "mean_high", "band_low", "band_high", "measured_mean"]
    descriptions = {"dataset": "data set", "prior": "deletion prior", "B": "budget: sequences per shard", "seed": "held-out training seed",
                    "requests": "deletion requests r", "predicted": "predicted mean accuracy (fraction)",
                    "mean_low": "lower end of the 95% interval of the mean curve", "mean_high": "upper end of that interval",
                    "band_low": "lower end of the one-stream 95% band", "band_high": "upper end of the one-stream band",
                    "measured_mean": "measured accuracy, mean over the streams (each stream drawn: heldout_streams.csv)"}
    pilots = means[0]["pilots"]
    return save_figure(fig, out_dir, "validation_heldout", Table(columns, table, "held-out prediction shown", descriptions),
                       f"Held-out prediction (seed {seed}, B = {B})",
                       f"Fitted on {pilots} other training seeds only (leave one seed out); the seed shown and its replayed deletion "
                       "streams were not used. Dark: 95% interval of the mean over its streams (replayed and fresh cached-logit ones); "
                       "light: 95% band for one stream; lines: the streams replayed through the run.", formats=formats)
