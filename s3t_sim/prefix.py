"""The served prefix: how many leading stages of a shard stay clean after deletions.

For a shard with sequence set P (B permutations of its L slices) and a set D of
slices that were hit by deletion requests,

    k(D) = max over pi in P of (number of leading elements of pi not in D),

and the shard is dead when k(D) = 0. This module is the one place that formula lives;
the simulator, the selection solver and the training backend all call it, and the one
place where a stream of requests becomes served sequences and prefixes
(:func:`served_states_after`).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from s3t_sim.checks import check_request_counts


def sequence_prefixes(sequences: np.ndarray, deleted: np.ndarray) -> np.ndarray:
    """Clean-prefix length of every sequence.

    Parameters
    ----------
    sequences : int array of shape (B, L)
        Each row a permutation of the slice indices 0..L-1.
    deleted : bool array of shape (..., L)
        ``deleted[..., s]`` is True when slice ``s`` has been hit.

    Returns
    -------
    int array of shape (..., B): for each sequence, the number of its leading slices
    that are not deleted.

    Examples
    --------
    >>> seqs = np.array([[0, 1, 2], [1, 2, 0]])
    >>> sequence_prefixes(seqs, np.array([False, False, True])).tolist()
    [2, 1]
    """
    sequences = np.asarray(sequences)
    deleted = np.asarray(deleted, dtype=bool)
    clean_in_order = ~deleted[..., sequences]  # (..., B, L)
    return np.cumprod(clean_in_order, axis=-1, dtype=np.int8).sum(axis=-1, dtype=np.int64)


def served_prefix(sequences: np.ndarray, deleted: np.ndarray) -> np.ndarray:
    """Served prefix ``k(D)`` of a shard: the longest clean prefix over its sequences.

    Parameters
    ----------
    sequences : int array of shape (B, L)
    deleted : bool array of shape (..., L)

    Returns
    -------
    int array of shape (...); 0 means the shard is dead.

    Examples
    --------
    >>> seqs = np.array([[0, 1, 2], [1, 2, 0]])
    >>> int(served_prefix(seqs, np.array([True, False, False])))
    2
    >>> int(served_prefix(seqs, np.array([True, True, False])))
    0
    """
    return sequence_prefixes(sequences, deleted).max(axis=-1)


def best_sequence(sequences: np.ndarray, deleted: np.ndarray) -> tuple[int, int]:
    """Index of the sequence a shard serves and its prefix length (ties go to the lowest index)."""
    prefixes = sequence_prefixes(sequences, np.asarray(deleted, dtype=bool))
    index = int(np.argmax(prefixes))
    return index, int(prefixes[index])


def served_states(sequences: np.ndarray, deleted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Served sequence and prefix of every shard, from the hit slices of every shard.

    ``sequences`` (m, B, L); ``deleted`` bool (..., m, L). Returns ``(sequence_index,
    prefix)``, two int arrays (..., m); the served sequence is the one with the longest
    clean prefix, ties to the lowest index (as :func:`best_sequence`).

    Examples
    --------
    >>> seqs = np.array([[[0, 1], [1, 0]]])
    >>> [a.tolist() for a in served_states(seqs, np.array([[True, False]]))]
    [[1], [1]]
    """
    sequences = np.asarray(sequences)
    deleted = np.asarray(deleted, dtype=bool)
    index = np.empty(deleted.shape[:-1], dtype=np.int64)
    prefix = np.empty_like(index)
    for s in range(sequences.shape[0]):
        per_sequence = sequence_prefixes(sequences[s], deleted[..., s, :])  # (..., B)
        index[..., s] = per_sequence.argmax(axis=-1)
        prefix[..., s] = per_sequence.max(axis=-1)
    return index, prefix


def served_states_after(sequences: np.ndarray, streams: np.ndarray, request_counts: Any) -> tuple[np.ndarray, np.ndarray]:
    """Served sequence and prefix of every shard after each request count of each stream.

    ``sequences`` (m, B, L); ``streams`` (runs, R) flat slice indices (``shard * L + slice``).
    Returns ``(sequence_index, prefix)``, two int arrays (runs, len(request_counts), m)
    (see :func:`served_states`).

    Examples
    --------
    >>> seqs = np.array([[[0, 1], [1, 0]]])
    >>> served_states_after(seqs, np.array([[0, 1]]), [0, 1, 2])[1].tolist()
    [[[2], [1], [0]]]
    """
    sequences = np.asarray(sequences)
    m, _, L = sequences.shape
    counts = check_request_counts(request_counts)
    streams = np.asarray(streams, dtype=np.int64)
    runs, R = streams.shape
    if counts[-1] > R:
        raise ValueError(f"request_counts go up to {counts[-1]} but the streams hold {R} requests")
    # first_hit[run, slice] = index of the first request on the slice (R if never hit).
    first_hit = np.full((runs, m * L), R, dtype=np.int64)
    positions = np.broadcast_to(np.arange(R), (runs, R))
    np.minimum.at(first_hit, (np.repeat(np.arange(runs), R), streams.ravel()), positions.ravel())
    deleted = first_hit[:, None, :] < counts[None, :, None]  # (runs, C, m*L)
    return served_states(sequences, deleted.reshape(runs, counts.size, m, L))
