"""The selection experiments behind the README's results (``python -m bench selection``).

Each function returns a list of row dicts (JSON-ready); :func:`selection_report` runs all
of them. Objectives are exact (enumeration over hit sets); the only Monte Carlo quantity
is the mean over ``random_sets`` seeded random sets, reported with its standard error.
"""
from __future__ import annotations

import math
import sys
import time

import numpy as np

from s3t_sim.priors import parse_prior
from s3t_sim.selection.objectives import expected_requests_to_death, expected_served_prefix
from s3t_sim.selection.optimal import count_candidate_sets, optimal_sequences
from s3t_sim.selection.prefix_tree import training_cost
from s3t_sim.selection.registry import select_sequences

HEURISTICS = ("cyclic", "strided", "random", "bms", "local-search")


def ranked_shard_prior(spec: str, L: int, seed: int = 0) -> np.ndarray:
    """A shard's prior from a ``parse_prior`` spelling with one point per slice.

    ``zipf:1.1`` then means p_s ∝ rank(s)^-1.1 with the ranks assigned to slices at
    random (``seed``), so that no method is favoured by slice labels.
    """
    return parse_prior(spec, 1, L, points_per_slice=1, assignment="random", seed=seed)[0]


def _value(seqs, p, requests, average, shard_share=1.0) -> float:
    return float(expected_served_prefix(seqs, p, requests, average=average, shard_share=shard_share))


def _method_values(method, L, B, p, requests, horizon, random_sets, seed) -> dict:
    """Objective values of one method; ``random`` is averaged over seeded sets with its SE."""
    if method != "random":
        seqs = select_sequences(method, L, B, p, seed=seed, horizon=horizon)
        return {
            "after": _value(seqs, p, requests, False),
            "average": _value(seqs, p, requests, True),
            "se_average": 0.0,
            "death": expected_requests_to_death(seqs, p),
            "seqs": seqs,
        }
    rng = np.random.default_rng(seed)
    sets = [select_sequences("random", L, B, p, seed=rng) for _ in range(random_sets)]
    after = np.array([_value(s, p, requests, False) for s in sets])
    average = np.array([_value(s, p, requests, True) for s in sets])
    death = np.array([expected_requests_to_death(s, p) for s in sets])
    return {
        "after": float(after.mean()),
        "average": float(average.mean()),
        "se_average": float(average.std(ddof=1) / math.sqrt(random_sets)),
        "death": float(death.mean()),
        "seqs": sets[0],
    }


def compare_methods(
    L: int = 8,
    budgets=(2, 4, 8, 16),
    prior: str = "zipf:1.1",
    requests: int | None = None,
    methods=("sisa", *HEURISTICS),
    random_sets: int = 20,
    seed: int = 0,
) -> list[dict]:
    """Expected served prefix (after R and averaged over r <= R) and requests to death per method.

    The BMS horizon t equals R. ``random`` rows are means over ``random_sets`` sets
    (``se_average`` its standard error); ``local-search`` starts from BMS (2000 moves, ``seed``).
    """
    p = ranked_shard_prior(prior, L, seed)
    R = requests if requests is not None else L
    rows = []
    for B in budgets:
        for method in methods:
            if method == "sisa" and B != 1 and B != budgets[0]:
                continue
            b = 1 if method == "sisa" else B
            v = _method_values(method, L, b, p, R, float(R), random_sets, seed)
            rows.append(
                {
                    "L": L, "B": b, "prior": prior, "requests": R, "method": method,
                    "served_prefix_after": v["after"], "served_prefix_average": v["average"],
                    "se_average": v["se_average"], "requests_to_death": v["death"],
                    "random_sets": random_sets if method == "random" else None, "seed": seed,
                }
            )
    return rows


def strided_vs_consecutive(L: int = 6, m: int = 3, budgets=(2, 3, 4, 5), requests=range(5, 11)) -> list[dict]:
    """Spec §1's claim: strided starts beat consecutive ones at B < L (uniform prior, m shards)."""
    rows = []
    for B in budgets:
        consecutive = select_sequences("consecutive", L, B)
        strided = select_sequences("strided", L, B)
        for R in requests:
            c = _value(consecutive, None, R, False, 1.0 / m)
            s = _value(strided, None, R, False, 1.0 / m)
            rows.append({"L": L, "m": m, "B": B, "requests": R, "consecutive": c, "strided": s, "gain": s / c - 1})
    return rows


def tiny_systems(max_L: int = 6, max_B: int = 4, max_sets: int = 2_000_000, priors=("uniform", "zipf:1.1")):
    """Every (L, B, prior) the exact optimiser covers within ``max_sets`` sets."""
    for prior in priors:
        for L in range(2, max_L + 1):
            p = ranked_shard_prior(prior, L)
            for B in range(1, min(max_B, math.factorial(L)) + 1):
                if count_candidate_sets(L, B, p) <= max_sets:
                    yield L, B, prior


