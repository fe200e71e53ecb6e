"""``s3t validate``: the simulator against real fine-tuning runs (see :mod:`analysis.realruns`)."""
from __future__ import annotations

import argparse

from analysis.commands.arguments import check_model, show_progress
from s3t_train.backends import add_backend_arguments, executor_from_args


MAX_SEEDS = 100  # each seed trains a full set of systems: 100 is days of work already


def register(subparsers: "argparse._SubParsersAction") -> argparse.ArgumentParser:
    """Add ``validate`` to the ``s3t`` parser."""
    parser = subparsers.add_parser(
        "validate",
        help="train real S3T systems, replay deletion streams, score held-out predictions and the predicted bands",
        description="Train S3T systems (MiniLM + grouped LoRA) on SST-2 and AG News, measure f(k) over seeds, "
        "replay seeded deletion streams (uniform and one skewed prior) and report the share of checkpoints "
        "inside the simulator's 95% band, and S3T vs SISA vs full LoRA. Writes CSV, JSON and figures.",
    )
    parser.add_argument("--size", choices=("small", "full", "tiny"), default="full",
                        help="small: under 5 min on 2 cores; full (default): 3 x 3 shards x slices, 720 examples, 4 seeds; tiny: the random test model, seconds")
    parser.add_argument("--out", default="out/validation", help="output folder (default out/validation); trained runs are kept in OUT/runs and reused")
    parser.add_argument("--data-dir", default=None, help="folder holding the data sets (default: shared/data beside the project folder, whatever the current folder)")
    parser.add_argument("--datasets", nargs="+", default=None, metavar="NAME", help="data set folders under --data-dir (default sst2 agnews)")
    parser.add_argument("--model", default=None, help="model: minilm (default), tiny, a hub name or a local path")
    parser.add_argument("--seeds", type=int, default=None, metavar="N", help="training seeds 0..N-1 (at least 3; held-out scoring needs 4)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the deletion streams and Monte Carlo bands (default 0)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads per process (default 1: fastest for these small matrices)")
    parser.add_argument("--workers", type=int, default=None,
                        help="processes that train and evaluate the systems in parallel (default: the cores, at most 4; "
                        "1 with --backend ray or a GPU)")
    parser.add_argument("--device", default="cpu", help="training device of every run: cpu (default), cuda or cuda:N")
    parser.add_argument("--json", action="store_true", help="print the summary (coverage, checkpoints, ...) as JSON")
    parser.add_argument("--progress", action="store_true", default=None,
                        help="show progress bars even when stderr is not a terminal")
    add_backend_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Train, replay and compare; write the files and print the coverage summary."""
    import dataclasses
    from pathlib import Path

    from analysis.realruns.compare import run_validation
    from analysis.realruns.experiment import VALIDATION_SIZES, ValidationConfig
    from analysis.realruns.figures import write_validation_outputs
    from s3t_sim.output import print_result
    from s3t_sim.checks import check_int, check_output_path
    from s3t_train.commands import check_device_available

    check_output_path("--out", args.out)
    overrides = {}
    if args.data_dir is not None:
        overrides["data_dir"] = args.data_dir
    if args.datasets is not None:
        overrides["datasets"] = tuple(args.datasets)
    if args.model is not None:
        overrides["model"] = args.model
    if args.seeds is not None:
        overrides["seeds"] = tuple(range(check_int("--seeds", args.seeds, 3, MAX_SEEDS)))
    if args.threads is not None:
        overrides["threads"] = check_int("--threads", args.threads, 1, 1024)
    if args.workers is not None:
        overrides["workers"] = check_int("--workers", args.workers, 1, 64)
    overrides["seed"] = check_int("--seed", args.seed, 0)
    overrides["device"] = args.device
    config = ValidationConfig(**{**dataclasses.asdict(VALIDATION_SIZES[args.size]), **overrides})
    check_device_available(config.device)
    for name in config.datasets:
        if not (Path(config.data_dir) / name).is_dir():
            raise FileNotFoundError(f"data set folder not found: {Path(config.data_dir) / name} (see --data-dir and --datasets)")
    check_model(config.model)  # before anything is written: a failed start leaves no output folder
    result = run_validation(config, args.out, executor_from_args(args), progress=show_progress(args))
    result.summary["size"] = args.size
    write_validation_outputs(result, args.out)
    print_result(result.summary, args.json, lambda summary: _text(summary, args.out))
    return 0


def _text(summary: dict, out: str) -> str:
    held = summary["heldout"]
    if "skipped" in held:
        lines = [f"held out: skipped ({held['skipped']})"]
    else:
        lines = [f"held out ({held['protocol']}):",
                 f"  mean curve: coverage {held['mean_curve_coverage']:.3f} +- {held['mean_curve_coverage_se']:.3f} of "
                 f"{held['mean_curve_checkpoints']} checkpoints, mean width {held['mean_curve_width']:.3f}",
                 f"  one-stream band: coverage {held['band_coverage_nontrivial']:.3f} +- {held['band_coverage_nontrivial_se']:.3f} of "
                 f"{held['nontrivial_checkpoints']} non-trivial checkpoints ({held['band_coverage']:.3f} of all {held['checkpoints']}; "
                 f"{held['independent_streams']} streams), width {held['band_width']:.3f} vs trivial {held['trivial_band_width']:.3f}",
                 f"  horizon average: bias {held['horizon_bias']:+.3f}, planner mean f(k) {held['planner_mean_f_horizon_bias']:+.3f}, "
                 f"alive vote {held['planner_alive_vote_horizon_bias']:+.3f}",
                 *[f"  {name}: band coverage {d['band_coverage_nontrivial']:.3f} of {d['nontrivial_checkpoints']} non-trivial checkpoints, "
                   f"width {d['band_width']:.3f} vs trivial {d['trivial_band_width']:.3f}; mean curve coverage {d['mean_curve_coverage']:.3f}, "
                   f"width {d['mean_curve_width']:.3f}" for name, d in held["by_dataset"].items()],
                 "in-sample diagnostics:"]
    lines += [f"coverage {summary['coverage']:.3f} of {summary['checkpoints']} checkpoints inside the "
             f"{int(summary['level'] * 100)}% band of '{summary['predictor']}' (target {summary['target']:.0%})"]
    lines += [f"  {name:32s} coverage {c['coverage']:.3f} +- {c['se']:.3f} ({c['inside']}/{c['checkpoints']})"
              for name, c in summary["coverage_by_predictor"].items()]
    phases = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in summary["phase_seconds"].items())
    lines.append(f"results in {out} ({summary['seconds']:.0f} s; {phases})")
    return "\n".join(lines)
