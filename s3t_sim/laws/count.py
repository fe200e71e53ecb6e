"""The interface shared by the exact laws of a request count on ``{0, 1, 2, ...}``."""
from __future__ import annotations

import math

import numpy as np


class CountLaw:
    """Shared helpers of the discrete laws on ``{0, 1, 2, ...}``: ``std``, ``sf``, ``ppf``."""

    def mean(self) -> float:
        raise NotImplementedError

    def var(self) -> float:
        raise NotImplementedError

    def cdf(self, r):
        raise NotImplementedError

    def std(self) -> float:
        return math.sqrt(self.var())

    def sf(self, r):
        return 1.0 - self.cdf(r)

    def ppf(self, q):
        """Smallest ``r`` with ``cdf(r) >= q``."""
        q = np.asarray(q, dtype=float)
        if np.any((q < 0) | (q >= 1)):
            raise ValueError("q must be in [0, 1)")
        hi = max(1, int(self.mean()))
        while np.any(self.cdf(hi) < q.max()):
            hi *= 2
        table = self.cdf(np.arange(hi + 1))
        return np.searchsorted(table, q - 1e-12, side="left")

    def interval(self, confidence: float) -> tuple[int, int]:
        a = (1 - confidence) / 2
        lo, hi = self.ppf([a, 1 - a])
        return int(lo), int(hi)
