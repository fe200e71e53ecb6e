"""The packed forward: a batch's real tokens in one ``(total_tokens, hidden)`` tensor.

With short sentences most positions of a padded batch are padding. :class:`PackedBatch`
describes a batch whose real tokens are packed together, and :func:`packed_bert_layer` runs
one BERT encoder layer on them (attention per example, or one masked batched call), which
equals the padded forward up to floating-point rounding. :func:`pad_batch` builds the plain padded
batch that the ``peft`` forward takes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import torch
import torch.nn.functional as F
from torch import nn


def pad_batch(rows: list[torch.Tensor], pad_value: float | int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad ``(1, length, ...)`` tensors into a batch; returns (batch, attention mask)."""
    longest = max(r.shape[1] for r in rows)
    batch = rows[0].new_full((len(rows), longest, *rows[0].shape[2:]), pad_value)
    mask = torch.zeros(len(rows), longest, dtype=torch.long)
    for b, r in enumerate(rows):
        batch[b, : r.shape[1]] = r[0]
        mask[b, : r.shape[1]] = 1
    return batch, mask


@dataclass(frozen=True)
class PackedBatch:
    """Layout of a batch whose real tokens are packed into one ``(total_tokens, hidden)`` tensor.

    Example ``b`` occupies rows ``offset_b .. offset_b + length_b - 1``; :meth:`unpad`
    packs a right-padded ``(B, longest, ...)`` tensor, :meth:`split` cuts a packed one.

    >>> batch = PackedBatch.of_lengths([2, 3])
    >>> batch.first_token.tolist(), batch.token_index.tolist()
    ([0, 2], [0, 1, 3, 4, 5])
    """

    lengths: tuple[int, ...]
    token_index: torch.Tensor  # (total_tokens,) flat padded position b * longest + t of each real token
    first_token: torch.Tensor  # (B,) packed row of each example's first token
    key_mask: torch.Tensor  # (B, 1, 1, longest) True at real tokens: the keys attention may use

    @classmethod
    def of_lengths(cls, lengths: Iterable[int], device: str = "cpu") -> "PackedBatch":
        lengths = tuple(int(n) for n in lengths)
        if not lengths or min(lengths) < 1:
            raise ValueError(f"lengths must be a non-empty list of integers >= 1; got {list(lengths)}")
        real = torch.arange(max(lengths))[None, :] < torch.tensor(lengths)[:, None]
        offsets = torch.tensor((0, *lengths[:-1])).cumsum(0)
        return cls(lengths, real.flatten().nonzero()[:, 0].to(device), offsets.to(device), real[:, None, None, :].to(device))

    @property
    def size(self) -> int:
        return len(self.lengths)

    @property
    def longest(self) -> int:
        return max(self.lengths)

    def unpad(self, padded: torch.Tensor) -> torch.Tensor:
        """``(B, longest, ...)`` -> ``(total_tokens, ...)``: the real tokens only."""
        return padded.reshape(self.size * self.longest, *padded.shape[2:]).index_select(0, self.token_index)

    def split(self, packed: torch.Tensor) -> list[torch.Tensor]:
        """One ``(1, length, ...)`` tensor per example."""
        return [part.unsqueeze(0) for part in packed.split(list(self.lengths))]


def packed_bert_layer(layer: nn.Module, hidden: torch.Tensor, batch: PackedBatch, first_only: bool = False, batched: bool | None = None) -> torch.Tensor:
    """One ``transformers`` ``BertLayer`` (encoder, dropout off) on packed tokens ``(total_tokens, hidden)``.

    The linear maps, GELU, residuals and LayerNorms act token by token, so they run on the
    real tokens only. Self-attention ``softmax(Q K^T / sqrt(d)) V`` runs per example on its
    own tokens with ``scaled_dot_product_attention`` (the kernel behind ``transformers``'
    SDPA attention): ``batched=True`` makes one call on keys padded per example and masked
    (default on GPUs, where a call per example costs a kernel launch each), ``False`` one
    call per example (default on CPU, where it measured faster: ``bench/bench_training.py``).
    ``first_only=True`` computes the output of each example's first token only
    (``(B, hidden)``): all a classifier reading [CLS] needs from the last layer. The
    (LoRA-wrapped) sub-modules are the layer's own, so adapters take part as usual.
    """
    attention = layer.attention.self
    heads, head_size = attention.num_attention_heads, attention.attention_head_size
    rows = hidden.index_select(0, batch.first_token) if first_only else hidden
    queries, keys, values = attention.query(rows), attention.key(hidden), attention.value(hidden)
    if batched if batched is not None else hidden.is_cuda:
        context = _batched_attention(queries, keys, values, batch, heads, attention.scaling, first_only)
    else:
        q_lengths = [1] * batch.size if first_only else list(batch.lengths)
        q_parts = queries.view(-1, heads, head_size).split(q_lengths)
        kv_parts = zip(keys.view(-1, heads, head_size).split(list(batch.lengths)), values.view(-1, heads, head_size).split(list(batch.lengths)))
        context = torch.cat([
            F.scaled_dot_product_attention(q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1), scale=attention.scaling).transpose(0, 1)
            for q, (k, v) in zip(q_parts, kv_parts)
        ]).reshape(rows.shape[0], heads * head_size)
    attended = layer.attention.output(context, rows)  # dense, LayerNorm(. + hidden)
    return layer.output(layer.intermediate(attended), attended)  # dense, GELU, dense, LayerNorm(. + attended)


def _batched_attention(queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, batch: PackedBatch, heads: int, scale: float, first_only: bool) -> torch.Tensor:
    """One masked SDPA call over the batch; packed ``(rows, heads * head_size)`` in and out."""
    width = keys.shape[-1]

    def padded(packed: torch.Tensor) -> torch.Tensor:  # (tokens, width) -> (B, heads, longest, head_size)
        out = packed.new_zeros(batch.size * batch.longest, width).index_copy(0, batch.token_index, packed)
        return out.view(batch.size, batch.longest, heads, width // heads).transpose(1, 2)

    q = queries.view(batch.size, 1, heads, width // heads).transpose(1, 2) if first_only else padded(queries)
    context = F.scaled_dot_product_attention(q, padded(keys), padded(values), attn_mask=batch.key_mask, scale=scale)
    context = context.transpose(1, 2).reshape(-1, width)
    return context if first_only else context.index_select(0, batch.token_index)
