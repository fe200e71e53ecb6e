"""Deletion simulator: the vectorised simulator against the naive per-request loop.

``python -m bench simulator [--quick]`` prints, side by side in one run,

1. runs per second of the naive loop (one request at a time: draw, update the hit set,
   recompute the hit shard's served prefix, check the criterion — the authors' simulator in
   our code) and of :func:`s3t_sim.montecarlo.fast.simulate_failure_counts`, with the speed-up;
   targets: >= 1000x at (m, L, B) = (20, 16, 16) all-dead, and 10,000 runs at
   (1000, 64, 64) in <= 10 s;
2. peak memory of 10^6 runs at (20, 16, 16) (target < 1 GB), measured in a fresh
   subprocess (``ru_maxrss``, whole process; and tracemalloc's peak of numpy's arrays);

and saves every row to ``bench/results/simulator.json``. ``--production [--baseline DIR]`` times
instead the whole ``s3t simulate`` process (seconds, peak memory) at m = 10,000, L = B = 128,
20 runs, each criterion, and at m = 100,000, L = B = 64, all-dead, 100 runs, here and in the
baseline checkout DIR (targets: <= 15 s and <= 1 GB; <= 60 s), into
``bench/results/simulator_production.json``. Every Monte Carlo mean comes with
its SE, run count and seed; the exact value is the coupon-collector law where it applies.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from s3t_sim.output import write_json_atomic
from s3t_sim.laws import PoissonEmbeddingLaw, all_dead_law
from s3t_sim.montecarlo import naive_failure_counts, simulate_failure_counts
from s3t_sim.selection import build_system
from s3t_sim.system import S3TSystem

RESULTS = Path(__file__).parent / "results" / "simulator.json"

# (m, L, B, criterion, request model, naive runs, fast runs); without replacement: 100 points per slice
CASES = [
    (5, 6, 6, "all-dead", "iid", 2000, 200_000),
    (10, 10, 10, "all-dead", "iid", 1000, 200_000),
    (20, 16, 16, "all-dead", "iid", 300, 200_000),
    (20, 16, 16, "any-dead", "iid", 300, 100_000),
    (20, 16, 16, "prefix-below:0.5", "iid", 300, 20_000),
    (20, 16, 16, "all-dead", "without-replacement", 30, 10_000),
    (1000, 64, 64, "all-dead", "iid", 2, 10_000),
]

MEMORY_SCRIPT = """
import json, resource, sys, time, tracemalloc
from s3t_sim.montecarlo import simulate_failure_counts
from s3t_sim.system import S3TSystem
runs = int(sys.argv[1])
system = build_system(20, 16, 16)[0]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tracemalloc.start()
start = time.perf_counter()
result = simulate_failure_counts(system, None, "all-dead", runs, seed=0, progress=False)
seconds = time.perf_counter() - start
traced_peak = tracemalloc.get_traced_memory()[1]
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"runs": runs, "seconds": seconds, "maxrss_before_mb": before / 1024,
                  "maxrss_peak_mb": peak / 1024, "tracemalloc_peak_mb": traced_peak / 2**20,
                  "mean": result.mean, "se": result.se, "seed": result.seed}))
