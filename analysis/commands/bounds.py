"""``s3t bounds``: the deletion-rate bounds and the performance-gap formula on a grid."""
from __future__ import annotations

import argparse

from analysis.commands.arguments import add_progress_flag, int_list, show_progress


def register(subparsers: "argparse._SubParsersAction") -> None:
    """Add ``bounds`` to the ``s3t`` parser."""
    p = subparsers.add_parser(
        "bounds",
        help="check the deletion-rate bounds and the performance-gap formula on a grid",
        description="Exact deletion rate, Monte Carlo estimate (95% CI) and every bound form over a grid of m, L, B; "
        "each bound classified as holds (with its constant: analytic or numerical), grows along a ray, fails or "
        "undecided, from the grid constant max exact/bound and the exact ratio along rays far beyond the grid; "
        "the S3T-SISA performance gap against its closed form; budget saturation at B = L.",
    )
    p.add_argument("--grid", default="default", help="preset (tiny, default, wide) or 'm=2,4,8;L=2,4,8;B=1,2,4,8' (default: default)")
    p.add_argument("--prior", default="uniform", help="uniform, zipf:S, exponential:R, pareto:A or a CSV file (default: uniform)")
    p.add_argument("--criterion", default="all-dead", help="all-dead, any-dead or prefix-below:F (default: all-dead)")
    p.add_argument("--selection", default="cyclic", help="sequence selection method (default: cyclic)")
    p.add_argument("--runs", type=int, default=2000, help="Monte Carlo runs per grid point (default: 2000)")
    p.add_argument("--seed", type=int, default=0, help="seed; grid point i uses seed + i (default: 0)")
    p.add_argument("--bound", action="append", default=[], metavar="EXPR",
                   help="extra bound g(m, L, B) as an arithmetic expression, e.g. 'm*L*log(m*L)' (repeatable)")
    p.add_argument("--gap-slices", type=int, default=8, help="L of the performance-gap table (default: 8, at most 16)")
    p.add_argument("--gap-budgets", type=int_list, default=(2, 4, 8), help="budgets B' of the gap table (default: 2,4,8)")
    p.add_argument("--gap-requests", type=int_list, default=(1, 2, 4, 8, 16, 32), help="request counts r (default: 1,2,4,8,16,32)")
    p.add_argument("--gap-reading", choices=("spec", "paper", "both"), default="both",
                   help="closed form ζ(1−ζ^{B'−1}) (spec), ζ(1−ζ^{B'}) (paper) or both (default: both)")
    p.add_argument("--gap-request-model", choices=("fixed", "poisson", "both"), default="both",
                   help="exactly r requests (fixed), Poisson(r) requests (poisson: slices hit independently) or both "
                   "(default: both)")
    p.add_argument("--no-gap", action="store_true", help="skip the performance-gap table")
    p.add_argument("--no-saturation", action="store_true", help="skip the budget-saturation table")
    p.add_argument("--out", default=None, help="folder for CSV files of every table (optional)")
    p.add_argument("--latex", default=None, metavar="FILE",
                   help="also write the tables as LaTeX (booktabs: \\usepackage{booktabs}): exact rates, bound constants and "
                   "verdicts, performance-gap summary, saturation (optional)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    add_progress_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Compute every table, write the CSVs (``--out``) and print JSON or text."""
    from pathlib import Path

    from analysis import bounds
    from analysis.expression import parse_bound
    from s3t_sim.output import print_result, write_text_atomic
    from s3t_sim.checks import check_int, check_output_path

    runs = check_int("--runs", args.runs, 2)
    check_int("--seed", args.seed, 0)
    if args.out is not None:
        check_output_path("--out", args.out)
    if args.latex is not None:
        check_output_path("--latex", args.latex, folder=False)
    grid = bounds.parse_grid(args.grid)
    points = grid.points()
    for text in args.bound:  # refuse unsafe, malformed or undefined expressions before any work
        parse_bound(text).check_positive(points)
    _check_size(args, runs, points)
    result = bounds.deletion_rate_grid(grid, args.prior, args.criterion, args.selection, args.runs, args.seed,
                                       progress=show_progress(args))
    checks = bounds.check_bound_forms(result, args.bound)
    tables = {"grid": result.table(), "checks": bounds.checks_table(checks)}
    gap_summaries = {}
    if not args.no_gap:
        readings = bounds.GAP_READINGS if args.gap_reading == "both" else (args.gap_reading,)
        models = bounds.GAP_REQUEST_MODELS if args.gap_request_model == "both" else (args.gap_request_model,)
        for model in models:
            for reading in readings:
                table = bounds.performance_gap(args.gap_slices, args.gap_budgets, args.gap_requests, args.selection,
                                               reading, model)
                tables[f"gap_{model}_{reading}"] = table
                gap_summaries[f"{model}_{reading}"] = bounds.gap_summary(table)
    if not args.no_saturation:
        tables["saturation"] = bounds.budget_saturation(runs=args.runs, seed=args.seed, selection=args.selection)
    if args.out:
        for name, table in tables.items():
            write_text_atomic(Path(args.out) / f"bounds_{name}.csv", table.to_csv())
    if args.latex:
        write_text_atomic(Path(args.latex), _latex(tables, gap_summaries))
    payload = {
        "grid": str(grid), "prior": args.prior, "criterion": args.criterion, "selection": args.selection,
        "runs": args.runs, "seed": args.seed,
        "points": result.rows,
        "checks": tables["checks"].to_records(),  # the keys of bounds_checks.csv
        "check_summaries": {c.name: c.summary() for c in checks},
        "gap": gap_summaries,
        "saturation": tables["saturation"].to_records() if "saturation" in tables else None,
    }
    print_result(payload, args.json, lambda _: _text(args, grid, tables, checks, gap_summaries))
    return 0


LATEX_CHECK_COLUMNS = ["form", "expression", "bounds", "verdict", "constant", "constant_source", "grid_constant",
                       "fit_constant_least_squares"]  # the rest of bounds_checks.csv is evidence, too wide for a page


def _latex(tables: dict, gap_summaries: dict) -> str:
    """The tables of exact rates, bound checks, the gap summary (the full gap tables stay in CSV) and saturation
    as booktabs tables labelled ``tab:bounds-<name>``."""
    from analysis.tables import Table

    chosen = {name: table for name, table in tables.items() if not name.startswith("gap_")}
    checks = tables["checks"]
    keep = [checks.columns.index(c) for c in LATEX_CHECK_COLUMNS]
    chosen["checks"] = Table(LATEX_CHECK_COLUMNS, [[row[i] for i in keep] for row in checks.rows], checks.title)
    if gap_summaries:
        chosen["gap"] = Table(
            ["request model", "reading", "cells", "closed form ≥ exact", "max excess", "worst violation"],
            [[key.split("_")[0], key.split("_")[1], s["informative_cells"], s["upper_bound_cells"], s["max_excess"],
              s["worst_violation"]] for key, s in gap_summaries.items()],
            "Performance gap: where the closed form bounds the exact S3T−SISA gap (cells with a nonzero gap)")
    order = [name for name in ("grid", "checks", "gap", "saturation") if name in chosen]
    return "% s3t bounds: needs \\usepackage{booktabs}\n" + "\n".join(chosen[name].to_latex(label=f"tab:bounds-{name}") for name in order)


def _check_size(args: argparse.Namespace, runs: int, points: list) -> None:
    """Estimate memory and time of the grid, gap and saturation tables; refuse what cannot fit."""
    from s3t_sim.checks import check_int, check_memory
    from s3t_sim.commands import check_work

    check_memory("--runs", 8 * 4 * runs)
    check_work("--runs x grid points x m x L", runs * sum(m * L for m, L, _ in points))
    if not args.no_gap:
        check_int("--gap-slices", args.gap_slices, 1, 16)
        for budget in args.gap_budgets:
            check_int("--gap-budgets", budget, 1)
        for r in args.gap_requests:
            check_int("--gap-requests", r, 1, 10**6)


def _text(args: argparse.Namespace, grid: object, tables: dict, checks: list, gap_summaries: dict) -> str:
    from analysis.tables import format_pairs, format_value

    lines = [f"Deletion rate on grid {grid}: prior {args.prior}, criterion {args.criterion}, selection {args.selection}, "
             f"{args.runs} Monte Carlo runs per point, seed {args.seed} (+ point index)\n",
             tables["grid"].to_text(),
             "\n" + tables["checks"].to_text()]
    lines += [f"- {c.name}: {c.summary()}" for c in checks]
    first = "B'"
    for key, s in gap_summaries.items():
        model, reading = key.split("_")
        lines.append(f"\nPerformance gap, {model} requests, {reading} reading (L={args.gap_slices}, "
                     f"r in {format_value(list(args.gap_requests))}): closed form is an upper bound in "
                     f"{s['upper_bound_cells']} of {s['informative_cells']} cells; max excess {format_value(s['max_excess'])}; "
                     f"worst violation {format_value(s['worst_violation'])}"
                     + (f" at {format_pairs(s['violations_at'], first, 'j')}" if s["violations_at"] else ""))
    if "saturation" in tables:
        lines.append("\n" + tables["saturation"].to_text())
    return "\n".join(lines)
