"""``s3t plan``: rank feasible (m, L, B, selection) settings for a data set and a deletion load."""
from __future__ import annotations

import argparse

from analysis.commands.arguments import add_progress_flag, int_list, name_list, show_progress, str_list
from s3t_train.backends import add_backend_arguments, executor_from_args


CONFIG_FLAGS = {  # argument -> PlanConfig field
    name: name for name in (
        "dataset_size", "deletions_per_day", "prior", "horizon_days", "sample_pass_cost", "epoch_cost", "cost_unit",
        "epochs", "performance", "criterion", "shards", "slices", "budgets", "selections", "max_training_cost",
        "min_performance", "max_stop_probability", "rank_by", "seed", "retrain_days", "period_days", "devices",
        "seconds_per_sample_pass", "price_per_device_hour", "steady_samples", "model", "calibrate_run", "aggregate")
} | {"policy": "policies"}


def register(subparsers: "argparse._SubParsersAction") -> None:
    """Add ``plan`` to the ``s3t`` parser."""
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
    p.add_argument("--calibrate-run", default=None, metavar="RUN", help="a run folder trained by s3t train: its "
                   "timings.json sets the cost per sample-pass (device-hours) and --seconds-per-sample-pass")
    p.add_argument("--cost-unit", default="epoch-cost units", help="what one unit of --epoch-cost/--sample-pass-cost is, e.g. USD or device-hours")
    p.add_argument("--epochs", type=int, default=1, help="epochs per training stage (default: 1)")
    p.add_argument("--performance", default="saturating:0.5,0.9,5000",
                   help="f(k): 'saturating:f0,fmax,scale' (accuracy vs samples seen), 'linear:f0,fL' or a CSV with columns k,accuracy")
    p.add_argument("--aggregate", choices=("mean", "alive-vote"), default=None, help="served performance: mean f(k) over "
                   "all shards (dead ones count f(0); default) or alive-vote (mean over the live shards; L <= 14)")
    p.add_argument("--criterion", default="any-dead", help="what forces a retraining stop: any-dead, all-dead or prefix-below:F (default: any-dead)")
    p.add_argument("--shards", type=int_list, default=(1, 2, 4, 8, 16), help="m values to search (default: 1,2,4,8,16)")
    p.add_argument("--slices", type=int_list, default=(2, 4, 8, 12), help="L values to search, each <= 256; beyond 14 the served performance is Monte Carlo (default: 2,4,8,12)")
    p.add_argument("--budgets", type=int_list, default=(1, 2, 4, 8, 12), help="B values to search (default: 1,2,4,8,12)")
    p.add_argument("--selections", type=name_list, default=("cyclic",), help="selection methods to search, e.g. cyclic,bms (default: cyclic)")
    p.add_argument("--max-training-cost", type=float, default=None, help="training budget (same unit as the pass/epoch cost)")
    p.add_argument("--min-performance", type=float, default=None, help="minimum expected served performance over the horizon")
    p.add_argument("--max-stop-probability", type=float, default=None, help="maximum P(retraining stop within the horizon)")
    p.add_argument("--rank-by", choices=("cost", "stop", "performance"), default="cost", help="first sort key of feasible settings (default: cost)")
    p.add_argument("--top", type=int, default=10, help="rows of the ranking to print (default: 10)")
    p.add_argument("--seed", type=int, default=0, help="seed for random selections and per-point priors (default: 0)")
    p.add_argument("--policy", type=str_list, default=(), help="retraining policies for a year in production: retrain-dead-shard, "
                   "stop-and-retrain-all, background-repair, periodic-full (comma-separated; default: none)")
    p.add_argument("--retrain-days", type=float, default=None, help="days to retrain one shard (default: derived from --seconds-per-sample-pass)")
    p.add_argument("--period-days", type=float, default=30.0, help="period of periodic-full retraining in days (default: 30)")
    p.add_argument("--devices", type=int, default=None, help="devices for retraining all shards (default: one per shard)")
    p.add_argument("--seconds-per-sample-pass", type=float, default=None, help="device-seconds per sample-pass (gives device-hours)")
    p.add_argument("--price-per-device-hour", type=float, default=None, help="currency per device-hour (gives money)")
    p.add_argument("--steady-samples", type=int, default=4000, help="sampled first-hit times per shard kind for L > 14 (default: 4000)")
    p.add_argument("--model", default=None, help="model to train ('minilm', a Hugging Face name or a local path): "
                   "its layer count bounds L; settings beyond are skipped, saying why (default: no bound)")
    p.add_argument("--plan-file", default=None, metavar="TOML", help="a scenario in TOML (PlanConfig keys); flags given override it")
    p.add_argument("--figure", default=None, metavar="DIR", help="write the Pareto-front figure (PNG, PDF, CSV) into DIR")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_progress_flag(p)
    add_backend_arguments(p)  # --backend ray [--address ...]: one Ray task per L, results as the local run
    # flags the user did not give stay None, so that a plan file (or PlanConfig's default) applies
    p.set_defaults(func=run, **{dest: None for dest in CONFIG_FLAGS})


def run(args: argparse.Namespace) -> int:
    """Search, rank, draw the Pareto front (``--figure``) and print JSON or text."""
    from analysis import plan_figure, planning
    from analysis.plan_scenario import read_plan_file, scenario_config
    from analysis.production import production_table
    from s3t_sim.output import print_result
    from s3t_sim.checks import check_int, check_output_path

    top = check_int("--top", args.top, 1)
    if args.figure is not None:
        check_output_path("--figure", args.figure)
    overrides = {field: getattr(args, dest) for dest, field in CONFIG_FLAGS.items() if getattr(args, dest) is not None}
    config = scenario_config(read_plan_file(args.plan_file) if args.plan_file else {}, overrides)
    with executor_from_args({"backend": args.backend, "address": args.address, "ray_cpus": args.ray_cpus}) as executor:
        result = planning.plan(config, progress=show_progress(args), executor=executor if args.backend == "ray" else None)
    figure = plan_figure.pareto_figure(result, args.figure) if args.figure else None
    year_figure = plan_figure.year_pareto_figure(result, args.figure) if args.figure and result.best_year else None

    def text(_: dict) -> str:
        lines = [f"{len(result.rows)} settings searched in {result.seconds:.2f} s; {len(result.ranked)} feasible.\n"]
        for reason in sorted({s["reason"] for s in result.skipped}):
            lines.append(f"skipped {sum(s['reason'] == reason for s in result.skipped)} setting(s): {reason}")
        if result.ranked:
            lines.append(result.table(limit=top).to_text())
        if result.settings:
            lines.append("\n" + production_table(result.settings).to_text())
        lines.append("\n" + result.recommendation())
        if figure:
            lines.append(f"\nPareto front: {figure.png} ({figure.pdf.name}, {figure.csv.name})")
        if year_figure:
            lines.append(f"Pareto front of the years in production: {year_figure.png}")
        return "\n".join(lines)

    payload = dict(result.to_json(), figure=str(figure.png) if figure else None,
                   year_figure=str(year_figure.png) if year_figure else None) if args.json else {}
    print_result(payload, args.json, text)
    return 0
