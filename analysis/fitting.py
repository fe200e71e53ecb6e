"""Fitting a bound form ``g(m, L, B)`` to exact deletion rates on a grid.

For exact values ``y_i`` and a bound form ``g_i = g(m_i, L_i, B_i) > 0``:

- the *envelope constant* ``c_max = max_i y_i / g_i`` (the smallest ``c`` with
  ``y <= c g`` on the whole grid);
- the *least-squares constant* ``c_ls = argmin_c sum_i (y_i - c g_i)^2 = sum y g / sum g^2``;
- the *growth test*: an ordinary least-squares regression of the ratio ``y_i / g_i`` on
  ``log(m_i L_i)``. If ``y = O(g)`` the ratio cannot grow without bound, so its slope must
  not be significantly positive. We call the ratio *bounded on the grid* when the slope is
  below ``t_{0.975, n-2}`` standard errors (a one-sided 2.5% test), i.e. not significantly
  positive. A grid can only support, never prove, an asymptotic claim; the report says so.

Reference: any regression text, e.g. Draper & Smith, *Applied Regression Analysis* (1998), ch. 1.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from analysis.expression import BoundExpression


@dataclass(frozen=True)
class BoundFit:
    """The fit of one bound form to exact values on a grid (see module docstring)."""

    name: str
    expression: str
    target: str
    points: int
    undefined_points: int
    constant_max: float
    constant_lsq: float
    slope: float
    slope_se: float
    slope_t: float
    slope_critical_t: float
    bounded: bool
    ratio_at_smallest: float
    ratio_at_largest: float
    violations: list[dict] = field(default_factory=list)

    def verdict(self) -> str:
        """One sentence saying what the growth test found."""
        trend = "decreasing" if self.slope < 0 else "increasing"
        held = "not significantly positive: the ratio stays bounded on this grid" if self.bounded else (
            "significantly positive: the ratio grows with log(mL), so the form does not bound the rate"
        )
        return (
            f"ratio exact/({self.expression}) is {trend} in log(mL): slope {self.slope:.4g} ± {self.slope_se:.2g} (SE), "
            f"t = {self.slope_t:.2f} vs critical {self.slope_critical_t:.2f}; {held}"
        )


def fit_bound(
    name: str,
    bound: BoundExpression,
    m: np.ndarray,
    L: np.ndarray,
    B: np.ndarray,
    exact: np.ndarray,
    target: str = "s3t",
) -> BoundFit:
    """Fit the constants of ``bound`` to ``exact`` over grid points ``(m, L, B)`` and test growth.

    Points where ``g <= 0`` or ``g`` is not finite (e.g. ``log(m)`` at ``m = 1``) are left
    out of the fit and counted in ``undefined_points``. ``violations`` lists the points
    where the bound *as written* (constant 1) is below the exact value.

    Examples
    --------
    >>> from analysis.expression import parse_bound
    >>> m = np.array([2, 4, 8, 16]); L = np.ones(4); B = np.ones(4)
    >>> fit = fit_bound("n log n", parse_bound("n*log(n)"), m, L, B, m * np.log(m))
    >>> round(fit.constant_max, 6), fit.bounded
    (1.0, True)
    """
    m, L, B, exact = (np.asarray(v, dtype=float).ravel() for v in (m, L, B, exact))
    if not (m.size == L.size == B.size == exact.size) or m.size == 0:
        raise ValueError("m, L, B and exact must be non-empty arrays of one length")
    g = np.broadcast_to(bound(m, L, B), m.shape).astype(float)
    defined = np.isfinite(g) & (g > 0) & np.isfinite(exact)
    violations = [
        {"m": int(m[i]), "L": int(L[i]), "B": int(B[i]), "exact": float(exact[i]), "bound": float(g[i])}
        for i in np.flatnonzero(defined & (exact > g * (1 + 1e-12)))
    ]
    y, gd, x = exact[defined], g[defined], np.log(m[defined] * L[defined])
    ratio = y / gd
    nan = float("nan")
    if ratio.size == 0:
        return BoundFit(name, bound.text, target, 0, int((~defined).sum()), nan, nan, nan, nan, nan, nan, False, nan, nan, violations)
    slope = slope_se = t = critical = nan
    bounded = False
    if np.unique(x).size >= 3:
        reg = stats.linregress(x, ratio)
        slope, slope_se = float(reg.slope), float(reg.stderr)
        critical = float(stats.t.ppf(0.975, ratio.size - 2))
        t = slope / slope_se if slope_se > 0 else (np.inf if slope > 0 else (-np.inf if slope < 0 else 0.0))
        bounded = bool(t < critical)
    order = np.argsort(x, kind="stable")
    smallest, largest = x[order[0]], x[order[-1]]
    return BoundFit(
        name=name,
        expression=bound.text,
        target=target,
        points=int(ratio.size),
        undefined_points=int((~defined).sum()),
        constant_max=float(ratio.max()),
        constant_lsq=float((y * gd).sum() / (gd * gd).sum()),
        slope=slope,
        slope_se=slope_se,
        slope_t=float(t),
        slope_critical_t=critical,
        bounded=bounded,
        ratio_at_smallest=float(ratio[x == smallest].mean()),
        ratio_at_largest=float(ratio[x == largest].mean()),
        violations=violations,
    )
