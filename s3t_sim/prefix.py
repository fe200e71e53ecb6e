"""The served prefix: how many leading stages of a shard stay clean after deletions.

For a shard with sequence set P (B permutations of its L slices) and a set D of
slices that were hit by deletion requests,

    k(D) = max over pi in P of (number of leading elements of pi not in D),

and the shard is dead when k(D) = 0. This module is the one place that formula lives;
the simulator, the selection solver and the training backend all call it.
"""
from __future__ import annotations

import numpy as np


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
