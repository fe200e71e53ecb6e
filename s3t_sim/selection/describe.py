"""A sequence set summarised for people and programs (used by ``s3t select``)."""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from s3t_sim.checks import check_int
from s3t_sim.priors import shard_prior
from s3t_sim.selection.objectives import expected_requests_to_death, served_prefix_estimates
from s3t_sim.selection.prefix_tree import training_cost


def describe_selection(
    sequences: ArrayLike,
    prior: ArrayLike | None = None,
    requests: int = 100,
    *,
    shard_share: float = 1.0,
    runs: int = 20_000,
    seed=None,
) -> dict:
    """Sequences, prefix-tree training cost and objective values of a set, as a JSON-ready dict.

    ``objective`` holds the expected served prefix after ``requests`` requests and averaged
    over r = 1..requests, and the expected requests to shard death; exact for
    ``L <= s3t_sim.laws.served_prefix.EXACT_MAX_L``, else Monte Carlo with ``runs`` runs and ``seed`` (with ``se``).

    Examples
    --------
    >>> d = describe_selection([[0, 1], [1, 0]], requests=1)
    >>> d["distinct_prefixes"], d["objective"]["served_prefix_after"]
    (4, 1.0)
    """
    seqs = np.asarray(sequences, dtype=np.int64)
    p = shard_prior(prior, seqs.shape[1])
    R = check_int("requests", requests, 0)
    after, averaged = served_prefix_estimates(seqs, p, R, shard_share=shard_share, runs=runs, seed=seed)
    objective = {
        "method": after.method,
        "requests": R,
        "shard_share": shard_share,
        "served_prefix_after": after.mean,
        "served_prefix_average": averaged.mean,
        "requests_to_death": expected_requests_to_death(seqs, p, shard_share=shard_share),
    }
    if after.method == "mc":
        objective.update(
            served_prefix_after_se=after.se, served_prefix_average_se=averaged.se, runs=after.runs, seed=seed
        )
    return {
        "L": int(seqs.shape[1]),
        "B": int(seqs.shape[0]),
        "prior": p.tolist(),
        "sequences": seqs.tolist(),
        "objective": objective,
        **{k: v for k, v in training_cost(seqs).items() if k not in ("B", "L")},
    }


def format_selection(description: dict, max_rows: int = 50) -> str:
    """Plain-text rendering of :func:`describe_selection` output."""
    d, obj = description, description["objective"]
    width = len(str(d["L"] - 1))
    lines = [f"sequences (B={d['B']}, L={d['L']}; each row a slice order):"]
    for i, row in enumerate(d["sequences"][:max_rows]):
        lines.append(f"  {i:>{len(str(d['B'] - 1))}}: " + " ".join(f"{s:>{width}}" for s in row))
    if d["B"] > max_rows:
        lines.append(f"  ... {d['B'] - max_rows} more rows (use --json for all)")
    lines.append(
        f"prefix tree: {d['distinct_prefixes']} distinct prefixes; training cost {d['shared_cost']} "
        f"slice-passes shared vs {d['separate_cost']} separate (saving {100 * d['saving']:.1f}%)"
    )
    how = "exact" if obj["method"] == "exact" else f"Monte Carlo, {obj['runs']} runs, seed {obj['seed']}"
    share = "" if obj["shard_share"] == 1.0 else f", shard share {obj['shard_share']:.4g}"
    lines.append(f"objective ({how}; R={obj['requests']} requests{share}):")

    def value(key: str) -> str:
        se = obj.get(f"{key}_se")
        return f"{obj[key]:.4f}" + (f" ± {se:.4f} (SE)" if se is not None else "")

    lines.append(f"  expected served prefix after R requests      {value('served_prefix_after')}")
    lines.append(f"  expected served prefix averaged over r <= R  {value('served_prefix_average')}")
    lines.append(f"  expected requests to shard death             {obj['requests_to_death']:.4f}")
    return "\n".join(lines)

