"""Configuration of an S3T training run, as dataclasses in the manner of ``peft.LoraConfig``.

A run is described by four parts: where the data comes from (:class:`DataConfig`), the
LoRA adapters and their grouping into stages (:class:`GroupLoRAConfig`), the optimiser
(:class:`TrainingConfig`) and the S3T system (:class:`SystemConfig`). :class:`RunConfig`
bundles them; it is saved with the run as ``config.json`` and every checkpoint records a
fingerprint of the fields that determine its weights, so that a run or checkpoint made
under another configuration is refused with the names of the fields that differ.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from s3t_sim.checks import check_budget, check_choice, check_int, check_real
from s3t_train.tasks import check_task

GROUP_ORDERS = ("top-down", "bottom-up")
DEVICE_PATTERN = re.compile(r"cpu|cuda(:\d+)?")
DTYPES = ("float32", "bfloat16", "float16")


@dataclass
class DataConfig:
    """Where the training examples come from.

    ``source`` is a local file (TSV / CSV / JSONL), a folder holding ``train.tsv``, or a
    Hugging Face hub dataset name. ``limit`` keeps a seeded subsample of that many rows.
    ``deletion_weights`` optionally names a file of per-example weights (``id,weight``)
    used by the prior-aware split. ``task`` is one of :data:`s3t_train.tasks.TASKS`;
    ``text_pair_column`` names the second text of a pair (``pairs``, optional for ``regression``).
    ``header`` says whether a TSV/CSV file's first row is a header (``'yes'``/``'no'``;
    ``None`` decides and refuses an ambiguous file); ``id_column`` names the column holding
    each example's id (the user's key; default: the record index,
    :mod:`s3t_train.data_file`); ``labels`` declares the classes, in order (default: the
    sorted distinct labels of the training data).
    """

    source: str
    text_column: str | None = None
    label_column: str | None = None
    limit: int | None = None
    split_seed: int = 0
    deletion_weights: str | None = None
    task: str = "classification"
    text_pair_column: str | None = None
    header: str | None = None
    id_column: str | None = None
    labels: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        check_task(self.task, self.text_pair_column)
        if self.header is not None:
            check_choice("header", self.header, ("yes", "no"))
        if self.id_column is not None and (not isinstance(self.id_column, str) or not self.id_column.strip()):
            raise ValueError(f"id_column must name a column; got {self.id_column!r}")
        if self.labels is not None:
            self.labels = tuple(self.labels)
            if len(self.labels) < 2 or len(set(self.labels)) != len(self.labels) or not all(isinstance(x, str) and x.strip() == x and x for x in self.labels):
                raise ValueError(f"labels must be at least 2 distinct non-empty class names (--labels A,B); got {list(self.labels)}")
        if not isinstance(self.source, str) or not self.source:
            raise ValueError(f"source must be a non-empty path or dataset name; got {self.source!r}")
        if self.limit is not None:
            self.limit = check_int("limit", self.limit, 1)
        self.split_seed = check_int("split_seed", self.split_seed, 0)


@dataclass
class GroupLoRAConfig:
    """LoRA adapters, split into ``L`` groups of encoder layers (one group per stage).

    ``rank`` r, ``alpha`` and ``use_rslora`` set the adapter scale: ``alpha / r``, or
    ``alpha / sqrt(r)`` with rsLoRA (Kalajdzievski, arXiv:2312.03732). ``dropout`` is LoRA
    dropout on the input of the adapters being trained (group k in stage k), with masks
    drawn from the stage's seed, so a prefix trained anywhere still gets the same weights;
    frozen groups and serving run without dropout. ``target_modules`` are the adapted
    sub-modules of each layer. ``layers_per_slice=None`` splits all layers into ``L`` near-equal
    groups; an integer c gives every group exactly c layers (the S3T authors' setting), the
    ``L * c`` layers nearest the output with ``top-down`` (nearest the input with
    ``bottom-up``), the other layers frozen without adapters. ``group_order='top-down'``
    (default) makes group 1 the layers nearest the output.
    """

    rank: int = 8
    alpha: float = 16.0
    target_modules: tuple[str, ...] = ("query", "value")
    group_order: str = "top-down"
    use_rslora: bool = False
    dropout: float = 0.0
    layers_per_slice: int | None = None

    def __post_init__(self) -> None:
        self.rank = check_int("rank", self.rank, 1)
        self.alpha = check_real("alpha", self.alpha, 0.0, low_inclusive=False)
        self.target_modules = tuple(self.target_modules)
        if not self.target_modules or not all(isinstance(m, str) and m for m in self.target_modules):
            raise ValueError(f"target_modules must name at least one module (non-empty strings); got {list(self.target_modules)}")
        check_choice("group_order", self.group_order, GROUP_ORDERS)
        if not isinstance(self.use_rslora, bool):
            raise ValueError(f"use_rslora must be True or False; got {self.use_rslora!r}")
        self.dropout = check_real("dropout", self.dropout, 0.0, 1.0, high_inclusive=False)
        if self.layers_per_slice is not None:
            self.layers_per_slice = check_int("layers_per_slice", self.layers_per_slice, 1)

    @property
    def scaling(self) -> float:
        """The adapter scale: ``alpha / r`` (``alpha / sqrt(r)`` with rsLoRA)."""
        return self.alpha / (self.rank**0.5 if self.use_rslora else self.rank)


@dataclass
class TrainingConfig:
    """Optimiser and loop settings of every stage (nanoGPT-style plain loop)."""

    model: str = "minilm"
    epochs: int = 1
    lr: float = 1e-3
    batch_size: int = 16
    max_length: int = 64
    seed: int = 0
    device: str = "cpu"
    dtype: str = "float32"
    cache_activations: bool = True
    select_on_validation: float | None = None  # F in (0, 1): keep each stage's best epoch on a seeded F of its slices

    def __post_init__(self) -> None:
        self.epochs = check_int("epochs", self.epochs, 1)
        if self.select_on_validation is not None:
            self.select_on_validation = check_real("select_on_validation", self.select_on_validation, 0.0, 1.0,
                                                   low_inclusive=False, high_inclusive=False)
        self.lr = check_real("lr", self.lr, 0.0, low_inclusive=False)
        self.batch_size = check_int("batch_size", self.batch_size, 1)
        self.max_length = check_int("max_length", self.max_length, 2)
        self.seed = check_int("seed", self.seed, 0)
        if not isinstance(self.device, str) or not DEVICE_PATTERN.fullmatch(self.device):
            raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N' (N a GPU index); got {self.device!r}")
        check_choice("dtype", self.dtype, DTYPES)


@dataclass
class SystemConfig:
    """The S3T system: ``m`` shards of ``L`` slices, ``B`` sequences per shard."""

    shards: int = 3
    slices: int = 3
    budget: int = 3
    selection: str = "cyclic"
    horizon: float = 100.0

    def __post_init__(self) -> None:
        self.shards = check_int("shards", self.shards, 1)
        self.slices = check_int("slices", self.slices, 1)
        self.budget = check_budget(self.budget, self.slices)
        self.horizon = check_real("horizon", self.horizon, 0.0, low_inclusive=False)


@dataclass
class RunConfig:
    """Everything that defines a run; saved as ``config.json`` in the run folder."""

    data: DataConfig
    lora: GroupLoRAConfig = field(default_factory=GroupLoRAConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    system: SystemConfig = field(default_factory=SystemConfig)

    # Fields that do not change the trained weights (where the run executes).
    NON_WEIGHT_FIELDS = ("training.device",)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunConfig":
        lora = dict(d.get("lora", {}))
        if "target_modules" in lora:
            lora["target_modules"] = tuple(lora["target_modules"])
        return cls(
            data=DataConfig(**d["data"]),
            lora=GroupLoRAConfig(**lora),
            training=TrainingConfig(**d.get("training", {})),
            system=SystemConfig(**d.get("system", {})),
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "RunConfig":
        return cls.from_dict(json.loads(text))

    def flat(self) -> dict[str, Any]:
        """``{'section.field': value}`` for every field (lists as tuples)."""
        out = {}
        for section, values in self.to_dict().items():
            for key, value in values.items():
                out[f"{section}.{key}"] = tuple(value) if isinstance(value, list) else value
        return out

    def fingerprint(self) -> str:
        """Hash of the fields that determine trained weights (stored in every checkpoint)."""
        weight_fields = {k: v for k, v in self.flat().items() if k not in self.NON_WEIGHT_FIELDS}
        if weight_fields["training.select_on_validation"] is None:  # off: the fingerprint of runs made before the option
            del weight_fields["training.select_on_validation"]
        return hashlib.sha256(json.dumps(weight_fields, sort_keys=True, default=list).encode()).hexdigest()[:16]


def config_mismatches(expected: RunConfig, found: RunConfig, ignore: tuple[str, ...] = RunConfig.NON_WEIGHT_FIELDS) -> list[str]:
    """Names of the fields (``section.field``) whose values differ, ignoring ``ignore``."""
    a, b = expected.flat(), found.flat()
    return sorted(k for k in set(a) | set(b) if k not in ignore and a.get(k) != b.get(k))


def check_same_config(expected: RunConfig, found: RunConfig, what: str) -> None:
    """Raise ``ValueError`` naming the mismatching fields if ``found`` differs from ``expected``."""
    diffs = config_mismatches(expected, found)
    if diffs:
        detail = "; ".join(f"{k}: {expected.flat().get(k)!r} != {found.flat().get(k)!r}" for k in diffs)
        raise ValueError(f"{what} was written with another configuration; mismatching fields: {detail}")
