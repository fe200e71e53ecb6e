"""A whole S3T system whose shards' sequence sets come from one selection method."""
from __future__ import annotations

import numpy as np

from s3t_sim.checks import check_budget, check_int
from s3t_sim.priors import parse_prior
from s3t_sim.selection.registry import select_sequences
from s3t_sim.system import S3TSystem


def build_system(
    m: int,
    L: int,
    B: int,
    method: str = "cyclic",
    prior: "str | np.ndarray | None" = None,
    seed: "int | np.random.Generator | None" = None,
    *,
    horizon: float = 100.0,
    prior_seed: int = 0,
    points_per_slice: int = 100,
    assignment: str = "random",
) -> tuple[S3TSystem, np.ndarray]:
    """An ``m x L`` system with ``B`` sequences per shard chosen by ``method``, and its prior ``(m, L)``.

    ``prior`` is any spelling :func:`s3t_sim.priors.parse_prior` reads (per-point laws drawn
    with ``prior_seed``, ``points_per_slice`` and ``assignment``). Under the uniform prior
    (``None`` / ``"uniform"``) every shard shares one set (one draw per shard for
    ``random``); otherwise each shard gets the set ``method`` picks for its renormalised
    row. ``seed`` seeds the methods that draw (``random``, ``local-search``); ``horizon``
    is the BMS score horizon.

    Examples
    --------
    >>> system, prior = build_system(2, 3, 2, prior="zipf:1.5")
    >>> system.sequences.shape, prior.shape, round(float(prior.sum()), 12)
    ((2, 2, 3), (2, 3), 1.0)
    >>> build_system(2, 3, 2)[0].sequences[0].tolist()
    [[0, 1, 2], [1, 2, 0]]
    """
    m = check_int("m", m, 1)
    L = check_int("L", L, 1)
    B = check_budget(B, L)
    prior_array = parse_prior(prior, m, L, points_per_slice=points_per_slice, assignment=assignment, seed=prior_seed)
    uniform = prior is None or (isinstance(prior, str) and prior == "uniform")
    rng = np.random.default_rng(seed)
    name = f"s3t-{method}"
    if uniform and method != "random":
        one = select_sequences(method, L, B, None, seed=rng, horizon=horizon)
        return S3TSystem(np.broadcast_to(one, (m, B, L)), name=name), prior_array
    sets = []
    for row in (np.full((m, L), 1.0 / L) if uniform else prior_array):
        row = row / row.sum() if row.sum() > 0 else np.full(L, 1.0 / L)
        sets.append(select_sequences(method, L, B, None if uniform else row, seed=rng, horizon=horizon))
    return S3TSystem(np.stack(sets), name=name), prior_array
