"""Sound checks of a deletion-rate bound ``g(m, L, B)`` against the exact rate (spec §2).

Under the uniform prior, ``all-dead`` and cyclic rotations the exact rates are closed forms,
``delta = m L H_{m B'}`` (S3T, ``B' = min(B, L)``) and ``m L H_m`` (SISA with fallback)
(:data:`RATES`; :func:`s3t_sim.laws.harmonic` is exact to 4096 and ``psi(K + 1) + gamma``
beyond), so the ratio ``delta / g`` can be evaluated far beyond any grid. For a bound the
check reports, with its evidence:

1. the *grid constant* ``c_grid = max delta / g`` (the constant ``g`` needs on the grid) and
   where it is reached; the points where ``g <= 0`` or is undefined (the bound **fails**
   there); the least-squares constant ``sum delta g / sum g^2``, labelled **fit** (a fit,
   not a bound constant);
2. *rays*: from every grid point one variable grows geometrically to ``x_max`` (1e32), the
   others fixed: ``m``; ``L``; ``B`` (``B'`` grows until ``L``); ``L = B`` (``mL`` with
   ``B' = L``); ``m = L = B``. With ``d(x)`` the ratio's increase over the decade ending at
   ``x``, a ray *grows* when ``d(x_max) > 0.4 d(x_mid)`` (``x_mid = sqrt(x_0 x_max)``:
   increments decaying slower than ``1/log x``, the signature of ``log``-type growth) and the
   ratio at ``x_max`` exceeds ``2 c_grid``; it *stabilises* when ``d(x_max) <= 0`` or
   ``d(x_max) <= 0.4 d(x_mid)`` (supremum estimated as ``r(x_max) + log10(x_max) d(x_max)``,
   the rest of an ``a - b / log x`` approach); otherwise it is undecided;
3. the *analytic constant* where a proof is recorded (:data:`ANALYTIC`), e.g.
   ``H_K <= ln K + 1`` gives ``delta <= mL (ln(m B') + 1)``.

Verdict: **grows along ray X** if some ray grows; else **holds with constant c** (analytic
when proved, else the largest of ``c_grid`` and the rays' suprema, labelled numerical) if an
analytic constant exists or every ray stabilises; else **undecided on this grid**. Rays
need the closed form: for other priors, criteria or selections only the grid constant is
known and the verdict is *undecided*. A grid and rays support an asymptotic claim; only the
analytic constant proves it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from s3t_sim.laws import harmonic

Rate = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
RAYS = ("m", "L", "B", "L=B", "m=L=B")
X_MAX = 1e32
RATES: dict[str, Rate] = {
    "s3t": lambda m, L, B: m * L * harmonic(m * np.minimum(B, L)),
    "sisa": lambda m, L, B: m * L * harmonic(m),
}


@dataclass(frozen=True)
class Analytic:
    """A proved constant: ``exact <= constant * f`` on ``domain``, with its derivation."""

    constant: float
    domain: str
    proof: str
    fails: str = ""


_C2 = 1.5 / math.log(2.0)  # H_2 / ln 2 = max_{K >= 2} H_K / ln K
ANALYTIC: dict[tuple[str, str], Analytic] = {  # (expression without spaces, system bounded)
    ("m*L*(log(m*L*Bp)+3)", "s3t"): Analytic(
        1.0, "all m, L, B >= 1",
        "H_K <= ln K + 1 with K = m B', and ln(m B') + 1 <= ln(m L B') + 3 since L >= 1."),
    ("m*L*(log(m*Bp)+1)", "s3t"): Analytic(1.0, "all m, L, B >= 1", "H_K <= ln K + 1 with K = m B'."),
    ("m*L*log(m*L*Bp)", "s3t"): Analytic(
        _C2, "m L B' >= 2",
        "K = m B' >= 2: H_K / ln(K L) <= H_K / ln K <= H_2 / ln 2 = 3/(2 ln 2) (H_K / ln K decreases "
        "for K >= 2); K = 1, L >= 2: 1 / ln L <= 1 / ln 2 < 3/(2 ln 2). Reached at m = 2, L = B = 1.",
        "m = L = B' = 1 (bound 0 < delta = 1)"),
    ("m*L*log(m*Bp)", "s3t"): Analytic(
        _C2, "m B' >= 2",
        "H_K / ln K <= H_2 / ln 2 = 3/(2 ln 2) for K = m B' >= 2, reached at K = 2.",
        "m = B' = 1 (bound 0 < delta = L): no constant works there"),
    ("m*L*log(m*L)", "sisa"): Analytic(
        _C2, "m L >= 2",
        "delta = mL H_m; m >= 2: H_m / ln(mL) <= H_m / ln m <= 3/(2 ln 2); m = 1, L >= 2: 1 / ln L <= 1 / ln 2.",
        "m = L = 1"),
    ("m*L*log(m)", "sisa"): Analytic(
        _C2, "m >= 2", "delta = mL H_m and H_m / ln m <= H_2 / ln 2 = 3/(2 ln 2) for m >= 2.", "m = 1"),
}


@dataclass
class RayTrend:
    """The ratio exact/f along one ray from one grid point."""

    ray: str
    base: tuple[int, int, int]
    ratio_end: float
    increment_end: float  # increase over the last decade
    increment_mid: float  # increase over the decade ending at sqrt(x_max)
    trend: str  # "grows", "stabilises" or "undecided"
    supremum: float  # max seen along the ray plus the extrapolated rest (stabilising rays)


@dataclass
class BoundCheck:
    """Verdict and evidence for one bound (module docstring)."""

    name: str
    expression: str
    target: str  # the system whose exact rate is bounded: "s3t" or "sisa"
    verdict: str  # "holds", "grows", "fails", "undecided"
    constant: float  # the bound constant for "holds" (nan otherwise)
    constant_source: str  # "analytic: <proof>" or "numerical (...)"
    grid_constant: float
    grid_argmax: tuple[int, int, int]
    fit_constant: float  # least squares: a fit, not a bound constant
    points: int
    violations: int  # grid points where exact > g as written (constant 1)
    undefined: list[tuple[int, int, int]] = field(default_factory=list)
    growing: list[RayTrend] = field(default_factory=list)
    rays: list[RayTrend] = field(default_factory=list)
    analytic: "Analytic | None" = None

    def summary(self) -> str:
        """One line saying what was found, with its evidence."""
        head = (f"{self.expression} ({self.target}): c_grid = {self.grid_constant:.4g} at (m, L, B) = {self.grid_argmax}, "
                f"fit {self.fit_constant:.4g} (least squares, not a bound)")
        if self.verdict == "grows":
            r = max(self.growing, key=lambda t: t.ratio_end)
            return (f"{head}; grows along ray {r.ray} from {r.base}: ratio {r.ratio_end:.4g} at x = {X_MAX:g}, "
                    f"still +{r.increment_end:.3g} per decade")
        if self.verdict == "fails":
            return f"{head}; fails: bound <= 0 or undefined where delta > 0 at {self.undefined[:3]}"
        if self.verdict == "holds":
            return f"{head}; holds with constant {self.constant:.6g} ({self.constant_source})"
        why = "no closed form to follow rays" if not self.rays else "some ray neither grows nor stabilises"
        return f"{head}; undecided on this grid ({why})"

    def record(self) -> dict:
        """One flat JSON/CSV row (snake_case keys, one value each)."""
        ray = max(self.growing, key=lambda t: t.ratio_end) if self.growing else None
        return {
            "form": self.name, "expression": self.expression, "bounds": self.target, "verdict": self.verdict,
            "constant": self.constant, "constant_source": self.constant_source.partition(":")[0],
            "grid_constant": self.grid_constant, "grid_argmax_m": self.grid_argmax[0],
            "grid_argmax_l": self.grid_argmax[1], "grid_argmax_b": self.grid_argmax[2],
            "fit_constant_least_squares": self.fit_constant, "points": self.points,
            "undefined_points": len(self.undefined), "violations_at_constant_1": self.violations,
            "rays_checked": len(self.rays), "growing_ray": ray.ray if ray else "",
            "growing_ray_base": "" if ray is None else "m={};L={};B={}".format(*ray.base),
            "growing_ray_ratio_at_x_max": ray.ratio_end if ray else float("nan"),
            "summary": self.summary(),
        }


def _ray_points(ray: str, base: tuple[int, int, int], xs: np.ndarray) -> tuple[np.ndarray, ...]:
    m0, L0, B0 = (np.full(xs.shape, float(v)) for v in base)
    return {
        "m": (xs, L0, B0), "L": (m0, xs, B0), "B": (m0, L0, xs),
        "L=B": (m0, xs, xs), "m=L=B": (xs, xs, xs),
    }[ray]


def ray_trend(bound: Rate, exact: Rate, ray: str, base: tuple[int, int, int], grid_constant: float,
              x_max: float = X_MAX) -> RayTrend:
    """Ratio exact/f along ``ray`` from ``base`` at ``x = start .. x_max`` (10 points per decade)."""
    start = {"m": base[0], "L": base[1], "B": base[2], "L=B": max(base[1], base[2]), "m=L=B": max(base)}[ray]
    decades = math.log10(x_max / start)
    xs = np.round(np.geomspace(start, x_max, max(2, int(10 * decades)) + 1))
    m, L, B = _ray_points(ray, base, xs)
    with np.errstate(all="ignore"):
        r = exact(m, L, B) / bound(m, L, B)
    at = lambda x: float(np.interp(math.log10(x), np.log10(xs), r))  # noqa: E731
    end, mid = x_max, math.sqrt(x_max * start)
    d_end, d_mid = at(end) - at(end / 10), at(mid) - at(mid / 10)
    tol = 1e-12 * abs(at(end))
    if not np.all(np.isfinite(r)):
        trend, sup = "undecided", float("nan")
    elif d_end <= tol:
        trend, sup = "stabilises", float(np.max(r))
    elif d_end <= 0.4 * d_mid:
        trend, sup = "stabilises", max(float(np.max(r)), at(end) + math.log10(x_max) * d_end)
    elif at(end) > 2 * grid_constant:
        trend, sup = "grows", float("inf")
    else:
        trend, sup = "undecided", float("nan")
    return RayTrend(ray, base, at(end), d_end, d_mid, trend, sup)


def check_bound(
    bound: Rate,
    grid: Sequence[tuple[int, int, int]],
    exact: np.ndarray,
    expression: str = "",
    target: str = "s3t",
    closed_form: bool = True,
    name: str = "",
    x_max: float = X_MAX,
) -> BoundCheck:
    """Classify ``bound`` as holds / grows / fails / undecided (module docstring).

    ``exact`` are the exact rates at the ``grid`` points; with ``closed_form`` (uniform prior,
    ``all-dead``, cyclic selection, checked by the caller) the rays follow
    ``RATES[target]``, otherwise there are no rays. ``expression``, written as in
    :data:`ANALYTIC` (spaces ignored), brings its proved constant.

    Examples
    --------
    >>> grid = [(m, L, B) for m in (2, 4, 8) for L in (2, 4, 8) for B in (1, 2, 4, 8)]
    >>> exact = np.array([RATES["s3t"](*map(float, p)) for p in grid])
    >>> check_bound(lambda m, L, B: m * L * np.log(m), grid, exact, "m*L*log(m)").verdict
    'grows'
    """
    pts = np.array(grid, dtype=float)
    m, L, B = pts.T
    y = np.asarray(exact, dtype=float)
    with np.errstate(all="ignore"):
        f = np.broadcast_to(bound(m, L, B), m.shape).astype(float)
    defined = np.isfinite(f) & (f > 0)
    undefined = [tuple(int(v) for v in p) for p in pts[~defined & (y > 0)]]
    ratio = np.where(defined, y / np.where(defined, f, 1.0), -np.inf)
    i = int(np.argmax(ratio))
    fit = float((y[defined] * f[defined]).sum() / (f[defined] ** 2).sum()) if defined.any() else float("nan")
    analytic = ANALYTIC.get((expression.replace(" ", ""), target)) if closed_form else None
    check = BoundCheck(name or expression, expression, target, "undecided", float("nan"), "", float(ratio[i]),
                       tuple(int(v) for v in pts[i]), fit, int(pts.shape[0]),
                       int((defined & (y > f * (1 + 1e-12))).sum()), undefined, analytic=analytic)
    if undefined:
        check.verdict = "fails"
        return check
    if closed_form:
        bases = sorted({tuple(int(v) for v in p) for p in pts})
        check.rays = [ray_trend(bound, RATES[target], ray, base, check.grid_constant, x_max) for ray in RAYS for base in bases]
    check.growing = [t for t in check.rays if t.trend == "grows"]
    if check.growing:
        check.verdict = "grows"
    elif analytic is not None:
        check.verdict, check.constant, check.constant_source = "holds", analytic.constant, f"analytic: {analytic.proof}"
    elif check.rays and all(t.trend == "stabilises" for t in check.rays):
        check.verdict = "holds"
        check.constant = max(check.grid_constant, max(t.supremum for t in check.rays))
        check.constant_source = f"numerical: grid + rays to {x_max:g}, not a proof"
    return check
