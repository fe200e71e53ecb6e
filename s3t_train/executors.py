"""Executing a prefix tree: a node function called on every node after its parent.

Training a shard is a tree walk: the node for prefix ``(s1, ..., sk)`` trains adapter
group k on slices ``s1..sk`` starting from its parent's checkpoint ``(s1, ..., s(k-1))``.
An executor calls ``node_fn(node, parent_result)`` on every node of a ``networkx`` tree
once its parent is done and returns ``{node: result}``; roots receive ``root_input``.
:class:`LocalTreeExecutor` does so in this process, in topological order;
:class:`s3t_train.ray_executor.RayTreeExecutor` does so as Ray tasks.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import networkx as nx

NodeFunction = Callable[[Hashable, Any], Any]


def check_tree(tree: Any) -> None:
    """Refuse anything but a ``networkx.DiGraph`` forest (acyclic, at most one parent per node)."""
    import networkx as nx

    if not isinstance(tree, nx.DiGraph):
        raise TypeError(f"tree must be a networkx.DiGraph; got {type(tree).__name__}")
    if not nx.is_directed_acyclic_graph(tree):
        raise ValueError("tree must be acyclic (a prefix forest)")
    multi = [n for n in tree if tree.in_degree(n) > 1]
    if multi:
        raise ValueError(f"tree must give every node at most one parent; {multi[0]!r} has {tree.in_degree(multi[0])}")


def run_tree_sequential(tree: nx.DiGraph, node_fn: NodeFunction, root_input: Any = None) -> dict[Hashable, Any]:
    """Reference walk: call ``node_fn(node, parent_result)`` in topological order in this process.

    The reference the Ray executor is tested against.
    """
    import networkx as nx

    check_tree(tree)
    results: dict[Hashable, Any] = {}
    for node in nx.topological_sort(tree):
        parents = list(tree.predecessors(node))
        results[node] = node_fn(node, results[parents[0]] if parents else root_input)
    return results


@dataclass
class LocalTreeExecutor:
    """In-process executor with the same interface as :class:`RayTreeExecutor`."""

    def __enter__(self) -> "LocalTreeExecutor":
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def run(self, tree: nx.DiGraph, node_fn: NodeFunction, root_input: Any = None) -> dict[Hashable, Any]:
        return run_tree_sequential(tree, node_fn, root_input)

    def map(self, fn: Callable[..., Any], items: "list[Any]", *common: Any) -> list[Any]:
        return [fn(item, *common) for item in items]
