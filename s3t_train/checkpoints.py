"""Node checkpoints: the weights and provenance of one trained prefix-tree node.

One node (shard ``s``, prefix ``(s1, ..., sk)``) is one safetensors file (its path:
:func:`s3t_train.layout.node_path`) holding the adapters of group ``k`` (``group.*``) and
the head snapshot after stage ``k`` (``head.*``). Its metadata carries the provenance: the
configuration fingerprint, and the ids of every example the stage saw. Files are written
atomically (:func:`s3t_sim.output.write_bytes_atomic`): a node file either exists complete
or not at all, which is what lets an interrupted ``train`` resume.

Integrity: the metadata also carries ``sha256``, the SHA-256 of the other metadata fields
and of every tensor (name, dtype, shape, bytes), computed when the file is written.
:func:`node_problem` recomputes it; loading (:func:`load_node`, :func:`read_node_metadata`)
refuses a file that is unreadable, truncated, garbled or whose digest differs
(:class:`DamagedCheckpoint`, naming the file), and ``train`` resume, ``retrain`` and
``audit`` treat such a file as missing (rebuilt) or report it.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load, save

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
    selection: dict | None = None  # model selection on validation: {"chosen_epoch", "validation_losses", "validation_ids"}


class DamagedCheckpoint(ValueError):
    """A node file that cannot be read or fails its checksum (names the file)."""


def _digest(metadata: dict[str, str], tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256(json.dumps({k: metadata[k] for k in sorted(metadata) if k != "sha256"}, sort_keys=True).encode())
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        h.update(f"{name}|{t.dtype}|{list(t.shape)}|".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def save_node(path: str | Path, node: NodeCheckpoint) -> None:
    """Write ``node`` atomically as safetensors, provenance and checksum in the metadata."""
    tensors = {f"group.{k}": v.detach().cpu().contiguous() for k, v in node.group.items()}
    tensors.update({f"head.{k}": v.detach().cpu().contiguous() for k, v in node.head.items()})
    metadata = {
        "shard": str(node.shard),
        "prefix": json.dumps(list(node.prefix)),
        "seen_ids": json.dumps(sorted(int(i) for i in node.seen_ids)),
        "fingerprint": node.fingerprint,
    }
    if node.selection is not None:  # absent without selection: those files stay byte-identical
        metadata["selection"] = json.dumps(node.selection, sort_keys=True)
    metadata["sha256"] = _digest(metadata, tensors)
    write_bytes_atomic(path, _canonical(save(tensors, metadata=metadata)))


def _canonical(blob: bytes) -> bytes:
    """The safetensors file with its header's keys sorted, so that identical nodes give
    identical bytes (safetensors writes the metadata map in hash order)."""
    n = int.from_bytes(blob[:8], "little")
    header = json.dumps(json.loads(blob[8 : 8 + n]), sort_keys=True, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)
    return len(header).to_bytes(8, "little") + header + blob[8 + n :]


def _read_verified(path: Path) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    """Metadata and tensors of a node file whose checksum holds; :class:`DamagedCheckpoint` otherwise."""
    if not path.is_file():
        raise FileNotFoundError(f"node checkpoint not found: {path}")
    try:
        data = path.read_bytes()
        header_len = int.from_bytes(data[:8], "little")
        meta = json.loads(data[8 : 8 + header_len]).get("__metadata__") or {}
        tensors = load(data)
        ok = {"shard", "prefix", "seen_ids", "fingerprint", "sha256"} <= set(meta) and meta["sha256"] == _digest(meta, tensors)
    except Exception as exc:  # noqa: BLE001 - any parse failure of a damaged file (safetensors raises its own types)
        raise DamagedCheckpoint(f"checkpoint {path} is damaged ({type(exc).__name__}); rebuild it with `s3t retrain`") from None
    if not ok:
        raise DamagedCheckpoint(f"checkpoint {path} fails its checksum (damaged or written by another version); rebuild it with `s3t retrain`")
    return meta, tensors


def node_problem(path: str | Path) -> str | None:
    """Why the node file at ``path`` cannot be used (missing, damaged), or ``None`` if it is sound."""
    try:
        _read_verified(Path(path))
    except (FileNotFoundError, DamagedCheckpoint) as exc:
        return str(exc)
    return None


def read_node_metadata(path: str | Path) -> dict:
    """Provenance of a node file, after verifying its checksum."""
    meta, _ = _read_verified(Path(path))
    return {
        "shard": int(meta["shard"]),
        "prefix": tuple(json.loads(meta["prefix"])),
        "seen_ids": json.loads(meta["seen_ids"]),
        "fingerprint": meta["fingerprint"],
        "selection": json.loads(meta["selection"]) if "selection" in meta else None,
    }


def load_node(path: str | Path, fingerprint: str | None = None) -> NodeCheckpoint:
    """Load a verified node file; with ``fingerprint``, refuse one written under another configuration."""
    path = Path(path)
    meta, tensors = _read_verified(path)
    if fingerprint is not None and meta["fingerprint"] != fingerprint:
        raise ValueError(
            f"checkpoint {path.name} was written with another configuration (fingerprint {meta['fingerprint']}, "
            f"run has {fingerprint}); train into a new --out folder"
        )
    group, head = {}, {}
    for key, value in tensors.items():
        section, name = key.split(".", 1)
        (group if section == "group" else head)[name] = value
    return NodeCheckpoint(int(meta["shard"]), tuple(json.loads(meta["prefix"])), group, head, json.loads(meta["seen_ids"]), meta["fingerprint"])
