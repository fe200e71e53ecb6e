"""The report of ``s3t simulate``: Monte Carlo next to the exact laws, the bound forms and SISA.

:func:`simulation_report` returns a JSON-ready dict; :func:`format_simulation_report`
renders it as the readable table.
"""
from __future__ import annotations

import math

import numpy as np

from s3t_sim.checks import check_budget, check_int
from s3t_sim.criteria import parse_criterion
from s3t_sim.laws.bound_forms import bound_values
from s3t_sim.laws.coupon import CouponCollectorLaw, all_dead_law
from s3t_sim.laws.deletion import deletion_law
from s3t_sim.laws.rotations import uniform_rotation_starts
from s3t_sim.laws.served_prefix import MAX_SHARD_SLICES
from s3t_sim.laws.served_prefix_law import system_served_prefix_laws, total_served_prefix_law
from s3t_sim.montecarlo.fast import simulate_failure_counts, simulate_served_prefix
from s3t_sim.montecarlo.streams import apportion_points
from s3t_sim.montecarlo.sisa_cost import expected_sisa_cost_per_request
from s3t_sim.performance import parse_performance
from s3t_sim.priors import POINT_LAWS
from s3t_sim.selection.build import build_system
from s3t_sim.system import S3TSystem

EXACT_WEIGHTED_MAX_L = 12  # Poisson-embedding enumeration for prefix/performance criteria
EXACT_WEIGHTED_MAX_M = 64
SELF_CHECK_Z = 5.0  # exact and Monte Carlo means further apart than this many SE: reported loudly


def _exact_count(system, prior, criterion) -> tuple:
    """Exact mean, variance, method and the mean's and variance's absolute error bounds (i.i.d. requests)."""
    none = (None, None, None, None, None)
    rotations = system.checkpoint_fallback and all(
        uniform_rotation_starts(system.sequences[s], prior[s]) is not None for s in range(system.m))
    too_large = system.L > EXACT_WEIGHTED_MAX_L and not rotations or system.m > EXACT_WEIGHTED_MAX_M
    if not criterion.depends_only_on_death() and too_large:
        return none
    try:
        law = deletion_law(system, prior, criterion)
        mean, var = law.mean(), law.var()
    except ValueError:
        return none
    if isinstance(law, CouponCollectorLaw):
        return mean, var, law.method, 1e-15 * mean, 1e-14 * var
    label = "Poisson embedding" + (", uniform rotations (any L)" if rotations and system.L > MAX_SHARD_SLICES else "")
    return mean, var, label, law.moments.mean_error, law.moments.var_error


def self_check(mc_mean: float, mc_se: float, exact: "float | None", exact_error: float = 0.0,
               quantity: str = "mean") -> tuple[str, str]:
    """``("agrees" | "DISAGREES" | "no exact value", message)``: an exact value against Monte Carlo.

    They disagree when ``|MC - exact| > 5 SE + exact_error`` (with ``SE = 0``: any difference
    beyond the exact value's error bound), which at a correct exact value happens with
    probability ~6e-7 per run. ``quantity`` names what is compared (``mean``, ``variance``, ...).
    """
    if exact is None:
        return "no exact value", ""
    gap = abs(mc_mean - exact)
    if gap <= SELF_CHECK_Z * mc_se + exact_error + 1e-12 * abs(exact):
        return "agrees", ""
    z = f"{gap / mc_se:.1f} SE" if mc_se > 0 else "a deterministic Monte Carlo (SE = 0)"
    return "DISAGREES", (
        f"SELF-CHECK FAILED: exact {quantity} {exact:.10g} and Monte Carlo {mc_mean:.6g} ± {mc_se:.2g} differ by {z} "
        f"(> {SELF_CHECK_Z:g} SE): one of them is wrong; please report this with the command line"
    )


def variance_se(values: np.ndarray) -> tuple[float, float]:
    """Sample variance ``s^2`` and its standard error by the delta method,
    ``SE(s^2) = sqrt((mu_4 - s^4) / n)`` (``mu_4`` the central fourth moment; Cramér,
    *Mathematical Methods of Statistics*, §27.7)."""
    x = np.asarray(values, dtype=float)
    centred = x - x.mean()
    s2 = float(centred @ centred / (x.size - 1))
    mu4 = float(np.mean(centred**4))
    return s2, math.sqrt(max(mu4 - s2 * s2, 0.0) / x.size)


