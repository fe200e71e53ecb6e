"""Serving: the ensemble of the live shards' served stages, on a shared frozen trunk.

A shard's model is the stage at the end of its served prefix, with groups 1..k from the
prefix's nodes and groups k+1..L switched off; the ensemble takes the mean of the live
shards' logits, or a majority vote.

Trunk reuse (exact): the layers below every trained group of a stage hold only switched-off
adapters (B = 0, adding exactly zero), so they compute the pretrained network's function.
For a set of stages, :func:`stages_logits` runs the pretrained layers once per batch of
inputs, keeping the states where each stage's trained part begins
(:meth:`s3t_train.model.GroupedLoRAModel.trunk_depth`), and each stage from there on,
padding-free; the result is bitwise the packed forward of
each stage alone, and equal to the plain padded ``peft`` forward up to float rounding.
Inputs are processed in fixed batches of ``batch_size`` in input order, so a text's logits
depend only on its batch, never on which stages are served.
"""
from __future__ import annotations

import sys

import torch

from s3t_sim.checks import check_choice, check_int
from s3t_train.inputs import input_encoder, padded_logits
from s3t_train.model import GroupedLoRAModel
from s3t_train.packed import packed_bert_layer
from s3t_train.run import S3TRun
from s3t_train.stage_model import configure_torch, load_prefix, model_for

VOTES = ("mean", "majority")
BATCH_SIZE = 64

Stage = tuple[int, tuple[int, ...]]


def serving_model(run: S3TRun) -> GroupedLoRAModel:
    """The run's model (loaded once per process), deterministic kernels on."""
    configure_torch()
    return model_for(run.config, len(run.label_names))


def token_rows(run: S3TRun, texts: list) -> list[torch.Tensor]:
    """Input rows of each text, ``(text, text_pair)`` pair or image path
    (:func:`s3t_train.inputs.input_encoder`; texts truncated at ``max_length``)."""
    return input_encoder(run.config)(texts)


def _batch_stage_logits(run: S3TRun, model: GroupedLoRAModel, stages: list[Stage], rows: list[torch.Tensor]) -> list[torch.Tensor]:
    """Logits of every stage on one batch of token rows (trunk shared where the model allows)."""
    device = run.config.training.device
    fingerprint = run.config.fingerprint()
    if not model.supports_layer_cache:
        out = []
        for shard, prefix in stages:
            load_prefix(model, run.run_dir, shard, prefix, fingerprint, run.node_states)
            out.append(padded_logits(model, rows, device, run.config.data.task).float().cpu())
        return out
    out: list[torch.Tensor] = [torch.empty(0)] * len(stages)
    # where each stage leaves the pretrained trunk; the last layer always runs in
    # logits_from_layer ([CLS] rows only), so results never depend on the other stages
    starts = [min(model.trunk_depth(len(prefix)), len(model.layers) - 1) for _, prefix in stages]
    order = sorted(range(len(stages)), key=lambda i: -starts[i])  # deepest trunk first: its state has B = 0 below
    trunk: dict[int, torch.Tensor] = {}
    for i in order:
        shard, prefix = stages[i]
        load_prefix(model, run.run_dir, shard, prefix, fingerprint, run.node_states)
        if not trunk:  # pretrained states at every start, each layer run once
            hidden, batch = model.embed(rows, device)
            for layer in range(starts[order[0]] + 1):
                if layer in starts:
                    trunk[layer] = hidden
                if layer < starts[order[0]]:
                    hidden = packed_bert_layer(model.layers[layer], hidden, batch)
        out[i] = model.logits_from_layer(trunk[starts[i]], batch, starts[i]).float().cpu()
    return out


