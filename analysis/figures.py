"""The paper-style figures, one function each, all in the style of :mod:`analysis.style`.

Every function computes its numbers with ``s3t_sim`` (exact laws, simulator, selection
objectives), draws one figure, and writes ``<name>.png``, ``<name>.pdf`` and
``<name>.csv`` under ``out_dir``. :data:`FIGURES` maps names to functions and
:func:`make_figures` runs a chosen subset at a chosen size.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np

from analysis.bound_check import ANALYTIC, RATES
from analysis.bounds import GAP_REQUEST_MODELS, closed_form_gap, exact_deletion_rate, performance_gap
from analysis.expression import parse_bound
from analysis.style import DEFAULT_FORMATS, OKABE_ITO, SavedFigure, check_formats, colour, linestyle, marker, new_figure, save_figure
from analysis.tables import Table
from s3t_sim.laws import BOUND_FORMS, deletion_law, served_prefix_distribution
from s3t_sim.performance import saturating_performance
from s3t_sim.priors import parse_prior, uniform_prior
from s3t_sim.selection import build_system, expected_served_prefix, select_sequences, training_cost
from s3t_sim.montecarlo import simulate_failure_counts, simulate_served_prefix
from s3t_sim.system import S3TSystem
from s3t_sim.checks import check_choice
from s3t_sim.output import write_json_atomic, write_text_atomic


@dataclass(frozen=True)
class FigureSize:
    """How much work a figure run does (Monte Carlo runs per point, grid extents) and the file
    formats it writes beside PNG and PDF (:data:`analysis.style.FORMATS`)."""

    runs: int
    max_shards: int
    max_slices: int
    formats: tuple[str, ...] = DEFAULT_FORMATS


SIZES = {
    "small": FigureSize(runs=400, max_shards=16, max_slices=8),
    "default": FigureSize(runs=20_000, max_shards=64, max_slices=16),
}

# Meanings of the columns several figures' CSVs share (the data dictionary).
_COMMON = {
    "m": "shards", "L": "slices per shard", "B": "budget: sequences (slice orders) trained per shard",
    "runs": "Monte Carlo runs behind the row (0: exact value only)", "seed": "seed of the row's Monte Carlo run or random draw",
}


# ---------------------------------------------------------------------------------------
def deletion_rate_vs_budget(out_dir: Path, seed: int = 0, size: FigureSize = SIZES["default"]) -> SavedFigure:
    """δ against B for the spec's m = 5, L = 6 (and m = 5, L = 4): exact curve, Monte Carlo
    points (the size of their 95% intervals stated), SISA's two variants as horizontal lines, B = L marked."""
    fig, ax = new_figure()
    rows = []
    m = 5
    half_width = 0.0
    for i, L in enumerate((6, 4)):
        budgets = np.arange(1, 2 * L + 1)
        exact, mc_mean, mc_se = [], [], []
        for B in budgets:
            system, prior = build_system(m, L, int(B))
            exact.append(exact_deletion_rate(system, prior))
            mc = simulate_failure_counts(system, prior, "all-dead", runs=size.runs, seed=seed + 100 * L + int(B))
            mc_mean.append(mc.mean)
            mc_se.append(mc.se)
            half_width = max(half_width, 1.96 * mc.se)
            rows.append(["s3t", m, L, int(B), exact[-1], mc.mean, mc.se, size.runs, seed + 100 * L + int(B)])
        ax.plot(budgets, exact, color=colour(i), linestyle=linestyle(0), label=f"S3T exact, L={L}")
        ax.errorbar(budgets, mc_mean, yerr=1.96 * np.array(mc_se), fmt=marker(i), color=colour(i), capsize=3, markerfacecolor="white",
                    label=f"S3T Monte Carlo mean ± 95% CI, L={L}")
        ax.axvline(L, color=colour(i), linestyle=":", linewidth=1)
        ax.text(L + 0.1, 0.38 - 0.07 * i, f"B = L = {L}", transform=ax.get_xaxis_transform(), color=colour(i), fontsize=8)
    prior = uniform_prior(m, 6)
    for j, (system, name, label) in enumerate(((S3TSystem.sisa(m, 6), "sisa", r"SISA with checkpoints ($mL\,H_m$), L=6"),
                                                (S3TSystem.sisa(m, 6, fallback=False), "sisa_no_fallback", r"SISA without checkpoints ($m\,H_m$), any L"))):
        value = exact_deletion_rate(system, prior)
        ax.axhline(value, color=OKABE_ITO["black"], linestyle=linestyle(j + 1), linewidth=1.2, label=label)
        rows.append([name, m, 6, 1, value, float("nan"), float("nan"), 0, seed])
    ax.set_xlabel("budget B (sequences per shard)")
    ax.set_ylabel("deletion rate δ (expected requests to retraining)")
    ax.set_title(f"Deletion rate vs budget, m = {m} shards, all shards dead")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2,
              title=f"Monte Carlo: {size.runs} runs per point, 95% CI half-width ≤ {half_width:.2g} requests")
    table = Table(["system", "m", "L", "B", "delta_exact", "delta_mc_mean", "delta_mc_se", "runs", "seed"], rows, "Deletion rate vs budget",
                  {"system": "s3t (cyclic rotations), sisa (with checkpoints) or sisa_no_fallback", **_COMMON,
                   "delta_exact": "exact deletion rate: expected requests until every shard is dead (requests)",
                   "delta_mc_mean": "Monte Carlo mean of the same count (requests; nan for exact-only rows)",
                   "delta_mc_se": "standard error of delta_mc_mean (requests)"})
    return save_figure(fig, out_dir, "deletion_rate_vs_budget", table, "Deletion rate vs budget B",
                       f"Exact curve (coupon collector over the distinct first slices), Monte Carlo means ({size.runs} runs per point; "
                       f"95% intervals at most ±{half_width:.2g} requests), SISA's two variants; "
                       "δ stops rising at B = L.", formats=size.formats)


