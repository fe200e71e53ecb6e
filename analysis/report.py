"""``s3t report``: run the bound checks, the key figures and a planning example, and write
``report.html`` (one self-contained page) and ``report.md`` with every figure (PNG, PDF,
CSV) beside them.

Everything runs on embedded defaults (no data, no network) and imports only the base
dependencies (numpy, scipy, networkx, matplotlib, tqdm). Other parts of the toolkit add
sections through :func:`analysis.document.register_section_provider` in a module listed in
``PROVIDER_MODULES`` (the validation of ``s3t validate --out OUT/validation`` is one); the
built-in provider :func:`extra_section` shows an ``extra_section.json`` from the output
folder when one is present.
"""
from __future__ import annotations

import importlib
import json
import math
import platform
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from analysis import bounds, figures, planning
from analysis.document import (
    Check,
    ReportContext,
    Section,
    register_section_provider,
    render_html,
    render_markdown,
    section_providers,
    summary_section,
)
from analysis.output import Table, write_json_atomic, write_text_atomic
from s3t_sim.laws import deletion_law
from s3t_sim.validation import check_choice, check_int

# The S3T authors' simulator, m = 5, L = 6, 2000 runs per budget (spec §2), quoted for comparison.
AUTHORS_MEANS = {1: 67.5, 2: 88.8, 3: 99.4, 4: 109.0, 5: 114.2, 6: 119.2}
AUTHORS_SISA_NO_FALLBACK_M5 = 11.39
AUTHORS_RUNS = 2000


@dataclass(frozen=True)
class ReportSize:
    """How much the report computes; ``small`` is for tests, ``default`` for ``make report``."""

    grid: str
    grid_runs: int
    figure_size: str
    spec_runs: int
    saturation_runs: int
    plan: planning.PlanConfig


PLAN_EXAMPLE = planning.PlanConfig(max_stop_probability=0.05, min_performance=0.7)
REPORT_SIZES = {
    "small": ReportSize("tiny", 300, "small", 2000, 300,
                        planning.PlanConfig(shards=(2, 4, 8, 16), slices=(4, 8), budgets=(1, 2, 4, 8),
                                            max_stop_probability=0.05, min_performance=0.7)),
    "default": ReportSize("wide", 20_000, "default", 200_000, 20_000, PLAN_EXAMPLE),
}


@dataclass
class ReportResult:
    html: Path
    markdown: Path
    sections: list[Section]
    seconds: float

    @property
    def checks(self) -> list[Check]:
        return [c for s in self.sections for c in s.checks]


def _versions() -> str:
    import matplotlib
    import networkx
    import scipy

    try:
        from importlib.metadata import version

        s3t_version = version("s3t")
    except Exception:  # noqa: BLE001 - not installed as a distribution
        s3t_version = "source tree"
    return (f"s3t {s3t_version}, Python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
            f"networkx {networkx.__version__}, matplotlib {matplotlib.__version__}")


