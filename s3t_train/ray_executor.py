"""Run S3T training as a Ray DAG: one task per prefix-tree node.

Training a shard is a tree walk: the node for prefix ``(s1, ..., sk)`` trains adapter
group k on slices ``s1..sk`` starting from its parent's checkpoint ``(s1, ..., s(k-1))``.
Nodes whose parents are done are independent, so the tree runs as a DAG of Ray tasks:
each node is submitted with its parent's ``ObjectRef`` as an argument and Ray starts it
as soon as that parent has finished. Roots receive ``root_input``.

The node function is the training backend's (it must be picklable: a module-level
function or a ``functools.partial`` of one) and is called as ``node_fn(node, parent_result)``;
results are returned as ``{node: result}``. Because every node draws its randomness from
its own seed and its parent's result only, the Ray backend reproduces the local
backend's results bit for bit (``tests/test_ray_executor.py`` checks it).

``ray.init()`` starts a local instance by default; ``address="auto"`` or
``"ray://host:10001"`` joins an existing cluster (see ``docs/validation.md``).

Example
-------
>>> import networkx as nx
>>> tree = nx.DiGraph([((0,), (0, 1)), ((0,), (0, 2))])
>>> def node_fn(node, parent):
...     return (parent or 0) + sum(node)
>>> with RayTreeExecutor(num_cpus=2) as executor:          # doctest: +SKIP
...     executor.run(tree, node_fn)
{(0,): 0, (0, 1): 1, (0, 2): 2}
"""
from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import networkx as nx

# Light at import time (argparse only): ``s3t --help`` builds the parser through
# :func:`add_backend_arguments`; networkx, numpy and ray are imported where used.

BACKENDS = ("local", "ray")
NodeFunction = Callable[[Hashable, Any], Any]


def run_tree_sequential(tree: nx.DiGraph, node_fn: NodeFunction, root_input: Any = None) -> dict[Hashable, Any]:
    """Reference walk: call ``node_fn(node, parent_result)`` in topological order in this process.

    The training backend has its own local executor (checkpoints on disk, journal); this
    walk is the minimal in-memory reference the Ray executor is tested against.
    """
    import networkx as nx

    _check_tree(tree)
    results: dict[Hashable, Any] = {}
    for node in nx.topological_sort(tree):
        parents = list(tree.predecessors(node))
        results[node] = node_fn(node, results[parents[0]] if parents else root_input)
    return results


def _check_tree(tree: Any) -> None:
    import networkx as nx

    if not isinstance(tree, nx.DiGraph):
        raise TypeError(f"tree must be a networkx.DiGraph; got {type(tree).__name__}")
    if not nx.is_directed_acyclic_graph(tree):
        raise ValueError("tree must be acyclic (a prefix forest)")
    multi = [n for n in tree if tree.in_degree(n) > 1]
    if multi:
        raise ValueError(f"tree must give every node at most one parent; {multi[0]!r} has {tree.in_degree(multi[0])}")


def _call_node(node_fn: NodeFunction, node: Hashable, parent_result: Any, threads: int | None) -> Any:
    """Body of every Ray task (module level so that it pickles)."""
    if threads is not None:
        try:  # match the thread count of the local run so that float reductions agree
            import torch

            torch.set_num_threads(threads)
        except ImportError:
            pass
    return node_fn(node, parent_result)


