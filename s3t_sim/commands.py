"""Sub-commands of ``s3t`` contributed by this package (see ``analysis.cli``)."""
from __future__ import annotations

import argparse

from s3t_sim.checks import check_int, check_memory, check_real
from s3t_sim.montecarlo.result import CHUNK_ELEMENTS
from s3t_sim.output import print_result
from s3t_sim.priors import parse_prior
from s3t_sim.selection.describe import describe_selection, format_selection
from s3t_sim.selection.registry import select_sequences
from s3t_sim.simulation_report import format_simulation_report, simulation_report


def register(subparsers: "argparse._SubParsersAction") -> None:
    """Add this package's sub-commands to the ``s3t`` parser."""
    _register_simulate(subparsers)
    _register_select(subparsers)


# --------------------------------------------------------------------------------------
# s3t select
# --------------------------------------------------------------------------------------
SELECT_METHODS = "cyclic, consecutive, strided, random, bms, full, optimal, local-search, sisa"


def _register_select(subparsers: "argparse._SubParsersAction") -> None:
    parser = subparsers.add_parser(
        "select",
        help="choose the B slice orders of a shard and judge them",
        description="Choose B distinct orders of a shard's L slices with a selection method, and print "
        "them with their prefix-tree training cost and objective values (expected served prefix, "
        "expected requests to shard death; exact for L <= 16, Monte Carlo beyond).",
    )
    parser.add_argument("--slices", "-L", type=int, required=True, help="slices per shard L")
    parser.add_argument("--budget", "-B", type=int, required=True, help="sequences per shard B, 1 <= B <= L!")
    parser.add_argument("--method", default="cyclic", help=f"selection method: {SELECT_METHODS} (default cyclic)")
    parser.add_argument(
        "--prior", default="uniform", help="deletion prior: uniform, zipf:S, exponential:R, pareto:A or a CSV path"
    )
    parser.add_argument("--points-per-slice", type=int, default=100, help="points per slice for per-point laws")
    parser.add_argument(
        "--assignment", default="random", help="points to slices for per-point laws: random (default) or sorted"
    )
    parser.add_argument("--prior-seed", type=int, default=0, help="seed of the random point assignment")
    parser.add_argument("--horizon", type=float, default=100.0, help="BMS score horizon t (default 100)")
    parser.add_argument(
        "--requests", type=int, default=None, help="requests R for the objective (default: the horizon, rounded)"
    )
    parser.add_argument(
        "--shards", type=int, default=1, help="m: the shard receives 1/m of the requests (default 1)"
    )
    parser.add_argument("--seed", type=int, default=None, help="seed for random, local-search and Monte Carlo")
    parser.add_argument("--runs", type=int, default=20000, help="Monte Carlo runs when L > 16 (default 20000)")
    parser.add_argument("--weight", default=None, help="bms: matching weight, score (default) or objective")
    parser.add_argument("--start", default=None, help="local-search: starting method (default bms)")
    parser.add_argument("--iterations", type=int, default=None, help="local-search: moves to try (default 2000)")
    parser.add_argument("--max-sets", type=int, default=None, help="optimal: most sets to search (default 1e7)")
    parser.add_argument("--json", action="store_true", help="print a JSON object instead of text")
    parser.set_defaults(func=_run_select)


def _check_select_size(args: argparse.Namespace) -> None:
    """Check the sizes of ``s3t select`` and refuse what cannot fit in memory or time."""
    L = check_int("--slices", args.slices, 1)
    B = check_int("--budget", args.budget, 1)
    check_int("--shards", args.shards, 1)
    runs = check_int("--runs", args.runs, 2)
    per_slice = check_int("--points-per-slice", args.points_per_slice, 1)
    check_real("--horizon", args.horizon, 0.0, low_inclusive=False)
    if args.requests is not None:
        check_int("--requests", args.requests, 1)
    check_memory("--slices x --budget", 8 * 4 * B * L)
    check_memory("--slices x --points-per-slice", 8 * 2 * L * per_slice)
    check_memory("--runs x --slices", 8 * 4 * runs * (1 if L <= 16 else L))
    check_work("--runs x --slices x --budget", runs * L * B if L > 16 else 0)
    if args.max_sets is not None:
        check_int("--max-sets", args.max_sets, 1, 10**8)  # ten times the default 1e7
    if args.iterations is not None:
        moves = check_int("--iterations", args.iterations, 0)
        # a move re-scores the B orders over the 2^L slice subsets: about 1.5e-7 s per unit measured
        seconds = 1.5e-7 * moves * B * 2 ** min(L, 16)
        if seconds > 900:
            raise ValueError(f"--iterations x --budget x 2^--slices too large: about {seconds / 60:.3g} minutes of "
                             "local search, above the 15-minute limit; lower --iterations")


def _run_select(args: argparse.Namespace) -> int:
    _check_select_size(args)
    L = check_int("--slices", args.slices, 1)
    m = check_int("--shards", args.shards, 1)
    prior = parse_prior(
        args.prior, 1, L, points_per_slice=args.points_per_slice, assignment=args.assignment, seed=args.prior_seed
    )[0]
    options = {
        name: value
        for name, value in (
            ("weight", args.weight),
            ("start", args.start),
            ("iterations", args.iterations),
            ("max_sets", args.max_sets),
        )
        if value is not None
    }
    requests = args.requests if args.requests is not None else max(1, round(args.horizon))
    if args.method in ("optimal", "local-search"):
        options.update(requests=requests, shard_share=1.0 / m)
    sequences = select_sequences(args.method, L, args.budget, prior, seed=args.seed, horizon=args.horizon, **options)
    description = describe_selection(sequences, prior, requests, shard_share=1.0 / m, runs=args.runs, seed=args.seed)
    description = {"method": args.method, "prior_spec": args.prior, "horizon": args.horizon, **description}
    heading = f"s3t select: method={args.method} L={L} B={args.budget} prior={args.prior} horizon={args.horizon:g}"
    print_result(description, args.json, lambda d: heading + "\n" + format_selection(d), indent=None)
    return 0


