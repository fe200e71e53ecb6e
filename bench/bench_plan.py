"""Planner speed: the exact search (``analysis.planning.plan``) against a naive Monte Carlo planner.

The naive planner estimates each setting's P(stop within the horizon) and deletion rate by
simulation (``s3t_sim.simulate.simulate_failure_counts``; with Poisson arrivals the stop
happens by T iff the count to failure is at most N_T ~ Poisson(λT), so
P(stop) = E[P(N_T >= count)]). It does not even estimate the served performance, which
the exact planner also computes. Rows: one per planner, with the agreement of the
Monte Carlo estimates with the exact values (largest |z|).

Run: ``.venv/bin/python -m bench plan`` (writes ``bench/results/plan.json``).

``python -m bench plan --production [--baseline DIR]`` times the production grid of issue 11
instead: ``s3t plan`` over m in {16, 32, ..., 16384}, L in {4, 8, 16, 32, 64}, five budgets per L
(L/4, L/2, L, 2L, 4L) and two policies (retrain-dead-shard, stop-and-retrain-all), one process
per L, whole processes timed, and the same commands in the baseline checkout ``DIR`` (the code
at main's commit, which has no ``--policy`` and stops at L = 14: its refusal is recorded).
Writes ``bench/results/plan_production.json``.
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


def cli_command(checkout: Path) -> list[str]:
    """The ``s3t`` entry point of a checkout (``analysis.cli`` now, ``s3t_sim.cli`` at main's commit), printing
    the process's peak memory (``MAXRSS <KB>``) on stderr at exit."""
    import sys

    entry = "analysis.cli" if (checkout / "analysis" / "cli.py").exists() else "s3t_sim.cli"
    code = (f"import resource, sys; from {entry} import main; code = main(sys.argv[1:]); "
            "print('MAXRSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); sys.exit(code)")
    return [sys.executable, "-c", code]


PRODUCTION_SHARDS = ",".join(str(2**k) for k in range(4, 15))
PRODUCTION_L = (4, 8, 16, 32, 64)


def production_grid(checkout: Path) -> list[list]:
    """Time ``s3t plan`` for each L of the production grid in ``checkout``; rows (checkout, L, settings, seconds, status)."""
    import json
    import os
    import subprocess
    import sys

    rows = []
    for L in PRODUCTION_L:
        budgets = ",".join(str(b) for b in (max(1, L // 4), L // 2, L, 2 * L, 4 * L))
        cmd = cli_command(checkout) + ["plan", "--shards", PRODUCTION_SHARDS, "--slices", str(L), "--budgets", budgets,
               "--dataset-size", "10000000", "--deletions-per-day", "100", "--horizon-days", "365", "--policy",
               "retrain-dead-shard,stop-and-retrain-all", "--retrain-days", "0.5", "--json", "--no-progress"]
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=checkout, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(checkout)))
        seconds = time.perf_counter() - start
        if proc.returncode == 0:
            settings = len(json.loads(proc.stdout)["settings"])
            rows.append([str(checkout), L, settings, seconds, "ok"])
        else:
            lines = [ln for ln in proc.stderr.strip().splitlines() if not ln.startswith("MAXRSS")] or ["failed"]
            rows.append([str(checkout), L, 0, seconds, lines[-1][:90]])
    return rows


def production_main(argv: list[str]) -> int:
    """The production grid here and (``--baseline DIR``) in the baseline checkout."""
    here = Path(__file__).resolve().parents[1]
    checkouts = [here] + ([Path(argv[argv.index("--baseline") + 1])] if "--baseline" in argv else [])
    rows = [row for checkout in checkouts for row in production_grid(checkout)]
    for checkout in checkouts:
        mine = [r for r in rows if r[0] == str(checkout)]
        rows.append([str(checkout), "all", sum(r[2] for r in mine), sum(r[3] for r in mine), "total"])
    table = Table(["checkout", "L", "settings x policies", "seconds (whole process)", "status"], rows,
                  "s3t plan over the production grid (m = 16..16384, five budgets per L, two policies)")
    print(table.to_text())
    write_json_atomic(Path(__file__).parent / "results" / "plan_production.json", {"rows": table.to_records()})
    return 0


def main(argv: list[str]) -> int:
    """Time both planners on the default search space; print the table and write ``results/plan.json``."""
    if "--production" in argv:
        return production_main(argv)
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