def _variance_check(report: dict, values: np.ndarray, law_var_error: float) -> None:
    """The exact variance against the Monte Carlo sample variance (with its delta-method SE)."""
    s2, s2_se = variance_se(values)
    report.update(mc_var=s2, mc_var_se=s2_se)
    exact_var = report.get("exact_var")
    report["var_self_check"], report["var_self_check_message"] = self_check(s2, s2_se, exact_var, law_var_error, "variance")


def _parse_counts(text: "str | None") -> list[int]:
    if not text:
        return []
    try:
        counts = [int(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"--served-at must be comma-separated integers >= 0; got {text!r}") from None
    if any(c < 0 for c in counts):
        raise ValueError(f"--served-at must be comma-separated integers >= 0; got {text!r}")
    return counts


def simulation_report(
    m: int = 20,
    L: int = 16,
    B: int = 16,
    selection: str = "cyclic",
    prior: str = "uniform",
    criterion: str = "all-dead",
    performance: str = "saturating",
    request_model: str = "iid",
    points: int | None = None,
    runs: int = 10000,
    seed: int = 0,
    served_at: "str | list[int] | None" = None,
    points_per_slice: int = 100,
    assignment: str = "random",
    prior_seed: int = 0,
    progress: bool | None = None,
) -> dict:
    """Run the simulation and the exact laws; return everything as a JSON-ready dict.

    Keys include ``mc_mean``, ``mc_se``, ``mc_std``, ``exact`` (``None`` when no law applies),
    ``exact_var``, ``exact_method``, ``runs``, ``seed``, ``seconds``, the bound forms and their
    ratios, SISA's exact counts (uniform ``all-dead``), and SISA's retraining cost until failure.
    """
    m = check_int("m (--shards)", m, 1)
    L = check_int("L (--slices)", L, 1)
    B = check_budget(B, L)
    runs = check_int("runs", runs, 2)
    seed = check_int("seed", seed, 0)
    if request_model == "without-replacement" and str(prior).partition(":")[0] in POINT_LAWS:
        raise ValueError(
            f"--prior {prior} is a per-point law: without replacement its points would be deleted by weighted "
            "successive sampling, which is not implemented (the slice-size reading would change the law); "
            "use --request-model iid, or a per-slice prior (uniform or a CSV), whose values give the slice sizes"
        )
    system, p = build_system(m, L, B, selection, prior, seed, prior_seed=prior_seed,
                             points_per_slice=points_per_slice, assignment=assignment)
    uniform = prior in (None, "uniform")
    crit = parse_criterion(criterion, parse_performance(performance, L) if str(criterion).startswith("performance-below") else None)
    if request_model == "without-replacement" and points is None:
        points = m * L * points_per_slice
    counts = _parse_counts(served_at) if not isinstance(served_at, list) else served_at  # refused before any work
    result = simulate_failure_counts(system, p, crit, runs, seed, request_model, points, progress)
    report = {
        "m": m, "L": L, "B": B, "selection": selection, "prior": str(prior), "criterion": str(crit),
        "request_model": request_model, "points": points,
        "mc_mean": result.mean, "mc_se": result.se, "mc_std": result.std,
        "mc_quantiles": dict(zip(("q05", "q50", "q95"), map(float, result.quantile([0.05, 0.5, 0.95])))),
        "runs": runs, "seed": result.seed, "seconds": result.seconds,
    }
    exact, exact_var, method, exact_error, var_error = (None, None, None, None, None)
    if request_model == "iid":
        exact, exact_var, method, exact_error, var_error = _exact_count(system, p, crit)
    report.update(exact=exact, exact_var=exact_var, exact_method=method, exact_error=exact_error)
    report["mc_minus_exact_in_se"] = None if exact is None else (result.mean - exact) / result.se if result.se > 0 else None
    report["self_check"], report["self_check_message"] = self_check(result.mean, result.se, exact, exact_error or 0.0)
    _variance_check(report, result.values, var_error or 0.0)
    bounds = bound_values(m, L, B)
    reference = exact if exact is not None else result.mean
    report.update(bounds)
    report.update({f"ratio_{k.split('_')[1]}": (reference / v if v > 0 else None) for k, v in bounds.items()})
    if uniform and crit.is_all_dead() and request_model == "iid":
        report["sisa_fallback_exact"] = all_dead_law(S3TSystem.sisa(m, L, True)).mean()
        report["sisa_no_fallback_exact"] = all_dead_law(S3TSystem.sisa(m, L, False)).mean()
    if request_model == "iid":
        per_request = expected_sisa_cost_per_request(S3TSystem.sisa(m, L), p)
        report["sisa_cost_per_request"] = per_request
        # Wald: E[cost up to T] = E[T] E[c], with the exact E[T] where there is one
        report["sisa_cost_until_failure"] = per_request * (result.mean if exact is None else exact)
        report["sisa_cost_until_failure_se"] = per_request * result.se if exact is None else 0.0
    if counts:
        report["served_prefix"] = _served_prefix_rows(system, p, counts, runs, seed, request_model, points, progress)
    return report


def _exact_fractions(system, p, counts, request_model, points) -> tuple["list[float] | None", "str | None"]:
    """Exact expected served fraction after each count (``None`` where no exact law applies), and the method."""
    if system.L > EXACT_WEIGHTED_MAX_L and system.L <= MAX_SHARD_SLICES or system.m > EXACT_WEIGHTED_MAX_M * 16:
        return None, None
    sizes = apportion_points(p, points) if request_model == "without-replacement" else None
    try:
        laws = [system_served_prefix_laws(system, p, r, request_model=request_model, sizes=sizes) for r in counts]
    except ValueError:  # beyond the enumeration and not uniform rotations
        return None, None
    methods = sorted({law.method for row in laws for law in row if not law.method.startswith("no hit")})
    return [math.fsum(law.mean() for law in row) / (system.m * system.L) for row in laws], "; ".join(methods) or None


def _served_prefix_rows(system, p, counts, runs, seed, request_model, points, progress) -> list[dict]:
    """The served fraction of the system after each request count: Monte Carlo and, where it applies, exact,
    with the self-check of each row."""
    L = system.L
    k = simulate_served_prefix(system, p, counts, runs, seed, request_model, points, progress)
    fraction = k.mean(axis=2) / L  # served fraction of the system per run
    exact_rows, method = _exact_fractions(system, p, counts, request_model, points)
    rows = []
    for i, r in enumerate(counts):
        mc, se = float(fraction[:, i].mean()), float(fraction[:, i].std(ddof=1) / math.sqrt(runs))
        exact = None if exact_rows is None else exact_rows[i]
        status, message = self_check(mc, se, exact, 1e-12, f"served fraction after {r} requests")
        row = {"requests": r, "mc_fraction": mc, "mc_se": se, "exact_fraction": exact, "exact_method": method,
               "self_check": status, "self_check_message": message,
               "dead_shards": float((k[:, i, :] == 0).sum(axis=1).mean())}
        var, var_se = variance_se(fraction[:, i])
        exact_var = None if exact is None else _exact_fraction_variance(system, p, r, request_model, points)
        var_status, var_message = self_check(var, var_se, exact_var, 1e-12, f"variance of the served fraction after {r} requests")
        row.update(mc_var=var, mc_var_se=var_se, exact_var=exact_var, var_self_check=var_status,
                   var_self_check_message=var_message)
        if status != "DISAGREES" and var_status == "DISAGREES":
            row.update(self_check=var_status, self_check_message=var_message)
        rows.append(row)
    return rows


def _exact_fraction_variance(system, p, r: int, request_model: str, points) -> "float | None":
    """``Var[K / (mL)]`` from the total served prefix's law (``None`` beyond its size limit)."""
    sizes = apportion_points(p, points) if request_model == "without-replacement" else None
    try:
        law = total_served_prefix_law(system, p, r, request_model=request_model, sizes=sizes)
    except ValueError:
        return None
    return law.var() / (system.m * system.L) ** 2


def _fmt(x, digits: int = 4) -> str:
    return "—" if x is None else f"{x:.{digits}g}" if isinstance(x, float) else str(x)


def format_simulation_report(r: dict) -> str:
    """The readable table of :func:`simulation_report`."""
    failed = [x for x in [r] + [x for x in [{"self_check": r.get("var_self_check"), "self_check_message": r.get(
        "var_self_check_message")}]] + list(r.get("served_prefix") or []) if x.get("self_check") == "DISAGREES"]
    alarm = [x["self_check_message"] for x in failed] + ([""] if failed else [])
    lines = alarm + [
        f"s3t simulate: m={r['m']} L={r['L']} B={r['B']} selection={r['selection']} prior={r['prior']} "
        f"criterion={r['criterion']} requests={r['request_model']}",
        "",
        f"{'requests until failure':<44}{'value':>16}",
        f"{'Monte Carlo mean ± SE':<44}{r['mc_mean']:>10.6g} ± {r['mc_se']:.2g}",
        f"{'  std, 5% / 50% / 95% quantiles':<44}{r['mc_std']:>10.4g}, "
        + " / ".join(f"{v:g}" for v in r["mc_quantiles"].values()),
        f"{'  runs, seed, seconds':<44}{r['runs']:>10}, {r['seed']}, {r['seconds']:.3g}",
    ]
    if r["exact"] is not None:
        lines.append(f"{'exact mean (' + r['exact_method'] + ')':<44}{r['exact']:>10.6g} ± {r['exact_error']:.1g}")
        lines.append(f"{'  exact std':<44}{math.sqrt(max(r['exact_var'], 0)):>10.4g}")
        z = r["mc_minus_exact_in_se"]
        z_text = f"{z:>10.2f}" if z is not None else f"{'— (SE = 0: MC - exact = ' + format(r['mc_mean'] - r['exact'], '.3g') + ')':>10}"
        lines.append(f"{'  (MC - exact) / SE':<44}{z_text}")
        lines.append(f"{'  self-check (|MC - exact| <= 5 SE)':<44}{r['self_check']:>10}")
        lines.append(f"{'  MC variance ± SE (delta method)':<44}{r['mc_var']:>10.6g} ± {r['mc_var_se']:.2g}")
        lines.append(f"{'  exact variance, self-check':<44}{r['exact_var']:>10.6g}, {r['var_self_check']}")
    else:
        lines.append(f"{'exact mean':<44}{'— (no exact law for these options)':>10}")
    what = "exact" if r["exact"] is not None else "MC"
    lines += [
        f"{'bound form mL·log(mL·min(B,L))':<44}{r['bound_poster']:>10.6g}   {what}/bound = {_fmt(r['ratio_poster'])}",
        f"{'bound form mL·log(m·min(B,L))':<44}{r['bound_arxiv']:>10.6g}   {what}/bound = {_fmt(r['ratio_arxiv'])}",
    ]
    if "sisa_fallback_exact" in r:
        lines.append(f"{'SISA with fallback, exact mL·H_m':<44}{r['sisa_fallback_exact']:>10.6g}")
        lines.append(f"{'SISA without fallback, exact m·H_m':<44}{r['sisa_no_fallback_exact']:>10.6g}")
    if "sisa_cost_until_failure" in r:
        se = r["sisa_cost_until_failure_se"]
        lines.append(
            f"{'SISA retraining until then (stages, Wald)':<44}{r['sisa_cost_until_failure']:>10.6g}"
            + (f" ± {se:.2g}" if se else " (exact)")
        )
    if r.get("served_prefix"):
        if r["served_prefix"][0]["exact_method"]:
            lines += ["", f"served prefix exact by: {r['served_prefix'][0]['exact_method']}"]
        lines += ["", f"{'requests':>10}{'served fraction MC ± SE':>28}{'exact':>10}{'dead shards':>13}"]
        for row in r["served_prefix"]:
            mc = f"{row['mc_fraction']:.4f} ± {row['mc_se']:.1g}"
            lines.append(f"{row['requests']:>10}{mc:>28}{_fmt(row['exact_fraction']):>10}{row['dead_shards']:>13.3g}")
    return "\n".join(lines + ([""] + alarm[:-1] if alarm else []))