@dataclass
class RayTreeExecutor:
    """Execute a prefix tree as Ray tasks.

    Parameters
    ----------
    address : str or None
        ``None`` starts a local Ray instance; ``"auto"`` or ``"ray://host:port"`` joins a cluster.
    num_cpus : int or None
        CPUs of the local instance (ignored when joining a cluster); ``None`` lets Ray decide.
    cpus_per_task : int
        CPUs Ray reserves for one node (>= 1).
    threads_per_task : int or None
        torch threads inside a task; ``None`` keeps Ray's default (one per reserved CPU).
    shutdown_on_exit : bool
        Shut Ray down when the ``with`` block ends, if this executor started it.
    """

    address: str | None = None
    num_cpus: int | None = None
    cpus_per_task: int = 1
    threads_per_task: int | None = None
    shutdown_on_exit: bool = True
    init_seconds: float = field(default=0.0, init=False)
    _started_ray: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        from s3t_sim.validation import check_int

        if self.num_cpus is not None:
            self.num_cpus = check_int("num_cpus", self.num_cpus, 1)
        self.cpus_per_task = check_int("cpus_per_task", self.cpus_per_task, 1)
        if self.threads_per_task is not None:
            self.threads_per_task = check_int("threads_per_task", self.threads_per_task, 1)
        if self.address is not None and not isinstance(self.address, str):
            raise TypeError(f"address must be a string such as 'auto' or 'ray://host:10001'; got {self.address!r}")

    def start(self) -> "RayTreeExecutor":
        """Connect to (or start) Ray; a no-op when Ray is already initialised."""
        import ray

        if ray.is_initialized():
            return self
        began = time.perf_counter()
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
        if self.address is None:
            kwargs["num_cpus"] = self.num_cpus
            # Workers import the project from the driver's working tree.
            kwargs["runtime_env"] = {"env_vars": {"PYTHONPATH": os.pathsep.join(_project_paths())}}
        ray.init(address=self.address, **kwargs)
        self.init_seconds = time.perf_counter() - began
        self._started_ray = True
        return self

    def shutdown(self) -> None:
        """Shut Ray down if this executor started it."""
        import ray

        if self._started_ray and ray.is_initialized():
            ray.shutdown()
        self._started_ray = False

    def __enter__(self) -> "RayTreeExecutor":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.shutdown_on_exit:
            self.shutdown()

    def run(self, tree: nx.DiGraph, node_fn: NodeFunction, root_input: Any = None) -> dict[Hashable, Any]:
        """Run ``node_fn`` on every node of ``tree`` as Ray tasks; return ``{node: result}``.

        A node's task receives its parent's ``ObjectRef`` (Ray waits for the parent and
        passes the value); roots receive ``root_input``. Exceptions in a task are re-raised here.
        """
        import networkx as nx
        import ray

        _check_tree(tree)
        self.start()
        remote = ray.remote(num_cpus=self.cpus_per_task)(_call_node)
        fn_ref = ray.put(node_fn)
        refs: dict[Hashable, Any] = {}
        for node in nx.topological_sort(tree):
            parents = list(tree.predecessors(node))
            parent = refs[parents[0]] if parents else root_input
            refs[node] = remote.remote(fn_ref, node, parent, self.threads_per_task)
        nodes = list(refs)
        values = ray.get([refs[n] for n in nodes])
        return dict(zip(nodes, values))

    def map(self, fn: Callable[..., Any], items: "list[Any]", *common: Any) -> list[Any]:
        """``[fn(item, *common) for item in items]`` as parallel Ray tasks (for Monte Carlo grids)."""
        import ray

        self.start()
        remote = ray.remote(num_cpus=self.cpus_per_task)(_call_item)
        fn_ref = ray.put(fn)
        common_refs = [ray.put(c) for c in common]
        return ray.get([remote.remote(fn_ref, item, self.threads_per_task, *common_refs) for item in items])


def _call_item(fn: Callable[..., Any], item: Any, threads: int | None, *common: Any) -> Any:
    return _call_node(lambda _node, _parent: fn(item, *common), None, None, threads)


def _project_paths() -> list[str]:
    """Folders that hold this project's packages, for the workers' ``PYTHONPATH``."""
    import s3t_sim

    root = os.path.dirname(os.path.dirname(os.path.abspath(s3t_sim.__file__)))
    existing = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return [root, *existing]


# --------------------------------------------------------------------------- S3T training

_WORKER_CACHES: dict[str, Any] = {}


def training_tree(run_dir: "str | os.PathLike[str]") -> nx.DiGraph:
    """The pending training nodes of a run as a DAG of ``(shard, prefix)``.

    An edge joins a node to its parent prefix when that parent is pending too; a node
    whose parent is already trained (a resumed run) is a root.
    """
    import networkx as nx

    from s3t_train.training import pending_nodes

    pending = pending_nodes(run_dir)
    tree = nx.DiGraph()
    tree.add_nodes_from(pending)
    for shard, prefix in pending:
        parent = (shard, prefix[:-1])
        if prefix[:-1] and parent in tree:
            tree.add_edge(parent, (shard, prefix))
    return tree


