"""The planner's figure: the Pareto front over three objectives (cost, stop risk, served performance).

Two panels share the cost axis (log scale, with its unit): stop risk against cost and
served performance against cost. A point beaten in one panel can still be on the front by
the objective the panel does not show, so each point's colour encodes that third objective
and front points are drawn large with a black edge: no front point is drawn as if it were
dominated. With retraining policies a second figure (:func:`year_pareto_figure`) draws the
years in production the same way: cost per year, time stopped, served performance.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from analysis.planning import PlanResult
from analysis.style import DEFAULT_FORMATS, OKABE_ITO, SavedFigure, new_figure, save_figure
from analysis.tables import Table


@dataclass(frozen=True)
class YearPoint:
    """One year in production (a ``settings`` entry) as a point of the year figure."""

    setting: dict

    @property
    def pareto(self) -> bool:
        return bool(self.setting["pareto"])

    def label(self) -> str:
        s = self.setting
        return f"m={s['m']}, L={s['L']}, B={s['B']}, {s['selection']}, {s['policy']}"


def _panel(ax, rows: list, best, x, y, colour, colour_label: str, cmap: str, fig) -> None:
    others = [r for r in rows if not r.pareto]
    front = [r for r in rows if r.pareto]
    lo, hi = min(colour(r) for r in rows), max(colour(r) for r in rows)
    constant = hi - lo <= 1e-9 * max(1.0, abs(hi))  # nothing to encode: one colour, said in the legend
    note = f" ({colour_label} = {hi:.3g} for all)" if constant else ""

    def colours(group):
        return dict(color=OKABE_ITO["sky"]) if constant else dict(c=[colour(r) for r in group], cmap=cmap, vmin=lo, vmax=hi)

    if others:
        ax.scatter([x(r) for r in others], [y(r) for r in others], s=22, alpha=0.7, marker="o", edgecolors="0.35",
                   linewidths=0.6, label="not on the front (dominated or infeasible)", **colours(others))
    if front:
        points = ax.scatter([x(r) for r in front], [y(r) for r in front], s=70, marker="D", edgecolors="black",
                            linewidths=1.0, label="Pareto front (over all three)" + note, **colours(front))
        if not constant:
            fig.colorbar(points, ax=ax, label=colour_label)
    if best is not None:
        b = best
        ax.scatter([x(b)], [y(b)], marker="*", s=260, facecolors="none", edgecolors=OKABE_ITO["vermillion"],
                   linewidths=1.6, zorder=5, label=f"recommended: {b.label()}")


def pareto_figure(result: PlanResult, out_dir: "str | Path", name: str = "plan_pareto",
                  formats: "tuple[str, ...]" = DEFAULT_FORMATS) -> SavedFigure:
    """Cost against P(stop) (colour: performance) and against performance (colour: P(stop))."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    c = result.config
    fig, (ax_stop, ax_perf) = new_figure(ncols=2, width=12.5, height=4.6)
    cost = lambda r: r.training_cost  # noqa: E731
    stop = lambda r: r.stop_probability  # noqa: E731
    perf = lambda r: r.expected_performance  # noqa: E731
    _panel(ax_stop, result.rows, result.best, cost, stop, perf, "expected served performance", "viridis", fig)
    _panel(ax_perf, result.rows, result.best, cost, perf, stop, f"P(stop within {c.horizon_days:g} days)", "magma_r", fig)
    if c.max_stop_probability is not None:
        ax_stop.axhline(c.max_stop_probability, color="black", linestyle="--", linewidth=1, label=f"P(stop) ≤ {c.max_stop_probability:g}")
    if c.min_performance is not None:
        ax_perf.axhline(c.min_performance, color="black", linestyle="--", linewidth=1, label=f"performance ≥ {c.min_performance:g}")
    for ax, ylabel in ((ax_stop, f"P(retraining stop within {c.horizon_days:g} days)"), (ax_perf, "expected served performance over the horizon")):
        if c.max_training_cost is not None:
            ax.axvline(c.max_training_cost, color="black", linestyle=":", linewidth=1, label=f"cost ≤ {c.max_training_cost:g}")
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(f"training cost with prefix sharing [{c.cost_unit}]")
        ax.set_ylabel(ylabel)
        ax.legend(loc="best", fontsize=8)
    ax_stop.set_title(f"Stop risk vs cost ({c.deletions_per_day:g} requests/day, {c.criterion})", fontsize=9)
    ax_perf.set_title("Served performance vs cost", fontsize=9)
    table = Table(["m", "L", "B", "selection", "stop_probability", "expected_days_to_stop", "expected_performance",
                   "performance_se", "exact", "training_cost", "training_cost_without_sharing", "feasible", "pareto", "excluded_by"],
                  [[r.m, r.L, r.B, r.selection, r.stop_probability, r.expected_days_to_stop, r.expected_performance,
                    r.performance_se, r.exact, r.training_cost, r.training_cost_without_sharing, r.feasible, r.pareto,
                    "; ".join(r.reasons)] for r in result.rows],
                  "Planner: every candidate setting",
                  {"m": "shards", "L": "slices per shard", "B": "budget: sequences per shard", "selection": "selection method",
                   "stop_probability": f"P(every shard dead: retraining stop) within {c.horizon_days:g} days",
                   "expected_days_to_stop": "expected days until the retraining stop (days)",
                   "expected_performance": "expected served performance over the horizon (the performance model's unit)",
                   "performance_se": "standard error of expected_performance (0 where exact)",
                   "exact": "True: performance computed exactly; False: by Monte Carlo (L > 14, with performance_se)",
                   "training_cost": f"training cost with prefix sharing [{c.cost_unit}]",
                   "training_cost_without_sharing": f"training cost training every sequence separately [{c.cost_unit}]",
                   "feasible": "meets every constraint of the plan", "pareto": "on the Pareto front over cost, stop risk, performance",
                   "excluded_by": "the constraints a setting violates, separated by '; ' (empty: none)"})
    return save_figure(fig, out_dir, name, table, "Planning: Pareto front over cost, stop risk and performance",
                       "Each point is one (m, L, B, selection). Colour shows the objective a panel does not plot; "
                       "diamonds with a black edge are the feasible Pareto front over all three objectives.", formats=formats)


