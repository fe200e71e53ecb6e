"""Model inputs of examples: token rows of texts and pairs, pixel rows of images, and the
plain (padded) forward of a batch of them.

A row is ``(1, length)`` token ids, ``(2, length)`` ids and token types (sentence pairs,
:func:`s3t_train.tasks.encode`), or ``(1, channels, height, width)`` pixels (images,
:func:`s3t_train.images.pixel_rows`), or ``(2, length)`` ids and response mask (causal-lm,
:func:`s3t_train.instructions.encode_instructions`). Models without the padding-free path
(:attr:`s3t_train.model.GroupedLoRAModel.supports_layer_cache`) run :func:`padded_logits`.
"""
from __future__ import annotations

from typing import Callable

import torch

from s3t_train.config import RunConfig
from s3t_train.images import load_image_processor, pixel_rows
from s3t_train.instructions import encode_instructions, padded_tokens
from s3t_train.model import TINY_MODEL, GroupedLoRAModel, load_tokenizer, resolve_model_path
from s3t_train.tasks import encode, padded_inputs


def input_encoder(config: RunConfig) -> Callable[[list], list[torch.Tensor]]:
    """The function from a run's example texts (or image paths) to their model input rows."""
    t = config.training
    if config.data.task == "image":
        processor = load_image_processor(resolve_model_path(t.model), t.model == TINY_MODEL)
        return lambda paths: pixel_rows(processor, list(paths))
    tokenizer = load_tokenizer(t.model)
    if config.data.task == "causal-lm":
        return lambda pairs: encode_instructions(tokenizer, pairs, t.max_length)
    return lambda texts: encode(tokenizer, texts, t.max_length)


def padded_logits(model: GroupedLoRAModel, rows: list[torch.Tensor], device: str, task: str) -> torch.Tensor:
    """The plain ``peft`` forward of a batch of rows: padded tokens (with token types for
    pairs; all positions' next-token logits for causal-lm) or stacked pixels."""
    if task == "image":
        return model.peft_model(pixel_values=torch.cat(rows).to(device)).logits
    if task == "causal-lm":
        input_ids, mask, _ = padded_tokens(rows)
        return model.logits(input_ids.to(device), mask.to(device))
    input_ids, mask, types = padded_inputs(rows)
    return model.logits(input_ids.to(device), mask.to(device), None if types is None else types.to(device))
