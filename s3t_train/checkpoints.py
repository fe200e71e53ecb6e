"""Node checkpoints and the run folder layout.

One prefix-tree node (shard ``s``, prefix ``(s1, ..., sk)``) is one safetensors file
``shards/<s>/nodes/<s1>-<s2>-...-<sk>.safetensors`` holding the adapters of group ``k``
(``group.*``) and the head snapshot after stage ``k`` (``head.*``). Its metadata carries
the provenance: the configuration fingerprint, and the ids of every example the stage saw.
Files are written atomically (temp file, fsync, ``os.replace``): a node file either
exists complete or not at all, which is what lets an interrupted ``train`` resume.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

CONFIG_FILE = "config.json"
SEQUENCES_FILE = "sequences.json"
STORE_FILE = "store.sqlite"
JOURNAL_FILE = "journal.jsonl"


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temp file, fsync and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def node_name(prefix: tuple[int, ...]) -> str:
    return "-".join(str(int(s)) for s in prefix)


def node_path(run_dir: str | Path, shard: int, prefix: tuple[int, ...]) -> Path:
    return Path(run_dir) / "shards" / str(int(shard)) / "nodes" / f"{node_name(prefix)}.safetensors"


def membership_path(run_dir: str | Path, shard: int) -> Path:
    """Ids of each slice that the shard's current checkpoints were trained on."""
    return Path(run_dir) / "shards" / str(int(shard)) / "membership.json"


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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {f"group.{k}": v.contiguous() for k, v in node.group.items()}
    tensors.update({f"head.{k}": v.contiguous() for k, v in node.head.items()})
    metadata = {
        "shard": str(node.shard),
        "prefix": json.dumps(list(node.prefix)),
        "seen_ids": json.dumps(sorted(int(i) for i in node.seen_ids)),
        "fingerprint": node.fingerprint,
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    save_file(tensors, str(tmp), metadata=metadata)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


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
