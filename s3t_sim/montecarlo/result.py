"""Monte Carlo results, seeds, and runs in memory-bounded chunks with a progress bar."""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from s3t_sim.checks import check_int

CHUNK_ELEMENTS = 1 << 21  # array elements per chunk (~16 MB per int64 array)


@dataclass(frozen=True)
class MonteCarloResult:
    """Per-run values with their mean, standard error, run count, seed and wall time."""

    values: np.ndarray
    runs: int
    seed: Any
    seconds: float
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))

    @property
    def std(self) -> float:
        return float(np.std(self.values, ddof=1)) if self.runs > 1 else float("nan")

    @property
    def se(self) -> float:
        """Standard error of :attr:`mean`: ``std / sqrt(runs)``."""
        return self.std / math.sqrt(self.runs) if self.runs > 1 else float("nan")

    def quantile(self, q: "float | np.ndarray") -> np.ndarray:
        return np.quantile(self.values, q)

    def ci(self, level: float = 0.95) -> tuple[float, float]:
        """Normal-approximation confidence interval for the mean."""
        from scipy.stats import norm

        z = float(norm.ppf(0.5 + level / 2))
        return self.mean - z * self.se, self.mean + z * self.se

    def __str__(self) -> str:
        return f"{self.mean:.4g} ± {self.se:.2g} (SE, {self.runs} runs, seed {self.seed})"


def resolve_seed(seed) -> tuple[Any, np.random.SeedSequence]:
    """A recordable seed and its SeedSequence; ``None`` draws a fresh seed and records it."""
    if isinstance(seed, np.random.Generator):
        recorded = int(seed.integers(2**63))
        return recorded, np.random.SeedSequence(recorded)
    if seed is None:
        recorded = int(np.random.SeedSequence().entropy % (2**63))
        return recorded, np.random.SeedSequence(recorded)
    seed = check_int("seed", seed, 0)
    return seed, np.random.SeedSequence(seed)


def _progress(total: int, progress: "bool | None", desc: str):
    show = sys.stderr.isatty() if progress is None else progress
    if not show:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="run", file=sys.stderr, leave=False)


def _chunks(runs: int, per_run: int):
    size = max(1, min(runs, CHUNK_ELEMENTS // max(1, per_run)))
    return [(start, min(runs, start + size)) for start in range(0, runs, size)]


def chunked_runs(runs: int, per_run: int, seed_seq: np.random.SeedSequence, progress: "bool | None", desc: str):
    """Yield ``(lo, hi, rng)`` for chunks of runs small enough for memory, one spawned
    generator per chunk (so results depend on the seed and the chunk size only), with a
    progress bar over runs."""
    chunks = _chunks(runs, per_run)
    bar = _progress(runs, progress, desc)
    try:
        for (lo, hi), child in zip(chunks, seed_seq.spawn(len(chunks))):
            yield lo, hi, np.random.default_rng(child)
            if bar is not None:
                bar.update(hi - lo)
    finally:
        if bar is not None:
            bar.close()