def deletion_rate_scaling(out_dir: Path, seed: int = 0, size: FigureSize = SIZES["default"]) -> SavedFigure:
    """δ/g along the rays "m grows" (L = 8) and "L = B grows" (m = 8) for the poster's and the
    arXiv's bound forms g: exact law and Monte Carlo (±95% CI) on the computed points, the
    closed form δ = mL·H_{mB'} continued to 2^20, and each form's analytic constant
    (:data:`analysis.bound_check.ANALYTIC`) as a horizontal line: no constant is fitted."""
    fig, axes = new_figure(ncols=2, width=11.5, height=4.4)
    rows = []
    panels = (("m", [2**k for k in range(1, int(math.log2(size.max_shards)) + 1)], 8),
              ("L", [2**k for k in range(1, int(math.log2(size.max_slices)) + 1)], 8))
    forms = {"poster": "mL·log(mL·B′) (poster)", "arxiv": "mL·log(m·B′) (arXiv)"}
    for ax, (axis_name, values, fixed) in zip(axes, panels):
        far = np.unique(np.round(np.geomspace(2, 2**20, 60)))
        for i, (name, pretty) in enumerate(forms.items()):
            g = parse_bound(BOUND_FORMS[name].expression)
            ray = (far, np.full_like(far, fixed), np.full_like(far, fixed)) if axis_name == "m" else (np.full_like(far, fixed), far, far)
            ax.plot(far, RATES["s3t"](*ray) / g(*ray), color=colour(i), linestyle=linestyle(i), linewidth=1,
                    label=f"δ/g, {pretty}: closed form")
            c = ANALYTIC[(BOUND_FORMS[name].expression, "s3t")].constant
            ax.axhline(c, color=colour(i), linestyle=":", linewidth=1.2)
            ax.text(far[-1] if i else 2.0, c, f"{name}: analytic c = {c:.3f}", color=colour(i), fontsize=8,
                    ha="right" if i else "left", va="bottom" if i else "top")
        for v in values:
            m, L = (v, fixed) if axis_name == "m" else (fixed, v)
            system, prior = build_system(m, L, L)
            exact = exact_deletion_rate(system, prior)
            run_seed = seed + 7919 * m + L
            mc = simulate_failure_counts(system, prior, "all-dead", runs=size.runs, seed=run_seed)
            row = [axis_name, m, L, L, exact, mc.mean, mc.se, size.runs, run_seed]
            for i, name in enumerate(forms):
                g = float(BOUND_FORMS[name](m, L, L))
                first = v == values[0]
                ax.errorbar([v], [mc.mean / g], yerr=[1.96 * mc.se / g], fmt="none", ecolor=OKABE_ITO["black"], capsize=2,
                            label="Monte Carlo ±95% CI" if first and i == 0 else None)
                ax.plot([v], [exact / g], marker=marker(i), color=colour(i), linestyle="none",
                        label=f"exact law, {name}" if first else None)
                row += [exact / g, mc.mean / g, mc.se / g, ANALYTIC[(BOUND_FORMS[name].expression, "s3t")].constant]
            rows.append(row)
        ax.set_xscale("log", base=2)
        ax.set_ylim(bottom=0)
        ax.set_xlabel("shards m (ray: m grows)" if axis_name == "m" else "L = B (ray: mL grows with B′ = L)")
        ax.set_ylabel("exact δ / bound form g")
        ax.set_title(f"ray {'m' if axis_name == 'm' else 'L = B'} ({'L = B' if axis_name == 'm' else 'm'} = {fixed})")
        ax.legend(loc="lower left", bbox_to_anchor=(0.3, 0.6), fontsize=8)  # the empty band under the constants
    columns = ["ray", "m", "L", "B", "delta_exact", "delta_mc_mean", "delta_mc_se", "runs", "seed"]
    columns += [f"{key}_{name}" for name in forms for key in ("ratio_exact", "ratio_mc", "ratio_mc_se", "analytic_constant")]
    descriptions = {"ray": "the growing variable: m (L = B = 8) or L (m = 8, B = L)", **_COMMON,
                    "delta_exact": "exact deletion rate δ (requests until every shard is dead)",
                    "delta_mc_mean": "Monte Carlo mean of the same count (requests)",
                    "delta_mc_se": "standard error of delta_mc_mean (requests)"}
    for name, pretty in forms.items():
        descriptions |= {f"ratio_exact_{name}": f"δ / g for g = {pretty} (dimensionless)",
                         f"ratio_mc_{name}": f"Monte Carlo mean / g for g = {pretty}",
                         f"ratio_mc_se_{name}": "standard error of that ratio (the figure's bars are ±1.96 of it)",
                         f"analytic_constant_{name}": "proved c with δ ≤ c·g (dotted line; analysis.bound_check.ANALYTIC)"}
    table = Table(columns, rows, "Deletion rate over the bound forms along two rays", descriptions)
    return save_figure(fig, out_dir, "deletion_rate_scaling", table, "Exact δ / bound form along rays, with the analytic constants",
                       "Markers: exact law on the computed systems, black bars Monte Carlo ±95% CI; lines: the closed form "
                       "mL·H_{mB′} continued to 2^20; dotted: the proved constant c with δ ≤ c·g (no fitted constant).",
                       formats=size.formats)


