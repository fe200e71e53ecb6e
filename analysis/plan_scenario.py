"""A plan file: a scenario in TOML (data size, rates, prior, horizon, policy, hardware,
constraints, search space), so that a plan can be versioned and rerun; flags override it.

Keys are :class:`analysis.planning.PlanConfig` fields, at the top level or inside any one
level of tables (``[search]``, ``[constraints]``, ... group them for the reader; the table
names carry no meaning). Lists become tuples. Example::

    dataset_size = 10_000_000
    deletions_per_day = 100
    horizon_days = 365
    [policy]
    policies = ["retrain-dead-shard", "stop-and-retrain-all"]
    retrain_days = 0.5
    [search]
    shards = [64, 256, 1024]
    slices = [8, 16]
    budgets = [8, 16]
"""
from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

from analysis.planning import PlanConfig

FIELDS = tuple(f.name for f in dataclasses.fields(PlanConfig))


def read_plan_file(path: "str | Path") -> dict:
    """The scenario of a TOML plan file as PlanConfig keyword arguments (unknown keys refused)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"plan file {path} does not exist")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"plan file {path} is not valid TOML: {exc}") from None
    flat: dict = {}
    for key, value in data.items():
        items = value.items() if isinstance(value, dict) else [(key, value)]
        for name, item in items:
            if isinstance(item, dict):
                raise ValueError(f"plan file {path}: table [{key}.{name}] is nested too deep; use one level of tables")
            if name not in FIELDS:
                raise ValueError(f"plan file {path}: unknown key {name!r}; allowed: {', '.join(FIELDS)}")
            if name in flat:
                raise ValueError(f"plan file {path}: key {name!r} given twice")
            flat[name] = tuple(item) if isinstance(item, list) else item
    return flat


def scenario_config(scenario: dict, overrides: dict) -> PlanConfig:
    """The plan's configuration: PlanConfig defaults, then the file's ``scenario``, then ``overrides`` (flags).

    Examples
    --------
    >>> scenario_config({"horizon_days": 365, "sample_pass_cost": 0.1}, {"horizon_days": 90}).horizon_days
    90
    """
    merged = {**scenario, **overrides}
    if "sample_pass_cost" in overrides and "epoch_cost" not in overrides:
        merged.pop("epoch_cost", None)
    if "epoch_cost" in overrides and "sample_pass_cost" not in overrides:
        merged.pop("sample_pass_cost", None)
    if merged.get("sample_pass_cost") is not None and "epoch_cost" not in merged:
        merged["epoch_cost"] = None
    return PlanConfig(**merged)
