"""Task kinds of a run: what an example holds, how it is tokenised, its loss and its labels.

* ``classification``: one text per example, integer labels, cross-entropy.
* ``pairs``: two texts per example (``text_pair_column``), integer labels, cross-entropy.
  The pair is tokenised together (``[CLS] a [SEP] b [SEP]`` for BERT) and its token type
  ids (0 for ``a``, 1 for ``b``) travel with the token ids through every path: a token row
  is ``(1, length)`` (ids) or ``(2, length)`` (ids, token types).
* ``regression``: one text or a pair, a float label (STS-B style), one output, mean squared
  error; the ensemble's output is the mean of the live shards' outputs, scored by Pearson
  and Spearman correlation (:func:`s3t_train.metrics.regression_metrics`).
* ``image``: one image per example (folder-per-class layout, :mod:`s3t_train.images`), any
  ``AutoModelForImageClassification``, integer labels, cross-entropy; its "text" is the path.
* ``causal-lm``: instruction tuning of any ``AutoModelForCausalLM``; an example is a
  ``(prompt, response)`` pair (``text_column``, ``label_column``), the loss is on the response
  tokens only (:mod:`s3t_train.instructions`), serving generates (:mod:`s3t_train.causal_lm`).

An example's text is a ``str``, or a ``(str, str)`` tuple for a pair. torch is imported
inside the functions that need it: :mod:`s3t_train.config` (and so ``s3t --help``) imports
this module.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from s3t_sim.checks import check_choice

if TYPE_CHECKING:
    import torch

LABEL_HEADER_NAMES = ("label", "labels", "class", "target", "category")  # label columns found without --label-column
TEXT_HEADER_NAMES = ("sentence", "text", "content", "review", "document")  # text columns found without --text-column
TASKS = ("classification", "pairs", "regression", "image", "causal-lm")
REGRESSION_OUTPUT = "score"  # the one "label name" of a regression run (its output)


def check_task(task: str, text_pair_column: str | None) -> str:
    """Validate ``task`` against the presence of a second text column."""
    check_choice("task", task, TASKS)
    if task == "pairs" and not text_pair_column:
        raise ValueError("task 'pairs' needs text_pair_column (--text-pair-column): the column of each example's second text")
    if task in ("classification", "image", "causal-lm") and text_pair_column:
        raise ValueError(f"text_pair_column={text_pair_column!r} needs task 'pairs' or 'regression' (--task pairs), not {task!r}")
    return task


def default_outputs(task: str) -> int:
    """Outputs of the head before the labels are read (regression: 1; classification: at least 2)."""
    return 1 if task == "regression" else 2


def encode_labels(task: str, raw: list[str], label_names: list[str] | None, source: str) -> tuple[np.ndarray, list[str]]:
    """Labels as model targets: integer indices into ``label_names`` (sorted distinct labels
    when not given), or floats for regression (``label_names = ['score']``)."""
    if task == "causal-lm":
        return np.zeros(len(raw), dtype=np.int64), ["response"]
    if task == "regression":
        try:
            values = np.array([float(v) for v in raw], dtype=np.float64)
        except ValueError as exc:
            raise ValueError(f"regression labels of {source} must be numbers: {exc}") from None
        if not np.all(np.isfinite(values)):
            raise ValueError(f"regression labels of {source} must be finite numbers")
        return values, [REGRESSION_OUTPUT]
    names = sorted(set(raw)) if label_names is None else list(label_names)
    index = {name: i for i, name in enumerate(names)}
    unknown = sorted(set(raw) - set(index))
    if unknown:
        raise ValueError(f"labels {unknown[:5]} of {source} are not among the training labels {names}")
    return np.array([index[v] for v in raw], dtype=np.int64), names


def encode(tokenizer, texts: list, max_length: int) -> list[torch.Tensor]:
    """Token rows of ``texts`` (``str`` or ``(str, str)`` pairs, truncated at ``max_length``
    tokens, the longer text of a pair cut first): ``(1, length)`` ids, or ``(2, length)`` ids and token type
    ids where the tokenizer gives types to a pair."""
    import torch

    texts = list(texts)
    if not texts:
        return []
    pairs = [isinstance(t, tuple) for t in texts]
    if any(pairs) and not all(pairs):
        raise ValueError("texts must be all single texts or all (text, text_pair) pairs")
    if all(pairs):
        encoded = tokenizer([t[0] for t in texts], [t[1] for t in texts], truncation=True, max_length=max_length)
        types = encoded.get("token_type_ids")
        if types is not None:
            return [torch.tensor([ids, tt], dtype=torch.long) for ids, tt in zip(encoded["input_ids"], types)]
    else:
        encoded = tokenizer(texts, truncation=True, max_length=max_length)
    return [torch.tensor([ids], dtype=torch.long) for ids in encoded["input_ids"]]


def padded_inputs(rows: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Right-padded ``(input_ids, attention_mask, token_type_ids)`` of token rows (types
    ``None`` when the rows carry none)."""
    import torch

    longest = max(r.shape[1] for r in rows)
    input_ids = torch.zeros(len(rows), longest, dtype=torch.long)
    mask = torch.zeros(len(rows), longest, dtype=torch.long)
    types = torch.zeros(len(rows), longest, dtype=torch.long) if any(r.shape[0] > 1 for r in rows) else None
    for b, r in enumerate(rows):
        input_ids[b, : r.shape[1]] = r[0]
        mask[b, : r.shape[1]] = 1
        if types is not None and r.shape[0] > 1:
            types[b, : r.shape[1]] = r[1]
    return input_ids, mask, types


def targets(task: str, labels: list) -> torch.Tensor:
    """Labels as a tensor: float for regression, long otherwise."""
    import torch

    return torch.tensor(labels, dtype=torch.float32 if task == "regression" else torch.long)


def loss(task: str, outputs: torch.Tensor, y: torch.Tensor, rows: list[torch.Tensor]) -> torch.Tensor:
    """Cross-entropy on the logits, for regression ``mean((output - y)^2)`` on the one output,
    for causal-lm the cross-entropy of the response tokens of ``rows``."""
    import torch

    from s3t_train.instructions import response_loss

    if task == "causal-lm":
        return response_loss(outputs, rows)
    if task == "regression":
        return torch.nn.functional.mse_loss(outputs.float()[:, 0], y)
    return torch.nn.functional.cross_entropy(outputs.float(), y)
