"""Export of the served ensemble as plain ``peft`` adapters (``save_pretrained``).

Each live shard's served stage becomes one adapter folder ``shard_<s>/`` that
``peft.PeftModel.from_pretrained`` loads onto the base model: the LoRA weights of groups
1..k of the served prefix (groups k+1..L are exported switched off, B = 0) and the head
(pooler + classifier) as ``modules_to_save``. ``ensemble.json`` lists the shards, their
served stages (slices in order), the label names and how to combine them (mean of logits). With
``model='tiny'`` (a random model built from a config) the base weights are exported too,
as ``base/``. Dead shards are left out; deleted data is in no exported adapter, because
an adapter is exported only from a served (clean) stage.
"""
from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import torch

from s3t_sim.output import write_bytes_atomic, write_json_atomic
from s3t_train.model import TINY_MODEL, GroupedLoRAModel, load_base_model, peft_lora_config, resolve_model_path
from s3t_train.run import S3TRun
from s3t_train.serving import live_stages, serving_model
from s3t_train.stage_model import load_prefix

ENSEMBLE_FILE = "ensemble.json"
SAVED = ".modules_to_save.default"


def _copy_folder(source: Path, target: Path) -> list[str]:
    """Copy the files of ``source`` into ``target`` atomically (0644); returns their names."""
    names = sorted(p.name for p in source.iterdir() if p.is_file())
    for name in names:
        write_bytes_atomic(target / name, (source / name).read_bytes())
    return names


def _head_modules(model: GroupedLoRAModel) -> list[str]:
    return sorted({name.rsplit(".", 1)[0] for name in model.head_state()})


def _copy_weights(model: GroupedLoRAModel, exported: torch.nn.Module) -> None:
    """Adapters and head of ``model``'s current state into the export model (names matched)."""
    ours = dict(model.model.named_parameters())
    wanted = {n for n in ours if "lora_" in n} | set(model.head_state())
    copied = set()
    with torch.no_grad():
        for name, param in exported.base_model.model.named_parameters():
            key = name.replace(SAVED, "")
            if ".original_module." not in name and key in wanted:
                param.copy_(ours[key])
                copied.add(key)
    if copied != wanted:
        raise ValueError(f"export could not place {len(wanted - copied)} tensors (different peft version?): {sorted(wanted - copied)[:3]}")


def export_served(run: S3TRun, out_dir: str | Path) -> dict:
    """Write the live shards' served stages as ``peft`` adapters under ``out_dir``; returns the
    ``ensemble.json`` content. ``out_dir`` must not hold an export already."""
    from peft import get_peft_model

    out_dir = Path(out_dir)
    if (out_dir / ENSEMBLE_FILE).exists():
        raise ValueError(f"out: {out_dir} already holds an export; choose a new folder")
    t = run.config.training
    model = serving_model(run)
    stages = live_stages(run)
    base = load_base_model(t.model, len(run.label_names), t.seed, run.config.data.task)
    base_path = resolve_model_path(t.model)
    with tempfile.TemporaryDirectory() as tmp:
        if t.model == TINY_MODEL:  # a random model built from a config: its weights travel with the export
            base.save_pretrained(Path(tmp) / "base")
            _copy_folder(Path(tmp) / "base", out_dir / "base")
            base_path = "base"
        with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            exported = get_peft_model(base, peft_lora_config(base, run.L, run.config.lora, _head_modules(model)))
        for shard, prefix in stages:
            load_prefix(model, run.run_dir, shard, prefix, run.config.fingerprint(), run.node_states)
            _copy_weights(model, exported)
            exported.peft_config["default"].base_model_name_or_path = base_path
            exported.save_pretrained(Path(tmp) / f"shard_{shard}", save_embedding_layers=False)
            _copy_folder(Path(tmp) / f"shard_{shard}", out_dir / f"shard_{shard}")
    manifest = {
        "base_model": base_path,
        "base_is_relative_to_export": t.model == TINY_MODEL,
        "num_labels": len(run.label_names),
        "label_names": list(run.label_names),
        "combine": "mean of the shards' logits",
        "shards": [{"shard": s, "served_stage": list(p), "adapter": f"shard_{s}"} for s, p in stages],
        "dead_shards": run.deletions.dead_shards(),
        "deleted": len(run.deletions.deleted),
        "max_length": t.max_length,
    }
    write_json_atomic(out_dir / ENSEMBLE_FILE, manifest)
    return manifest
