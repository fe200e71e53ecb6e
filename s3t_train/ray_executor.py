"""Execute a prefix tree as a Ray DAG: one task per node.

Nodes of a prefix tree (:mod:`s3t_train.executors`) whose parents are done are
independent, so the tree runs as a DAG of Ray tasks: each node is submitted with its
parent's ``ObjectRef`` as an argument and Ray starts it as soon as that parent has
finished. Roots receive ``root_input``.

The node function must be picklable (a module-level function or a ``functools.partial``
of one) and is called as ``node_fn(node, parent_result)``; results are returned as
``{node: result}``. Training on Ray: :func:`s3t_train.driver.train_run_ray`. Because every node draws its randomness from
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

import os
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import s3t_sim
from s3t_sim.checks import check_int, check_real
from s3t_train.executors import NodeFunction, check_tree

if TYPE_CHECKING:  # pragma: no cover
    import networkx as nx


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
    gpus_per_task : float
        GPUs Ray reserves for one node (0: CPU tasks; 1 for a ``--device cuda`` run, whose
        tasks then see the GPU Ray assigns them as ``cuda``).
    shutdown_on_exit : bool
        Shut Ray down when the ``with`` block ends, if this executor started it.
    """

    address: str | None = None
    num_cpus: int | None = None
    cpus_per_task: int = 1
    threads_per_task: int | None = None
    gpus_per_task: float = 0.0
    shutdown_on_exit: bool = True
    init_seconds: float = field(default=0.0, init=False)
    _started_ray: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.num_cpus is not None:
            self.num_cpus = check_int("num_cpus", self.num_cpus, 1)
        self.cpus_per_task = check_int("cpus_per_task", self.cpus_per_task, 1)
        if self.threads_per_task is not None:
            self.threads_per_task = check_int("threads_per_task", self.threads_per_task, 1)
        self.gpus_per_task = check_real("gpus_per_task", self.gpus_per_task, 0.0)
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

        check_tree(tree)
        self.start()
        remote = ray.remote(num_cpus=self.cpus_per_task, num_gpus=self.gpus_per_task)(_call_node)
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
        remote = ray.remote(num_cpus=self.cpus_per_task, num_gpus=self.gpus_per_task)(_call_item)
        fn_ref = ray.put(fn)
        common_refs = [ray.put(c) for c in common]
        return ray.get([remote.remote(fn_ref, item, self.threads_per_task, *common_refs) for item in items])


def _call_item(fn: Callable[..., Any], item: Any, threads: int | None, *common: Any) -> Any:
    return _call_node(lambda _node, _parent: fn(item, *common), None, None, threads)


def _project_paths() -> list[str]:
    """Folders that hold this project's packages, for the workers' ``PYTHONPATH``."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(s3t_sim.__file__)))
    existing = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return [root, *existing]