def stages_logits(run: S3TRun, stages: list[Stage], texts: list[str], batch_size: int = BATCH_SIZE, progress: bool | None = None) -> torch.Tensor:
    """Logits ``(len(stages), len(texts), labels)`` of the models at the end of the given
    ``(shard, prefix)`` stages (any stage, active or not), the frozen trunk computed once per
    batch. Progress bar on stderr when it is a terminal (or ``progress=True``)."""
    from tqdm.auto import tqdm

    if run.config.data.task == "causal-lm":
        raise ValueError("a causal-lm run generates text: use `s3t predict` or s3t_train.causal_lm.generate (eval and profile are for classification and regression runs)")
    batch_size = check_int("batch_size", batch_size, 1)
    stages = [(int(shard), tuple(int(s) for s in prefix)) for shard, prefix in stages]
    if not stages:
        raise ValueError("stages must name at least one (shard, prefix)")
    model = serving_model(run)
    t = run.config.training
    rows = token_rows(run, texts)
    parts: list[list[torch.Tensor]] = [[] for _ in stages]
    show = sys.stderr.isatty() if progress is None else progress
    autocast = t.device != "cpu" and t.dtype != "float32"
    with torch.no_grad(), torch.autocast(device_type=torch.device(t.device).type, dtype=getattr(torch, t.dtype), enabled=autocast):
        for start in tqdm(range(0, len(rows), batch_size), desc="serving", unit="batch", disable=not show):
            for part, logits in zip(parts, _batch_stage_logits(run, model, stages, rows[start : start + batch_size])):
                part.append(logits)
    if not rows:
        return torch.zeros(len(stages), 0, len(run.label_names))
    return torch.stack([torch.cat(part) for part in parts])


def stage_logits(run: S3TRun, shard: int, prefix: tuple[int, ...], texts: list[str], batch_size: int = BATCH_SIZE) -> torch.Tensor:
    """Logits of the model at the end of stage ``prefix`` of ``shard`` (any stage, active or not)."""
    return stages_logits(run, [(shard, prefix)], texts, batch_size, progress=False)[0]


def live_stages(run: S3TRun) -> list[Stage]:
    """``(shard, served prefix)`` of every live shard (error if every shard is dead)."""
    live = [(s, stage) for s, stage in enumerate(run.deletions.served_stages()) if stage is not None]
    if not live:
        raise ValueError("every shard is dead: nothing can serve; retrain a shard with `s3t retrain --shard S`")
    return live


def shard_logits(run: S3TRun, shard: int, texts: list[str]) -> torch.Tensor:
    """Logits of the model ``shard`` serves now (error if it is dead)."""
    stage = run.deletions.served_stages()[shard]
    if stage is None:
        raise ValueError(f"shard {shard} is dead (every sequence lost its first slice); run `s3t retrain --shard {shard}`")
    return stage_logits(run, shard, stage, texts)


def predict_logits(run: S3TRun, texts: list[str], vote: str = "mean", progress: bool | None = None) -> torch.Tensor:
    """Ensemble over live shards: mean of logits, or (``vote='majority'``) vote counts
    per label with the mean's softmax / 1000 added to break ties. For regression the mean
    of the live shards' outputs, ``(len(texts), 1)``; a vote is refused."""
    check_choice("vote", vote, VOTES)
    if vote != "mean" and run.config.data.task == "regression":
        raise ValueError(f"vote must be 'mean' for a regression run (the ensemble averages the shards' outputs); got {vote!r}")
    per_shard = stages_logits(run, live_stages(run), list(texts), progress=progress)
    mean = per_shard.mean(dim=0)
    if vote == "mean":
        return mean
    votes = torch.nn.functional.one_hot(per_shard.argmax(dim=-1), len(run.label_names)).sum(dim=0).float()
    return votes + mean.softmax(dim=-1) / 1000


def predict(run: S3TRun, texts: list, vote: str = "mean") -> list:
    """Predicted label names of ``texts`` (str, or ``(text, text_pair)`` for pairs); for
    regression the ensemble's outputs (floats)."""
    logits = predict_logits(run, texts, vote)
    if run.config.data.task == "regression":
        return logits[:, 0].tolist()
    return [run.label_names[i] for i in logits.argmax(dim=-1).tolist()]
