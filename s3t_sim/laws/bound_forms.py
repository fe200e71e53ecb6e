"""The paper's deletion-rate bound forms (no constants), the one place they are written.

With ``B' = min(B, L)``:

- ``poster``      ``mL log(mL B')`` — S3T, the ICLR poster;
- ``arxiv``       ``mL log(m B')``  — S3T, the arXiv summary;
- ``sisa-poster`` ``mL log(mL)``    — SISA, the poster's form at ``B' = 1``;
- ``sisa-arxiv``  ``mL log(m)``     — SISA, the arXiv form at ``B' = 1``.

Each form carries its expression text (``m``, ``L``, ``Bp`` for ``B'``; what ``analysis``
fits and prints), the system whose exact rate it bounds, and its value.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class BoundForm:
    """A bound form ``g(m, L, B')``: its expression text, the system it bounds and its value."""

    expression: str
    bounds: str  # "s3t" or "sisa"
    formula: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]

    def __call__(self, m, L, B):
        """``g(m, L, min(B, L))``, element-wise."""
        return self.formula(m, L, np.minimum(B, L))


BOUND_FORMS: dict[str, BoundForm] = {
    "poster": BoundForm("m*L*log(m*L*Bp)", "s3t", lambda m, L, Bp: m * L * np.log(m * L * Bp)),
    "arxiv": BoundForm("m*L*log(m*Bp)", "s3t", lambda m, L, Bp: m * L * np.log(m * Bp)),
    "sisa-poster": BoundForm("m*L*log(m*L)", "sisa", lambda m, L, Bp: m * L * np.log(m * L)),
    "sisa-arxiv": BoundForm("m*L*log(m)", "sisa", lambda m, L, Bp: m * L * np.log(m)),
}


def bound_values(m: int, L: int, B: int) -> dict[str, float]:
    """The two S3T forms at one ``(m, L, B)``, keyed ``bound_poster`` and ``bound_arxiv``.

    Examples
    --------
    >>> {k: round(v, 2) for k, v in bound_values(2, 3, 2).items()}
    {'bound_poster': 14.91, 'bound_arxiv': 8.32}
    """
    return {f"bound_{name}": float(BOUND_FORMS[name](m, L, B)) for name in ("poster", "arxiv")}
