"""The training loop: one prefix-tree node (one stage of a shard) at a time.

Stage ``k`` of a sequence ``pi`` trains adapter group ``k`` and the head on the first ``k``
slices of ``pi``, with groups ``1..k-1`` loaded from the ancestors and frozen. Stages are
identified by their prefix ``(pi_1, ..., pi_k)``; sequences sharing a prefix share the
stage, so a shard trains each node of its prefix tree once
(:func:`s3t_sim.selection.prefix_tree`).

:func:`train_node` is the unit of work: a pure function of the run folder, the shard and
the prefix (picklable arguments) that reads the parent chain's checkpoints and the
slices' examples from the data store and writes the node's checkpoint. Every random
choice (new adapter init, batch order) comes from :func:`stage_seed`, a hash of
``(seed, shard, prefix)``, so the same prefix trained anywhere gives identical weights.
The run driver (:mod:`s3t_train.driver`) walks the tree in topological order and skips
finished nodes (resume).

Reference: Chowdhury et al., "Towards Scalable Exact Machine Unlearning Using
Parameter-Efficient Fine-Tuning" (S3T), ICLR 2025, arXiv:2406.16257, §3.

Example (tiny random model, about a second)::

    from s3t_train.config import DataConfig, RunConfig, SystemConfig, TrainingConfig
    from s3t_train.driver import train_run
    from s3t_train.run_folder import create_run
    cfg = RunConfig(DataConfig("../shared/data/sst2", limit=40), training=TrainingConfig(model="tiny"),
                    system=SystemConfig(shards=1, slices=2, budget=2))
    create_run(cfg, "runs/tiny"); print(train_run("runs/tiny").to_dict()["slice_passes"])  # 6

The activation cache (:mod:`s3t_train.cache`) holds what the frozen layers compute.

Packing: every forward of the trainer (cache states and training batches) is
padding-free: a batch's real tokens are packed into one ``(total_tokens, hidden)`` tensor
and run through :func:`s3t_train.packed.packed_bert_layer` (with short sentences most
positions of a padded batch are padding). The result equals the padded forward up to
floating-point rounding and is deterministic, since batches are composed as before. The
plain ``peft`` loop (``use_cache=False``) and models without ``supports_layer_cache`` use
padded batches through the ``transformers`` forward.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from s3t_train.cache import ActivationCache, slice_states, tokenize
from s3t_train.checkpoints import NodeCheckpoint, save_node
from s3t_train.config import RunConfig
from s3t_train.layout import STORE_FILE, node_path
from s3t_train.inputs import input_encoder, padded_logits
from s3t_train.model import GroupedLoRAModel
from s3t_train.packed import PackedBatch
from s3t_train.run_folder import RunInfo
from s3t_train.stage_model import load_prefix, model_for
from s3t_train.store import DataStore
from s3t_train.tasks import loss as task_loss, targets


def stage_seed(seed: int, shard: int, prefix: tuple[int, ...], purpose: str = "") -> int:
    """63-bit seed of the stage ``prefix`` of ``shard``: the same wherever it is trained."""
    key = f"{int(seed)}/{int(shard)}/{','.join(str(int(s)) for s in prefix)}/{purpose}"
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little") >> 1


@dataclass
class NodeResult:
    shard: int
    prefix: tuple[int, ...]
    examples: int
    slice_passes: int  # slices in the stage x epochs
    seconds: float
    final_loss: float


def train_node(
    run_dir: str | Path,
    shard: int,
    prefix: tuple[int, ...],
    *,
    cache: ActivationCache | None = None,
    use_cache: bool | None = None,
) -> NodeResult:
    """Train the stage ``prefix`` of ``shard`` and write its checkpoint.

    Reads the parent chain's checkpoints and the examples of the prefix's slices from the
    run's data store; trains group ``len(prefix)`` and the head for ``epochs`` epochs of
    AdamW on the task's loss, batches in a seeded order; writes group + head + provenance.
    ``cache`` (in-process) shares activations between nodes; ``use_cache`` overrides the
    config's ``cache_activations``: True trains from the cached states, padding-free;
    False is the plain ``peft`` loop (padded batches, full forward every batch).
    """
    started = time.perf_counter()
    info = RunInfo.open(run_dir)
    config, t = info.config, info.config.training
    prefix = tuple(int(s) for s in prefix)
    k = len(prefix)
    slices, texts, labels, num_labels = _stage_examples(run_dir, shard, prefix)
    ids = [i for members in slices for i in members]  # slices in sequence order, ids ascending

    # the model after the parent stages, with fresh adapters in group k
    model = model_for(config, num_labels)
    load_prefix(model, run_dir, shard, prefix[:-1], config.fingerprint())
    trainable = model.prepare_stage(k, stage_seed(t.seed, shard, prefix, "adapters"))

    # inputs: token ids, and (fast path) the frozen hidden states entering group k
    cache = cache if cache is not None else ActivationCache()
    token_rows = tokenize(cache, input_encoder(config), ids, texts)
    tokens_of = dict(zip(ids, token_rows))
    use_cache = (t.cache_activations if use_cache is None else use_cache) and model.supports_layer_cache and len(ids) > 0
    entry = model.entry_layer(k)
    context = () if config.lora.group_order == "top-down" else (shard, prefix[:-1])
    states = {}
    if use_cache and entry > 0:
        for members in slices:
            states.update(slice_states(model, cache, context, entry, members, [tokens_of[i] for i in members], t.device))

    train_pos, val_pos = _validation_split(slices, t.select_on_validation, lambda s: stage_seed(t.seed, shard, (s,), "validation"), prefix)
    loss_value, selection = _fit(model, k, trainable, states, entry if use_cache else None, ids, token_rows, targets(config.data.task, labels), config,
                                 lambda purpose: stage_seed(t.seed, shard, prefix, purpose), train_pos, val_pos)

    if context:
        cache.drop_context(context)  # bottom-up states belong to this node only
    for p in trainable:
        p.requires_grad_(False)
    # provenance: every example of the slices, validation part included (a deletion there deactivates the stage)
    save_node(node_path(run_dir, shard, prefix), NodeCheckpoint(shard, prefix, model.group_state(k), model.head_state(), ids, config.fingerprint(), selection))
    return NodeResult(shard, prefix, len(ids), k * t.epochs, time.perf_counter() - started, float(loss_value))


def _validation_split(slices: list[list[int]], fraction: float | None, seed_of_slice, prefix: tuple[int, ...]) -> tuple[list[int], list[int]]:
    """Positions (in the stage's id list) of the training and the validation examples.

    Without ``fraction`` every example trains. Otherwise each slice's members are permuted
    with the slice's own seed and ``round(fraction * n)`` of them (at most ``n - 1``) are held
    out: the split of a slice depends only on its current members, so it is the same in
    every stage that holds the slice and is recomputed from the remaining data on retraining."""
    if fraction is None:
        total = sum(len(members) for members in slices)
        return list(range(total)), []
    train, val, start = [], [], 0
    for members, s in zip(slices, prefix):
        n = len(members)
        held = min(int(round(fraction * n)), max(n - 1, 0))
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed_of_slice(s))).tolist()
        chosen = set(order[:held])
        val += [start + i for i in range(n) if i in chosen]
        train += [start + i for i in range(n) if i not in chosen]
        start += n
    return train, val


def _fit(model: GroupedLoRAModel, k: int, trainable: list, states: dict, entry: int | None, ids: list[int], token_rows: list[torch.Tensor], y: torch.Tensor,
         config: RunConfig, seed_of, train_pos: list[int], val_pos: list[int]) -> tuple[float, dict | None]:
    """AdamW on the task's loss (:func:`s3t_train.tasks.loss`) for ``epochs`` epochs over the
    examples at ``train_pos``, batches in a seeded order, LoRA dropout of group ``k`` drawn from
    the stage's own seed (the global RNG is restored afterwards). Returns the last batch's loss
    and, with selection on (``config.training.select_on_validation``), the selection record:
    after every epoch the mean loss on ``val_pos`` is measured and the weights (group ``k`` and
    head) of the epoch with the least loss are restored (the first such epoch on ties)."""
    t = config.training
    optimizer = torch.optim.AdamW(trainable, lr=t.lr, weight_decay=0.0)
    order_rng = torch.Generator().manual_seed(seed_of("batches"))
    autocast = t.device != "cpu" and t.dtype != "float32"
    scaler = torch.amp.GradScaler("cuda", enabled=autocast and t.dtype == "float16")
    loss_value = torch.tensor(float("nan"))
    losses, best = [], None
    with torch.random.fork_rng(devices=[] if t.device == "cpu" else [torch.device(t.device)]):
        torch.manual_seed(seed_of("dropout"))
        model.train_dropout(k)
        try:
            for _epoch in range(t.epochs):
                order = torch.randperm(len(train_pos), generator=order_rng).tolist()
                for start in range(0, len(order), t.batch_size):
                    batch = [train_pos[b] for b in order[start : start + t.batch_size]]
                    with torch.autocast(device_type=torch.device(t.device).type, dtype=getattr(torch, t.dtype), enabled=autocast):
                        loss = _batch_loss(model, states, entry, ids, token_rows, y, batch, config)
                    loss_value = loss.detach()
                    scaler.scale(loss).backward()
                    scaler.step(optimizer)
                    scaler.update()
                    optimizer.zero_grad(set_to_none=True)
                if t.select_on_validation is not None and val_pos:
                    model.train_dropout(None)
                    losses.append(_validation_loss(model, states, entry, ids, token_rows, y, val_pos, config))
                    model.train_dropout(k)
                    if best is None or losses[-1] < losses[best[0]]:
                        best = (len(losses) - 1, model.group_state(k), model.head_state())
        finally:
            model.train_dropout(None)
    if t.select_on_validation is None:
        return float(loss_value), None
    if best is not None:
        model.load_group(k, best[1])
        model.load_head(best[2])
    chosen = t.epochs if best is None else best[0] + 1  # no validation example: the last epoch
    return float(loss_value), {"chosen_epoch": chosen, "validation_losses": losses, "validation_ids": sorted(ids[i] for i in val_pos)}


def _batch_loss(model: GroupedLoRAModel, states: dict, entry: int | None, ids: list[int], token_rows: list[torch.Tensor], y: torch.Tensor,
                batch: list[int], config: RunConfig) -> torch.Tensor:
    """The task's loss on the examples at positions ``batch``."""
    rows = [token_rows[b] for b in batch]
    logits = _batch_logits(model, states, entry, [ids[b] for b in batch], rows, config.training.device, config.data.task)
    return task_loss(config.data.task, logits, y[batch].to(config.training.device), rows)


def _validation_loss(model: GroupedLoRAModel, states: dict, entry: int | None, ids: list[int], token_rows: list[torch.Tensor], y: torch.Tensor,
                     val_pos: list[int], config: RunConfig) -> float:
    """Mean over the validation examples of the task's loss (batches weighted by their size), no gradients."""
    t = config.training
    total = 0.0
    with torch.no_grad(), torch.autocast(device_type=torch.device(t.device).type, dtype=getattr(torch, t.dtype),
                                         enabled=t.device != "cpu" and t.dtype != "float32"):
        for start in range(0, len(val_pos), t.batch_size):
            batch = val_pos[start : start + t.batch_size]
            total += float(_batch_loss(model, states, entry, ids, token_rows, y, batch, config)) * len(batch)
    return total / len(val_pos)


def _stage_examples(run_dir: str | Path, shard: int, prefix: tuple[int, ...]) -> tuple[list[list[int]], list[str], list[int], int]:
    """Ids of each slice of ``prefix`` (in sequence order), their texts and labels, and the number of labels."""
    store = DataStore(Path(run_dir) / STORE_FILE)
    try:
        slices = [store.slice_ids(shard, s) for s in prefix]
        texts, labels = store.get([i for members in slices for i in members])
        return slices, texts, labels, len(store.label_names)
    finally:
        store.close()


def _batch_logits(model: GroupedLoRAModel, states: dict[int, torch.Tensor], entry: int | None, ids: list[int], token_rows: list[torch.Tensor], device: str, task: str) -> torch.Tensor:
    """Logits of a batch: the plain padded forward (``entry=None``), else padding-free from
    the cached hidden states entering layer ``entry`` (from the embeddings when ``entry=0``)."""
    if entry is None:
        return padded_logits(model, token_rows, device, task)
    if entry == 0:
        return model.packed_logits(token_rows, device)
    rows = [states[i] for i in ids]
    batch = PackedBatch.of_lengths([r.shape[1] for r in rows], device)
    return model.logits_from_layer(torch.cat(rows, dim=1)[0], batch, entry)
