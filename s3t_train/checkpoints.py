"""Node checkpoints: the weights and provenance of one trained prefix-tree node.

One node (shard ``s``, prefix ``(s1, ..., sk)``) is one safetensors file (its path:
:func:`s3t_train.layout.node_path`) holding the adapters of group ``k`` (``group.*``) and
the head snapshot after stage ``k`` (``head.*``). Its metadata carries the provenance: the
configuration fingerprint, and the ids of every example the stage saw. Files are written
atomically (:func:`s3t_sim.output.write_bytes_atomic`): a node file either exists complete
or not at all, which is what lets an interrupted ``train`` resume.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save

from s3t_sim.output import write_bytes_atomic


@dataclass
class NodeCheckpoint:
    """Weights and provenance of one trained prefix-tree node."""

    shard: int
    prefix: tuple[int, ...]
    group: dict[str, torch.Tensor]
    head: dict[str, torch.Tensor]
    seen_ids: list[int]
    fingerprint: str


def save_node(path: str | Path, node: NodeCheckpoint) -> None:
    """Write ``node`` atomically as safetensors, provenance in the metadata."""
    tensors = {f"group.{k}": v.contiguous() for k, v in node.group.items()}
    tensors.update({f"head.{k}": v.contiguous() for k, v in node.head.items()})
    metadata = {
        "shard": str(node.shard),
        "prefix": json.dumps(list(node.prefix)),
        "seen_ids": json.dumps(sorted(int(i) for i in node.seen_ids)),
        "fingerprint": node.fingerprint,
    }
    write_bytes_atomic(path, save(tensors, metadata=metadata))


def read_node_metadata(path: str | Path) -> dict:
    """Provenance of a node file without loading its tensors."""
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    return {
        "shard": int(meta["shard"]),
        "prefix": tuple(json.loads(meta["prefix"])),
        "seen_ids": json.loads(meta["seen_ids"]),
        "fingerprint": meta["fingerprint"],
    }


def load_node(path: str | Path, fingerprint: str | None = None) -> NodeCheckpoint:
    """Load a node file; with ``fingerprint``, refuse one written under another configuration."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"node checkpoint not found: {path}")
    meta = read_node_metadata(path)
    if fingerprint is not None and meta["fingerprint"] != fingerprint:
        raise ValueError(
            f"checkpoint {path.name} was written with another configuration (fingerprint {meta['fingerprint']}, "
            f"run has {fingerprint}); train into a new --out folder"
        )
    group, head = {}, {}
    with safe_open(str(path), framework="pt") as f:
        for key in f.keys():
            section, name = key.split(".", 1)
            (group if section == "group" else head)[name] = f.get_tensor(key)
    return NodeCheckpoint(meta["shard"], meta["prefix"], group, head, meta["seen_ids"], meta["fingerprint"])
