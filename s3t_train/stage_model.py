"""The model of a stage: the run's model, loaded once per process, put in the state of a prefix.

The same :class:`s3t_train.model.GroupedLoRAModel` serves every stage of a run: training a
node, serving a shard and measuring f(k) all load the checkpoints of a prefix's nodes into
it (:func:`load_prefix`) instead of building a new model.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from s3t_train.checkpoints import load_node
from s3t_train.config import RunConfig
from s3t_train.layout import node_path
from s3t_train.model import GroupedLoRAModel, load_grouped_model

_MODELS: dict[tuple, GroupedLoRAModel] = {}


def configure_torch() -> None:
    """Deterministic kernels (CPU runs are bitwise reproducible; the exactness test relies on it).

    The number of CPU threads is left to torch, or set by the environment variable
    ``S3T_TORCH_THREADS`` (1 is fastest for tiny models and on a busy machine). On GPUs
    cuBLAS needs ``CUBLAS_WORKSPACE_CONFIG`` for deterministic results (set here unless set).
    """
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    if os.environ.get("S3T_TORCH_THREADS"):
        torch.set_num_threads(int(os.environ["S3T_TORCH_THREADS"]))


def model_for(config: RunConfig, num_labels: int) -> GroupedLoRAModel:
    """The run's model, loaded once per process and reused (weights are set per stage)."""
    t = config.training
    key = (t.model, config.data.task, num_labels, config.system.slices, json.dumps(config.to_dict()["lora"]), t.seed, t.device)
    if key not in _MODELS:
        _MODELS[key] = load_grouped_model(t.model, num_labels, config.system.slices, config.lora, seed=t.seed, task=config.data.task).to(t.device)
    return _MODELS[key]


def load_prefix(model: GroupedLoRAModel, run_dir: str | Path, shard: int, prefix: tuple[int, ...], fingerprint: str | None = None, states: dict | None = None) -> None:
    """Put the model in the state after the stages of ``prefix``: groups 1..k from the
    ancestors' checkpoints, head from the last one, groups k+1..L identity.
    ``states`` (optional) memoises loaded checkpoints by path."""
    for k in range(1, len(prefix) + 1):
        path = node_path(run_dir, shard, prefix[:k])
        if states is not None and path in states:
            node = states[path]
        else:
            node = load_node(path, fingerprint)
            if states is not None:
                states[path] = node
        model.load_group(k, node.group)
        if k == len(prefix):
            model.load_head(node.head)
    if not prefix:
        model.reset_head()
    model.set_identity(range(len(prefix) + 1, model.L + 1))