# ---------------------------------------------------------------------------------------
# sections
# ---------------------------------------------------------------------------------------
def spec_numbers_section(ctx: ReportContext, size: ReportSize) -> Section:
    """Exact means for m = 5, L = 6, B = 1..6 against Monte Carlo and the authors' simulator."""
    rows, checks = [], []
    worst_z = 0.0
    for B in range(1, 7):
        system, prior = bounds.build_system(5, 6, B)
        law = deletion_law(system, prior)
        exact = float(law.mean())
        mc = bounds.monte_carlo_deletion_rate(system, prior, "all-dead", size.spec_runs, ctx.seed + B)
        z = (mc.mean - exact) / mc.se
        worst_z = max(worst_z, abs(z))
        authors_z = (AUTHORS_MEANS[B] - exact) / (law.std() / math.sqrt(AUTHORS_RUNS))
        rows.append([B, exact, 30 * _harmonic(5 * B), mc.mean, mc.se, z, AUTHORS_MEANS[B], authors_z, ctx.seed + B])
    sisa, prior = bounds.build_system(5, 6, None, fallback=False)
    sisa_exact = bounds.exact_deletion_rate(sisa, prior)
    sisa_mc = bounds.monte_carlo_deletion_rate(sisa, prior, "all-dead", size.spec_runs, ctx.seed)
    formula_gap = max(abs(r[1] - r[2]) for r in rows)
    checks.append(Check("exact law reproduces mL·H_{m·min(B,L)} for m=5, L=6, B=1..6", formula_gap < 1e-6 * 120,
                        f"largest difference {formula_gap:.2e}"))
    checks.append(Check(f"Monte Carlo agrees with the exact law within 4 SE ({size.spec_runs} runs, seeds {ctx.seed + 1}..{ctx.seed + 6})",
                        worst_z < 4, f"largest |z| = {worst_z:.2f}"))
    authors_z = max(abs(r[7]) for r in rows)
    checks.append(Check(f"the authors' simulator means ({AUTHORS_RUNS} runs) agree with the exact means within 4 SE",
                        authors_z < 4, f"largest |z| = {authors_z:.2f}, SE = exact sd / sqrt({AUTHORS_RUNS})"))
    sisa_z = (sisa_mc.mean - sisa_exact) / sisa_mc.se
    checks.append(Check("SISA without fallback: exact m·H_m = 5·H_5 and Monte Carlo agree", abs(sisa_z) < 4 and abs(sisa_exact - 5 * _harmonic(5)) < 1e-9,
                        f"exact {sisa_exact:.4f}, MC {sisa_mc.mean:.3f} ± {sisa_mc.se:.3f}, authors {AUTHORS_SISA_NO_FALLBACK_M5}"))
    table = Table(["B", "exact (laws)", "mL·H_{m·min(B,L)}", "MC mean", "MC SE", "z", "authors' simulator", "authors' z", "seed"], rows,
                  f"m = 5, L = 6, all shards dead, cyclic rotations ({size.spec_runs} Monte Carlo runs per budget)")
    return Section("Exact deletion rates against Monte Carlo and the authors' simulator",
                   paragraphs=["The exact law (s3t_sim.laws) is compared with the vectorised simulator (s3t_sim.simulate) "
                               "and with the means the authors' per-request simulator gave (quoted from the spec)."],
                   checks=checks, tables=[table])


def bounds_section(ctx: ReportContext, size: ReportSize) -> Section:
    grid = bounds.parse_grid(size.grid)
    result = bounds.deletion_rate_grid(grid, runs=size.grid_runs, seed=ctx.seed, progress=ctx.progress)
    fits = bounds.check_bound_forms(result)
    z = np.abs(result.column("z"))
    covered = float(np.mean(z <= 1.96))
    checks = [Check(f"Monte Carlo agrees with the exact rate at every grid point within 4 SE ({len(z)} points, {size.grid_runs} runs each)",
                    bool(np.all(z < 4)), f"largest |z| = {z.max():.2f}; 95% intervals cover the exact value at {100 * covered:.0f}% of points")]
    for fit in fits:
        checks.append(Check(f"exact/({fit.expression}) stays bounded as mL grows ({fit.target})", fit.bounded, fit.verdict()))
    at_L = {(r["m"], r["L"]): r["exact"] for r in result.rows if r["B"] == r["L"]}
    beyond = [abs(r["exact"] / at_L[(r["m"], r["L"])] - 1) for r in result.rows if r["B"] > r["L"] and (r["m"], r["L"]) in at_L]
    if beyond:
        checks.append(Check("on the grid, every B > L gives the same exact δ as B = L", max(beyond) < 1e-9,
                            f"{len(beyond)} grid points with B > L; largest relative difference {max(beyond):.1e}"))
    return Section(
        "Deletion-rate bounds",
        paragraphs=[
            f"Grid {grid} (uniform prior, all shards dead, cyclic selection). For each bound form g the envelope constant "
            "c_max = max δ/g, the least-squares constant, and a regression of δ/g on log(mL) are reported; the ratio "
            "counts as bounded when the slope is not significantly positive (one-sided 2.5% t-test). A finite grid "
            "supports, but cannot prove, an asymptotic claim.",
        ],
        checks=checks,
        tables=[bounds.fits_table(fits), result.table()],
    )


def saturation_section(ctx: ReportContext, size: ReportSize, figure_size: figures.FigureSize) -> Section:
    table = bounds.budget_saturation(runs=size.saturation_runs, seed=ctx.seed)
    beyond = [row for row in table.rows if row[2] > row[1]]
    gains = [abs(row[-1]) for row in beyond]
    mc_ok = all(abs(row[5] - row[4]) < 4 * row[6] for row in table.rows)
    fig = figures.deletion_rate_vs_budget(ctx.out_dir, seed=ctx.seed, size=figure_size)
    fig_rows = [r for r in fig.table.rows if isinstance(r[2], int)]
    rising = all(
        b[3] >= a[3] - 1e-9 for a, b in zip(fig_rows, fig_rows[1:]) if a[1] == b[1] and b[2] <= b[1]
    )
    return Section(
        "Budget beyond L buys no deletion rate",
        paragraphs=["δ is computed from each system's actual sequence set (its distinct first slices), for B = L/2, L, 2L, 4L."],
        checks=[
            Check("δ at B > L equals δ at B = L (exact)", bool(gains) and max(gains) < 1e-9, f"largest relative gain {max(gains):.1e} over {len(gains)} settings"),
            Check("Monte Carlo agrees with the exact rate within 4 SE", mc_ok, f"{len(table.rows)} settings, {size.saturation_runs} runs each"),
            Check("δ rises with B up to B = L (m = 5)", rising, "exact values of the figure below"),
        ],
        tables=[table],
        figures=[fig],
    )