# --------------------------------------------------------------------------------------
# s3t simulate
# --------------------------------------------------------------------------------------
def _register_simulate(subparsers: "argparse._SubParsersAction") -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="Monte Carlo deletion simulator with the exact laws side by side",
        description="Simulate streams of deletion requests against an S3T system (m shards x L slices, "
        "B sequences per shard) and report the request count at failure: Monte Carlo mean ± SE, the exact "
        "value where one exists, the paper's bound forms, and SISA for comparison.",
    )
    add = parser.add_argument
    add("--shards", "-m", type=int, default=20, help="shards m (default 20)")
    add("--slices", "-L", type=int, default=16, help="slices per shard L (default 16)")
    add("--budget", "-B", type=int, default=16, help="sequences per shard B (default 16)")
    add("--selection", default="cyclic",
        help="sequence selection: cyclic/consecutive, strided, random, bms, ... (default cyclic)")
    add("--prior", default="uniform", help="uniform, zipf:S, exponential:R, pareto:A or a CSV of per-slice weights")
    add("--points-per-slice", type=int, default=100, help="points per slice for per-point laws (default 100)")
    add("--assignment", default="random", help="points to slices for per-point laws: random (default) or sorted")
    add("--prior-seed", type=int, default=0, help="seed of the random point assignment (default 0)")
    add("--criterion", default="all-dead", help="all-dead (default), any-dead, prefix-below:F, performance-below:X")
    add("--performance", default="saturating",
        help="f(k) for performance-below: saturating[:f0,fL,tau], linear[:f0,fL] or a CSV (k,accuracy)")
    add("--request-model", default="iid", help="iid (with replacement, default) or without-replacement")
    add("--points", type=int, default=None, help="data points N without replacement (default m*L*points-per-slice)")
    add("--runs", type=int, default=10000, help="Monte Carlo runs (default 10000)")
    add("--seed", type=int, default=0, help="random seed (default 0)")
    add("--served-at", default=None, help="comma-separated request counts: also report the served prefix there")
    progress = parser.add_mutually_exclusive_group()
    progress.add_argument("--progress", dest="progress", action="store_true", default=None,
                          help="always show a progress bar (default: when stderr is a terminal)")
    progress.add_argument("--no-progress", dest="progress", action="store_false", help="never show a progress bar")
    add("--json", action="store_true", help="print one JSON object instead of the table")
    parser.set_defaults(func=_run_simulate)


# Random draws a command may plan (runs x shards x slices): about 15 minutes of one core.
MAX_DRAWS = 10**11


def check_work(names: str, draws: int) -> None:
    """Refuse, before starting, a Monte Carlo job of more than :data:`MAX_DRAWS` random draws."""
    if draws > MAX_DRAWS:
        shown = f"{draws:.3g}" if draws < 10**300 else "more than 1e300"
        raise ValueError(f"{names} too large: {shown} random draws, above the limit of {MAX_DRAWS:.0e} "
                         "(about 15 minutes of one core); lower them")


def _check_simulate_size(args: argparse.Namespace) -> None:
    """Estimate memory and time of ``s3t simulate`` from its sizes and refuse what cannot fit."""
    m = check_int("m (--shards)", args.shards, 1)  # the names simulation_report uses
    L = check_int("L (--slices)", args.slices, 1)
    B = check_int("B (--budget)", args.budget, 1)
    runs = check_int("runs", args.runs, 2)
    per_slice = check_int("--points-per-slice", args.points_per_slice, 1)
    points = m * L * per_slice if args.points is None else check_int("--points", args.points, 1)
    served = len((args.served_at or "").split(","))
    # the system's sequences and prefix trees, per-point prior weights, the stream's points,
    # and per run the counts (plus the SISA cost) and the served prefixes
    parts = simulate_memory(m, L, B, runs, points, served)
    check_memory(max(parts, key=parts.get), sum(parts.values()))
    check_work("--runs x --shards x --slices", runs * m * L)


def simulate_memory(m: int, L: int, B: int, runs: int, points: int, served: int) -> dict[str, int]:
    """Bytes ``s3t simulate`` may hold, by the flags that set them: the sequences and prefix
    trees, the (per-point) prior, per run the counts and SISA cost and the served prefixes, and
    the working set of one chunk of runs (``CHUNK_ELEMENTS`` int64/float64 arrays, four)."""
    return {
        "--shards x --slices x --budget": 8 * 4 * m * B * L,
        "--shards x --slices x --points-per-slice (or --points)": 8 * 2 * (m * L + points),
        "--runs (x --served-at x --shards)": 8 * runs * (3 + served * m),
        "one chunk of runs": 4 * 8 * CHUNK_ELEMENTS,
    }


def _run_simulate(args: argparse.Namespace) -> int:
    _check_simulate_size(args)
    report = simulation_report(
        m=args.shards,
        L=args.slices,
        B=args.budget,
        selection=args.selection,
        prior=args.prior,
        criterion=args.criterion,
        performance=args.performance,
        request_model=args.request_model,
        points=args.points,
        runs=args.runs,
        seed=args.seed,
        served_at=args.served_at,
        points_per_slice=args.points_per_slice,
        assignment=args.assignment,
        prior_seed=args.prior_seed,
        progress=args.progress,
    )
    print_result(report, args.json, format_simulation_report, indent=None)
    return 0