def optimality_gaps(
    systems=None, methods=HEURISTICS, random_sets: int = 20, seed: int = 0, max_sets: int = 2_000_000
) -> list[dict]:
    """Gap ``1 - value/optimum`` of every method on tiny systems (objective: served prefix
    averaged over r = 1..R with R = L requests; BMS horizon t = L)."""
    rows = []
    for L, B, prior in systems if systems is not None else tiny_systems(max_sets=max_sets):
        p = ranked_shard_prior(prior, L)
        start = time.perf_counter()
        best = _value(optimal_sequences(L, B, p, requests=L, max_sets=max_sets), p, L, True)
        seconds = time.perf_counter() - start
        row = {"L": L, "B": B, "prior": prior, "requests": L, "optimum": best,
               "sets_searched": count_candidate_sets(L, B, p), "optimiser_seconds": seconds}
        for method in methods:
            v = _method_values(method, L, B, p, L, float(L), random_sets, seed)
            row[f"gap_{method}"] = 1.0 - v["average"] / best
            if method == "random":
                row["gap_random_se"] = v["se_average"] / best
        rows.append(row)
    return rows


def training_costs(L: int = 8, budgets=(2, 4, 8, 16, 64), prior: str = "zipf:1.1", seed: int = 0) -> list[dict]:
    """Prefix-tree training cost of each method's set (slice-passes, shared vs separate)."""
    p = ranked_shard_prior(prior, L, seed)
    rows = []
    for B in budgets:
        for method in ("cyclic", "strided", "random", "bms", "local-search"):
            seqs = select_sequences(method, L, B, p, seed=seed, horizon=float(L))
            rows.append({"L": L, "B": B, "method": method, **{k: v for k, v in training_cost(seqs).items() if k not in ("B", "L")}})
    full = training_cost(select_sequences("full", L, math.factorial(L)))
    rows.append({"L": L, "B": math.factorial(L), "method": "full", **{k: v for k, v in full.items() if k not in ("B", "L")}})
    return rows


def served_prefix_curves(
    L: int = 12,
    B: int = 6,
    prior: str = "zipf:1.1",
    requests=range(0, 41, 2),
    methods=("sisa", "cyclic", "strided", "bms", "local-search"),
    seed: int = 0,
) -> list[dict]:
    """Exact expected served prefix after r requests, for every method and r (one shard).

    BMS horizon and the local-search objective use R = L (averaged over r <= L).
    """
    p = ranked_shard_prior(prior, L, seed)
    rows = []
    for method in methods:
        seqs = select_sequences(method, L, 1 if method == "sisa" else B, p, seed=seed, horizon=float(L))
        for r in requests:
            rows.append({"L": L, "B": seqs.shape[0], "prior": prior, "method": method, "requests": int(r),
                         "served_prefix": _value(seqs, p, int(r), False)})
    return rows


def selection_report(quick: bool = False, seed: int = 0, progress: bool | None = None) -> dict[str, list[dict]]:
    """All selection tables: methods under a Zipf prior, strided vs consecutive, optimality
    gaps on tiny systems, training costs, served-prefix curves. ``quick`` shrinks the grids (for smoke runs).
    A progress bar over the tables shows when ``progress`` is True (default: when stderr
    is a terminal)."""
    if quick:
        tables = {
            "methods_zipf": lambda: compare_methods(L=6, budgets=(2, 6), random_sets=5, seed=seed),
            "strided_vs_consecutive": lambda: strided_vs_consecutive(budgets=(2, 3), requests=(5, 10)),
            "optimality_gaps": lambda: optimality_gaps(
                systems=[(4, 2, "uniform"), (4, 3, "zipf:1.1")], random_sets=5, seed=seed
            ),
            "training_costs": lambda: training_costs(L=5, budgets=(2, 8), seed=seed),
            "served_prefix_curves": lambda: served_prefix_curves(L=6, B=3, requests=range(0, 13, 4), seed=seed),
        }
    else:
        tables = {
            "methods_zipf": lambda: compare_methods(seed=seed) + compare_methods(L=12, budgets=(3, 6, 12, 24), seed=seed),
            "strided_vs_consecutive": strided_vs_consecutive,
            "optimality_gaps": lambda: optimality_gaps(seed=seed),
            "training_costs": lambda: training_costs(seed=seed),
            "served_prefix_curves": lambda: served_prefix_curves(seed=seed),
        }
    from tqdm import tqdm  # heavy: only when the tables are built

    show = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(tables.items(), desc="selection tables", disable=not show, file=sys.stderr)
    return {name: make() for name, make in bar}
