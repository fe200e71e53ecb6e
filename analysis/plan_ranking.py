"""Ranking and Pareto fronts of the planner (``s3t plan``).

Settings over the horizon (:class:`analysis.planning.PlanRow`) are ranked by ``rank_by``
(cost, stop = P(stop within the horizon), performance) and then the other two; their front
is over (training cost ↓, P(stop) ↓, expected performance ↑).

Ranking (:func:`rank_years`): with policies the planner ranks the years, not the horizon
figures, over three objectives: cost per year (money with a price, else device-hours with
seconds per sample-pass, else sample-passes) ↓, serving = 1 − the fraction of time stopped ↑,
and the time-averaged served performance ↑.
"""
from __future__ import annotations

from typing import Callable, Iterable

import numpy as np

from s3t_sim.checks import check_choice

RANK_KEYS = ("cost", "stop", "performance")
YEAR_ORDER = {"cost": (0, 1, 2), "stop": (1, 0, 2), "performance": (2, 0, 1)}  # rank_by -> objective order


def nondominated(points: np.ndarray) -> np.ndarray:
    """Mask of the rows of ``points`` (n, d) that no other row dominates (all ≤ and one <; minimised)."""
    points = np.asarray(points, dtype=float)
    mask = np.ones(len(points), dtype=bool)
    for i in range(len(points)):
        others = np.delete(points, i, axis=0)
        mask[i] = not np.any(np.all(others <= points[i], axis=1) & np.any(others < points[i], axis=1))
    return mask


def year_objectives(setting: dict) -> dict:
    """The three ranked objectives of one year: cost per year with its unit, serving fraction, performance."""
    compute = setting["compute_per_year"]
    cost, unit = next((compute[k], u) for k, u in (("money", "money"), ("device_hours", "device-hours"),
                                                  ("sample_passes", "sample-passes")) if compute[k] is not None)
    return {"cost_per_year": cost, "cost_unit": unit, "serving": 1.0 - setting["availability"]["stopped"],
            "performance": setting["performance"]}


def rank_years(settings: list[dict], rank_by: str, feasible: set[tuple]) -> list[dict]:
    """Mark every year with its ``objectives``, ``feasible`` (its setting (m, L, B, selection) meets
    the constraints), ``pareto`` (not dominated by a feasible year on all three) and ``rank``;
    returns the feasible years ranked by ``rank_by`` (cost, stop = serving, performance), then the others."""
    for s in settings:
        s["objectives"] = year_objectives(s)
        s["feasible"] = (s["m"], s["L"], s["B"], s["selection"]) in feasible
        s["pareto"], s["rank"] = False, None
    kept = [s for s in settings if s["feasible"]]
    points = np.array([[s["objectives"]["cost_per_year"], -s["objectives"]["serving"], -s["objectives"]["performance"]]
                       for s in kept]).reshape(len(kept), 3)  # (0, 3) when none is feasible
    for s, front in zip(kept, nondominated(points)):
        s["pareto"] = bool(front)
    order = YEAR_ORDER[rank_by]
    rounded = [tuple(float(f"{row[i]:.12g}") for i in order) for row in points]  # floating-point noise ties
    ranked = [kept[i] for i in sorted(range(len(kept)), key=lambda i: rounded[i])]
    for i, s in enumerate(ranked):
        s["rank"] = i + 1
    return ranked


def rank_key(rank_by: str) -> Callable:
    """Sort key: the chosen objective first, then the other two (cost ↑, P(stop) ↑, performance ↓)."""
    def rounded(r) -> tuple[float, float, float]:
        # 12 significant digits: values equal up to floating-point noise tie, and the next key decides
        return tuple(float(f"{v:.12g}") for v in (r.training_cost, r.stop_probability, -r.expected_performance))

    keys = {
        "cost": lambda r: rounded(r),
        "stop": lambda r: (rounded(r)[1], rounded(r)[0], rounded(r)[2]),
        "performance": lambda r: (rounded(r)[2], rounded(r)[0], rounded(r)[1]),
    }
    return keys[check_choice("rank_by", rank_by, RANK_KEYS)]


def pareto_front(rows: Iterable) -> list:
    """Rows not dominated in (training cost ↓, P(stop) ↓, expected performance ↑)."""
    rows = list(rows)
    points = np.array([[r.training_cost, r.stop_probability, -r.expected_performance] for r in rows]).reshape(len(rows), 3)
    return [row for row, front in zip(rows, nondominated(points)) if front]
