"""Sub-commands of ``s3t`` contributed by this package (see ``analysis.cli``):
``bounds``, ``plan``, ``figures``, ``report`` and ``validate``."""
from __future__ import annotations

import argparse


def register(subparsers: "argparse._SubParsersAction") -> None:
    """Add this package's sub-commands to the ``s3t`` parser."""
    _register_bounds(subparsers)
    _register_plan(subparsers)
    _register_figures(subparsers)
    _register_report(subparsers)
    from analysis.validate_cli import register_validate

    register_validate(subparsers)


def _progress_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="show progress bars (default: when stderr is a terminal)")


def _show_progress(args: argparse.Namespace) -> bool:
    import sys

    return sys.stderr.isatty() if args.progress is None else bool(args.progress)


def _int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers; got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one integer")
    return values


def _str_list(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(",") if v.strip())


# ---------------------------------------------------------------------------------------
def _register_bounds(subparsers) -> None:
    p = subparsers.add_parser(
        "bounds",
        help="check the deletion-rate bounds and the performance-gap formula on a grid",
        description="Exact deletion rate, Monte Carlo estimate (95% CI) and every bound form over a grid of m, L, B; "
        "fitted constants and a regression of exact/bound on log(mL); the S3T-SISA performance gap against its "
        "closed form; budget saturation at B = L.",
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
    p.add_argument("--gap-budgets", type=_int_list, default=(2, 4, 8), help="budgets B' of the gap table (default: 2,4,8)")
    p.add_argument("--gap-requests", type=_int_list, default=(1, 2, 4, 8, 16, 32), help="request counts r (default: 1,2,4,8,16,32)")
    p.add_argument("--gap-reading", choices=("spec", "paper", "both"), default="both",
                   help="closed form ζ(1−ζ^{B'−1}) (spec), ζ(1−ζ^{B'}) (paper) or both (default: both)")
    p.add_argument("--no-gap", action="store_true", help="skip the performance-gap table")
    p.add_argument("--no-saturation", action="store_true", help="skip the budget-saturation table")
    p.add_argument("--out", default=None, help="folder for CSV files of every table (optional)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    _progress_flag(p)
    p.set_defaults(func=run_bounds)


def run_bounds(args: argparse.Namespace) -> int:
    import json
    from dataclasses import asdict
    from pathlib import Path

    from analysis import bounds
    from analysis.expression import parse_bound
    from analysis.output import to_jsonable, write_text_atomic
    from s3t_sim.validation import check_int

    check_int("runs", args.runs, 2)
    check_int("seed", args.seed, 0)
    for text in args.bound:
        parse_bound(text)  # refuse unsafe or malformed expressions before any work
    grid = bounds.parse_grid(args.grid)
    result = bounds.deletion_rate_grid(grid, args.prior, args.criterion, args.selection, args.runs, args.seed,
                                       progress=_show_progress(args))
    fits = bounds.check_bound_forms(result, args.bound)
    tables = {"grid": result.table(), "fits": bounds.fits_table(fits)}
    gap_summaries = {}
    if not args.no_gap:
        readings = bounds.GAP_READINGS if args.gap_reading == "both" else (args.gap_reading,)
        for reading in readings:
            table = bounds.performance_gap(args.gap_slices, args.gap_budgets, args.gap_requests, args.selection, reading)
            tables[f"gap_{reading}"] = table
            gap_summaries[reading] = bounds.gap_summary(table)
    if not args.no_saturation:
        tables["saturation"] = bounds.budget_saturation(runs=args.runs, seed=args.seed, selection=args.selection)
    if args.out:
        for name, table in tables.items():
            write_text_atomic(Path(args.out) / f"bounds_{name}.csv", table.to_csv())
    if args.json:
        payload = {
            "grid": str(grid), "prior": args.prior, "criterion": args.criterion, "selection": args.selection,
            "runs": args.runs, "seed": args.seed,
            "points": result.rows,
            "fits": [dict(asdict(f), verdict=f.verdict()) for f in fits],
            "gap": gap_summaries,
            "saturation": tables["saturation"].to_records() if "saturation" in tables else None,
        }
        print(json.dumps(to_jsonable(payload), indent=2))
        return 0
    print(f"Deletion rate on grid {grid}: prior {args.prior}, criterion {args.criterion}, selection {args.selection}, "
          f"{args.runs} Monte Carlo runs per point, seed {args.seed} (+ point index)\n")
    print(tables["grid"].to_text())
    print("\n" + tables["fits"].to_text())
    for fit in fits:
        print(f"- {fit.name}: {fit.verdict()}")
        if fit.name.startswith("user") and fit.violations:
            print(f"  violated (exact > g) at {len(fit.violations)} grid point(s):")
            for v in fit.violations:
                print(f"    m={v['m']} L={v['L']} B={v['B']}: exact {v['exact']:.4g} > {v['bound']:.4g}")
        elif fit.name.startswith("user"):
            print("  never violated on the grid (exact <= g everywhere)")
    for reading, s in gap_summaries.items():
        print(f"\nPerformance gap, {reading} reading (L={args.gap_slices}): closed form is an upper bound in "
              f"{s['upper_bound_cells']} of {s['informative_cells']} cells; max excess {s['max_excess']:.4f}; "
              f"worst violation {s['worst_violation']:.4f} at (B', j) in {s['violations_at']}")
    if "saturation" in tables:
        print("\n" + tables["saturation"].to_text())
    return 0


# ---------------------------------------------------------------------------------------
def _register_plan(subparsers) -> None:
    p = subparsers.add_parser(
        "plan",
        help="rank feasible (m, L, B, selection) settings for a data set and a deletion load",
        description="Exact P(retraining stop within the horizon), expected days to the first stop, expected served "
        "performance and training cost (with prefix sharing) of every setting; constraints, ranking, Pareto front.",
    )
    p.add_argument("--dataset-size", type=int, default=100_000, help="N, samples in the training set (default: 100000)")
    p.add_argument("--deletions-per-day", type=float, default=2.0, help="deletion requests per day, Poisson arrivals (default: 2)")
    p.add_argument("--prior", default="uniform", help="how requests spread over slices: uniform, zipf:S, exponential:R, pareto:A, CSV (default: uniform)")
    p.add_argument("--horizon-days", type=float, default=30.0, help="planning horizon in days (default: 30)")
    cost = p.add_mutually_exclusive_group()
    cost.add_argument("--sample-pass-cost", type=float, default=None, help="cost of training on one sample once")
    cost.add_argument("--epoch-cost", type=float, default=None, help="cost of one epoch on the full set (default: 1)")
    p.add_argument("--epochs", type=int, default=1, help="epochs per training stage (default: 1)")
    p.add_argument("--performance", default="saturating:0.5,0.9,5000",
                   help="f(k): 'saturating:f0,fmax,scale' (accuracy vs samples seen), 'linear:f0,fL' or a CSV with columns k,accuracy")
    p.add_argument("--criterion", default="any-dead", help="what forces a retraining stop: any-dead, all-dead or prefix-below:F (default: any-dead)")
    p.add_argument("--shards", type=_int_list, default=(1, 2, 4, 8, 16), help="m values to search (default: 1,2,4,8,16)")
    p.add_argument("--slices", type=_int_list, default=(2, 4, 8, 12), help="L values to search, each <= 14 (default: 2,4,8,12)")
    p.add_argument("--budgets", type=_int_list, default=(1, 2, 4, 8, 12), help="B values to search (default: 1,2,4,8,12)")
    p.add_argument("--selections", type=_str_list, default=("cyclic",), help="selection methods to search, e.g. cyclic,bms (default: cyclic)")
    p.add_argument("--max-training-cost", type=float, default=None, help="training budget (same unit as the pass/epoch cost)")
    p.add_argument("--min-performance", type=float, default=None, help="minimum expected served performance over the horizon")
    p.add_argument("--max-stop-probability", type=float, default=None, help="maximum P(retraining stop within the horizon)")
    p.add_argument("--rank-by", choices=("cost", "stop", "performance"), default="cost", help="first sort key of feasible settings (default: cost)")
    p.add_argument("--top", type=int, default=10, help="rows of the ranking to print (default: 10)")
    p.add_argument("--seed", type=int, default=0, help="seed for random selections and per-point priors (default: 0)")
    p.add_argument("--figure", default=None, metavar="DIR", help="write the Pareto-front figure (PNG, PDF, CSV) into DIR")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _progress_flag(p)
    p.set_defaults(func=run_plan)


def run_plan(args: argparse.Namespace) -> int:
    import json

    from analysis import planning
    from analysis.output import to_jsonable
    from s3t_sim.validation import check_int

    top = check_int("top", args.top, 1)
    config = planning.PlanConfig(
        dataset_size=args.dataset_size, deletions_per_day=args.deletions_per_day, horizon_days=args.horizon_days,
        sample_pass_cost=args.sample_pass_cost,
        epoch_cost=args.epoch_cost if args.epoch_cost is not None or args.sample_pass_cost is not None else 1.0,
        epochs=args.epochs, performance=args.performance, prior=args.prior, criterion=args.criterion,
        shards=args.shards, slices=args.slices, budgets=args.budgets, selections=args.selections,
        max_training_cost=args.max_training_cost, min_performance=args.min_performance,
        max_stop_probability=args.max_stop_probability, rank_by=args.rank_by, seed=args.seed,
    )
    result = planning.plan(config, progress=_show_progress(args))
    figure = planning.pareto_figure(result, args.figure) if args.figure else None
    if args.json:
        payload = result.to_json()
        payload["figure"] = str(figure.png) if figure else None
        print(json.dumps(to_jsonable(payload), indent=2))
        return 0
    print(f"{len(result.rows)} settings searched in {result.seconds:.2f} s; {len(result.ranked)} feasible.\n")
    if result.ranked:
        print(result.table(limit=top).to_text())
    print("\n" + result.recommendation())
    if figure:
        print(f"\nPareto front: {figure.png} ({figure.pdf.name}, {figure.csv.name})")
    return 0


# ---------------------------------------------------------------------------------------
def _register_figures(subparsers) -> None:
    from_names = ("deletion_rate_vs_budget, deletion_rate_scaling, served_prefix_vs_requests, selection_under_skew, "
                  "failure_count_distribution, performance_gap, training_cost_vs_budget")
    p = subparsers.add_parser("figures", help="regenerate the paper-style figures (PNG, PDF and CSV each)",
                              description=f"Figures: {from_names}.")
    p.add_argument("--out", default="out/figures", help="output folder (default: out/figures)")
    p.add_argument("--only", type=_str_list, default=(), help="comma-separated figure names (default: all)")
    p.add_argument("--size", choices=("small", "default"), default="default", help="Monte Carlo runs and grid extent (default: default)")
    p.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    _progress_flag(p)
    p.set_defaults(func=run_figures)


def run_figures(args: argparse.Namespace) -> int:
    from analysis.figures import make_figures
    from s3t_sim.validation import check_int

    check_int("seed", args.seed, 0)
    for saved in make_figures(args.out, list(args.only), args.size, args.seed, progress=_show_progress(args)):
        print(f"{saved.name}: {saved.png}, {saved.pdf.name}, {saved.csv.name}")
    return 0


# ---------------------------------------------------------------------------------------
def _register_report(subparsers) -> None:
    p = subparsers.add_parser("report", help="run the checks, figures and a planning example; write report.html and report.md",
                              description="The main job: bound checks, key figures and a planning example on embedded "
                              "defaults, written as one self-contained HTML page and a Markdown file.")
    p.add_argument("--out", default="out", help="output folder (default: out)")
    p.add_argument("--size", choices=("small", "default"), default="default", help="small (quick check) or default")
    p.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    _progress_flag(p)
    p.set_defaults(func=run_report)


def run_report(args: argparse.Namespace) -> int:
    from analysis.report import build_report

    result = build_report(args.out, seed=args.seed, size=args.size, progress=_show_progress(args))
    held = sum(c.held for c in result.checks)
    print(f"{result.html} and {result.markdown} written in {result.seconds:.1f} s; {held} of {len(result.checks)} checks held.")
    for check in result.checks:
        if not check.held:
            print(f"  did not hold: {check.claim} ({check.detail})")
    return 0
