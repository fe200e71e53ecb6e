"""Sequence selection: BMS speed against a naive per-pair loop, and the selection tables.

``python -m bench selection [--quick]`` prints

1. BMS time at L = B (vectorised score matrices) next to the naive baseline, a Python
   loop that recomputes the full score ``Σ_n n (1 - c_n)^t`` of every extended sequence
   (the authors' BMS took 0.46 s at L = 48);
2. the objective estimate of ``s3t select`` at L = B = 256 (20,000 Monte Carlo runs, both
   served-prefix objectives from one pass over the first hits) next to the baseline, the
   previous estimator (one run of all R requests through ``best_prefix_minima`` per
   objective), and the whole ``s3t select --slices 256 --budget 256 --method bms`` process;
3. the tables of :func:`s3t_sim.selection.experiments.selection_report`;

and saves every row to ``bench/results/selection.json``.
"""
from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from analysis.tables import Table
from s3t_sim.output import write_json_atomic
from s3t_sim.selection import bipartite_matching_selection, expected_served_prefix
from s3t_sim.selection.objectives import served_prefix_estimates
from s3t_sim.system import best_prefix_minima
from s3t_sim.selection.experiments import ranked_shard_prior, selection_report

RESULTS = Path(__file__).parent / "results" / "selection.json"
NAIVE_MAX_L = 48


def naive_bms(L: int, B: int, prior: np.ndarray, horizon: float) -> np.ndarray:
    """BMS for B <= L with the score of each (sequence, slice) pair computed in Python loops."""
    rows = [[] for _ in range(B)]
    for _ in range(L):
        weights = np.full((B, L), -np.inf)
        for b, row in enumerate(rows):
            for s in range(L):
                if s in row:
                    continue
                extended, mass, score = row + [s], 0.0, 0.0
                for n, slice_ in enumerate(extended, start=1):
                    mass += prior[slice_]
                    score += n * max(0.0, 1.0 - mass) ** horizon
                weights[b, s] = score
        matched, columns = linear_sum_assignment(weights, maximize=True)
        for b, s in zip(matched, columns):
            rows[b].append(int(s))
    return np.array(rows)


def _best_of(fn, repeats: int) -> tuple[float, float]:
    """Best wall-clock and best CPU (process) seconds over ``repeats`` calls."""
    wall = cpu = np.inf
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall = min(wall, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    return wall, cpu


def time_bms(sizes=(16, 48, 128, 256), horizon: float = 100.0) -> list[dict]:
    rows = []
    for L in sizes:
        p = ranked_shard_prior("zipf:1.1", L)
        ours, ours_cpu = _best_of(lambda: bipartite_matching_selection(L, L, p, horizon), 3)
        naive, naive_cpu = _best_of(lambda: naive_bms(L, L, p, horizon), 1) if L <= NAIVE_MAX_L else (None, None)
        row = {"L": L, "B": L, "prior": "zipf:1.1", "horizon": horizon, "bms_seconds": ours,
               "bms_cpu_seconds": ours_cpu, "naive_seconds": naive, "naive_cpu_seconds": naive_cpu,
               "speedup": None if naive is None else naive / ours,
               "load_average": os.getloadavg()[0]}
        if L <= 16:  # exact served prefix after R = L requests of both sets
            row["bms_objective"] = float(expected_served_prefix(bipartite_matching_selection(L, L, p, horizon), p, L))
            row["naive_objective"] = float(expected_served_prefix(naive_bms(L, L, p, horizon), p, L))
        rows.append(row)
    return rows


def baseline_served_prefix(seqs: np.ndarray, R: int, runs: int, seed: int, average: bool) -> tuple[float, float]:
    """The previous estimator (uniform prior, shard share 1): every stage's lifetime from all first hits."""
    B, L = seqs.shape
    rng = np.random.default_rng(seed)
    values = np.empty(runs)
    step = max(1, (1 << 22) // (B * L))
    for lo in range(0, runs, step):
        n = min(step, runs - lo)
        draws = rng.choice(L + 1, size=(n, R), p=np.append(np.full(L, 1.0 / L), 0.0))  # the new code's stream
        first = np.full((n, L + 1), R + 1, dtype=np.int32)
        for r in range(R - 1, -1, -1):
            first[np.arange(n), draws[:, r]] = r + 1
        life = best_prefix_minima(first[:, :L], seqs)
        values[lo:lo + n] = np.minimum(life - 1, R).sum(axis=1) / R if average else (life > R).sum(axis=1)
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(runs))


def time_select_objective(L: int = 256, R: int = 100, runs: int = 20_000, seed: int = 0) -> list[dict]:
    """Objective estimate of ``s3t select`` (new vs baseline) and the whole command, at L = B."""
    seqs = bipartite_matching_selection(L, L, np.full(L, 1.0 / L), 100.0)
    start = time.perf_counter()
    after, averaged = served_prefix_estimates(seqs, None, R, method="mc", runs=runs, seed=seed)
    ours = time.perf_counter() - start
    start = time.perf_counter()
    old = [baseline_served_prefix(seqs, R, runs, seed, average) for average in (False, True)]
    baseline = time.perf_counter() - start
    command = [sys.executable, "-m", "analysis", "select", "--slices", str(L), "--budget", str(L), "--method", "bms",
               "--seed", str(seed), "--json"]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=Path(__file__).parent.parent)
    whole = time.perf_counter() - start
    return [{"L": L, "B": L, "requests": R, "runs": runs, "seed": seed, "estimate_seconds": ours,
             "baseline_seconds": baseline, "speedup": baseline / ours, "select_process_seconds": whole,
             "after": f"{after.mean:.3f} ± {after.se:.3f}", "baseline_after": f"{old[0][0]:.3f} ± {old[0][1]:.3f}",
             "average": f"{averaged.mean:.3f} ± {averaged.se:.3f}",
             "baseline_average": f"{old[1][0]:.3f} ± {old[1][1]:.3f}", "load_average": os.getloadavg()[0]}]


