"""Training backend benchmarks, each next to its naive baseline.

1. Stage throughput: the S3T trainer against the plain ``peft`` loop (padded batches, full
   forward every batch) on the same stages. The trainer caches the hidden states entering
   the trained group (the frozen layers below it run once per example, not once per batch
   and epoch) and runs every forward padding-free (a batch's real tokens packed into one
   tensor; with short SST-2 phrases most positions of a padded batch are padding).
   Reported: examples/s, speed-up, and the largest weight difference between the two results.
2. Deletion response (journal fsync + deactivation + serving switch) against SISA's cost
   for the same request: retraining the hit shard from the checkpoint before the hit
   slice (stages j..L of its sequence).
3. Training cost with B > L: slice-passes counted during training against the prefix
   tree's cost and against training every sequence separately.

Run: ``python -m bench training`` (defaults) or ``python -m bench.bench_training --n 240 --epochs 2 --model minilm --threads 1``.
Rows go to ``bench/results/training.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from s3t_sim.output import write_json_atomic

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "training.json"
DATA = ROOT.parent / "shared" / "data" / "sst2"


def _config(args, shards: int, slices: int, budget: int, cache: bool = True, limit: int | None = None):
    from s3t_train.config import DataConfig, GroupLoRAConfig, RunConfig, SystemConfig, TrainingConfig

    return RunConfig(
        data=DataConfig(str(args.data), limit=limit or args.n, split_seed=args.seed),
        lora=GroupLoRAConfig(rank=8),
        training=TrainingConfig(model=args.model, epochs=args.epochs, batch_size=16, max_length=64, lr=1e-3, seed=args.seed, cache_activations=cache, device=args.device, dtype=args.dtype),
        system=SystemConfig(shards=shards, slices=slices, budget=budget),
    )


def bench_stage_throughput(args, workdir: Path) -> list[dict]:
    from s3t_train.cache import ActivationCache
    from s3t_train.checkpoints import load_node
    from s3t_train.layout import node_path
    from s3t_train.run_folder import create_run
    from s3t_train.training import train_node

    config = _config(args, 1, args.slices, 1)
    rows = []
    dirs = {}
    for variant in ("plain", "cached"):
        dirs[variant] = workdir / f"stage-{variant}"
        create_run(config, dirs[variant])
    order = tuple(int(s) for s in json.loads((dirs["plain"] / "sequences.json").read_text())[0][0])
    create_run(config, workdir / "warm-up")
    train_node(workdir / "warm-up", 0, order[:1], use_cache=False)  # loads model and tokenizer outside the timings
    for k in range(1, args.slices + 1):
        prefix = order[:k]
        # the plain loop trains from the cached run's parent so both stages start identical
        for j in range(1, k):
            shutil.copy(node_path(dirs["cached"], 0, order[:j]), node_path(dirs["plain"], 0, order[:j]))
        cache = ActivationCache()
        cold = train_node(dirs["cached"], 0, prefix, use_cache=True, cache=cache)  # builds the cache
        plain_runs, warm_runs = [], []
        for _ in range(args.repeats):  # interleaved, best of R (as timeit): the box is shared
            plain_runs.append(train_node(dirs["plain"], 0, prefix, use_cache=False, cache=ActivationCache()))
            warm_runs.append(train_node(dirs["cached"], 0, prefix, use_cache=True, cache=cache))  # as for every later node of this depth
        plain = min(plain_runs, key=lambda r: r.seconds)
        warm = min(warm_runs, key=lambda r: r.seconds)
        a, b = load_node(node_path(dirs["plain"], 0, prefix)), load_node(node_path(dirs["cached"], 0, prefix))
        diff = max(float((a.group[n] - b.group[n]).abs().max()) for n in a.group)
        diff = max(diff, max(float((a.head[n] - b.head[n]).abs().max()) for n in a.head))
        passes = plain.examples * args.epochs
        rows.append({
            "bench": "stage_throughput", "model": args.model, "stage": k, "examples": plain.examples, "epochs": args.epochs,
            "plain_examples_per_s": passes / plain.seconds,
            "cached_cold_examples_per_s": passes / cold.seconds,
            "cached_warm_examples_per_s": passes / warm.seconds,
            "speedup_cold": plain.seconds / cold.seconds, "speedup_warm": plain.seconds / warm.seconds, "repeats": args.repeats,
            "plain_seconds_all": [r.seconds for r in plain_runs], "warm_seconds_all": [r.seconds for r in warm_runs],
            "max_abs_weight_diff": diff, "loss_plain": plain.final_loss, "loss_cached": warm.final_loss,
        })
        print(f"  stage {k}: plain {rows[-1]['plain_examples_per_s']:.1f} ex/s, cache + packing cold {rows[-1]['cached_cold_examples_per_s']:.1f}, "
              f"warm {rows[-1]['cached_warm_examples_per_s']:.1f} (x{rows[-1]['speedup_warm']:.2f}), max |dw| {diff:.2e}", flush=True)
    return rows


def bench_whole_run(args, workdir: Path) -> list[dict]:
    from s3t_train.driver import train_run
    from s3t_train.run_folder import create_run

    rows = []
    for cache in (False, True):
        run_dir = workdir / f"run-cache-{cache}"
        create_run(_config(args, args.shards, args.slices, args.slices, cache=cache), run_dir)
        summary = train_run(run_dir, progress=False).to_dict()
        rows.append({"bench": "whole_run", "model": args.model, "cache": cache, "m": args.shards, "L": args.slices, "B": args.slices, **summary})
    rows[1]["speedup"] = rows[0]["seconds"] / rows[1]["seconds"]
    print(f"  whole run (m={args.shards}, L=B={args.slices}): plain {rows[0]['seconds']:.1f} s, cached {rows[1]['seconds']:.1f} s (x{rows[1]['speedup']:.2f})", flush=True)
    return rows


def bench_deletion(args, workdir: Path) -> list[dict]:
    import numpy as np

    from s3t_train.run import S3TRun
    from s3t_train.serving import predict_logits
    from s3t_train.training import train_node

    run_dir = workdir / "run-cache-True"
    run = S3TRun(run_dir)
    rng = np.random.default_rng(args.seed)
    candidates = [i for s in range(run.m) for j in range(run.L) for i in run.store.slice_ids(s, j)]
    victims = rng.choice(candidates, size=min(args.deletions, len(candidates)), replace=False).tolist()
    predict_logits(run, ["warm up the serving model"])
    reports = []
    sisa_seconds = []
    for victim in victims:
        report = run.deletions.delete(int(victim))
        reports.append(report)
    # SISA's answer to the first request: retrain its shard from the checkpoint before the hit slice
    first = reports[0]
    sisa_dir = workdir / "sisa"
    shutil.copytree(run_dir, sisa_dir)
    order = tuple(int(s) for s in run.sequences[first.shard][0])
    hit_at = order.index(first.slice) + 1
    for k in range(hit_at, run.L + 1):
        t = time.perf_counter()
        train_node(sisa_dir, first.shard, order[:k])
        sisa_seconds.append(time.perf_counter() - t)
    response = np.array([r.response_seconds for r in reports])
    journal = np.array([r.journal_seconds for r in reports])
    store = np.array([r.store_seconds for r in reports])
    sisa = float(sum(sisa_seconds))
    row = {
        "bench": "deletion", "model": args.model, "deletions": len(reports), "seed": args.seed,
        "response_mean_ms": 1000 * response.mean(), "response_se_ms": 1000 * response.std(ddof=1) / np.sqrt(len(response)),
        "response_median_ms": 1000 * float(np.median(response)), "response_max_ms": 1000 * response.max(),
        "journal_mean_ms": 1000 * journal.mean(), "store_removal_mean_ms": 1000 * store.mean(),
        "sisa_retrain_s": sisa, "sisa_stages_retrained": len(sisa_seconds), "sisa_hit_position": hit_at,
        "ratio_sisa_over_s3t": sisa / response.mean(),
        "served_prefix_after": reports[-1].served_prefix,
    }
    print(f"  deletion response {row['response_mean_ms']:.2f} ± {row['response_se_ms']:.2f} ms (SE, n={len(reports)}, seed {args.seed}; "
          f"max {row['response_max_ms']:.2f} ms; store removal {row['store_removal_mean_ms']:.1f} ms) vs SISA retrain "
          f"{sisa:.2f} s (stages {hit_at}..{run.L}): ratio {row['ratio_sisa_over_s3t']:.0f}x", flush=True)
    run.close()
    return [row]


def bench_tree_cost(args, workdir: Path) -> list[dict]:
    from s3t_sim.selection import training_cost
    from s3t_train.driver import train_run
    from s3t_train.run_folder import RunInfo, create_run

    L, B = 3, 6  # every order of 3 slices
    run_dir = workdir / "tree"
    create_run(_config(args, 1, L, B, limit=max(args.slices * 8, 48)), run_dir)
    summary = train_run(run_dir, progress=False).to_dict()
    cost = training_cost(RunInfo.open(run_dir).sequences[0])
    row = {"bench": "tree_cost", "model": args.model, "L": L, "B": B, "measured_slice_passes": summary["slice_passes"],
           "tree_cost": cost["shared_cost"] * args.epochs, "separate_cost": cost["separate_cost"] * args.epochs,
           "saving": 1 - summary["slice_passes"] / (cost["separate_cost"] * args.epochs), "seconds": summary["seconds"]}
    print(f"  B={B} > L={L}: measured {row['measured_slice_passes']} slice-passes = prefix tree {row['tree_cost']} "
          f"vs {row['separate_cost']} separately (saving {row['saving']:.0%})", flush=True)
    return [row]


def print_table(rows: list[dict]) -> None:
    print("\n| stage | examples x epochs | plain peft loop (ex/s, best of R) | cache + packing, cold (ex/s) | cache + packing, warm (ex/s, best of R) | speed-up warm | max abs weight diff |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        if r["bench"] == "stage_throughput":
            print(f"| {r['stage']} | {r['examples']} x {r['epochs']} | {r['plain_examples_per_s']:.1f} | {r['cached_cold_examples_per_s']:.1f} | "
                  f"{r['cached_warm_examples_per_s']:.1f} | {r['speedup_warm']:.2f} | {r['max_abs_weight_diff']:.1e} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench training", description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--n", type=int, default=240, help="training examples (seeded subsample)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument("--slices", type=int, default=3)
    parser.add_argument("--deletions", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3, help="timed repetitions per stage (best is reported)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 avoids oversubscription on a shared 2-core box)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16"), help="autocast dtype on a GPU")
    parser.add_argument("--parts", default="stages,run,deletion,tree", help="comma list of stages, run, deletion, tree")
    parser.add_argument("--results", default=str(RESULTS), help="JSON file for the rows")
    args = parser.parse_args(argv)

    import torch

    from s3t_train.stage_model import configure_torch

    torch.set_num_threads(args.threads)
    configure_torch()
    rows = []
    workdir = Path(tempfile.mkdtemp(prefix="s3t-bench-"))
    try:
        print(f"model {args.model}, {args.n} SST-2 examples, {args.epochs} epochs, {args.threads} thread(s), device {args.device} ({args.dtype}), seed {args.seed}", flush=True)
        parts = set(args.parts.split(","))
        if "stages" in parts:
            rows += bench_stage_throughput(args, workdir)
        if "run" in parts or "deletion" in parts:
            rows += bench_whole_run(args, workdir)
        if "deletion" in parts:
            rows += bench_deletion(args, workdir)
        if "tree" in parts:
            rows += bench_tree_cost(args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print_table(rows)
    results = Path(args.results)
    settings = vars(args) | {"data": os.path.relpath(args.data, ROOT), "results": os.path.relpath(results, ROOT), "cpu_count": os.cpu_count()}
    write_json_atomic(results, {"settings": {k: str(v) if isinstance(v, Path) else v for k, v in settings.items()}, "rows": rows})
    print(f"rows written to {results}")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
