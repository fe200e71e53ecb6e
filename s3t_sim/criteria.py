"""Failure criteria: when must the system be retrained?

Each criterion is a function of the shards' served prefixes ``k = (k_1, ..., k_m)``, and
each is *monotone*: more hit slices never make it false again. So the request count at
failure is the count at one of the first-hit events, which the simulator exploits.

- ``all-dead``               every shard has ``k_s = 0`` (the authors' simulator);
- ``any-dead``               some shard has ``k_s = 0``;
- ``prefix-below:f``         ``sum_s k_s < f * m * L``, ``0 < f <= 1``;
- ``performance-below:x``    ``(1/m) sum_s f(k_s) < x`` for a performance model ``f``
  (``s3t_sim.performance``), ``f(0) < x <= f(L)``.

``prefix-below:f`` is ``performance-below:f`` with ``f(k) = k / L``. Comparisons with a
fractional threshold use a relative tolerance of 1e-9 (``0.3 * 320`` counts as 96).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from s3t_sim.performance import PerformanceModel, linear_performance
from s3t_sim.checks import check_choice, check_real

KINDS = ("all-dead", "any-dead", "prefix-below", "performance-below")
_TOL = 1e-9


@dataclass(frozen=True)
class Criterion:
    """A failure criterion; build with :func:`parse_criterion` or the constructors below.

    Examples
    --------
    >>> c = parse_criterion("prefix-below:0.5")
    >>> c.holds(np.array([[3, 0], [4, 4]]), L=4).tolist()
    [True, False]
    """

    kind: str
    threshold: float | None = None
    performance: PerformanceModel | None = None

    def __post_init__(self) -> None:
        check_choice("criterion", self.kind, KINDS)
        if self.kind == "prefix-below":
            check_real("prefix-below fraction", self.threshold, 0.0, 1.0, low_inclusive=False)
        if self.kind == "performance-below":
            if self.performance is None:
                raise ValueError("criterion performance-below needs a performance model (e.g. --performance saturating)")
            f = self.performance.values
            check_real("performance-below floor", self.threshold, float(f[0]), float(f[-1]), low_inclusive=False)

    def __str__(self) -> str:
        return self.kind if self.threshold is None else f"{self.kind}:{self.threshold:g}"

    # -- the shape of the criterion -------------------------------------------------------
    def stage_weights(self, L: int) -> np.ndarray:
        """``Delta_j = f(j) - f(j-1)``, ``j = 1..L``: what losing stage ``j`` of one shard costs."""
        return np.diff(self._model(L).values)

    def _model(self, L: int) -> PerformanceModel:
        if self.kind == "performance-below":
            if self.performance.L != L:
                raise ValueError(f"performance model has L={self.performance.L} but the system has L={L}")
            return self.performance
        return linear_performance(L, 0.0, float(L))  # f(k) = k: the prefix total in stages

    def slack(self, m: int, L: int) -> float:
        """How much ``sum_s (f(L) - f(k_s))`` may reach before failure (weighted criteria)."""
        f = self._model(L).values
        floor = self.threshold * m * L if self.kind == "prefix-below" else self.threshold * m
        if self.kind == "prefix-below" and abs(floor - round(floor)) < _TOL * max(1.0, floor):
            floor = float(round(floor))
            return m * L - floor
        return m * float(f[-1]) - floor

    # -- evaluating -----------------------------------------------------------------------
    def holds(self, prefixes: np.ndarray, L: int) -> np.ndarray:
        """Whether the criterion holds for served prefixes ``(..., m)``."""
        k = np.asarray(prefixes)
        if self.kind == "all-dead":
            return np.all(k == 0, axis=-1)
        if self.kind == "any-dead":
            return np.any(k == 0, axis=-1)
        f = self._model(L)
        lost = (f.values[-1] - f(k)).sum(axis=-1)
        return lost > self.slack(k.shape[-1], L) + _TOL * max(1.0, abs(self.slack(k.shape[-1], L)))

    def failure_event(self, system, hit_event: np.ndarray) -> np.ndarray:
        """0-based index of the first-hit event at which the criterion first holds.

        ``hit_event[r, s, i]`` is the index of slice ``(s, i)`` in run ``r``'s order of first
        hits (see :meth:`S3TSystem.stage_lifetimes`). The result, shape ``(R,)``, is ``>=`` the
        number of events when the criterion never holds.
        """
        if self.kind == "all-dead":
            return system.death_events(hit_event).max(axis=-1)
        if self.kind == "any-dead":
            return system.death_events(hit_event).min(axis=-1)
        life = system.stage_lifetimes(hit_event)
        R, m, L = life.shape
        weights = np.broadcast_to(self.stage_weights(L), (m, L)).ravel()
        flat = life.reshape(R, m * L)
        order = np.argsort(flat, axis=1, kind="stable")
        lost = np.cumsum(weights[order], axis=1)
        slack = self.slack(m, L)
        crossed = lost > slack + _TOL * max(1.0, abs(slack))
        first = np.argmax(crossed, axis=1)
        return np.take_along_axis(flat, order, axis=1)[np.arange(R), first]

    def relevant_slices(self, system, prior: np.ndarray) -> np.ndarray:
        """Flat indices (into ``m * L``) of the slices whose hits can change this criterion:
        those with positive prior, and for ``all-dead``/``any-dead`` only the shards' death slices."""
        support = np.asarray(prior).ravel() > 0
        if self.depends_only_on_death():
            support &= system.death_slices().ravel()
        return np.flatnonzero(support)

    def check_reachable(self, system, prior: np.ndarray) -> None:
        """Raise ``ValueError`` when the criterion cannot hold even after every slice with positive prior is hit."""
        support = np.asarray(prior).reshape(system.m, system.L) > 0
        if not self.holds(system.served_prefix(support), system.L):
            raise ValueError(
                f"criterion {self} never holds under this prior: it is false even when every slice "
                "with positive probability has been hit"
            )

    def is_all_dead(self) -> bool:
        return self.kind == "all-dead"

    def depends_only_on_death(self) -> bool:
        """True for ``all-dead`` and ``any-dead``: only the shards' death slices matter."""
        return self.kind in ("all-dead", "any-dead")


def parse_criterion(spec: "str | Criterion", performance: PerformanceModel | None = None) -> Criterion:
    """Criterion from ``all-dead``, ``any-dead``, ``prefix-below:F`` or ``performance-below:X``.

    Examples
    --------
    >>> str(parse_criterion("prefix-below:0.5"))
    'prefix-below:0.5'
    """
    if isinstance(spec, Criterion):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"criterion must be a string or a Criterion; got {spec!r}")
    kind, sep, value = spec.partition(":")
    check_choice("criterion", kind, KINDS)
    if kind in ("all-dead", "any-dead"):
        if sep:
            raise ValueError(f"criterion {kind} takes no parameter; got {spec!r}")
        return Criterion(kind)
    if not sep:
        example = "prefix-below:0.5" if kind == "prefix-below" else "performance-below:0.8"
        raise ValueError(f"criterion {kind} needs a threshold, e.g. {example!r}; got {spec!r}")
    try:
        threshold = float(value)
    except ValueError:
        raise ValueError(f"criterion threshold in {spec!r} must be a number; got {value!r}") from None
    return Criterion(kind, threshold, performance if kind == "performance-below" else None)
