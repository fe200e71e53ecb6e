"""``select_sequences``: one entry point for every selection method."""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from s3t_sim.checks import check_budget, check_choice, check_int, check_real
from s3t_sim.priors import shard_prior
from s3t_sim.selection.baselines import full_budget, random_permutations, sisa
from s3t_sim.selection.bms import bipartite_matching_selection
from s3t_sim.selection.cyclic import cyclic_sequences
from s3t_sim.selection.optimal import local_search, optimal_sequences

METHODS = ("cyclic", "consecutive", "strided", "random", "bms", "full", "optimal", "local-search", "sisa")


def select_sequences(
    method: str,
    L: int,
    B: int,
    prior: ArrayLike | None = None,
    seed: int | np.random.Generator | None = None,
    horizon: float = 100.0,
    **options,
) -> np.ndarray:
    """Choose B distinct orders of a shard's L slices, as an int array of shape (B, L).

    Parameters
    ----------
    method : one of :data:`METHODS`
        ``cyclic`` / ``consecutive``: rotations with consecutive starts (B <= L), the
        balanced prefix tree beyond; ``strided``: starts spread L/B apart; ``random``:
        distinct uniform orders; ``bms``: bipartite-matching selection; ``full``: all L!
        orders (B must be L!); ``optimal``: exhaustive search (tiny systems);
        ``local-search``: hill climbing from another method's set; ``sisa``: B = 1.
    L, B : slices per shard and budget, ``1 <= B <= L!``.
    prior : per-slice deletion probabilities of the shard (length L, sum 1); None = uniform.
    seed : int, None or numpy Generator (``random``, ``local-search``).
    horizon : BMS score horizon t (also for the BMS start of ``local-search``).
    **options : passed to the method: ``bms`` takes ``weight`` ("score" or
        "objective"); ``optimal`` and ``local-search`` maximise the exact expected
        served prefix averaged over r = 1..R and take ``requests`` (R, default L),
        ``average``, ``shard_share``; ``optimal`` also ``max_sets``; ``local-search``
        also ``start`` (default "bms") and ``iterations``.

    Examples
    --------
    >>> select_sequences("strided", 6, 3)[:, 0].tolist()
    [0, 2, 4]
    >>> select_sequences("bms", 4, 4, prior=[0.4, 0.3, 0.2, 0.1]).shape
    (4, 4)
    """
    check_choice("method", method, METHODS)
    L = check_int("L", L, 1)
    B = check_budget(B, L)
    horizon = check_real("horizon", horizon, 0.0, low_inclusive=False)
    p = shard_prior(prior, L)
    if method in ("cyclic", "consecutive", "strided"):
        _no_options(method, options)
        return cyclic_sequences(L, B, "strided" if method == "strided" else "consecutive")
    if method == "random":
        _no_options(method, options)
        return random_permutations(L, B, seed=seed)
    if method == "full":
        _no_options(method, options)
        return full_budget(L, B)
    if method == "sisa":
        _no_options(method, options)
        return sisa(L, B)
    if method == "bms":
        return bipartite_matching_selection(L, B, p, horizon=horizon, **options)
    requests = options.pop("requests", L)
    if method == "optimal":
        return optimal_sequences(L, B, p, requests=requests, **options)
    start = options.pop("start", "bms")
    check_choice("start", start, tuple(m for m in METHODS if m not in ("local-search", "optimal", "full")))
    initial = select_sequences(start, L, B, p, seed=seed, horizon=horizon)
    return local_search(initial, p, requests=requests, seed=seed, **options)


def _no_options(method: str, options: dict) -> None:
    if options:
        raise TypeError(f"method {method!r} takes no options; got {sorted(options)}")
