"""Ray backend against the local (sequential) backend on the same training DAG.

Trains the same S3T run twice — ``train_run`` in this process, and ``train_run_ray`` with a
local Ray instance of ``--cpus`` CPUs (one task per prefix-tree node, one torch thread per
task) — and reports wall time, Ray's start-up time, the speed-up, and whether every node's
tensors are bitwise equal. Independent nodes (different shards, different first slices) run
in parallel; a chain of L stages cannot, so the speed-up is bounded by the tree's width and
the CPUs.

Run: ``python -m bench ray`` or ``python -m bench.bench_ray --model tiny --n 600 --shards 2``.
Rows go to ``bench/results/ray.json``.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from s3t_sim.output import write_json_atomic

RESULTS = Path(__file__).parent / "results" / "ray.json"
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sst2"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_ray", description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny", help="tiny (default) or minilm")
    parser.add_argument("--n", type=int, default=600, help="training examples")
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument("--slices", type=int, default=3)
    parser.add_argument("--budget", type=int, default=3)
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray instance")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--results", default=str(RESULTS))
    args = parser.parse_args(argv or [])

    os.environ["S3T_TORCH_THREADS"] = "1"
    import torch

    from s3t_train.checkpoints import load_node
    from s3t_train.config import DataConfig, RunConfig, SystemConfig, TrainingConfig
    from s3t_train.driver import train_run, train_run_ray
    from s3t_train.ray_executor import RayTreeExecutor
    from s3t_train.run_folder import create_run

    config = RunConfig(
        data=DataConfig(args.data, limit=args.n, split_seed=args.seed),
        training=TrainingConfig(model=args.model, epochs=1, batch_size=16, max_length=32, seed=args.seed),
        system=SystemConfig(shards=args.shards, slices=args.slices, budget=args.budget),
    )
    with tempfile.TemporaryDirectory() as tmp:
        local_dir, ray_dir = Path(tmp) / "local", Path(tmp) / "ray"
        create_run(config, local_dir)
        began = time.perf_counter()
        local = train_run(local_dir, progress=False)
        local_seconds = time.perf_counter() - began

        create_run(config, ray_dir)
        began = time.perf_counter()
        with RayTreeExecutor(num_cpus=args.cpus) as executor:
            executor.start()
            init_seconds = executor.init_seconds
            remote = train_run_ray(ray_dir, executor)
        ray_seconds = time.perf_counter() - began

        equal = True
        for path in sorted((local_dir / "shards").rglob("*.safetensors")):
            a, b = load_node(path), load_node(ray_dir / path.relative_to(local_dir))
            equal &= all(torch.equal(a.group[k], b.group[k]) for k in a.group) and all(torch.equal(a.head[k], b.head[k]) for k in a.head)

    rows = [
        {"backend": "local (baseline)", "nodes": len(local.trained), "wall_s": local_seconds, "ray_init_s": 0.0, "speedup": 1.0, "bitwise_equal": True},
        {"backend": f"ray ({args.cpus} CPUs)", "nodes": len(remote.trained), "wall_s": ray_seconds, "ray_init_s": init_seconds,
         "speedup": local_seconds / ray_seconds, "bitwise_equal": bool(equal)},
        {"backend": f"ray ({args.cpus} CPUs), without start-up", "nodes": len(remote.trained), "wall_s": ray_seconds - init_seconds,
         "ray_init_s": 0.0, "speedup": local_seconds / (ray_seconds - init_seconds), "bitwise_equal": bool(equal)},
    ]
    print(f"{'backend':38s} {'nodes':>5s} {'wall s':>8s} {'init s':>7s} {'speed-up':>8s} {'bitwise equal':>13s}")
    for r in rows:
        print(f"{r['backend']:38s} {r['nodes']:5d} {r['wall_s']:8.2f} {r['ray_init_s']:7.2f} {r['speedup']:8.2f} {str(r['bitwise_equal']):>13s}")
    write_json_atomic(args.results, {"settings": vars(args) | {"cpu_count": os.cpu_count()}, "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