def served_prefix_over_requests(out_dir: Path, seed: int = 0, size: FigureSize = SIZES["default"]) -> SavedFigure:
    """Expected served prefix per shard and modelled accuracy against the number of requests,
    for several budgets and for SISA; exact (enumeration over hit sets) with Monte Carlo points
    and their 95% intervals (the largest half-width noted in each panel)."""
    m, L = 4, 8
    model = saturating_performance(L, 0.5, 0.9, 2.0)
    requests = np.unique(np.round(np.geomspace(1, 40 * m * L / 8, 40)).astype(int))
    check_points = requests[:: max(1, len(requests) // 8)]
    fig, (ax_k, ax_f) = new_figure(ncols=2, width=11.5, height=4.6)
    rows = []
    half_width = {ax_k: 0.0, ax_f: 0.0}
    settings = [("sisa", 1, "SISA (B = 1)")] + [("cyclic", B, f"S3T B = {B}") for B in (2, 4, 8)]
    for i, (selection, B, label) in enumerate(settings):
        seqs = select_sequences(selection, L, B)
        pmfs = np.array([served_prefix_distribution(seqs, None, int(r), shard_share=1.0 / m) for r in requests])
        mean_k, mean_f = pmfs @ np.arange(L + 1), pmfs @ model.values
        ax_k.plot(requests, mean_k, color=colour(i), linestyle=linestyle(i), label=label)
        ax_f.plot(requests, mean_f, color=colour(i), linestyle=linestyle(i), label=label)
        run_seed = seed + 31 * i
        sim = simulate_served_prefix(S3TSystem(np.broadcast_to(seqs, (m,) + seqs.shape)), None, check_points, size.runs, run_seed)
        k_runs, f_runs = sim.mean(axis=2), model.values[sim].mean(axis=2)  # per run, mean over shards
        k_se, f_se = (arr.std(axis=0, ddof=1) / math.sqrt(size.runs) for arr in (k_runs, f_runs))
        for arr, se, ax in ((k_runs, k_se, ax_k), (f_runs, f_se, ax_f)):
            ax.errorbar(check_points, arr.mean(axis=0), yerr=1.96 * se, fmt=marker(i), color=colour(i), markersize=4, capsize=2, linestyle="none")
            half_width[ax] = max(half_width[ax], float(1.96 * se.max()))
        for r, k, f in zip(requests, mean_k, mean_f):
            rows.append([selection, B, int(r), "exact", float(k), float("nan"), float(f), float("nan"), 0, seed])
        for c, r in enumerate(check_points):
            rows.append([selection, B, int(r), "monte_carlo", float(k_runs[:, c].mean()), float(k_se[c]),
                         float(f_runs[:, c].mean()), float(f_se[c]), size.runs, run_seed])
    ax_k.plot([], [], color=OKABE_ITO["black"], label="lines: exact law")
    ax_k.errorbar([], [], yerr=[], fmt="o", color=OKABE_ITO["black"], markersize=4, capsize=2,
                  label=f"markers: Monte Carlo mean ± 95% CI ({size.runs} runs)")
    for ax, ylabel, unit in ((ax_k, "expected served prefix per shard (stages)", "stages"), (ax_f, "modelled accuracy (mean over shards)", "")):
        ax.set_xscale("log")
        ax.set_xlabel("deletion requests to the system")
        ax.set_ylabel(ylabel)
        ax.text(0.02, 0.03, f"95% CI half-width ≤ {half_width[ax]:.2g} {unit}".rstrip(), transform=ax.transAxes, fontsize=9)
    handles, labels = ax_k.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=10)
    ax_k.set_title(f"Served prefix, m = {m}, L = {L}")
    ax_f.set_title(f"Accuracy with {model.name}, f(0)={model.values[0]:.2f}, f(L)={model.values[-1]:.3f}")
    table = Table(["selection", "B", "requests", "method", "served_prefix_mean_stages", "served_prefix_se_stages",
                   "accuracy_mean", "accuracy_se", "runs", "seed"], rows, "Served prefix and accuracy vs requests",
                  {"selection": "sisa (one sequence per shard) or cyclic (rotations)", "B": _COMMON["B"],
                   "requests": "deletion requests to the system (uniform over the data)",
                   "method": "exact (enumeration over hit sets) or monte_carlo",
                   "served_prefix_mean_stages": f"expected served prefix per shard (stages, 0..{L})",
                   "served_prefix_se_stages": "standard error of the Monte Carlo mean (stages; nan for exact rows)",
                   "accuracy_mean": f"modelled accuracy, mean over the {m} shards, with {model.name} (fraction)",
                   "accuracy_se": "standard error of the Monte Carlo accuracy (fraction; nan for exact rows)",
                   "runs": _COMMON["runs"], "seed": _COMMON["seed"]})
    return save_figure(fig, out_dir, "served_prefix_vs_requests", table, "Served prefix and accuracy vs number of requests",
                       f"Lines: exact law (enumeration over hit sets); markers: Monte Carlo means ({size.runs} runs) with 95% intervals, "
                       f"at most ±{half_width[ax_k]:.2g} stages and ±{half_width[ax_f]:.2g} in accuracy.", formats=size.formats)


def selection_under_skew(out_dir: Path, seed: int = 0, size: FigureSize = SIZES["default"]) -> SavedFigure:
    """Expected served prefix (averaged over r = 1..R requests) of each selection method
    under Zipf priors of growing skew, against the exact optimum (tiny system)."""
    L, B, R = 5, 3, 10
    exponents = [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    methods = ["optimal", "local-search", "bms", "cyclic", "strided", "random"]
    values = {meth: [] for meth in methods}
    rows = []
    for s in exponents:
        prior = np.full(L, 1.0 / L) if s == 0 else parse_prior(f"zipf:{s}", 1, L, assignment="sorted")[0]
        for meth in methods:
            draws = 10 if meth == "random" else 1  # random: mean over 10 seeded draws
            value = float(np.mean([
                float(expected_served_prefix(select_sequences(meth, L, B, prior=prior, seed=seed + d, horizon=R), prior, R,
                                             average=True, method="exact"))
                for d in range(draws)
            ]))
            values[meth].append(value)
            rows.append([s, meth, L, B, R, value, draws, seed])
    fig, ax = new_figure()
    for i, meth in enumerate(methods):
        style = dict(color=OKABE_ITO["black"], linewidth=2.4) if meth == "optimal" else dict(color=colour(i - 1))
        ax.plot(exponents, values[meth], marker=marker(i), linestyle=linestyle(i), label=meth, **style)
    ax.set_xlabel("Zipf exponent s of the per-point deletion law (0 = uniform)")
    ax.set_ylabel(f"expected served prefix, averaged over r ≤ {R}")
    ax.set_title(f"Selection methods under skewed priors (one shard, L = {L}, B = {B})")
    ax.legend(loc="best")
    table = Table(["zipf_exponent", "method", "L", "B", "horizon_requests", "served_prefix_avg_stages", "draws", "seed"], rows,
                  "Selection under skew",
                  {"zipf_exponent": "exponent s of the Zipf prior over slices (0: uniform)", "method": "selection method (s3t select --method)",
                   "L": _COMMON["L"], "B": _COMMON["B"], "horizon_requests": "R: the objective averages over r = 1..R requests",
                   "served_prefix_avg_stages": "exact expected served prefix, averaged over r = 1..R (stages)",
                   "draws": "seeded selections averaged (random: 10, others: 1)", "seed": _COMMON["seed"]})
    return save_figure(fig, out_dir, "selection_under_skew", table, "Selection methods under skewed priors",
                       f"Exact objective (enumeration); 'optimal' is the exhaustive optimum of the same objective; "
                       f"'random' is the mean over 10 seeded draws; slices sorted by popularity, R = {R}.", formats=size.formats)


def failure_count_distribution(out_dir: Path, seed: int = 0, size: FigureSize = SIZES["default"]) -> SavedFigure:
    """Monte Carlo histogram of the count to failure over the exact pmf, (m, L, B) = (5, 6, 3)."""
    m, L, B = 5, 6, 3
    runs = 10 * size.runs
    system, prior = build_system(m, L, B)
    law = deletion_law(system, prior, "all-dead")
    mc = simulate_failure_counts(system, prior, "all-dead", runs=runs, seed=seed)
    top = int(mc.values.max())  # every run falls in a bin; the exact pmf beyond holds the rest of the mass
    r = np.arange(0, top + 1)
    pmf = np.asarray(law.pmf(r), dtype=float)
    freq = np.bincount(mc.values, minlength=top + 1) / runs
    fig, ax = new_figure()
    ax.bar(r, freq, width=1.0, color=colour(4), alpha=0.7, label=f"Monte Carlo, {runs} runs (seed {seed})")
    ax.plot(r, pmf, color=colour(3), linewidth=1.6, label="exact pmf")
    ax.axvline(law.mean(), color=OKABE_ITO["black"], linestyle="--", linewidth=1, label=f"exact mean {law.mean():.2f}")
    ax.set_xlabel("requests until all shards are dead")
    ax.set_ylabel("probability")
    ax.set_title(f"Distribution of the count to failure, m = {m}, L = {L}, B = {B}")
    ax.legend(loc="upper right")
    table = Table(["requests_to_failure", "exact_pmf", "mc_frequency", "mc_frequency_se", "runs", "seed"],
                  [[int(x), float(p), float(f), math.sqrt(p * (1 - p) / runs), runs, seed] for x, p, f in zip(r, pmf, freq)],
                  "Count to failure",
                  {"requests_to_failure": f"requests until all {m} shards are dead (m = {m}, L = {L}, B = {B}, cyclic)",
                   "exact_pmf": "exact probability of that count", "mc_frequency": "Monte Carlo relative frequency",
                   "mc_frequency_se": "binomial standard error of mc_frequency under the exact pmf",
                   "runs": _COMMON["runs"], "seed": _COMMON["seed"]})
    return save_figure(fig, out_dir, "failure_count_distribution", table, "Distribution of the count to failure",
                       f"Exact law (mean {law.mean():.3f}, sd {law.std():.3f}) against a Monte Carlo histogram "
                       f"(mean {mc.mean:.3f} ± {mc.se:.3f} SE).", formats=size.formats)


def performance_gap_figure(out_dir: Path, seed: int = 0, size: FigureSize = SIZES["default"]) -> SavedFigure:
    """Exact S3T−SISA gap in P(k ≥ j) against ζ for B' = 2, 4, 8 (L = 8), in both request
    models (rows: exactly r requests; Poisson(r) requests), next to both closed forms; the
    points of each curve are r = 1, 2, 4, 8, 16, 32, labelled on the j = 1 curve."""
    L, budgets, requests, levels = 8, (2, 4, 8), (1, 2, 4, 8, 16, 32), (1, 2, 4, 6)
    tables = {model: performance_gap(L, budgets, requests, request_model=model) for model in GAP_REQUEST_MODELS}
    fig, axes = new_figure(ncols=3, nrows=2, width=13, height=8.2)
    zeta_grid = np.linspace(0, 1, 200)
    for row_axes, model in zip(axes, GAP_REQUEST_MODELS):
        for ax, B in zip(row_axes, budgets):
            cells = [row for row in tables[model].rows if row[1] == B]
            for i, j in enumerate(levels):
                pts = sorted((row[4], row[5], row[3]) for row in cells if row[2] == j)
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=marker(i), color=colour(i), label=f"exact, j = {j}")
                if j == 1:
                    for z, gap, r in pts:
                        ax.annotate(f"r={r}", (z, gap), textcoords="offset points", xytext=(3, 4), fontsize=7)
            ax.plot(zeta_grid, closed_form_gap(zeta_grid, B, "spec"), color=OKABE_ITO["black"], linestyle="--",
                    label=r"spec: $\zeta(1-\zeta^{B'-1})$")
            ax.plot(zeta_grid, closed_form_gap(zeta_grid, B, "paper"), color=OKABE_ITO["black"], linestyle=":",
                    label=r"paper: $\zeta(1-\zeta^{B'})$")
            ax.set_xlabel("ζ = P(one sequence's j-prefix hit)")
            ax.set_ylabel("gap in P(served prefix ≥ j)")
            ax.set_title(f"{'exactly r' if model == 'fixed' else 'Poisson(r)'} requests, B' = {B}, L = {L}")
            ax.set_xlim(0, 1)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=6)
    rows = [[row[9], row[0], row[1], row[2], row[3], row[4], row[5], row[6], float(closed_form_gap(row[4], row[1], "paper"))]
            for model in GAP_REQUEST_MODELS for row in tables[model].rows]
    table = Table(["request_model", "L", "B", "j", "r", "zeta", "exact_gap", "closed_form_spec", "closed_form_paper"], rows,
                  "Performance gap, both request models",
                  {"request_model": "fixed (exactly r requests) or poisson (Poisson(r) requests)", "L": _COMMON["L"],
                   "B": "B′: budget of the S3T shard (cyclic rotations); SISA has one sequence",
                   "j": "stage level: the gap is in P(served prefix ≥ j)", "r": "requests to the shard (mean r for poisson)",
                   "zeta": "ζ = 1 − P_SISA(served prefix ≥ j): probability that one sequence's j-prefix is hit",
                   "exact_gap": "P_S3T(served prefix ≥ j) − P_SISA(served prefix ≥ j), exact (probability)",
                   "closed_form_spec": "ζ(1 − ζ^(B′−1)), the spec's reading (probability)",
                   "closed_form_paper": "ζ(1 − ζ^B′), the paper's reading (probability)"})
    return save_figure(fig, out_dir, "performance_gap", table, "Performance gap: exact vs closed form, both request models",
                       f"One shard, uniform prior, r ∈ {', '.join(map(str, requests))} (points along each curve, labelled on j = 1). "
                       "Top: exactly r requests (hits negatively associated; the exact curve rises above the closed forms). "
                       "Bottom: Poisson(r) requests (slices hit independently; by Harris–FKG the spec's form bounds the gap).",
                       formats=size.formats)


