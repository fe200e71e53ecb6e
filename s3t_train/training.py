"""Slice-wise training: one prefix-tree node at a time, and the local executor.

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
:func:`train_run` walks the tree in topological order and skips finished nodes (resume).

Reference: Chowdhury et al., "Towards Scalable Exact Machine Unlearning Using
Parameter-Efficient Fine-Tuning" (S3T), ICLR 2025, arXiv:2406.16257, §3.

Example (tiny random model, about a second)::

    from s3t_train.config import DataConfig, RunConfig, SystemConfig, TrainingConfig
    cfg = RunConfig(DataConfig("../shared/data/sst2", limit=40), training=TrainingConfig(model="tiny"),
                    system=SystemConfig(shards=1, slices=2, budget=2))
    create_run(cfg, "runs/tiny"); print(train_run("runs/tiny").to_dict()["slice_passes"])  # 6

Activation cache: the hidden states entering the lowest trainable layer do not change
during a stage (everything below is frozen). With ``top-down`` groups, what lies below
stage ``k``'s group is still the untouched pretrained network, so those hidden states
depend on the example alone and are shared by every node, epoch and shard; with
``bottom-up`` they depend on the parent and are cached per node. The states are
computed in fixed batches of one slice's examples, so their bits depend only on that
slice: a clean slice gives the same numbers before and after a deletion elsewhere, and
the cache entries of a slice that loses an example are dropped with it.

Packing: every forward of the trainer (cache states and training batches) is
padding-free: a batch's real tokens are packed into one ``(total_tokens, hidden)`` tensor
and run through :func:`s3t_train.model.packed_bert_layer` (with short sentences most
positions of a padded batch are padding). The result equals the padded forward up to
floating-point rounding and is deterministic, since batches are composed as before. The
plain ``peft`` loop (``use_cache=False``) and models without ``supports_layer_cache`` use
padded batches through the ``transformers`` forward.
"""
from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from s3t_train.checkpoints import (
    CONFIG_FILE,
    SEQUENCES_FILE,
    STORE_FILE,
    NodeCheckpoint,
    atomic_write_text,
    load_node,
    membership_path,
    node_path,
    save_node,
)
from s3t_train.config import RunConfig, check_same_config
from s3t_train.data import DataStore, load_examples, read_deletion_weights, slice_prior, split_shards_slices
from s3t_train.model import GroupedLoRAModel, PackedBatch, load_grouped_model, load_tokenizer


def stage_seed(seed: int, shard: int, prefix: tuple[int, ...], purpose: str = "") -> int:
    """63-bit seed of the stage ``prefix`` of ``shard``: the same wherever it is trained."""
    key = f"{int(seed)}/{int(shard)}/{','.join(str(int(s)) for s in prefix)}/{purpose}"
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little") >> 1


def configure_torch() -> None:
    """Deterministic kernels (CPU runs are bitwise reproducible; the exactness test relies on it).

    The number of CPU threads is left to torch, or set by the environment variable
    ``S3T_TORCH_THREADS`` (1 is fastest for tiny models and on a busy machine).
    """
    import os

    torch.use_deterministic_algorithms(True, warn_only=True)
    if os.environ.get("S3T_TORCH_THREADS"):
        torch.set_num_threads(int(os.environ["S3T_TORCH_THREADS"]))


# ----------------------------------------------------------------------------------------
# Run folder
# ----------------------------------------------------------------------------------------
@dataclass
class RunInfo:
    """What a run folder holds besides its weights."""

    run_dir: Path
    config: RunConfig
    sequences: np.ndarray  # (m, B, L)

    @classmethod
    def open(cls, run_dir: str | Path) -> "RunInfo":
        run_dir = Path(run_dir)
        if not (run_dir / CONFIG_FILE).is_file():
            raise FileNotFoundError(f"no S3T run in {run_dir} ({CONFIG_FILE} missing); create one with `s3t train`")
        config = RunConfig.from_json((run_dir / CONFIG_FILE).read_text())
        sequences = np.array(json.loads((run_dir / SEQUENCES_FILE).read_text()), dtype=np.int64)
        return cls(run_dir, config, sequences)