def scaling_section(ctx: ReportContext, figure_size: figures.FigureSize) -> Section:
    fig = figures.deletion_rate_scaling(ctx.out_dir, seed=ctx.seed, size=figure_size)
    return Section("Deletion rate vs m and vs L", figures=[fig],
                   paragraphs=["The bound forms, scaled to touch the exact curve from above, follow its growth on log axes."])


def gap_section(ctx: ReportContext, figure_size: figures.FigureSize) -> Section:
    checks, tables = [], []
    for reading in bounds.GAP_READINGS:
        table = bounds.performance_gap(8, (2, 4, 8), (1, 2, 4, 8, 16, 32), reading=reading)
        s = bounds.gap_summary(table)
        formula = "ζ(1−ζ^{B'−1})" if reading == "spec" else "ζ(1−ζ^{B'})"
        checks.append(Check(
            f"{formula} ({reading}'s reading) is an upper bound of the exact gap",
            s["upper_bound_cells"] == s["informative_cells"],
            f"upper bound in {s['upper_bound_cells']} of {s['informative_cells']} cells; where it is, it exceeds the exact gap by "
            f"at most {s['max_excess']:.3f}; where not, the exact gap exceeds it by up to {s['worst_violation']:.3f} "
            f"(at (B', j) in {s['violations_at'][:8]}{'…' if len(s['violations_at']) > 8 else ''})",
        ))
        tables.append(Table(["reading", "cells", "upper bound cells", "max excess", "mean (closed − exact)", "worst violation"],
                            [[reading, s["informative_cells"], s["upper_bound_cells"], s["max_excess"], s["mean_excess"], s["worst_violation"]]],
                            f"Closed form {formula} vs exact gap (L = 8, B' = 2, 4, 8, r = 1..32)"))
        tables.append(_gap_pivot(table, formula))
    fig = figures.performance_gap_figure(ctx.out_dir, seed=ctx.seed, size=figure_size)
    return Section(
        "Performance gap: exact vs closed form",
        paragraphs=[
            "For one shard with L = 8 slices, cyclic rotations and r uniformly random requests, the exact gap "
            "P(S3T serves ≥ j stages) − P(SISA serves ≥ j stages) comes from the exact served-prefix law. "
            "With a fixed number of requests the slices' hit events are negatively associated (a request that hits one "
            "slice misses the others), and rotations' prefixes overlap, so the independence reading need not bound the gap: "
            "the checks below say where it does. Full table: performance_gap.csv.",
        ],
        checks=checks, tables=tables, figures=[fig],
    )


def _gap_pivot(table: Table, formula: str) -> Table:
    """Per (B', j): the smallest closed − exact over the request counts (negative: not an upper bound there)."""
    worst: dict[tuple[int, int], float] = {}
    for row in table.rows:
        key = (row[1], row[2])
        worst[key] = min(worst.get(key, math.inf), row[7])
    budgets = sorted({k[0] for k in worst})
    levels = sorted({k[1] for k in worst})
    def shown(x: float) -> float:
        return 0.0 if abs(x) < 1e-12 else x  # floating-point noise of two vanishing probabilities

    return Table(["B'"] + [f"j={j}" for j in levels], [[B] + [shown(worst[(B, j)]) for j in levels] for B in budgets],
                 f"min over r of ({formula} − exact gap): ≥ 0 where the closed form bounds the gap at every r")


def served_prefix_section(ctx: ReportContext, figure_size: figures.FigureSize) -> Section:
    fig = figures.served_prefix_over_requests(ctx.out_dir, seed=ctx.seed, size=figure_size)
    exact = [r for r in fig.table.rows if r[4] == "exact"]
    by_setting: dict[str, dict[int, float]] = {}
    for r in exact:
        by_setting.setdefault(r[0], {})[r[1]] = r[2]
    names = list(by_setting)
    monotone = all(by_setting[b][r] >= by_setting[a][r] - 1e-9 for a, b in zip(names, names[1:]) for r in by_setting[a])
    mc = [r for r in fig.table.rows if r[4] == "mc"]
    return Section("Served prefix and accuracy vs number of requests", figures=[fig], checks=[
        Check("more budget never serves a shorter expected prefix (SISA ≤ B=2 ≤ B=4 ≤ B=8 at every request count)", monotone,
              f"{len(exact)} exact points; Monte Carlo check points: {len(mc)}"),
    ])


