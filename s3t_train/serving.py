"""Serving: the ensemble of the live shards' served stages.

A shard's model is the stage at the end of its served prefix, with groups 1..k from the
prefix's nodes and groups k+1..L switched off; the ensemble takes the mean of the live
shards' logits, or a majority vote.
"""
from __future__ import annotations

import torch

from s3t_sim.checks import check_choice
from s3t_train.model import GroupedLoRAModel, load_tokenizer
from s3t_train.run import S3TRun
from s3t_train.stage_model import configure_torch, load_prefix, model_for

VOTES = ("mean", "majority")


def _model(run: S3TRun) -> GroupedLoRAModel:
    configure_torch()
    return model_for(run.config, len(run.label_names))


def _tokenize(run: S3TRun, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    t = run.config.training
    enc = load_tokenizer(t.model)(list(texts), truncation=True, max_length=t.max_length, padding=True, return_tensors="pt")
    return enc["input_ids"], enc["attention_mask"]


def stage_logits(run: S3TRun, shard: int, prefix: tuple[int, ...], texts: list[str], batch_size: int = 64) -> torch.Tensor:
    """Logits of the model at the end of stage ``prefix`` of ``shard`` (any stage, active or not)."""
    model = _model(run)
    load_prefix(model, run.run_dir, shard, tuple(prefix), run.config.fingerprint(), run.node_states)
    device = run.config.training.device
    out = []
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            input_ids, mask = _tokenize(run, texts[start : start + batch_size])
            out.append(model.logits(input_ids.to(device), mask.to(device)).float().cpu())
    return torch.cat(out) if out else torch.zeros(0, len(run.label_names))


def shard_logits(run: S3TRun, shard: int, texts: list[str]) -> torch.Tensor:
    """Logits of the model ``shard`` serves now (error if it is dead)."""
    stage = run.deletions.served_stages()[shard]
    if stage is None:
        raise ValueError(f"shard {shard} is dead (every sequence lost its first slice); run `s3t retrain --shard {shard}`")
    return stage_logits(run, shard, stage, texts)


def predict_logits(run: S3TRun, texts: list[str], vote: str = "mean") -> torch.Tensor:
    """Ensemble over live shards: mean of logits, or (``vote='majority'``) vote counts
    per label with the mean logits added / 1000 to break ties."""
    check_choice("vote", vote, VOTES)
    live = [s for s, stage in enumerate(run.deletions.served_stages()) if stage is not None]
    if not live:
        raise ValueError("every shard is dead: nothing can serve; retrain a shard with `s3t retrain --shard S`")
    per_shard = torch.stack([shard_logits(run, s, list(texts)) for s in live])
    mean = per_shard.mean(dim=0)
    if vote == "mean":
        return mean
    votes = torch.nn.functional.one_hot(per_shard.argmax(dim=-1), len(run.label_names)).sum(dim=0).float()
    return votes + mean.softmax(dim=-1) / 1000


def predict(run: S3TRun, texts: list[str], vote: str = "mean") -> list[str]:
    """Predicted label names of ``texts``."""
    return [run.label_names[i] for i in predict_logits(run, texts, vote).argmax(dim=-1).tolist()]
