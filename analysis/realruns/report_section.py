"""The real-run section of ``out/report.html`` (no torch needed).

``s3t validate --out out/validation`` leaves ``out/validation/validation.json`` and its
figures; when ``s3t report --out out`` runs after it, :func:`validation_section` turns them
into a section.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

from analysis.report.document import Check, ReportContext, Section
from analysis.style import SavedFigure
from analysis.tables import Table

VALIDATION_DIR = "validation"


def _csv_table(path: Path, title: str) -> Table:
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    return Table(rows[0], rows[1:], title)


def _heldout_paragraph(held: dict) -> str:
    return (f"Held out ({held['protocol']}): the mean-curve interval covers {held['mean_curve_coverage']:.3f} "
            f"(SE {held['mean_curve_coverage_se']:.3f}, clustered by seed; {held['mean_curve_checkpoints']} checkpoints) with mean width "
            f"{held['mean_curve_width']:.3f}; the one-stream band covers {held['band_coverage_nontrivial']:.3f} of "
            f"{held['nontrivial_checkpoints']} non-trivial checkpoints (SE {held['band_coverage_nontrivial_se']:.3f}, clustered by "
            f"{held['independent_streams']} independent streams; all checkpoints {held['band_coverage']:.3f}) with width "
            f"{held['band_width']:.3f}, against {held['trivial_band_width']:.3f} for [chance, accuracy with nothing deleted] and "
            f"{held['exact_band_width_in_sample']:.3f} for the exact law of the replay (in-sample). Horizon average: bias "
            f"{held['horizon_bias']:+.3f}, mean absolute error {held['horizon_mean_abs_error']:.3f}.")


def _summary(ctx: ReportContext, folder_name: str, file_name: str) -> "tuple[Path, dict] | None":
    """The folder ``<out>/<folder_name>`` and its JSON summary; ``None`` when there is none."""
    folder = Path(ctx.out_dir) / folder_name
    path = folder / file_name
    return (folder, json.loads(path.read_text())) if path.is_file() else None


def _figures(folder: Path, listed: list[dict]) -> list[SavedFigure]:
    """The figures a summary lists (``name``, ``title``, ``caption``) whose PNG and CSV are in ``folder``."""
    figures = []
    for fig in listed:
        png, pdf, table_csv = (folder / f"{fig['name']}.{ext}" for ext in ("png", "pdf", "csv"))
        if png.is_file() and table_csv.is_file():
            figures.append(SavedFigure(fig["name"], fig["title"], fig["caption"], png, pdf, table_csv, _csv_table(table_csv, fig["title"])))
    return figures


def validation_section(ctx: ReportContext) -> "Section | None":
    """Section from ``<out>/validation/validation.json``; ``None`` when there is none."""
    found = _summary(ctx, VALIDATION_DIR, "validation.json")
    if found is None:
        return None
    folder, data = found
    summary = data["summary"]
    by = summary["coverage_by_predictor"]
    config = summary.get("config", {})
    paragraphs = [
        f"Real runs: {config.get('model')} with grouped LoRA on {', '.join(config.get('datasets', []))}; "
        f"m = {config.get('shards')} shards, L = {config.get('slices')} slices, B in {config.get('budgets')}, "
        f"training seeds {config.get('seeds')}, {config.get('train_limit')} training and {config.get('eval_limit')} "
        f"held-out examples per data set; {config.get('streams')} replayed deletion streams per prior (uniform and "
        f"{config.get('skewed_prior')}), checkpoints every {config.get('checkpoint_every')} requests up to "
        f"{config.get('requests')}; bands from {config.get('mc_runs')} Monte Carlo runs (seed {config.get('seed')}).",
        f"Coverage of the simulator + f(k) band: {summary['coverage']:.3f} ({summary['inside']}/{summary['checkpoints']} "
        f"checkpoints; target {summary['target']:.0%}). The exact law of the replay (trained ensemble, points deleted "
        f"without replacement) covers {by['ensemble table, point model']['coverage']:.3f}. Where the first falls short, "
        "the other predictors split the miss: simulator + ensemble g(k) measures the ensemble non-linearity instead "
        "of modelling it as mean f(k); the ensemble table of the trained system removes the spread between the "
        "particular trained shard models and the average; the point model removes the finite-population effect "
        "(deleted points cannot be requested again).",
        f"Reproduce: s3t validate --size {summary.get('size', 'full')} --out {Path(ctx.out_dir).name}/{VALIDATION_DIR}",
    ]
    held = summary.get("heldout", {})
    checks = []
    if "band_coverage_nontrivial" in held:
        paragraphs.insert(1, _heldout_paragraph(held))
        checks += [
            Check("held out: mean-curve interval covers >= 90% of checkpoints", held["mean_curve_coverage"] >= 0.90,
                  f"{held['mean_curve_coverage']:.3f} ± {held['mean_curve_coverage_se']:.3f} of {held['mean_curve_checkpoints']}"),
            Check("held out: mean-curve interval width <= 0.12", held["mean_curve_width"] <= 0.12, f"{held['mean_curve_width']:.3f}"),
            Check("held out: one-stream band covers >= 90% of non-trivial checkpoints", held["band_coverage_nontrivial"] >= 0.90,
                  f"{held['band_coverage_nontrivial']:.3f} ± {held['band_coverage_nontrivial_se']:.3f} of {held['nontrivial_checkpoints']}"),
            Check("held out: one-stream band narrower than [chance, accuracy with nothing deleted]",
                  held["band_width"] < held["trivial_band_width"], f"{held['band_width']:.3f} vs {held['trivial_band_width']:.3f}"),
            *[Check(f"held out, {name} alone: one-stream band covers >= 90% and is narrower than trivial",
                    d["band_coverage_nontrivial"] >= 0.90 and d["band_width"] < d["trivial_band_width"],
                    f"{d['band_coverage_nontrivial']:.3f}; {d['band_width']:.3f} vs {d['trivial_band_width']:.3f}")
              for name, d in held.get("by_dataset", {}).items()],
        ]
    checks.append(Check("in-sample: measured accuracy inside the 95% band of simulator + f(k) at >= 90% of checkpoints",
                        summary["coverage"] >= summary["target"], f"{summary['coverage']:.3f} of {summary['checkpoints']}"))
    if summary.get("serving_checks"):
        same = all(c["cached"] == c["served"] for c in summary["serving_checks"])
        checks.append(Check("S3TRun.evaluate equals the cached-logit ensemble after deletions", same,
                            f"{len(summary['serving_checks'])} states compared"))
    coverage = Table(["predictor", "coverage", "se", "inside", "checkpoints"],
                     [[name, c["coverage"], c["se"], c["inside"], c["checkpoints"]] for name, c in by.items()],
                     "In-sample coverage by predictor (the scored seed is in the fit; binomial SE)")
    tables = [coverage]
    if "band_coverage_nontrivial" in held:
        tables.insert(0, Table(["measure", "value"], [[k, v] for k, v in held.items() if k not in ("protocol", "by_dataset")], "Held-out scores"))
        columns = ["band_coverage_nontrivial", "nontrivial_checkpoints", "band_width", "trivial_band_width", "mean_curve_coverage", "mean_curve_width"]
        tables.insert(1, Table(["dataset", *columns], [[name, *(d[c] for c in columns)] for name, d in held.get("by_dataset", {}).items()],
                               "Held-out scores by data set"))
    if (folder / "comparison.csv").is_file():
        tables.append(_csv_table(folder / "comparison.csv", "S3T vs SISA vs full LoRA (same data and budget)"))
    return Section("Validation against real fine-tuning runs", paragraphs=paragraphs, checks=checks, tables=tables,
                   figures=_figures(folder, data.get("figures", [])))


DELETION_CURVES_DIR = "deletion-curves"


def deletion_curves_section(ctx: ReportContext) -> "Section | None":
    """Section from ``<out>/deletion-curves/deletion_curves.json`` (``s3t deletion-curves``); ``None`` when there is none."""
    found = _summary(ctx, DELETION_CURVES_DIR, "deletion_curves.json")
    if found is None:
        return None
    folder, summary = found
    config = summary["config"]
    paragraphs = [f"{config['model']} on {', '.join(d['dataset'] for d in summary['datasets'])}: m = {config['shards']}, "
                  f"L = {config['slices']}, B in {config['budgets']} ({config['selection']}), {config['epochs']} epoch(s), seeds "
                  f"{config['seeds']}; {config['streams']} {config['prior']} deletion streams per seed from cached logits; SISA and "
                  f"full fine-tuning retrained for real at {config['retrain_streams']} stream(s) per seed."]
    checks, rows = [], []
    for d in summary["datasets"]:
        clean = max(b["accuracy_nothing_deleted"] for b in d["s3t"].values())
        checks.append(Check(f"{d['dataset']}: S3T with nothing deleted within 0.05 of full fine-tuning",
                            clean >= d["full_accuracy_nothing_deleted"] - 0.05, f"{clean:.3f} vs {d['full_accuracy_nothing_deleted']:.3f}"))
        checks += [Check(f"{d['dataset']}: {name.replace('_', ' ')}", bool(ok), "") for name, ok in d["checks"].items()]
        rows += [[d["dataset"], b["method"], b["accuracy_nothing_deleted"], b["requests_until_every_shard_dead"],
                  d["cost_at_end_example_passes"][b["method"]]] for b in d["s3t"].values()]
        rows += [[d["dataset"], method, r["accuracy"][-1], None, d["cost_at_end_example_passes"][method]] for method, r in d["retrained"].items()]
    table = Table(["dataset", "method", "accuracy", "requests until every shard is dead", "training cost at the end (example-passes)"],
                  rows, "Methods side by side (S3T: nothing deleted; retrained methods: at the last real retraining)")
    paragraphs.append(f"Reproduce: s3t deletion-curves --size {summary.get('size', 'full')} --out {Path(ctx.out_dir).name}/{DELETION_CURVES_DIR}")
    return Section("Accuracy and cost against deletions: S3T, SISA, full fine-tuning", paragraphs=paragraphs, checks=checks,
                   tables=[table], figures=_figures(folder, [summary["figure"]]))
