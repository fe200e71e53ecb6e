"""scipy.stats' frozen-distribution interface, shared by the exact laws of a request count.

A law supplies ``mean()``, ``var()`` and ``_sf_table(r_max)`` (``P(N > r)``, ``r = 0..r_max``,
computed as a sum of non-negative terms); everything else follows on the support
``{0, 1, 2, ...}``: ``std median ppf cdf sf pmf interval stats expect moment rvs``, with
scipy's signatures (``rvs(size, random_state)``, ``stats(moments="mv")``,
``expect(func, lb, ub, conditional)``). Sums over the support stop where ``P(N > r)``
drops below ``TAIL`` (the neglected mass, times ``func``'s growth, is below that).
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

TAIL = 1e-17  # sums over the support stop where P(N > r) is below this


class CountLaw:
    """Frozen discrete law of a count ``N >= 0`` (module docstring)."""

    def mean(self) -> float:
        raise NotImplementedError

    def var(self) -> float:
        raise NotImplementedError

    def _sf_table(self, r_max: int) -> np.ndarray:
        raise NotImplementedError

    def std(self) -> float:
        return math.sqrt(max(self.var(), 0.0))

    def sf(self, k):
        """``P(N > k)``."""
        k = np.asarray(k)
        table = self._sf_table(int(max(0, np.max(k, initial=0))))
        out = np.where(k < 0, 1.0, np.minimum(table[np.clip(k, 0, None).astype(int)], 1.0))
        return out if out.ndim else float(out)

    def cdf(self, k):
        """``P(N <= k)``."""
        out = 1.0 - np.asarray(self.sf(k))
        return out if out.ndim else float(out)

    def pmf(self, k):
        """``P(N = k)`` (0 off the integers; a difference of survival values, so never below 0)."""
        k = np.asarray(k, dtype=float)
        whole = k == np.floor(k)
        out = np.where(whole, np.maximum(np.asarray(self.sf(k - 1)) - np.asarray(self.sf(k)), 0.0), 0.0)
        return out if out.ndim else float(out)

    def _support_end(self, tail: float) -> int:
        """The smallest ``r`` (doubling search) with ``P(N > r) <= tail``."""
        r = max(1, int(self.mean()))
        while self._sf_table(r)[-1] > tail:
            r *= 2
        return r

    def ppf(self, q):
        """Smallest ``k`` with ``cdf(k) >= q``, ``q`` in ``[0, 1]`` (``inf`` at 1 when unbounded)."""
        q = np.asarray(q, dtype=float)
        if np.any((q < 0) | (q > 1)) or np.any(np.isnan(q)):
            raise ValueError(f"q must be in [0, 1]; got {q.tolist()}")
        below = q[q < 1]
        end = self._support_end(max(TAIL, 1.0 - float(below.max()))) if below.size else 0
        table = self._sf_table(end)
        # cdf(k) >= q  <=>  sf(k) <= 1 - q; the table decreases
        idx = np.searchsorted(-table, -(1.0 - below) * (1 + 1e-12), side="left")
        out = np.full(q.shape, np.inf)
        out[q < 1] = idx
        return out if out.ndim else float(out)

    def isf(self, q):
        """Smallest ``k`` with ``sf(k) <= q``."""
        return self.ppf(1.0 - np.asarray(q, dtype=float))

    def median(self) -> float:
        return float(self.ppf(0.5))

    def interval(self, confidence: float) -> tuple[float, float]:
        """``(ppf((1 - c) / 2), ppf((1 + c) / 2))`` as in scipy."""
        if not 0 <= confidence <= 1:
            raise ValueError(f"confidence must be in [0, 1]; got {confidence}")
        lo, hi = self.ppf([(1 - confidence) / 2, (1 + confidence) / 2])
        return float(lo), float(hi)

    def expect(self, func: "Callable | None" = None, lb: "float | None" = None, ub: "float | None" = None,
               conditional: bool = False) -> float:
        """``E[func(N); lb <= N <= ub]`` (divided by ``P(lb <= N <= ub)`` if ``conditional``)."""
        end = self._support_end(TAIL) if ub is None else int(math.floor(ub))
        start = 0 if lb is None else max(0, int(math.ceil(lb)))
        k = np.arange(start, end + 1)
        sf = self._sf_table(end)
        pmf = np.concatenate([[1.0], sf[:-1]])[k] - sf[k]
        values = k.astype(float) if func is None else np.asarray([func(v) for v in k], dtype=float)
        total = float(math.fsum(values * pmf))
        return total / float(math.fsum(pmf)) if conditional else total

    def moment(self, order: int) -> float:
        """Non-central moment ``E[N^order]``."""
        if order == 1:
            return self.mean()
        if order == 2:
            return self.var() + self.mean() ** 2
        return self.expect(lambda k: float(k) ** order)

    def stats(self, moments: str = "mv") -> tuple:
        """Mean, variance, skewness, (excess) kurtosis, as requested by the letters ``mvsk``."""
        mu, var = self.mean(), self.var()
        out = []
        for letter in moments:
            if letter == "m":
                out.append(mu)
            elif letter == "v":
                out.append(var)
            elif letter == "s":
                out.append(self.expect(lambda k: (k - mu) ** 3) / var**1.5)
            elif letter == "k":
                out.append(self.expect(lambda k: (k - mu) ** 4) / var**2 - 3.0)
            else:
                raise ValueError(f"moments must be letters of 'mvsk'; got {moments!r}")
        return out[0] if len(out) == 1 else tuple(out)

    def rvs(self, size: "int | tuple[int, ...] | None" = None, random_state=None) -> "np.ndarray | int":
        """Samples by inversion of the exact cdf (``random_state``: seed or Generator)."""
        rng = np.random.default_rng(random_state)
        u = rng.random(size)
        out = np.asarray(self.ppf(u)).astype(np.int64)
        return out if out.ndim else int(out)


class FiniteLaw(CountLaw):
    """Frozen law on ``{0, 1, ..., n}`` from its pmf (served prefixes, sums of them).

    ``pmf[k] = P(X = k)``; the table is renormalised only when its total is within ``1e-9`` of
    1 (a larger defect is an error of whoever built it). ``method`` says how the pmf was
    computed. Every scipy.stats method comes from :class:`CountLaw`; ``mean``/``var`` are
    compensated sums over the support (``var`` as ``sum p_k (k - mean)^2``, no cancellation).

    Examples
    --------
    >>> law = FiniteLaw([0.25, 0.5, 0.25], "example")
    >>> law.mean(), law.var(), law.median(), float(law.sf(0))
    (1.0, 0.5, 1.0, 0.75)
    """

    def __init__(self, pmf, method: str = ""):
        table = np.asarray(pmf, dtype=float)
        if table.ndim != 1 or table.size == 0 or np.any(~np.isfinite(table)) or np.any(table < -1e-15):
            raise ValueError("pmf must be a non-empty 1-D array of probabilities >= 0")
        total = math.fsum(table)
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"pmf must sum to 1; got {total!r}")
        self.table = np.clip(table, 0.0, None) / total
        self.method = method
        self.support = (0, table.size - 1)

    def __repr__(self) -> str:
        return f"FiniteLaw(n={self.table.size - 1}, method={self.method!r})"

    def mean(self) -> float:
        return math.fsum(self.table * np.arange(self.table.size))

    def var(self) -> float:
        return math.fsum(self.table * (np.arange(self.table.size) - self.mean()) ** 2)

    def _sf_table(self, r_max: int) -> np.ndarray:
        tail = np.concatenate([np.cumsum(self.table[::-1])[::-1][1:], [0.0]])  # P(X > k), k = 0..n
        out = np.zeros(r_max + 1)
        n = min(r_max + 1, tail.size)
        out[:n] = tail[:n]
        return out

    def _support_end(self, tail: float) -> int:
        return self.table.size - 1

    def rvs(self, size: "int | tuple[int, ...] | None" = None, random_state=None) -> "np.ndarray | int":
        """Samples from the pmf (``random_state``: seed or Generator)."""
        out = np.random.default_rng(random_state).choice(self.table.size, size=size, p=self.table)
        return out if np.ndim(out) else int(out)

    def ppf(self, q):
        """As :meth:`CountLaw.ppf`, with scipy's ends: ``ppf(0) = -1``, ``ppf(1) = n``."""
        q = np.asarray(q, dtype=float)
        out = np.asarray(super().ppf(q), dtype=float)
        out = np.where(q >= 1, self.table.size - 1, np.where(q <= 0, -1.0, out))
        return out if out.ndim else float(out)