def create_run(config: RunConfig, run_dir: str | Path) -> RunInfo:
    """Create the run folder: config, data store with the seeded split, sequences per shard.

    If ``run_dir`` already holds a run, its configuration must equal ``config`` (except the
    device); it is then reused, so ``train`` resumes.
    """
    run_dir = Path(run_dir)
    if (run_dir / CONFIG_FILE).is_file():
        info = RunInfo.open(run_dir)
        check_same_config(info.config, config, f"run {run_dir}")
        return info
    system = config.system
    dataset = load_examples(config.data.source, "train", config.data.text_column, config.data.label_column, limit=config.data.limit, seed=config.data.split_seed)
    weights = read_deletion_weights(config.data.deletion_weights, dataset.ids) if config.data.deletion_weights else None
    shard_of, slice_of = split_shards_slices(dataset.ids, system.shards, system.slices, seed=config.data.split_seed, deletion_weights=weights)
    run_dir.mkdir(parents=True, exist_ok=True)
    store = DataStore.create(run_dir / STORE_FILE, dataset, shard_of, slice_of)
    from s3t_sim.selection import select_sequences

    prior = slice_prior(shard_of, slice_of, weights, system.shards, system.slices) if weights is not None else None
    sequences = []
    for shard in range(system.shards):
        row = None if prior is None else prior[shard] / prior[shard].sum() if prior[shard].sum() > 0 else None
        sequences.append(select_sequences(system.selection, system.slices, system.budget, prior=row, seed=config.data.split_seed + shard, horizon=system.horizon))
        atomic_write_text(membership_path(run_dir, shard), json.dumps(store.membership(shard, system.slices)))
    store.close()
    atomic_write_text(run_dir / SEQUENCES_FILE, json.dumps(np.array(sequences).tolist()))
    atomic_write_text(run_dir / CONFIG_FILE, config.to_json())  # written last: marks the run as created
    return RunInfo.open(run_dir)


def tree_nodes(sequences: np.ndarray) -> list[tuple[int, ...]]:
    """Non-empty prefixes of a shard's sequence set in topological order (parents first)."""
    from s3t_sim.selection import prefix_tree

    tree = prefix_tree(sequences)
    return sorted((node for node in tree.nodes if node), key=lambda p: (len(p), p))


# ----------------------------------------------------------------------------------------
# Activation cache
# ----------------------------------------------------------------------------------------
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


def tokenize(cache: ActivationCache, tokenizer, ids: list[int], texts: list[str], max_length: int) -> list[torch.Tensor]:
    """Token ids of each example (``(1, length)`` tensors), cached by example id."""
    missing = [(i, t) for i, t in zip(ids, texts) if i not in cache.tokens]
    if missing:
        encoded = tokenizer([t for _, t in missing], truncation=True, max_length=max_length)["input_ids"]
        for (i, _), row in zip(missing, encoded):
            cache.tokens[i] = torch.tensor([row], dtype=torch.long)
    return [cache.tokens[i] for i in ids]


