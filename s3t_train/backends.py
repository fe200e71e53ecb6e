"""Choosing where prefix-tree nodes run: ``--backend {local,ray}`` and the executor it builds."""
from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from s3t_sim.checks import check_choice
from s3t_train.executors import LocalTreeExecutor
from s3t_train.ray_executor import RayTreeExecutor

BACKENDS = ("local", "ray")


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


def executor_from_args(args: "argparse.Namespace | Mapping[str, Any]") -> "LocalTreeExecutor | RayTreeExecutor":
    """Build the executor chosen by :func:`add_backend_arguments`' options.

    Both executors are context managers with ``run(tree, node_fn, root_input)`` and
    ``map(fn, items, *common)``; use them in a ``with`` block so that a Ray instance
    started here is shut down afterwards.
    """
    options = dict(args) if isinstance(args, Mapping) else vars(args)
    backend = check_choice("backend", options.get("backend", "local"), BACKENDS)
    address = options.get("address")
    if backend == "local":
        if address is not None:
            raise ValueError("address is only used with backend 'ray'; add --backend ray or drop --address")
        return LocalTreeExecutor()
    gpus = 1.0 if str(options.get("device", "cpu")).startswith("cuda") else 0.0  # a --device cuda run: one GPU per task
    return RayTreeExecutor(address=address, num_cpus=options.get("ray_cpus"), gpus_per_task=gpus)
