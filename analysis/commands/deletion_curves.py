"""``s3t deletion-curves``: the paper's main figure (accuracy and training cost against the
number of deletions) for S3T, SISA and full fine-tuning on a model and data set of your choice
(:mod:`analysis.realruns.deletion_experiment`)."""
from __future__ import annotations

import argparse

from analysis.commands.arguments import add_progress_flag, check_model, int_list, show_progress
from s3t_train.backends import add_backend_arguments, executor_from_args

SIZES = ("tiny", "small", "full")


def register(subparsers: "argparse._SubParsersAction") -> argparse.ArgumentParser:
    """Add ``deletion-curves`` to the ``s3t`` parser."""
    parser = subparsers.add_parser(
        "deletion-curves",
        help="train S3T (each budget), SISA and full fine-tuning; accuracy and retraining cost against deletions",
        description="Train S3T with B = 1..L, SISA (one model per shard, retrained from its checkpoint on a hit) and full "
        "fine-tuning (retrained on every request) on a data set and model; replay thousands of deletion streams from cached "
        "logits until every shard is dead, retrain SISA and full fine-tuning for real at a few request counts, and draw "
        "accuracy and cumulative training cost against the number of deletions (PNG, PDF, CSV, JSON).",
    )
    parser.add_argument("--size", choices=SIZES, default="full",
                        help="full (default): realistic, hours on a CPU (minutes on a GPU); small: MiniLM, minutes; "
                        "tiny: the random test model, seconds. Flags below override the size's values")
    parser.add_argument("--data", nargs="+", default=None, metavar="NAME",
                        help="data sets: folder names under --data-dir or paths (default: the size's, sst2 [agnews])")
    parser.add_argument("--data-dir", default=None, help="folder of named data sets (default: shared/data beside the project)")
    parser.add_argument("--model", default=None, help="minilm, tiny, a Hugging Face name or a local model folder")
    parser.add_argument("--out", default="out/deletion-curves", help="output folder (default out/deletion-curves); runs are kept in OUT/runs and reused")
    group = parser.add_argument_group("system and training")
    group.add_argument("--shards", "-m", type=int, default=None, help="shards m")
    group.add_argument("--slices", "-L", type=int, default=None, help="slices per shard L")
    group.add_argument("--budgets", "-B", type=int_list, default=None, help="budgets, comma-separated (default 1..L)")
    group.add_argument("--selection", choices=("cyclic", "bms"), default=None, help="sequence selection (default cyclic)")
    group.add_argument("--epochs", type=int, default=None, help="epochs per stage")
    group.add_argument("--train-limit", type=int, default=None, help="training examples (seeded subsample)")
    group.add_argument("--eval-limit", type=int, default=None, help="evaluation examples (seeded subsample of dev/test)")
    group.add_argument("--seeds", type=int, default=None, metavar="N", help="training seeds 0..N-1 (at least 3; default 3)")
    group.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    group.add_argument("--threads", type=int, default=None, help="torch threads per process (default 1)")
    group.add_argument("--workers", type=int, default=None,
                       help="processes that train and cache the seeds in parallel (default: the cores, at most 4; 1 with --backend ray or a GPU)")
    group = parser.add_argument_group("deletion streams")
    group.add_argument("--streams", type=int, default=None, help="simulated streams per training seed (default 1000)")
    group.add_argument("--requests", type=int, default=None, help="requests per stream (default: until every shard is dead)")
    group.add_argument("--prior", default=None, help="uniform (default) or a per-point law, e.g. zipf:1.0")
    group.add_argument("--retrain-checkpoints", type=int, default=None, help="request counts where SISA and full fine-tuning are retrained for real")
    group.add_argument("--retrain-streams", type=int, default=None, help="streams per seed replayed with real retraining (default 1)")
    group.add_argument("--seed", type=int, default=0, help="seed of the deletion streams and the evaluation sample (default 0)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_progress_flag(parser)
    add_backend_arguments(parser)
    parser.set_defaults(func=run)
    return parser


INT_FLAGS = {  # flag -> (config field, low, high)
    "shards": ("shards", 1, 1024), "slices": ("slices", 1, 64), "epochs": ("epochs", 1, 1000),
    "train_limit": ("train_limit", 2, 10_000_000), "eval_limit": ("eval_limit", 10, 10_000_000),
    "streams": ("streams", 1, 100_000), "requests": ("requests", 1, 10_000_000),
    "retrain_checkpoints": ("retrain_checkpoints", 0, 100), "retrain_streams": ("retrain_streams", 0, 100_000),
    "threads": ("threads", 1, 1024), "workers": ("workers", 1, 64),
}


def config_from_args(args: argparse.Namespace) -> "DeletionCurvesConfig":  # noqa: F821 - imported inside
    """The size's configuration with the flags given on top, every value checked (one-line errors)."""
    import dataclasses

    from analysis.realruns.deletion_config import DELETION_CURVES_SIZES, DeletionCurvesConfig
    from s3t_sim.checks import check_int, check_memory

    overrides = {}
    for name, (field, low, high) in INT_FLAGS.items():
        if getattr(args, name) is not None:
            overrides[field] = check_int(f"--{name.replace('_', '-')}", getattr(args, name), low, high)
    for name in ("model", "selection", "prior", "data_dir"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    if args.data is not None:
        overrides["datasets"] = tuple(args.data)
    if args.seeds is not None:
        overrides["seeds"] = tuple(range(check_int("--seeds", args.seeds, 3, 100)))
    base = dataclasses.asdict(DELETION_CURVES_SIZES[args.size])
    slices = overrides.get("slices", base["slices"])
    if args.budgets is not None:
        overrides["budgets"] = tuple(check_int("--budgets", b, 1, slices) for b in args.budgets)
    elif "slices" in overrides:
        overrides["budgets"] = tuple(range(1, slices + 1))
    overrides["seed"] = check_int("--seed", args.seed, 0, 2**32 - 1)
    overrides["device"] = args.device
    config = DeletionCurvesConfig(**{**base, **overrides})
    # request streams of every seed are held at once: positions and exponential keys, 8 bytes each
    check_memory("--streams x --train-limit x --seeds", float(config.streams) * config.train_limit * (16 * len(config.seeds) + 24))
    return config


def run(args: argparse.Namespace) -> int:
    """Check the input, train, replay, retrain; write the files and print the summary."""
    from analysis.realruns.deletion_experiment import data_source, run_deletion_curves
    from analysis.realruns.deletion_summary import write_deletion_outputs
    from s3t_sim.checks import check_output_path
    from s3t_sim.output import print_result
    from s3t_train.commands import check_device_available

    check_output_path("--out", args.out)
    config = config_from_args(args)
    for name in config.datasets:
        data_source(config, name)
    check_model(config.model)  # before anything is written: a failed start leaves no output folder
    check_device_available(config.device)
    result = run_deletion_curves(config, args.out, executor_from_args(args), progress=show_progress(args))
    result.summary["size"] = args.size
    summary = write_deletion_outputs(result, args.out)
    print_result(summary, args.json, lambda s: _text(s, args.out))
    return 0


def _text(summary: dict, out: str) -> str:
    lines = []
    for d in summary["datasets"]:
        lines.append(f"{d['dataset']}: {d['training_points']} training points ({d['examples_per_slice']:.0f} per slice), "
                     f"{len(d['seeds'])} seeds x {d['streams_per_seed']} streams, {d['requests_replayed']} requests replayed")
        for B, row in d["s3t"].items():
            lines.append(f"  {row['method']:44s} accuracy {row['accuracy_nothing_deleted']:.3f} clean, {row['mean_accuracy_over_replayed_requests']:.3f} on average; "
                         f"every shard dead after {row['requests_until_every_shard_dead']:.1f} requests")
        lines.append(f"  full fine-tuning, nothing deleted: accuracy {d['full_accuracy_nothing_deleted']:.3f}")
        for method, row in d["retrained"].items():
            shown = ", ".join("-" if a is None else f"{a:.3f}" for a in row["accuracy"])
            lines.append(f"  {method:44s} at {d['retrain_checkpoints']}: {shown} ({row['seconds']:.1f} s of retraining)")
    seconds = ", ".join(f"{k} {v:.1f} s" for k, v in summary["seconds"].items())
    lines.append(f"results in {out} ({seconds})")
    return "\n".join(lines)
