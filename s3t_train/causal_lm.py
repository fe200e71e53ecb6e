"""Serving a causal-LM S3T ensemble: exact greedy generation.

Serving averages the live shards' next-token logits and takes the argmax (:func:`generate`),
each step a full forward of every served stage on the current sequences (no key/value
cache, batches fixed in prompt order), so the generated tokens are a function of the served
stages alone and a deletion changes them exactly as retraining without the example would.
The LM head is the pretrained one, frozen: only the LoRA groups train
(:mod:`s3t_train.instructions` holds the data rows and the response loss).
"""
from __future__ import annotations

import torch

from s3t_sim.checks import check_int
from s3t_train.instructions import encode_instructions, end_token, padded_tokens
from s3t_train.model import load_tokenizer
from s3t_train.run import S3TRun
from s3t_train.serving import BATCH_SIZE, live_stages, serving_model
from s3t_train.stage_model import load_prefix


def next_token_logits(run: S3TRun, stages: list[tuple[int, tuple[int, ...]]], rows: list[torch.Tensor]) -> torch.Tensor:
    """``(len(stages), len(rows), vocab)``: each stage's logits of the token after each row,
    in fixed batches of :data:`s3t_train.serving.BATCH_SIZE` in row order."""
    model = serving_model(run)
    device, fingerprint = run.config.training.device, run.config.fingerprint()
    out = []
    with torch.no_grad():
        for shard, prefix in stages:
            load_prefix(model, run.run_dir, shard, tuple(prefix), fingerprint, run.node_states)
            parts = []
            for start in range(0, len(rows), BATCH_SIZE):
                input_ids, mask, _ = padded_tokens(rows[start : start + BATCH_SIZE])
                logits = model.logits(input_ids.to(device), mask.to(device)).float().cpu()
                parts.append(logits[torch.arange(len(input_ids)), mask.sum(dim=1) - 1])
            out.append(torch.cat(parts))
    return torch.stack(out)


def generate(run: S3TRun, prompts: list[str], max_new_tokens: int = 32) -> list[str]:
    """Greedy generation from the ensemble: at each step the mean of the live shards'
    next-token logits, its argmax appended, until the end token or ``max_new_tokens``."""
    if run.config.data.task != "causal-lm":
        raise ValueError(f"generate needs a causal-lm run; this run's task is {run.config.data.task!r}")
    max_new_tokens = check_int("max_new_tokens", max_new_tokens, 1, 4096)
    tokenizer = load_tokenizer(run.config.training.model)
    stop = end_token(tokenizer)
    rows = encode_instructions(tokenizer, list(prompts), run.config.training.max_length)
    new: list[list[int]] = [[] for _ in rows]
    stages = live_stages(run)
    for _ in range(max_new_tokens):
        open_rows = [i for i, n in enumerate(new) if not n or n[-1] != stop]
        if not open_rows:
            break
        mean = next_token_logits(run, stages, [rows[i] for i in open_rows]).mean(dim=0)
        for i, token in zip(open_rows, mean.argmax(dim=-1).tolist()):
            new[i].append(token)
            rows[i] = torch.cat([rows[i], torch.tensor([[token]])], dim=1)
    return [tokenizer.decode([t for t in n if t != stop], skip_special_tokens=True) for n in new]