def selection_section(ctx: ReportContext, figure_size: figures.FigureSize) -> Section:
    fig = figures.selection_under_skew(ctx.out_dir, seed=ctx.seed, size=figure_size)
    value = {(r[0], r[1]): r[2] for r in fig.table.rows}
    skews = sorted({r[0] for r in fig.table.rows if r[0] >= 1.0})
    bms_wins = all(value[(s, "bms")] >= max(value[(s, "cyclic")], value[(s, "random")]) - 1e-12 for s in skews)
    optimum = all(value[(s, "optimal")] >= max(v for (t, _), v in value.items() if t == s) - 1e-9 for s, _ in value)
    gaps = {meth: max(value[(s, "optimal")] - value[(s, meth)] for s in {k[0] for k in value}) for meth in {k[1] for k in value}}
    return Section("Selection methods under skewed priors", figures=[fig], checks=[
        Check("BMS beats cyclic and random selection at Zipf exponents ≥ 1", bms_wins, ", ".join(f"s={s:g}: bms {value[(s, 'bms')]:.3f} vs cyclic {value[(s, 'cyclic')]:.3f}" for s in skews)),
        Check("no method exceeds the exact optimum", optimum, "largest gap to the optimum: " + ", ".join(f"{k} {v:.3f}" for k, v in sorted(gaps.items()))),
    ])


def distribution_section(ctx: ReportContext, figure_size: figures.FigureSize) -> Section:
    from scipy import stats

    fig = figures.failure_count_distribution(ctx.out_dir, seed=ctx.seed, size=figure_size)
    pmf = np.array([r[1] for r in fig.table.rows])
    freq = np.array([r[2] for r in fig.table.rows])
    runs = fig.table.rows[0][3]
    # chi-square over bins with expected count >= 5 (the rest pooled)
    expected, observed = pmf * runs, freq * runs
    big = expected >= 5
    exp_bins = np.append(expected[big], expected[~big].sum() + max(0.0, runs - expected.sum()))
    obs_bins = np.append(observed[big], observed[~big].sum())
    keep = exp_bins > 0
    chi2 = float((((obs_bins - exp_bins) ** 2) / np.where(exp_bins > 0, exp_bins, 1))[keep].sum())
    p_value = float(stats.chi2.sf(chi2, keep.sum() - 1))
    return Section("Distribution of the count to failure", figures=[fig], checks=[
        Check("Monte Carlo histogram fits the exact pmf (chi-square test at level 0.001)", p_value > 1e-3,
              f"chi² = {chi2:.1f} on {keep.sum() - 1} degrees of freedom, p = {p_value:.3f}, {runs} runs, seed {ctx.seed}"),
    ])


def training_cost_section(ctx: ReportContext, figure_size: figures.FigureSize) -> Section:
    fig = figures.training_cost_vs_budget(ctx.out_dir, seed=ctx.seed, size=figure_size)
    cyclic = {r[0]: r for r in fig.table.rows if r[1] == "cyclic"}
    never_more = all(r[2] <= r[3] for r in fig.table.rows)
    L = 6
    return Section("Training cost with and without prefix sharing", figures=[fig], checks=[
        Check("prefix sharing never costs more than training every sequence separately", never_more, f"{len(fig.table.rows)} sets"),
        Check("rotations share nothing for B ≤ L (every prefix starts with a different slice)", all(cyclic[B][4] == B * L for B in range(1, L + 1)),
              f"B = 2L: saving {100 * cyclic[2 * L][5]:.0f}%, B = 4L: saving {100 * cyclic[4 * L][5]:.0f}%"),
    ])


