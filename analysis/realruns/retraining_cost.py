"""Training cost each method pays along a deletion stream, in example-passes (no torch).

The unit is the one of ``s3t validate``'s comparison: one example through one epoch of one
stage. A stage trains on the examples of its prefix's slices, so with ``n`` the examples of
each slice (as they are when the stage is trained) and ``E`` epochs:

- **S3T** trains its prefix tree once: ``E * sum over distinct prefixes of the examples in
  the prefix's slices``; a deletion only switches stages off, so the cost stays flat.
- **SISA** (one sequence ``pi`` per shard, one checkpoint per stage) retrains, on a request
  that deletes a point of the slice at position ``j`` of its shard's sequence, stages
  ``j..L`` on what remains: ``E * sum_{k=j..L} (examples still in the shard's first k
  slices)``.
- **Full fine-tuning** (one model) retrains on every request: ``E * (examples remaining)``.

Cumulative costs include the initial training, so the three start where each method's
training ends and S3T's line is flat.
"""
from __future__ import annotations

import numpy as np


def prefix_tree_cost(sequences: np.ndarray, slice_sizes: np.ndarray, epochs: int) -> float:
    """Example-passes of training every distinct prefix of ``sequences`` (m, B, L) once, with
    ``slice_sizes`` (m, L) examples per slice.

    >>> prefix_tree_cost(np.array([[[0, 1], [1, 0]]]), np.array([[3, 5]]), 2)  # (3 + 5 + 8 + 8) * 2
    48.0
    """
    sequences = np.asarray(sequences)
    sizes = np.asarray(slice_sizes, dtype=float)
    total = 0.0
    for shard, rows in enumerate(sequences):
        prefixes = {tuple(int(x) for x in row[:k]) for row in rows for k in range(1, rows.shape[1] + 1)}
        total += sum(float(sizes[shard, list(p)].sum()) for p in prefixes)
    return total * epochs


def sisa_request_costs(sequence: np.ndarray, slice_sizes: np.ndarray, hits: np.ndarray, epochs: int) -> np.ndarray:
    """SISA's retraining cost of every request of every stream, (runs, R).

    ``sequence`` (m, L): each shard's one order of its slices; ``slice_sizes`` (m, L): examples
    per slice before any deletion; ``hits`` (runs, R): the flat slice ``shard * L + slice`` of
    the point each request deletes (points without replacement, so sizes only shrink).

    >>> sisa_request_costs(np.array([[1, 0]]), np.array([[2, 2]]), np.array([[0, 1]]), 1).tolist()
    [[3.0, 3.0]]
    """
    sequence = np.asarray(sequence, dtype=np.int64)
    m, L = sequence.shape
    hits = np.atleast_2d(np.asarray(hits, dtype=np.int64))
    runs, R = hits.shape
    # sizes in sequence order: counts[run, shard, position]
    counts = np.repeat(np.take_along_axis(np.asarray(slice_sizes, dtype=float), sequence, axis=1)[None], runs, axis=0)
    position_of = np.argsort(sequence, axis=1)  # position_of[shard, slice]
    shard_of, slice_of = hits // L, hits % L
    rows = np.arange(runs)
    costs = np.empty((runs, R))
    weight = np.arange(L, 0, -1, dtype=float)  # a slice at position i lies in the first k slices of stages k = i..L
    for t in range(R):
        shard, position = shard_of[:, t], position_of[shard_of[:, t], slice_of[:, t]]
        counts[rows, shard, position] -= 1
        if np.any(counts[rows, shard, position] < 0):
            raise ValueError("hits delete more points from a slice than slice_sizes holds")
        # stages j..L retrain; stage k holds the first k slices: sum_k sum_{i<=k} n_i = sum_i n_i * (L - max(i, j) + 1)
        live = counts[rows, shard]  # (runs, L) in sequence order
        start = position[:, None]
        factor = np.where(np.arange(L)[None, :] < start, (L - start).astype(float), weight[None, :])
        costs[:, t] = (live * factor).sum(axis=1)
    return costs * epochs


def full_request_costs(n_points: int, requests: int, epochs: int) -> np.ndarray:
    """Full fine-tuning's retraining cost of requests 1..R: ``epochs * (n_points - r)``.

    >>> full_request_costs(5, 3, 2).tolist()
    [8.0, 6.0, 4.0]
    """
    if requests > n_points:
        raise ValueError(f"requests must be at most the {n_points} training points; got {requests}")
    return (n_points - np.arange(1, requests + 1, dtype=float)) * epochs


def cumulative(initial: float, request_costs: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Cumulative cost after each of ``counts`` requests: ``initial`` + the costs of the first r
    requests; ``request_costs`` (runs, R) or (R,), returns (runs, len(counts)).

    >>> cumulative(10.0, np.array([[1.0, 2.0, 3.0]]), np.array([0, 2, 3])).tolist()
    [[10.0, 13.0, 16.0]]
    """
    costs = np.atleast_2d(np.asarray(request_costs, dtype=float))
    running = np.concatenate([np.zeros((costs.shape[0], 1)), np.cumsum(costs, axis=1)], axis=1)
    return initial + running[:, np.asarray(counts, dtype=np.int64)]
