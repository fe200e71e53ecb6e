"""``s3t calibrate``: pilot runs -> a performance model file for ``s3t simulate`` and ``s3t plan`` (``--performance FILE``).

Each pilot is a trained S3T run folder (``s3t train``, or ``OUT/runs/<data>/seed<i>/s3t`` of
``s3t validate``), one per training seed, all of one configuration. Every prefix-tree node
is evaluated on the held-out examples; f(k) is the mean accuracy with k active groups per
seed, averaged over seeds with a Student-t interval (S - 1 degrees of freedom, S >= 3) and
the between-seed spread; f(0) is chance (a dead shard leaves the vote). The CSV columns are
``k,examples_seen,accuracy,se,between_seed_sd,ci_low,ci_high,seeds,eval_examples``. The
summary also gives ``saturating:f0,fmax,scale`` fitted by least squares to f(k) against the
examples the served prefix has seen (f0 = chance held fixed), with the fit's standard errors,
for planning at other shard sizes.
"""
from __future__ import annotations

import argparse


def register(subparsers: "argparse._SubParsersAction") -> argparse.ArgumentParser:
    """Add ``calibrate`` to the ``s3t`` parser."""
    parser = subparsers.add_parser(
        "calibrate",
        help="pilot runs (3+ training seeds) -> a measured f(k) file with its uncertainty for --performance",
        description="Evaluate every prefix of 3 or more trained pilot runs (one per training seed) and write the "
        "measured performance model f(k) with its t-interval over seeds as a CSV that `s3t simulate` and "
        "`s3t plan` read with --performance FILE.",
    )
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR", help="trained S3T run folders, one per training seed (at least 3)")
    parser.add_argument("--out", required=True, help="performance model file to write (CSV)")
    parser.add_argument("--eval-limit", type=int, default=300, help="held-out examples to evaluate on (default 300)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the held-out subsample (default 0)")
    parser.add_argument("--level", type=float, default=0.95, help="interval level over seeds (default 0.95)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(func=run)
    return parser


def saturating_fit(examples_seen, accuracy, chance: float) -> dict:
    """Least-squares ``f(x) = chance + (fmax - chance)(1 - exp(-x / scale))`` over ``x > 0``;
    returns ``fmax, scale`` with standard errors from the fit's covariance and the ``spec`` string."""
    import warnings

    import numpy as np
    from scipy.optimize import OptimizeWarning, curve_fit

    x, y = np.asarray(examples_seen, dtype=float), np.asarray(accuracy, dtype=float)
    keep = x > 0
    if keep.sum() < 2:
        raise ValueError("a saturating fit needs at least 2 prefix lengths k >= 1 (L >= 2)")

    def curve(v, fmax, scale):
        return chance + (fmax - chance) * -np.expm1(-v / scale)

    with warnings.catch_warnings():  # two points, two parameters: an exact fit without a covariance (se nan)
        warnings.simplefilter("ignore", OptimizeWarning)
        (fmax, scale), cov = curve_fit(curve, x[keep], y[keep], p0=(max(y.max(), chance + 1e-3), x[keep].mean()),
                                       bounds=([chance, 1e-9], [1.0, np.inf]))
    se = np.sqrt(np.diag(cov)) if keep.sum() > 2 and np.all(np.isfinite(cov)) else np.full(2, np.nan)
    return {"fmax": float(fmax), "fmax_se": float(se[0]), "scale": float(scale), "scale_se": float(se[1]),
            "spec": f"saturating:{chance:.6g},{fmax:.6g},{scale:.6g}"}


def run(args: argparse.Namespace) -> int:
    """Evaluate the pilots, write the CSV and print the summary."""
    from pathlib import Path

    from analysis.realruns.experiment import measure_performance, prefix_logits, write_performance_csv
    from s3t_sim.checks import check_int, check_output_path, check_real
    from s3t_sim.output import print_result
    from s3t_train.evaluation import eval_dataset
    from s3t_train.run import S3TRun

    check_output_path("--out", args.out, folder=False)
    eval_limit = check_int("eval-limit", args.eval_limit, 10)
    level = check_real("level", args.level, 0.5, 1.0, high_inclusive=False)
    seed = check_int("seed", args.seed, 0)
    if len(args.runs) < 3:
        raise ValueError(f"runs must name at least 3 pilot run folders (one per training seed); got {len(args.runs)}")
    logits, labels, seeds, shapes, sizes = [], [], [], set(), set()
    for folder in args.runs:
        run_ = S3TRun(folder)
        try:
            eval_set = eval_dataset(run_, limit=eval_limit, seed=seed)
            logits.append(prefix_logits(run_, eval_set.texts))
            labels.append(eval_set.labels)
            seeds.append(run_.config.training.seed)
            shapes.add(tuple(run_.sequences.shape))
            sizes.add(len(run_.deletions.trained_location) / (run_.sequences.shape[0] * run_.sequences.shape[2]))
        finally:
            run_.close()
    if len(shapes) > 1:
        raise ValueError(f"runs must share one configuration (m, B, L); got {sorted(shapes)}")
    per_slice = float(sum(sizes) / len(sizes))
    measured = measure_performance(logits, labels, seeds, level)
    path = write_performance_csv(Path(args.out), measured, per_slice)
    summary = {"file": str(path), "pilots": len(seeds), "seeds": seeds, "level": level, "examples_per_slice": per_slice,
               "eval_examples": measured["eval_examples"],
               "f": [{"k": int(k), "accuracy": float(a), "ci_low": float(lo), "ci_high": float(hi)}
                     for k, a, lo, hi in zip(measured["k"], measured["accuracy"], measured["low"], measured["high"])],
               "saturating": saturating_fit(measured["k"] * per_slice, measured["accuracy"], float(measured["accuracy"][0]))}
    print_result(summary, args.json, _text)
    return 0


def _text(summary: dict) -> str:
    lines = [f"f(k) from {summary['pilots']} pilot seeds {summary['seeds']} on {summary['eval_examples']} held-out examples "
             f"({int(summary['level'] * 100)}% t-interval over seeds):"]
    lines += [f"  k={row['k']}: {row['accuracy']:.4f} [{row['ci_low']:.4f}, {row['ci_high']:.4f}]" for row in summary["f"]]
    fit = summary["saturating"]
    lines.append(f"saturating fit: {fit['spec']} (fmax se {fit['fmax_se']:.3g}, scale se {fit['scale_se']:.3g} examples)")
    lines.append(f"wrote {summary['file']}: use it with s3t simulate/plan --performance {summary['file']}")
    return "\n".join(lines)
