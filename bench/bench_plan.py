"""Planner speed: the exact search (``analysis.planning.plan``) against a naive Monte Carlo planner.

The naive planner estimates each setting's P(stop within the horizon) and deletion rate by
simulation (``s3t_sim.simulate.simulate_failure_counts``; with Poisson arrivals the stop
happens by T iff the count to failure is at most N_T ~ Poisson(λT), so
P(stop) = E[P(N_T >= count)]). It does not even estimate the served performance, which
the exact planner also computes. Rows: one per planner, with the agreement of the
Monte Carlo estimates with the exact values (largest |z|).

Run: ``.venv/bin/python -m bench plan`` (writes ``bench/results/plan.json``).
"""
from __future__ import annotations

import math
import time
from pathlib import Path

from analysis.planning import PlanConfig, plan, setting_system
from analysis.tables import Table
from s3t_sim.output import write_json_atomic
from s3t_sim.montecarlo import simulate_failure_counts


def naive_plan(config: PlanConfig, runs: int, seed: int) -> dict:
    """Monte Carlo estimates (P(stop), its SE, δ, its SE) of every cyclic setting of ``config``."""
    from scipy.stats import poisson

    U = config.deletions_per_day * config.horizon_days
    estimates = {}
    for i, (m, L, B) in enumerate((m, L, B) for L in config.slices for B in config.budgets if B <= math.factorial(L)
                                  for m in config.shards):
        system, prior = setting_system(config, m, L, B, "cyclic")
        counts = simulate_failure_counts(system, prior, config.criterion, runs, seed + i).values
        stop = poisson.sf(counts - 1, U)  # P(N_T >= count)
        estimates[(m, L, B)] = (float(stop.mean()), float(stop.std(ddof=1) / math.sqrt(runs)),
                                float(counts.mean()), float(counts.std(ddof=1) / math.sqrt(runs)))
    return estimates


def main(argv: list[str]) -> int:
    """Time both planners on the default search space; print the table and write ``results/plan.json``."""
    import scipy.stats  # noqa: F401  (imported before the clocks start: neither planner pays for it)

    config = PlanConfig()
    runs, seed = 2000, 0
    start = time.perf_counter()
    exact = plan(config)
    exact_seconds = time.perf_counter() - start
    start = time.perf_counter()
    naive = naive_plan(config, runs, seed)
    naive_seconds = time.perf_counter() - start
    z_stop, z_delta = [], []
    for row in exact.rows:
        stop, stop_se, delta, delta_se = naive[(row.m, row.L, row.B)]
        # absolute error: near P(stop) = 1 the run-to-run SE misses rare long runs, so z is meaningless there
        z_stop.append(abs(stop - row.stop_probability))
        z_delta.append(abs(delta - row.expected_days_to_stop * config.deletions_per_day) / delta_se)
    rows = [
        ["exact (analysis.planning.plan)", len(exact.rows), exact_seconds, "stop, days, performance, cost", "", ""],
        [f"naive Monte Carlo ({runs} runs/setting, seed {seed})", len(naive), naive_seconds, "stop, days only",
         max(z_stop) if z_stop else float("nan"), max(z_delta)],
    ]
    table = Table(["planner", "settings", "seconds", "computes", "max |Δ| stop", "max |z| days"], rows,
                  "Planner: exact search vs naive Monte Carlo (default search space)")
    print(table.to_text())
    print(f"exact / naive time: {exact_seconds / naive_seconds:.2f} (the exact planner also computes served performance "
          f"and has no sampling error); both on this machine, one process")
    write_json_atomic(Path(__file__).parent / "results" / "plan.json", {"rows": table.to_records(), "runs": runs, "seed": seed})
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