def training_cost_vs_budget(out_dir: Path, seed: int = 0, size: FigureSize = SIZES["default"]) -> SavedFigure:
    """Saving of prefix sharing (% of the separate training cost, slice-passes per epoch per shard) against B."""
    L = 6
    budgets = list(range(1, 4 * L + 1))
    rows = []
    selections = (("cyclic", "cyclic", None), ("random", "random", None), ("bms", "bms", "zipf:1.5"))
    saving: dict[str, list[float]] = {name: [] for name, _, _ in selections}
    for B in budgets:
        for name, meth, prior_spec in selections:
            prior = parse_prior(prior_spec, 1, L, assignment="sorted")[0] if prior_spec else None
            cost = training_cost(select_sequences(meth, L, B, prior=prior, seed=seed))
            saving[name].append(100 * cost["saving"])
            rows.append([B, L, name, prior_spec or "uniform", cost["shared_cost"], cost["separate_cost"], cost["distinct_prefixes"],
                         100 * cost["saving"], seed])
    fig, ax = new_figure()
    for i, (name, _, prior_spec) in enumerate(selections):
        label = f"{name} (prior {prior_spec})" if prior_spec else name
        if i and saving[name] == saving[selections[0][0]]:
            label += f", same as {selections[0][0]}"
        ax.plot(budgets, saving[name], color=colour(i), marker=marker(i), markersize=4, linestyle=linestyle(i), label=label,
                linewidth=4 if i == 0 else None, zorder=3 - i / 10 if i else 2)
    ax.axvline(L, color=OKABE_ITO["black"], linestyle=":", linewidth=1)
    ax.text(L + 0.2, 0.5, f"B = L = {L}", transform=ax.get_xaxis_transform(), fontsize=9)
    at_end = ", ".join(f"{name} {saving[name][-1]:.1f}%" for name in saving)
    ax.set_xlabel("budget B (sequences per shard)")
    ax.set_ylabel("saving of prefix sharing (% of separate cost)")
    ax.set_title(f"Training cost saved by sharing prefixes, L = {L}")
    ax.legend(loc="upper left", title="selection")
    table = Table(["B", "L", "selection", "prior", "shared_cost_slice_passes", "separate_cost_slice_passes", "distinct_prefixes",
                   "saving_percent", "seed"], rows, "Training cost vs budget",
                  {"B": _COMMON["B"], "L": _COMMON["L"], "selection": "selection method", "prior": "prior given to the selection",
                   "shared_cost_slice_passes": "slice-passes per epoch per shard when shared prefixes train once (prefix tree)",
                   "separate_cost_slice_passes": "slice-passes per epoch per shard training every sequence separately: B·L(L+1)/2",
                   "distinct_prefixes": "distinct prefixes (nodes of the prefix tree) = stages trained",
                   "saving_percent": "100·(1 − shared/separate) (%)", "seed": "seed of the random selection"})
    return save_figure(fig, out_dir, "training_cost_vs_budget", table, "Training cost saved by prefix sharing",
                       f"Stage k trains on k slices; shared prefixes are trained once (prefix tree of the set). Cyclic rotations save nothing "
                       f"for B ≤ L = {L} (each starts with a different slice); at B = {budgets[-1]} the saving is {at_end}; "
                       "absolute costs are in the CSV.", formats=size.formats)


