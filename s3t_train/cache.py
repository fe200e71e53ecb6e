"""The activation cache: token ids and frozen hidden states, shared between stages.

The hidden states entering the lowest trainable layer do not change
during a stage (everything below is frozen). With ``top-down`` groups, what lies below
stage ``k``'s group is still the untouched pretrained network, so those hidden states
depend on the example alone and are shared by every node, epoch and shard; with
``bottom-up`` they depend on the parent and are cached per node. The states are
computed in fixed batches of one slice's examples, so their bits depend only on that
slice: a clean slice gives the same numbers before and after a deletion elsewhere, and
the cache entries of a slice that loses an example are dropped with it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

from s3t_train.model import GroupedLoRAModel


@dataclass
class ActivationCache:
    """Token ids and hidden states entering a layer, keyed by example id.

    ``hidden[(context, layer, id)]`` is a ``(1, length, hidden)`` tensor; ``context`` is
    ``()`` for states of the untouched pretrained layers (top-down) and ``(shard, parent
    prefix)`` otherwise. States beyond ``max_bytes`` are held for one stage only.
    :meth:`drop` forgets an example everywhere (deletion).
    """

    max_bytes: int = 2 * 1024**3
    tokens: dict[int, torch.Tensor] = field(default_factory=dict)
    hidden: dict[tuple, torch.Tensor] = field(default_factory=dict)
    nbytes: int = 0

    def drop(self, example_id: int, slice_ids: "list[int] | tuple[int, ...]" = ()) -> int:
        """Remove every cached copy of ``example_id``, and the hidden states of ``slice_ids``
        (its slice-mates, computed in batches with it); returns how many entries went."""
        example_id = int(example_id)
        removed = int(self.tokens.pop(example_id, None) is not None)
        gone = {example_id, *map(int, slice_ids)}
        for key in [k for k in self.hidden if k[2] in gone]:
            self.nbytes -= self.hidden.pop(key).numel() * 4
            removed += 1
        return removed

    def drop_context(self, context: tuple) -> None:
        for key in [k for k in self.hidden if k[0] == context]:
            self.nbytes -= self.hidden.pop(key).numel() * 4

    def example_ids(self) -> set[int]:
        return set(self.tokens) | {k[2] for k in self.hidden}


def tokenize(cache: ActivationCache, encoder: Callable[[list], list[torch.Tensor]], ids: list[int], texts: list) -> list[torch.Tensor]:
    """Input rows of each example (``encoder``, :func:`s3t_train.inputs.input_encoder`: token
    ids, with token types for pairs, or pixels), cached by example id."""
    missing = [(i, t) for i, t in zip(ids, texts) if i not in cache.tokens]
    if missing:
        for (i, _), row in zip(missing, encoder([t for _, t in missing])):
            cache.tokens[i] = row
    return [cache.tokens[i] for i in ids]


def slice_states(model: GroupedLoRAModel, cache: ActivationCache, context: tuple, entry: int, ids: list[int], token_rows: list[torch.Tensor], device: str, batch_size: int = 32) -> dict[int, torch.Tensor]:
    """Hidden states entering layer ``entry`` for the examples of ONE slice (ids ascending).

    Computed in fixed batches of the slice's own examples, so the numbers depend only on
    the slice's content: equal in every stage, and in any run, where the slice is the same.
    Stored in ``cache`` while it has room (else held for this stage only)."""
    if all((context, entry, i) in cache.hidden for i in ids):
        return {i: cache.hidden[(context, entry, i)] for i in ids}
    out = {}
    for start in range(0, len(ids), batch_size):
        states = model.hidden_entering(token_rows[start : start + batch_size], entry, device)
        out.update(zip(ids[start : start + batch_size], states))
    size = sum(v.numel() * v.element_size() for v in out.values())
    if cache.nbytes + size <= cache.max_bytes:
        for i, state in out.items():
            cache.hidden[(context, entry, i)] = state
        cache.nbytes += size
    return out