def train_node_task(run_dir: str, node: tuple[int, tuple[int, ...]], parent_result: Any, threads: int | None = None) -> Any:
    """Ray task body: train one node of ``run_dir`` (``parent_result`` only orders the tasks).

    The activation cache lives as long as the worker process and is shared by the nodes
    it trains, as in the local executor.
    """
    import torch

    from s3t_train.training import ActivationCache, configure_torch, train_node

    configure_torch()
    if threads is not None:
        torch.set_num_threads(threads)
    cache = _WORKER_CACHES.setdefault(str(run_dir), ActivationCache())
    shard, prefix = node
    return train_node(run_dir, shard, prefix, cache=cache)


def train_run_ray(run_dir: "str | os.PathLike[str]", executor: "RayTreeExecutor", threads: int | None = None) -> Any:
    """Train every pending node of ``run_dir`` as Ray tasks; returns the local executor's
    ``TrainSummary``. Nodes read their parents' checkpoints from ``run_dir``, which must be
    on storage every Ray node can reach (a shared file system on a cluster).

    ``threads`` (torch threads per task) defaults to the driver's, i.e. what the local
    backend would use (``S3T_TORCH_THREADS`` or torch's default).
    """
    from functools import partial

    import networkx as nx

    from s3t_train.training import RunInfo, TrainSummary

    started = time.perf_counter()
    run_dir = str(os.path.abspath(run_dir))
    info = RunInfo.open(run_dir)
    tree = training_tree(run_dir)
    if threads is None:
        threads = _local_threads()
    results = executor.run(tree, partial(train_node_task, run_dir, threads=threads)) if tree.number_of_nodes() else {}
    trained = [results[node] for node in nx.topological_sort(tree)]
    return TrainSummary.of(info, trained, time.perf_counter() - started)


def _local_threads() -> int:
    """The torch thread count of this (driver) process, after ``configure_torch()``."""
    import torch

    from s3t_train.training import configure_torch

    configure_torch()
    return torch.get_num_threads()


def train_with_backend(run_dir: "str | os.PathLike[str]", executor: "LocalTreeExecutor | RayTreeExecutor", progress: bool | None = None) -> Any:
    """Train a run with the executor from :func:`executor_from_args` (local: ``train_run``)."""
    if isinstance(executor, RayTreeExecutor):
        return train_run_ray(run_dir, executor)
    from s3t_train.training import train_run

    return train_run(run_dir, progress=progress)


# --------------------------------------------------------------------------- CLI glue

def add_backend_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``--backend {local,ray}``, ``--address`` and ``--ray-cpus`` to a sub-command's parser."""
    group = parser.add_argument_group("execution backend")
    group.add_argument(
        "--backend", choices=BACKENDS, default="local",
        help="run prefix-tree nodes in this process (local) or as Ray tasks (ray); default local",
    )
    group.add_argument(
        "--address", default=None,
        help="Ray cluster to join ('auto', or 'ray://HOST:10001'); default: start a local Ray instance",
    )
    group.add_argument(
        "--ray-cpus", type=int, default=None, metavar="N",
        help="CPUs of the local Ray instance (default: all); ignored with --address",
    )
    return parser


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


def executor_from_args(args: "argparse.Namespace | Mapping[str, Any]") -> "LocalTreeExecutor | RayTreeExecutor":
    """Build the executor chosen by :func:`add_backend_arguments`' options.

    Both executors are context managers with ``run(tree, node_fn, root_input)`` and
    ``map(fn, items, *common)``; use them in a ``with`` block so that a Ray instance
    started here is shut down afterwards.
    """
    from s3t_sim.validation import check_choice

    options = dict(args) if isinstance(args, Mapping) else vars(args)
    backend = check_choice("backend", options.get("backend", "local"), BACKENDS)
    address = options.get("address")
    if backend == "local":
        if address is not None:
            raise ValueError("address is only used with backend 'ray'; add --backend ray or drop --address")
        return LocalTreeExecutor()
    return RayTreeExecutor(address=address, num_cpus=options.get("ray_cpus"))