"""


def _exact(system: S3TSystem, criterion: str, request_model: str) -> float | None:
    if request_model != "iid":
        return None
    if criterion == "all-dead":
        return all_dead_law(system).mean()
    if criterion == "any-dead":
        return PoissonEmbeddingLaw(system, None, criterion).mean()
    return None


def time_case(m: int, L: int, B: int, criterion: str, request_model: str, naive_runs: int, fast_runs: int) -> dict:
    system = build_system(m, L, B)[0]
    points = 100 * m * L if request_model == "without-replacement" else None
    naive = naive_failure_counts(system, None, criterion, naive_runs, seed=1, request_model=request_model, points=points)
    fast = simulate_failure_counts(system, None, criterion, fast_runs, seed=0, request_model=request_model,
                                   points=points, progress=False)
    return {
        "m": m, "L": L, "B": B, "criterion": criterion, "request_model": request_model, "points": points,
        "naive_runs": naive.runs, "naive_seconds": naive.seconds, "naive_runs_per_s": naive.runs / naive.seconds,
        "naive_mean": naive.mean, "naive_se": naive.se, "naive_seed": naive.seed,
        "fast_runs": fast.runs, "fast_seconds": fast.seconds, "fast_runs_per_s": fast.runs / fast.seconds,
        "fast_mean": fast.mean, "fast_se": fast.se, "fast_seed": fast.seed,
        "speedup": (fast.runs / fast.seconds) / (naive.runs / naive.seconds),
        "exact": _exact(system, criterion, request_model),
    }


def measure_memory(runs: int) -> dict:
    out = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(runs)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main(argv: list[str]) -> int:
    if "--production" in argv:
        return production_main(argv)
    parser = argparse.ArgumentParser(prog="python -m bench simulator", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the runs (smoke test)")
    args = parser.parse_args(argv)
    scale = 10 if args.quick else 1
    rows = []
    header = (f"{'m':>5}{'L':>4}{'B':>4} {'criterion':<17}{'requests':<9}{'naive runs/s':>13}{'fast runs/s':>13}{'speed-up':>10}"
              f"{'fast s':>8}   {'fast mean ± SE (runs)':<28}{'naive mean ± SE':<20}{'exact':>9}")
    print(header)
    print("-" * len(header))
    for m, L, B, criterion, model, naive_runs, fast_runs in CASES:
        row = time_case(m, L, B, criterion, model, max(2, naive_runs // scale), max(100, fast_runs // scale))
        rows.append(row)
        exact = "—" if row["exact"] is None else f"{row['exact']:.6g}"
        fast_text = f"{row['fast_mean']:.6g} ± {row['fast_se']:.2g} ({row['fast_runs']})"
        naive_text = f"{row['naive_mean']:.6g} ± {row['naive_se']:.2g}"
        print(f"{m:>5}{L:>4}{B:>4} {criterion:<17}{'iid' if model == 'iid' else 'w/o repl':<9}{row['naive_runs_per_s']:>13.4g}{row['fast_runs_per_s']:>13.4g}"
              f"{row['speedup']:>9.0f}x{row['fast_seconds']:>8.2f}   {fast_text:<28}{naive_text:<20}{exact:>9}", flush=True)
    memory = measure_memory(1_000_000 // scale)
    print(f"\nmemory, {memory['runs']} runs at (20, 16, 16) all-dead in a fresh process: peak RSS "
          f"{memory['maxrss_peak_mb']:.0f} MB (interpreter and imports before the run: {memory['maxrss_before_mb']:.0f} MB), "
          f"tracemalloc peak {memory['tracemalloc_peak_mb']:.0f} MB, {memory['seconds']:.2f} s; "
          f"mean {memory['mean']:.6g} ± {memory['se']:.2g} (seed {memory['seed']})")
    print("seeds: fast runs seed 0, naive runs seed 1; 'exact' is the coupon-collector / Poisson-embedding law")
    write_json_atomic(RESULTS, {"rows": rows, "memory": memory, "quick": args.quick})
    print(f"saved {RESULTS.relative_to(Path(__file__).parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


PRODUCTION_CASES = [(10_000, 128, c, 20) for c in ("all-dead", "any-dead", "prefix-below:0.5")] + [(100_000, 64, "all-dead", 100)]


def production_main(argv: list[str]) -> int:
    """Whole ``s3t simulate`` processes at the production cases, here and in ``--baseline DIR``."""
    from analysis.tables import Table
    from bench.bench_plan import cli_command

    here = Path(__file__).resolve().parents[1]
    checkouts = [here] + ([Path(argv[argv.index("--baseline") + 1])] if "--baseline" in argv else [])
    rows = []
    for checkout in checkouts:
        for m, L, criterion, runs in PRODUCTION_CASES:
            cmd = cli_command(checkout) + ["simulate", "-m", str(m), "-L", str(L), "-B", str(L), "--criterion", criterion,
                                           "--runs", str(runs), "--seed", "0", "--no-progress", "--json"]
            start = time.perf_counter()
            proc = subprocess.run(cmd, cwd=checkout, capture_output=True, text=True, env={"PYTHONPATH": str(checkout), "PATH": "/usr/bin:/bin"})
            seconds = time.perf_counter() - start
            peak = [int(ln.split()[1]) for ln in proc.stderr.splitlines() if ln.startswith("MAXRSS")]
            status = "ok" if proc.returncode == 0 else (proc.stderr.strip().splitlines() or ["failed"])[-1][:80]
            rows.append([str(checkout), m, L, criterion, runs, seconds, peak[0] / 1024 if peak else float("nan"), status])
            print(rows[-1], flush=True)
    table = Table(["checkout", "m", "L = B", "criterion", "runs", "seconds (whole process)", "peak MB", "status"], rows,
                  "s3t simulate at production scale, this checkout and the baseline side by side")
    print(table.to_text())
    write_json_atomic(Path(__file__).parent / "results" / "simulator_production.json", {"rows": table.to_records()})
    return 0