FIGURES: dict[str, Callable[..., SavedFigure]] = {
    "deletion_rate_vs_budget": deletion_rate_vs_budget,
    "deletion_rate_scaling": deletion_rate_scaling,
    "served_prefix_vs_requests": served_prefix_over_requests,
    "selection_under_skew": selection_under_skew,
    "failure_count_distribution": failure_count_distribution,
    "performance_gap": performance_gap_figure,
    "training_cost_vs_budget": training_cost_vs_budget,
}


def make_figures(out_dir: "str | Path", names: "list[str] | None" = None, size: str = "default", seed: int = 0,
                 progress: bool = False, formats: "tuple[str, ...]" = DEFAULT_FORMATS) -> list[SavedFigure]:
    """Draw the named figures (all by default) into ``out_dir``, each in ``formats`` (PNG and
    PDF always) with its CSV, plus ``data_dictionary.csv``/``.json``; returns what was saved."""
    from tqdm.auto import tqdm

    check_choice("size", size, tuple(SIZES))
    names = list(FIGURES) if not names else names
    for name in names:
        check_choice("figure", name, tuple(FIGURES))
    chosen = replace(SIZES[size], formats=check_formats(formats))
    out_dir = Path(out_dir)
    saved = [FIGURES[name](out_dir, seed=seed, size=chosen) for name in tqdm(names, desc="figures", disable=not progress)]
    write_data_dictionary(out_dir, saved)
    return saved


def write_data_dictionary(out_dir: "str | Path", saved: "list[SavedFigure]") -> tuple[Path, Path]:
    """``data_dictionary.csv`` and ``.json`` (same keys: file, column, description) for the
    CSVs of ``saved``; a column without a description is listed with an empty one."""
    rows = [[fig.csv.name, column, fig.table.descriptions.get(column, "")] for fig in saved for column in fig.table.columns]
    table = Table(["file", "column", "description"], rows, "Data dictionary")
    out_dir = Path(out_dir)
    return (write_text_atomic(out_dir / "data_dictionary.csv", table.to_csv()),
            write_json_atomic(out_dir / "data_dictionary.json", table.to_records()))