def year_pareto_figure(result: PlanResult, out_dir: "str | Path", name: str = "plan_pareto_year") -> SavedFigure:
    """The years in production (``--policy``): cost per year against the fraction of time
    stopped (colour: performance) and against served performance (colour: time stopped)."""
    years = [YearPoint(s) for s in result.settings if s["feasible"]]
    if not years:
        raise ValueError("year_pareto_figure needs feasible settings with retraining policies (--policy)")
    best = next((p for p in years if p.setting["rank"] == 1), None)
    unit = years[0].setting["objectives"]["cost_unit"]
    fig, (ax_stop, ax_perf) = new_figure(ncols=2, width=12.5, height=4.6)
    cost = lambda p: p.setting["objectives"]["cost_per_year"]  # noqa: E731
    stopped = lambda p: 1.0 - p.setting["objectives"]["serving"]  # noqa: E731
    perf = lambda p: p.setting["objectives"]["performance"]  # noqa: E731
    _panel(ax_stop, years, best, cost, stopped, perf, "time-averaged served performance", "viridis", fig)
    _panel(ax_perf, years, best, cost, perf, stopped, "fraction of time stopped", "magma_r", fig)
    for ax, ylabel in ((ax_stop, "fraction of the year stopped"), (ax_perf, "time-averaged served performance")):
        ax.set_xscale("log")
        ax.set_xlabel(f"cost per year [{unit}]")
        ax.set_ylabel(ylabel)
        ax.legend(loc="best", fontsize=7)
    ax_stop.set_title(f"Time stopped vs cost per year ({result.config.deletions_per_day:g} requests/day)", fontsize=9)
    ax_perf.set_title("Served performance vs cost per year", fontsize=9)
    columns = ["m", "L", "B", "selection", "policy", f"cost per year [{unit}]", "serving", "performance", "pareto", "rank"]
    table = Table(columns, [[p.setting[k] for k in columns[:5]] + [cost(p), p.setting["objectives"]["serving"], perf(p),
                                                                   p.pareto, p.setting["rank"]] for p in years],
                  "Planner: feasible years in production")
    return save_figure(fig, out_dir, name, table, "Planning: Pareto front of a year in production",
                       "Each point is one (m, L, B, selection, policy), feasible by the constraints. Colour shows the "
                       "objective a panel does not plot; diamonds are the Pareto front over all three objectives.")
