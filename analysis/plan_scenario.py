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

``calibrate_run`` (or ``s3t plan --calibrate-run RUN``) names a trained run folder whose
``timings.json`` (written by ``s3t train``) sets the cost per sample-pass in device-hours
and the seconds per sample-pass (:func:`calibration`).
"""
from __future__ import annotations

import dataclasses
import json
import math
import tomllib
from pathlib import Path

from analysis.planning import PlanConfig

FIELDS = tuple(f.name for f in dataclasses.fields(PlanConfig)) + ("calibrate_run",)
COST_FIELDS = ("sample_pass_cost", "epoch_cost", "seconds_per_sample_pass", "cost_unit", "cost_source")


def calibration(run_dir: "str | Path") -> dict:
    """PlanConfig fields from the measured training speed of a run: ``seconds_per_sample_pass``
    (seconds over sample-passes, all stages), ``sample_pass_cost`` = that / 3600 device-hours,
    ``cost_unit`` and ``cost_source`` (what the figure was measured on)."""
    path = Path(run_dir) / "timings.json"
    if not path.is_file():
        raise FileNotFoundError(f"calibrate_run: {path} does not exist (run s3t train on {run_dir} first)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        passes, seconds = int(data["sample_passes"]), float(data["seconds"])
        stages, device, model = data["stages"], str(data["device"]), str(data["model"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"calibrate_run: {path} is not a timings file of s3t train ({exc!r})") from None
    if passes <= 0 or not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"calibrate_run: {path} holds {passes} sample-passes in {seconds} s; both must be > 0")
    per_pass = seconds / passes
    return {
        "seconds_per_sample_pass": per_pass,
        "sample_pass_cost": per_pass / 3600.0,
        "epoch_cost": None,
        "cost_unit": "device-hours",
        "cost_source": f"calibrated from {path}: {passes} sample-passes in {seconds:.3g} s over {len(stages)} "
                       f"stage(s), model {model} on {device}",
    }


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
    run_dir = merged.pop("calibrate_run", None)
    if run_dir is not None:
        given = [name for name in COST_FIELDS if name in merged]
        if given:
            raise ValueError(f"calibrate_run sets the cost; drop {', '.join(given)} (or calibrate_run)")
        return PlanConfig(**merged, **calibration(run_dir))
    if "sample_pass_cost" in overrides and "epoch_cost" not in overrides:
        merged.pop("epoch_cost", None)
    if "epoch_cost" in overrides and "sample_pass_cost" not in overrides:
        merged.pop("sample_pass_cost", None)
    if merged.get("sample_pass_cost") is not None and "epoch_cost" not in merged:
        merged["epoch_cost"] = None
    return PlanConfig(**merged)
