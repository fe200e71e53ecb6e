"""Sizes and settings of ``s3t deletion-curves`` (:class:`DeletionCurvesConfig`, :data:`DELETION_CURVES_SIZES`).

Every field is checked where it is set, with a one-line message naming the parameter and
its allowed range (:mod:`s3t_sim.checks`), so a bad value stops before anything is trained.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from s3t_sim.checks import check_choice, check_int, check_real
from s3t_sim.priors import POINT_LAWS
from s3t_train.config import TrainingConfig

SELECTIONS = ("cyclic", "bms")
MAX_SEEDS = 100
MAX_STREAMS = 100_000


def check_point_prior(spec: str) -> str:
    """``uniform`` or ``LAW:PARAM`` (a per-point law of :mod:`s3t_sim.priors`, PARAM > 0)."""
    if spec == "uniform":
        return spec
    law, _, param = str(spec).partition(":")
    try:
        value = float(param)
    except ValueError:
        value = float("nan")
    if law not in POINT_LAWS or not value > 0 or value == float("inf"):
        raise ValueError(f"prior must be 'uniform' or LAW:PARAM with LAW in {', '.join(POINT_LAWS)} and PARAM a finite "
                         f"number > 0 (e.g. zipf:1.0); got {spec!r}")
    return spec


@dataclass
class DeletionCurvesConfig:
    """What ``s3t deletion-curves`` trains and replays (``peft``-style config)."""

    datasets: tuple[str, ...] = ("sst2",)
    data_dir: str = str(Path(__file__).resolve().parents[2].parent / "shared" / "data")  # the project's ../shared/data
    model: str = "minilm"
    shards: int = 3
    slices: int = 4
    budgets: tuple[int, ...] = (1, 2, 3, 4)
    selection: str = "cyclic"
    epochs: int = 2
    lr: float = 1e-3
    batch_size: int = 16
    max_length: int = 64
    train_limit: int = 6000
    eval_limit: int = 1000
    seeds: tuple[int, ...] = (0, 1, 2)
    streams: int = 1000  # simulated deletion streams per training seed (cached logits)
    requests: int | None = None  # stream length; None: every training point
    retrain_checkpoints: int = 5  # request counts where SISA and full fine-tuning are really retrained
    retrain_streams: int = 1  # streams per seed replayed with real retraining
    prior: str = "uniform"
    level: float = 0.95
    seed: int = 0  # deletion streams
    threads: int = 1
    workers: int = field(default_factory=lambda: min(4, os.cpu_count() or 1))  # processes training seeds in parallel (CPU, local)
    device: str = "cpu"

    def __post_init__(self) -> None:
        self.datasets = tuple(self.datasets)
        if not self.datasets or not all(isinstance(d, str) and d.strip() for d in self.datasets):
            raise ValueError(f"data must name at least one data set; got {list(self.datasets)}")
        self.shards = check_int("shards", self.shards, 1, 1024)
        self.slices = check_int("slices", self.slices, 1, 64)
        self.budgets = tuple(sorted({check_int("budgets", b, 1, self.slices) for b in self.budgets}))
        if not self.budgets:
            raise ValueError("budgets must hold at least one budget in [1, slices]")
        self.selection = check_choice("selection", self.selection, SELECTIONS)
        self.epochs = check_int("epochs", self.epochs, 1, 1000)
        self.seeds = tuple(check_int("seeds", s, 0) for s in self.seeds)
        if len(set(self.seeds)) < 3:
            raise ValueError("seeds must hold at least 3 distinct training seeds (bands over seeds)")
        self.train_limit = check_int("train_limit", self.train_limit, 2 * self.shards * self.slices, 10_000_000)
        self.eval_limit = check_int("eval_limit", self.eval_limit, 10, 10_000_000)
        self.streams = check_int("streams", self.streams, 1, MAX_STREAMS)
        if self.requests is not None:
            self.requests = check_int("requests", self.requests, 1, self.train_limit)
        self.retrain_checkpoints = check_int("retrain_checkpoints", self.retrain_checkpoints, 0, 100)
        self.retrain_streams = check_int("retrain_streams", self.retrain_streams, 0, self.streams)
        self.prior = check_point_prior(self.prior)
        self.level = check_real("level", self.level, 0.5, 1.0, high_inclusive=False)
        self.seed = check_int("seed", self.seed, 0)
        self.threads = check_int("threads", self.threads, 1, 1024)
        self.workers = check_int("workers", self.workers, 1, 64)
        TrainingConfig(model=self.model, epochs=self.epochs, lr=self.lr, batch_size=self.batch_size, max_length=self.max_length,
                       device=self.device)  # the run's own checks and messages


DELETION_CURVES_SIZES: dict[str, DeletionCurvesConfig] = {
    # the CI test: the tiny random BERT, seconds
    "tiny": DeletionCurvesConfig(model="tiny", shards=2, slices=2, budgets=(1, 2), epochs=4, lr=2e-2, batch_size=8, max_length=16,
                                 train_limit=48, eval_limit=40, streams=50, retrain_checkpoints=3),
    # MiniLM on SST-2, about 2 minutes on 2 cores: 2 shards x 3 slices, 40 examples per slice
    "small": DeletionCurvesConfig(shards=2, slices=3, budgets=(1, 2, 3), epochs=1, max_length=32, train_limit=240, eval_limit=300,
                                  streams=1000, retrain_checkpoints=4),
    # realistic: 500 examples per slice, 2 epochs (docs/validation.md, "s3t deletion-curves": what was measured)
    "full": DeletionCurvesConfig(datasets=("sst2", "agnews")),
}
