"""A sequence set as a prefix tree, and the training cost of sharing its prefixes.

Stage k of a sequence trains adapter group k on its first k slices, so it costs k
slice-passes (per epoch). Sequences that share a prefix share those stages: the tree's
nodes are the distinct prefixes, and training each node once costs

    shared_cost = sum over distinct non-empty prefixes P of |P|,

against ``separate_cost = B * L(L+1)/2`` when every sequence is trained on its own.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from s3t_sim.checks import check_sequences

if TYPE_CHECKING:
    import networkx as nx


def _as_sequences(sequences) -> np.ndarray:
    arr = np.asarray(sequences)
    L = arr.shape[-1] if arr.ndim == 2 else -1
    return check_sequences("sequences", arr, L)


def prefix_tree(sequences: ArrayLike) -> nx.DiGraph:
    """The prefix tree of a sequence set as a ``networkx.DiGraph``.

    Nodes are the distinct prefixes as tuples (the root is ``()``), edges go from a
    prefix to its one-slice extensions, and each node has the attribute ``length``.
    Each full-length node also has ``sequences``, the row indices it ends.

    Examples
    --------
    >>> tree = prefix_tree([[0, 1, 2], [0, 2, 1]])
    >>> sorted(tree.successors((0,)))
    [(0, 1), (0, 2)]
    >>> tree.number_of_nodes() - 1  # distinct non-empty prefixes
    5
    """
    import networkx as nx  # heavy: kept off the `s3t --help` path

    seqs = _as_sequences(sequences)
    tree = nx.DiGraph()
    tree.add_node((), length=0)
    for index, row in enumerate(seqs.tolist()):
        parent: tuple = ()
        for n in range(1, len(row) + 1):
            node = tuple(row[:n])
            if node not in tree:
                tree.add_node(node, length=n)
                tree.add_edge(parent, node)
            parent = node
        tree.nodes[parent].setdefault("sequences", []).append(index)
    return tree


def training_cost(sequences: ArrayLike) -> dict:
    """Training cost of a sequence set with and without prefix sharing.

    Returns a dict with ``distinct_prefixes`` (stages to train once each),
    ``shared_cost`` (their summed lengths, in slice-passes), ``separate_cost``
    (``B * L(L+1)/2``), ``saving`` (``1 - shared/separate``), ``B`` and ``L``.
    Computed from the lexicographically sorted rows: a row adds the prefixes longer
    than its longest common prefix with the previous row.

    Examples
    --------
    >>> training_cost([[0, 1, 2], [0, 2, 1]])["shared_cost"]  # (0), (0,1), (0,1,2), (0,2), (0,2,1)
    11
    """
    seqs = _as_sequences(sequences)
    B, L = seqs.shape
    ordered = seqs[np.lexsort(seqs.T[::-1])]
    common = np.zeros(B, dtype=np.int64)
    if B > 1:
        same = ordered[1:] == ordered[:-1]
        common[1:] = np.cumprod(same, axis=1).sum(axis=1)
    distinct = int((L - common).sum())
    # lengths common+1 .. L for each row
    shared = int((L * (L + 1) // 2 - common * (common + 1) // 2).sum())
    separate = B * L * (L + 1) // 2
    return {
        "B": B,
        "L": L,
        "distinct_prefixes": distinct,
        "shared_cost": shared,
        "separate_cost": separate,
        "saving": 1.0 - shared / separate,
    }