def plot_served_prefix_curves(rows: list[dict], out_dir: Path) -> Path:
    """Expected served prefix against requests, one line per method; returns the PNG path."""
    from analysis.style import colour, linestyle, marker, new_figure, save_figure

    fig, ax = new_figure()
    methods = list(dict.fromkeys(r["method"] for r in rows))
    for i, method in enumerate(methods):
        mine = [r for r in rows if r["method"] == method]
        label = f"{method} (B={mine[0]['B']})"
        ax.plot([r["requests"] for r in mine], [r["served_prefix"] for r in mine], color=colour(i),
                linestyle=linestyle(i), marker=marker(i), label=label)
    first = rows[0]
    ax.set_xlabel("requests to the shard r")
    ax.set_ylabel("expected served prefix E[k] (slices)")
    ax.set_title(f"One shard, L={first['L']}, prior {first['prior']} (exact)")
    ax.legend()
    columns = ["method", "B", "requests", "served_prefix"]
    table = Table(columns, [[r[c] for c in columns] for r in rows], title="served prefix by method")
    return save_figure(fig, out_dir, "selection_served_prefix", table).png


def _print_table(title: str, rows: list[dict], columns: list[str]) -> None:
    print(f"\n{title}")
    print(Table(columns, [[r.get(c) for c in columns] for r in rows]).to_text())


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench selection")
    parser.add_argument("--quick", action="store_true", help="small grids (smoke run)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    timing = time_bms(sizes=(16, 48) if args.quick else (12, 16, 48, 128, 256))
    _print_table("BMS at L = B, zipf:1.1 prior, t = 100 (wall and CPU seconds, best of 3; naive = per-pair Python loop, "
                 "one run, skipped beyond L = 48; objectives: exact served prefix after R = L requests; "
                 "load_average = 1-minute load of this machine)", timing,
                 ["L", "B", "bms_seconds", "bms_cpu_seconds", "naive_seconds", "naive_cpu_seconds", "speedup", "bms_objective", "naive_objective", "load_average"])
    objective = time_select_objective(L=64 if args.quick else 256, seed=args.seed)
    _print_table("s3t select objective, uniform prior, BMS set at L = B, R = 100 requests (seconds; baseline = previous "
                 "estimator, one pass per objective; the same runs and seed, so the values agree exactly; "
                 "select_process_seconds = the whole `s3t select --method bms` command)", objective, list(objective[0]))
    start = time.perf_counter()
    report = selection_report(quick=args.quick, seed=args.seed)
    print(f"\n(selection tables computed in {time.perf_counter() - start:.1f} s, seed {args.seed})")
    _print_table(
        "Methods under a per-slice Zipf(1.1) prior (exact; R = L requests, BMS horizon t = L; "
        "random = mean of 20 seeded sets ± SE)",
        report["methods_zipf"],
        ["L", "B", "method", "served_prefix_after", "served_prefix_average", "se_average", "requests_to_death"],
    )
    _print_table("Strided vs consecutive starts (uniform prior, shard gets 1/m of the requests; exact)",
                 report["strided_vs_consecutive"], ["L", "m", "B", "requests", "consecutive", "strided", "gain"])
    gap_columns = ["L", "B", "prior", "optimum", "sets_searched", "optimiser_seconds"] + [
        c for c in report["optimality_gaps"][0] if c.startswith("gap_")
    ]
    _print_table("Optimality gap 1 - value/optimum (objective: served prefix averaged over r = 1..L)",
                 report["optimality_gaps"], gap_columns)
    _print_table("Training cost of each method's set (slice-passes; zipf:1.1 prior)", report["training_costs"],
                 ["L", "B", "method", "distinct_prefixes", "shared_cost", "separate_cost", "saving"])
    figure = plot_served_prefix_curves(report["served_prefix_curves"], RESULTS.parent)
    print(f"\nfigure: {figure.relative_to(Path(__file__).parent.parent)} (and .pdf, .csv)")
    write_json_atomic(RESULTS, {"seed": args.seed, "quick": args.quick, "bms_timing": timing,
                                "select_objective": objective, **report})
    print(f"\nrows saved to {RESULTS.relative_to(Path(__file__).parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
