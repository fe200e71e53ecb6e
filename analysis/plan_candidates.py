"""The search space of a plan: the candidate (m, L, B, selection) settings, and the ones
skipped with the reason (more slices than examples, more slices than the model can hold)."""
from __future__ import annotations

import math
from typing import Any

from analysis.trainable import untrainable_reason

MAX_SETTINGS = 100_000  # settings one plan may evaluate (about 1.5 ms each on one core)


def plan_candidates(config: Any) -> tuple[list[tuple[int, int, int, str]], list[dict]]:
    """``(candidates, skipped)`` for a :class:`analysis.planning.PlanConfig`; budgets above
    L! are left out (no such set of distinct orders)."""
    candidates = [
        (m, L, B, sel)
        for L in config.slices for B in config.budgets if B <= math.factorial(L)
        for m in config.shards for sel in config.selections
    ]
    if len(candidates) > MAX_SETTINGS:
        raise ValueError(f"shards x slices x budgets x selections give {len(candidates)} settings, above the limit of "
                         f"{MAX_SETTINGS} (about 1.5 ms each: {MAX_SETTINGS * 1.5e-3 / 60:.0f} minutes); search fewer")
    # every slice needs at least one example: settings with m*L > N do not exist
    skipped = [dict(m=m, L=L, B=B, selection=sel, reason=f"fewer examples ({config.dataset_size}) than slices m*L")
               for m, L, B, sel in candidates if m * L > config.dataset_size]
    candidates = [c for c in candidates if c[0] * c[1] <= config.dataset_size]
    if skipped and not candidates:
        raise ValueError(f"dataset_size ({config.dataset_size}) is smaller than m*L of every setting searched "
                         f"(smallest {min(s['m'] * s['L'] for s in skipped)}): give fewer --shards/--slices")
    if config.model is not None:
        reasons = {L: untrainable_reason(config.model, L) for L in config.slices}
        skipped += [dict(m=m, L=L, B=B, selection=sel, reason=reasons[L]) for m, L, B, sel in candidates if reasons[L]]
        candidates = [c for c in candidates if not reasons[c[1]]]
    return candidates, skipped