def planning_section(ctx: ReportContext, size: ReportSize) -> Section:
    config = size.plan
    result = planning.plan(config, progress=ctx.progress)
    fig = planning.pareto_figure(result, ctx.out_dir)
    write_json_atomic(ctx.out_dir / "plan.json", result.to_json())
    c = config
    inputs = Table(["input", "value"], [
        ["data set size N", c.dataset_size], ["deletion requests per day", c.deletions_per_day], ["horizon (days)", c.horizon_days],
        ["cost of one epoch on the full set", c.epoch_cost], ["performance model", c.performance], ["prior", c.prior],
        ["retraining stop", c.criterion], ["max P(stop within horizon)", c.max_stop_probability],
        ["min expected performance", c.min_performance], ["search", f"m ∈ {list(c.shards)}, L ∈ {list(c.slices)}, B ∈ {list(c.budgets)}, {list(c.selections)}"],
    ], "Planning example: inputs (defaults of s3t plan, plus --max-stop-probability 0.05 --min-performance 0.7)")
    return Section("Planning example", paragraphs=[result.recommendation()], tables=[inputs, result.table(limit=10)], figures=[fig],
                   checks=[Check("the whole planning search takes at most 10 s", result.seconds <= 10,
                                 f"{len(result.rows)} settings in {result.seconds:.2f} s")])


def extra_section(ctx: ReportContext) -> "Section | None":
    """Built-in provider: an ``extra_section.json`` in the output folder becomes a section
    (a hook for any tool that wants its results in the report).

    Format: ``{"title": str, "paragraphs": [str], "checks": [{"claim", "held", "detail"}],
    "tables": [{"title", "columns", "rows"}]}``; absent file → no section.
    """
    path = ctx.out_dir / "extra_section.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    return Section(
        data.get("title", "Additional results"),
        paragraphs=list(data.get("paragraphs", [])),
        checks=[Check(c["claim"], bool(c["held"]), c.get("detail", "")) for c in data.get("checks", [])],
        tables=[Table(t["columns"], [list(r) for r in t["rows"]], t.get("title", "")) for t in data.get("tables", [])],
    )


register_section_provider("extra", extra_section)

# Modules imported when a report is built, so that their ``register_section_provider``
# calls run (each must import without torch; a module that fails to import is skipped
# and named in the report).
PROVIDER_MODULES: tuple[str, ...] = ("analysis.validation_report",)


def _harmonic(k: int) -> float:
    return math.fsum(1.0 / i for i in range(1, k + 1))


# ---------------------------------------------------------------------------------------
def build_report(out_dir: "str | Path" = "out", seed: int = 0, size: str = "default", progress: bool = False) -> ReportResult:
    """Run every check and figure and write ``report.html`` and ``report.md`` under ``out_dir``."""
    from tqdm.auto import tqdm

    check_choice("size", size, tuple(REPORT_SIZES))
    seed = check_int("seed", seed, 0)
    start = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    chosen = REPORT_SIZES[size]
    fig_size = figures.SIZES[chosen.figure_size]
    ctx = ReportContext(out_dir=out_dir, seed=seed, size=size, progress=progress)
    steps = [
        lambda: spec_numbers_section(ctx, chosen),
        lambda: bounds_section(ctx, chosen),
        lambda: saturation_section(ctx, chosen, fig_size),
        lambda: scaling_section(ctx, fig_size),
        lambda: gap_section(ctx, fig_size),
        lambda: served_prefix_section(ctx, fig_size),
        lambda: selection_section(ctx, fig_size),
        lambda: distribution_section(ctx, fig_size),
        lambda: training_cost_section(ctx, fig_size),
        lambda: planning_section(ctx, chosen),
    ]
    sections = [step() for step in tqdm(steps, desc="report", disable=not progress)]
    skipped = []
    for module in PROVIDER_MODULES:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            skipped.append(f"{module} ({exc})")
    for _, provider in section_providers():
        extra = provider(ctx)
        if extra is not None:
            sections.append(extra)
    seconds = time.perf_counter() - start
    sections.append(Section("Reproduce", paragraphs=[
        f"Regenerate this report with: s3t report --out {out_dir.name} --seed {seed} --size {size}  (or make report).",
        "Figures alone: s3t figures --out DIR; bounds: s3t bounds --grid default; planning: s3t plan --json.",
        f"Wall time {seconds:.1f} s on {platform.machine()} with {_cpu_count()} CPU(s).",
    ] + ([f"Section providers not available: {', '.join(skipped)}."] if skipped else [])))
    sections.insert(0, summary_section(sections))
    meta = {
        "generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "seed": str(seed),
        "size": size,
        "versions": _versions(),
        "command": "s3t report " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["report"] else f"build_report(seed={seed}, size={size!r})",
    }
    title = "S3T: bound checks, figures and capacity planning"
    html_path = write_text_atomic(out_dir / "report.html", render_html(title, meta, sections))
    md_path = write_text_atomic(out_dir / "report.md", render_markdown(title, meta, sections))
    return ReportResult(html_path, md_path, sections, seconds)


def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