def pad_batch(rows: list[torch.Tensor], pad_value: float | int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad ``(1, length, ...)`` tensors into a batch; returns (batch, attention mask)."""
    longest = max(r.shape[1] for r in rows)
    batch = rows[0].new_full((len(rows), longest, *rows[0].shape[2:]), pad_value)
    mask = torch.zeros(len(rows), longest, dtype=torch.long)
    for b, r in enumerate(rows):
        batch[b, : r.shape[1]] = r[0]
        mask[b, : r.shape[1]] = 1
    return batch, mask


# ----------------------------------------------------------------------------------------
# One node
# ----------------------------------------------------------------------------------------
_MODELS: dict[tuple, GroupedLoRAModel] = {}


def model_for(config: RunConfig, num_labels: int) -> GroupedLoRAModel:
    """The run's model, loaded once per process and reused (weights are set per stage)."""
    t = config.training
    key = (t.model, num_labels, config.system.slices, json.dumps(config.to_dict()["lora"]), t.seed, t.device)
    if key not in _MODELS:
        _MODELS[key] = load_grouped_model(t.model, num_labels, config.system.slices, config.lora, seed=t.seed).to(t.device)
    return _MODELS[key]


def load_prefix(model: GroupedLoRAModel, run_dir: str | Path, shard: int, prefix: tuple[int, ...], fingerprint: str | None = None, states: dict | None = None) -> None:
    """Put the model in the state after the stages of ``prefix``: groups 1..k from the
    ancestors' checkpoints, head from the last one, groups k+1..L identity.
    ``states`` (optional) memoises loaded checkpoints by path."""
    for k in range(1, len(prefix) + 1):
        path = node_path(run_dir, shard, prefix[:k])
        if states is not None and path in states:
            node = states[path]
        else:
            node = load_node(path, fingerprint)
            if states is not None:
                states[path] = node
        model.load_group(k, node.group)
        if k == len(prefix):
            model.load_head(node.head)
    if not prefix:
        model.reset_head()
    model.set_identity(range(len(prefix) + 1, model.L + 1))


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
    AdamW on cross-entropy, batches in a seeded order; writes group + head + provenance.
    ``cache`` (in-process) shares activations between nodes; ``use_cache`` overrides the
    config's ``cache_activations``: True trains from the cached states, padding-free;
    False is the plain ``peft`` loop (padded batches, full forward every batch).
    """
    started = time.perf_counter()
    info = RunInfo.open(run_dir)
    config, t = info.config, info.config.training
    prefix = tuple(int(s) for s in prefix)
    k = len(prefix)
    store = DataStore(Path(run_dir) / STORE_FILE)
    try:
        slices = [store.slice_ids(shard, s) for s in prefix]
        ids = [i for members in slices for i in members]  # slices in sequence order, ids ascending
        texts, labels = store.get(ids)
        num_labels = len(store.label_names)
    finally:
        store.close()
    model = model_for(config, num_labels)
    load_prefix(model, run_dir, shard, prefix[:-1], config.fingerprint())
    trainable = model.prepare_stage(k, stage_seed(t.seed, shard, prefix, "adapters"))
    cache = cache if cache is not None else ActivationCache()
    token_rows = tokenize(cache, load_tokenizer(t.model), ids, texts, t.max_length)
    tokens_of = dict(zip(ids, token_rows))
    use_cache = (t.cache_activations if use_cache is None else use_cache) and model.supports_layer_cache and len(ids) > 0
    entry = model.entry_layer(k)
    context = () if config.lora.group_order == "top-down" else (shard, prefix[:-1])
    states = {}
    if use_cache and entry > 0:
        for members in slices:
            states.update(_slice_states(model, cache, context, entry, members, [tokens_of[i] for i in members], t.device))
    y = torch.tensor(labels, dtype=torch.long)
    optimizer = torch.optim.AdamW(trainable, lr=t.lr, weight_decay=0.0)
    order_rng = torch.Generator().manual_seed(stage_seed(t.seed, shard, prefix, "batches"))
    autocast_dtype = getattr(torch, t.dtype)
    scaler = torch.amp.GradScaler("cuda", enabled=t.device == "cuda" and t.dtype == "float16")
    loss_value = float("nan")
    for _epoch in range(t.epochs):
        order = torch.randperm(len(ids), generator=order_rng).tolist()
        for start in range(0, len(order), t.batch_size):
            batch = order[start : start + t.batch_size]
            with torch.autocast(device_type=t.device, dtype=autocast_dtype, enabled=t.device == "cuda" and t.dtype != "float32"):
                logits = _batch_logits(model, states, entry if use_cache else None, [ids[b] for b in batch], [token_rows[b] for b in batch], t.device)
                loss = torch.nn.functional.cross_entropy(logits.float(), y[batch].to(t.device))
            loss_value = loss.detach()
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
    if context:
        cache.drop_context(context)  # bottom-up states belong to this node only
    for p in trainable:
        p.requires_grad_(False)
    save_node(node_path(run_dir, shard, prefix), NodeCheckpoint(shard, prefix, model.group_state(k), model.head_state(), ids, config.fingerprint()))
    return NodeResult(shard, prefix, len(ids), k * t.epochs, time.perf_counter() - started, float(loss_value))


def _slice_states(model: GroupedLoRAModel, cache: ActivationCache, context: tuple, entry: int, ids: list[int], token_rows: list[torch.Tensor], device: str, batch_size: int = 32) -> dict[int, torch.Tensor]:
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


def _batch_logits(model: GroupedLoRAModel, states: dict[int, torch.Tensor], entry: int | None, ids: list[int], token_rows: list[torch.Tensor], device: str) -> torch.Tensor:
    """Logits of a batch: the plain padded forward (``entry=None``), else padding-free from
    the cached hidden states entering layer ``entry`` (from the embeddings when ``entry=0``)."""
    if entry is None:
        input_ids, mask = pad_batch(token_rows)
        return model.logits(input_ids.to(device), mask.to(device))
    if entry == 0:
        return model.packed_logits(token_rows, device)
    rows = [states[i] for i in ids]
    batch = PackedBatch.of_lengths([r.shape[1] for r in rows], device)
    return model.logits_from_layer(torch.cat(rows, dim=1)[0], batch, entry)


# ----------------------------------------------------------------------------------------
# The local executor
# ----------------------------------------------------------------------------------------
@dataclass
class TrainSummary:
    trained: list[NodeResult]
    skipped: int
    slice_passes: int  # counted during this call
    tree_cost: int  # prefix tree's cost x epochs, all shards
    separate_cost: int  # every sequence trained on its own x epochs, all shards
    seconds: float

    @classmethod
    def of(cls, info: "RunInfo", trained: list[NodeResult], seconds: float) -> "TrainSummary":
        """Summary of the nodes ``trained`` in one call, with the run's prefix-tree costs."""
        from s3t_sim.selection import training_cost

        epochs = info.config.training.epochs
        costs = [training_cost(seqs) for seqs in info.sequences]
        total = sum(len(tree_nodes(seqs)) for seqs in info.sequences)
        return cls(
            trained=trained,
            skipped=total - len(trained),
            slice_passes=sum(r.slice_passes for r in trained),
            tree_cost=sum(c["shared_cost"] for c in costs) * epochs,
            separate_cost=sum(c["separate_cost"] for c in costs) * epochs,
            seconds=seconds,
        )

    def to_dict(self) -> dict:
        return {
            "nodes_trained": len(self.trained),
            "nodes_skipped": self.skipped,
            "slice_passes": self.slice_passes,
            "tree_cost": self.tree_cost,
            "separate_cost": self.separate_cost,
            "saving_vs_separate": 1 - self.tree_cost / self.separate_cost,
            "examples_per_second": sum(r.examples * r.slice_passes / len(r.prefix) for r in self.trained) / max(self.seconds, 1e-9),
            "seconds": self.seconds,
        }


def pending_nodes(run_dir: str | Path, shards: list[int] | None = None) -> list[tuple[int, tuple[int, ...]]]:
    """``(shard, prefix)`` of every node without a checkpoint, parents first."""
    info = RunInfo.open(run_dir)
    shards = range(info.config.system.shards) if shards is None else shards
    return [(s, p) for s in shards for p in tree_nodes(info.sequences[s]) if not node_path(run_dir, s, p).is_file()]


def train_run(run_dir: str | Path, progress: bool | None = None, cache: ActivationCache | None = None) -> TrainSummary:
    """Train every node of every shard's prefix tree that has no checkpoint yet (resumes).

    Progress bar on stderr when it is a terminal (or ``progress=True``).
    """
    from tqdm.auto import tqdm

    started = time.perf_counter()
    info = RunInfo.open(run_dir)
    configure_torch()
    cache = cache if cache is not None else ActivationCache()
    results = []
    show = sys.stderr.isatty() if progress is None else progress
    for shard, prefix in tqdm(pending_nodes(run_dir), desc="training stages", unit="stage", disable=not show):
        results.append(train_node(run_dir, shard, prefix, cache=cache))
    return TrainSummary.of(info, results, time.perf_counter() - started)
