"""Checking the paper's deletion-rate bounds and its performance-gap formula (spec §2).

Three checks, each built on the simulator (``s3t_sim.montecarlo``), the exact laws
(``s3t_sim.laws``) and the selection objectives (``s3t_sim.selection``):

1. :func:`deletion_rate_grid` — over a grid of (m, L, B): the exact deletion rate δ, the
   Monte Carlo estimate with its 95% interval, and :func:`check_bound_forms` classifies
   every bound form (the poster's ``mL log(mL B')``, the arXiv summary's ``mL log(m B')``,
   SISA's ``mL log(mL)`` and ``mL log m``, and any user expression) as holds / grows /
   fails / undecided with :func:`analysis.bound_check.check_bound`.
2. :func:`budget_saturation` — "budget beyond L buys no deletion rate": δ at B = L, 2L, 4L.
3. :func:`performance_gap` — for prefix level j and r requests to a shard, the exact gap
   ``P(some j-prefix clean) − P(SISA's j-prefix clean)`` next to the closed form
   ``ζ(1 − ζ^{B'−1})`` (the spec's independence reading) or ``ζ(1 − ζ^{B'})`` (the
   paper's), ζ = P(one sequence's j-prefix hit), in both request models: a fixed number r
   of requests (hits negatively associated: neither closed form need bound the gap) and
   Poisson arrivals with mean r (slices hit independently; the events "prefix b hit" are
   increasing, so by Harris–FKG ``P(all hit) >= ζ^{B'}`` and ``ζ(1 − ζ^{B'−1})`` bounds
   the gap in every cell).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from analysis.bound_check import RATES, BoundCheck, check_bound
from analysis.expression import parse_bound
from analysis.tables import Table
from s3t_sim.laws import BOUND_FORMS, deletion_law, served_prefix_distribution
from s3t_sim.laws.served_prefix import prefix_law_at_times
from s3t_sim.selection import build_system, select_sequences
from s3t_sim.montecarlo import simulate_failure_counts
from s3t_sim.system import S3TSystem
from s3t_sim.checks import check_choice, check_int

GRID_PRESETS: dict[str, dict[str, tuple[int, ...]]] = {
    "tiny": {"m": (2, 4, 8), "L": (2, 4, 8), "B": (1, 2, 4, 8)},
    "default": {"m": (2, 4, 8, 16, 32), "L": (2, 4, 8, 16), "B": (1, 2, 4, 8, 16)},
    "wide": {"m": (2, 4, 8, 16, 32, 64, 128), "L": (2, 4, 8, 16, 32), "B": (1, 2, 4, 8, 16, 32)},
}
GAP_READINGS = ("spec", "paper")
GAP_REQUEST_MODELS = ("fixed", "poisson")
GAP_COLUMNS = ["L", "B", "j", "r", "zeta", "exact_gap", "closed_form", "closed_minus_exact", "upper_bound",
               "request_model", "reading"]


@dataclass(frozen=True)
class BoundGrid:
    """The (m, L, B) values to check; every combination is one grid point."""

    shards: tuple[int, ...]
    slices: tuple[int, ...]
    budgets: tuple[int, ...]

    def points(self) -> list[tuple[int, int, int]]:
        return [(m, L, B) for m in self.shards for L in self.slices for B in self.budgets if B <= math.factorial(min(L, 20))]

    def __str__(self) -> str:
        return f"m={','.join(map(str, self.shards))};L={','.join(map(str, self.slices))};B={','.join(map(str, self.budgets))}"


def parse_grid(spec: str) -> BoundGrid:
    """Grid from a preset name (``tiny``, ``default``, ``wide``) or ``"m=2,4,8;L=2,4;B=1,2,4"``.

    Examples
    --------
    >>> parse_grid("m=2,4;L=3;B=1,3").points()
    [(2, 3, 1), (2, 3, 3), (4, 3, 1), (4, 3, 3)]
    """
    if spec in GRID_PRESETS:
        p = GRID_PRESETS[spec]
        return BoundGrid(p["m"], p["L"], p["B"])
    values: dict[str, tuple[int, ...]] = {}
    for part in filter(None, (s.strip() for s in spec.split(";"))):
        key, sep, numbers = part.partition("=")
        key = key.strip()
        if not sep or key not in ("m", "L", "B"):
            raise ValueError(
                f"grid must be a preset ({', '.join(GRID_PRESETS)}) or 'm=2,4,8;L=2,4;B=1,2,4'; "
                f"could not read {part!r}"
            )
        try:
            items = tuple(int(v) for v in re.split(r"[,\s]+", numbers.strip()) if v)
        except ValueError:
            raise ValueError(f"grid values of {key} must be integers; got {numbers!r}") from None
        if not items:
            raise ValueError(f"grid {key} needs at least one value")
        low, high = {"m": (1, 10_000), "L": (1, 64), "B": (1, 10_000)}[key]
        for v in items:
            check_int(f"grid {key}", v, low, high)
        values[key] = tuple(sorted(set(items)))
    missing = {"m", "L", "B"} - set(values)
    if missing:
        raise ValueError(f"grid must give m, L and B; missing {', '.join(sorted(missing))}")
    return BoundGrid(values["m"], values["L"], values["B"])


# ---------------------------------------------------------------------------------------
# Exact and Monte Carlo deletion rates (all computation delegated to s3t_sim)
# ---------------------------------------------------------------------------------------
def exact_deletion_rate(system: S3TSystem, prior: np.ndarray, criterion: str = "all-dead") -> float:
    """δ = E[requests until the criterion holds], exact (:func:`s3t_sim.laws.deletion_law`)."""
    return float(deletion_law(system, prior, criterion).mean())


@dataclass
class GridResult:
    """Deletion rates on a grid: one row per point, for S3T and SISA (with fallback)."""

    grid: BoundGrid
    prior: str
    criterion: str
    selection: str
    runs: int
    seed: int
    rows: list[dict] = field(default_factory=list)

    def column(self, key: str) -> np.ndarray:
        return np.array([row[key] for row in self.rows], dtype=float)

    def table(self) -> Table:
        cols = ["m", "L", "B", "exact", "mc_mean", "mc_se", "ci_low", "ci_high", "z", "sisa_exact", "seed"]
        return Table(cols, [[row[c] for c in cols] for row in self.rows], f"Deletion rate on the grid ({self.runs} runs per point, seed {self.seed})")


def deletion_rate_grid(
    grid: BoundGrid,
    prior: str = "uniform",
    criterion: str = "all-dead",
    selection: str = "cyclic",
    runs: int = 2000,
    seed: int = 0,
    progress: bool = False,
) -> GridResult:
    """Exact δ, Monte Carlo δ (mean, SE, 95% CI) and SISA's exact δ at every grid point.

    Each point's Monte Carlo stream uses the seed ``seed + index`` (its index in
    ``grid.points()``), so a point's numbers do not depend on the rest of the grid's order.
    """
    from tqdm.auto import tqdm

    runs = check_int("runs", runs, 2)
    seed = check_int("seed", seed, 0)
    result = GridResult(grid, prior, criterion, selection, runs, seed)
    sisa_cache: dict[tuple[int, int], float] = {}
    for index, (m, L, B) in enumerate(tqdm(grid.points(), desc="bound grid", disable=not progress)):
        system, p = build_system(m, L, B, selection, prior, seed, prior_seed=seed)
        exact = exact_deletion_rate(system, p, criterion)
        mc = simulate_failure_counts(system, p, criterion, runs=runs, seed=seed + index)
        if (m, L) not in sisa_cache:
            sisa_system = S3TSystem.sisa(m, L)
            sisa_cache[(m, L)] = exact_deletion_rate(sisa_system, p, criterion)
        mean, se = float(mc.mean), float(mc.se)
        result.rows.append(
            {
                "m": m, "L": L, "B": B, "exact": exact, "mc_mean": mean, "mc_se": se,
                "ci_low": mean - 1.96 * se, "ci_high": mean + 1.96 * se,
                "z": (mean - exact) / se if se > 0 else 0.0,
                "sisa_exact": sisa_cache[(m, L)], "seed": seed + index,
            }
        )
    return result


def has_closed_form(result: GridResult) -> bool:
    """True when the grid's exact rates are the closed forms :data:`analysis.bound_check.RATES`
    at every point (uniform prior, ``all-dead``, a selection with ``B'`` distinct first slices),
    so that the checks may follow rays beyond the grid."""
    if result.prior not in ("uniform", None) or result.criterion != "all-dead":
        return False
    m, L, B = result.column("m"), result.column("L"), result.column("B")
    return all(
        np.allclose(result.column(column), RATES[target](m, L, B), rtol=1e-9, atol=0)
        for column, target in (("exact", "s3t"), ("sisa_exact", "sisa"))
    )


def check_bound_forms(result: GridResult, user_bounds: Iterable[str] = ()) -> list[BoundCheck]:
    """Classify every built-in bound form and each user expression (:func:`check_bound`).

    S3T forms (and user expressions) are checked against S3T's exact δ, SISA's forms against
    SISA's exact δ with checkpoint fallback; rays beyond the grid only where
    :func:`has_closed_form`.
    """
    points = [tuple(int(v) for v in (row["m"], row["L"], row["B"])) for row in result.rows]
    targets = {"s3t": result.column("exact"), "sisa": result.column("sisa_exact")}
    closed = has_closed_form(result)
    forms = [(name, form.expression, form.bounds) for name, form in BOUND_FORMS.items()]
    forms += [(f"user-{i + 1}", text, "s3t") for i, text in enumerate(user_bounds)]
    return [check_bound(parse_bound(text), points, targets[target], text, target, closed, name)
            for name, text, target in forms]


CHECK_COLUMNS = ("form", "expression", "bounds", "verdict", "constant", "constant_source", "grid_constant",
                 "grid_argmax_m", "grid_argmax_l", "grid_argmax_b", "fit_constant_least_squares", "points",
                 "undefined_points", "violations_at_constant_1", "rays_checked", "growing_ray", "growing_ray_base",
                 "growing_ray_ratio_at_x_max")


def checks_table(checks: list[BoundCheck]) -> Table:
    """One row per bound form: verdict, bound constant and its source, grid constant, the fit, the growing ray."""
    rows = [[c.record()[k] for k in CHECK_COLUMNS] for c in checks]
    return Table(list(CHECK_COLUMNS), rows, "Bound forms: verdict (holds / grows / fails / undecided) with its evidence")


# ---------------------------------------------------------------------------------------
# Budget saturation
# ---------------------------------------------------------------------------------------
def budget_saturation(
    shards: Iterable[int] = (4, 16),
    slices: Iterable[int] = (4, 8),
    multiples: Iterable[float] = (0.5, 1, 2, 4),
    runs: int = 2000,
    seed: int = 0,
    selection: str = "cyclic",
) -> Table:
    """δ (exact and Monte Carlo, uniform prior, all-dead) at budgets B = multiple × L.

    The exact law is computed from each system's actual sequence set (its distinct first
    slices), so saturation at B = L is measured, not assumed.
    """
    rows = []
    index = 0
    for m in shards:
        for L in slices:
            group = []
            for mult in multiples:
                B = max(1, int(round(mult * L)))
                if B > math.factorial(min(L, 20)):
                    continue
                system, p = build_system(m, L, B, selection, "uniform", seed)
                exact = exact_deletion_rate(system, p, "all-dead")
                mc = simulate_failure_counts(system, p, "all-dead", runs=runs, seed=seed + index)
                first = int(np.unique(system.sequences[0, :, 0]).size)
                group.append([m, L, B, first, exact, float(mc.mean), float(mc.se), seed + index])
                index += 1
            at_L = next((row[4] for row in group if row[2] == L), float("nan"))
            rows.extend(row + [row[4] / at_L - 1] for row in group)
    cols = ["m", "L", "B", "distinct first slices", "exact", "mc_mean", "mc_se", "seed", "gain over B=L"]
    return Table(cols, rows, f"Budget beyond L: deletion rate at B = multiple of L ({runs} runs per point)")


# ---------------------------------------------------------------------------------------
# Performance gap
# ---------------------------------------------------------------------------------------
def closed_form_gap(zeta: np.ndarray, Bp: int, reading: str = "spec") -> np.ndarray:
    """The closed-form gap: ``ζ(1 − ζ^{B'−1})`` (``reading="spec"``) or ``ζ(1 − ζ^{B'})`` (``"paper"``).

    The spec's reading: if the B' prefixes were hit independently, each with probability
    ζ, then ``P(some clean) − P(SISA clean) = (1 − ζ^{B'}) − (1 − ζ) = ζ(1 − ζ^{B'−1})``.

    Examples
    --------
    >>> float(closed_form_gap(0.5, 2)), float(closed_form_gap(0.5, 2, "paper"))
    (0.25, 0.375)
    """
    check_choice("reading", reading, GAP_READINGS)
    zeta = np.asarray(zeta, dtype=float)
    power = Bp - 1 if reading == "spec" else Bp
    return zeta * (1.0 - zeta**power)


def performance_gap(
    L: int,
    budgets: Iterable[int],
    requests: Iterable[int],
    selection: str = "cyclic",
    reading: str = "spec",
    request_model: str = "fixed",
) -> Table:
    """Exact S3T−SISA gap in P(served prefix ≥ j) next to the closed form, per (B, j, r).

    One shard, uniform prior. ``request_model="fixed"``: exactly r requests
    (:func:`s3t_sim.laws.served_prefix_distribution`); ``"poisson"``: Poisson(r) requests,
    each slice hit independently with probability ``1 − e^{−r/L}``
    (:func:`s3t_sim.laws.served_prefix.prefix_law_at_times` at time r). ζ = 1 − P_SISA(k ≥ j)
    is the probability that one sequence's j-prefix has been hit.
    """
    L = check_int("L", L, 1, 16)
    check_choice("reading", reading, GAP_READINGS)
    check_choice("request_model", request_model, GAP_REQUEST_MODELS)
    sisa = select_sequences("sisa", L, 1)
    uniform = np.full(L, 1.0 / L)

    def law(seqs: np.ndarray, r: int) -> np.ndarray:
        if request_model == "fixed":
            return served_prefix_distribution(seqs, None, r)
        return prefix_law_at_times(np.asarray(seqs), uniform, True, np.array([float(r)]))[0]

    rows = []
    for B in budgets:
        B = check_int("B", B, 1, L)
        seqs = select_sequences(selection, L, B)
        for r in requests:
            s3t_tail, sisa_tail = _tail(law(seqs, r)), _tail(law(sisa, r))
            for j in range(1, L + 1):
                zeta = 1.0 - sisa_tail[j]
                exact = s3t_tail[j] - sisa_tail[j]
                closed = float(closed_form_gap(zeta, B, reading))
                rows.append([L, B, j, r, zeta, exact, closed, closed - exact, closed >= exact - 1e-12, request_model, reading])
    model = "r requests" if request_model == "fixed" else "Poisson(r) requests"
    return Table(GAP_COLUMNS, rows,
                 f"Performance gap P(k ≥ j): S3T ({selection}) − SISA, {model}, exact vs closed form ({reading} reading)")


def _tail(pmf: np.ndarray) -> np.ndarray:
    """``tail[j] = P(k >= j)`` from a pmf over ``k = 0..L``."""
    return np.cumsum(np.asarray(pmf, dtype=float)[::-1])[::-1]


def gap_summary(table: Table) -> dict:
    """Where the closed form is an upper bound of the exact gap, and by how much."""
    diff = np.array([row[7] for row in table.rows], dtype=float)
    upper = np.array([row[8] for row in table.rows], dtype=bool)
    informative = np.array([row[6] > 1e-9 or row[5] > 1e-9 for row in table.rows])
    return {
        "cells": int(diff.size),
        "informative_cells": int(informative.sum()),
        "upper_bound_cells": int((upper & informative).sum()),
        "max_excess": float(diff[informative].max()) if informative.any() else 0.0,
        "mean_excess": float(diff[informative].mean()) if informative.any() else 0.0,
        "worst_violation": float(-diff[informative & ~upper].min()) if (informative & ~upper).any() else 0.0,
        "violations_at": sorted({(int(r[1]), int(r[2])) for r, u, i in zip(table.rows, upper, informative) if i and not u}),
    }
