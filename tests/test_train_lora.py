"""LoRA as users configure it: rank/alpha/rsLoRA scale, seeded dropout, target modules, layers per slice."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from analysis.cli import main  # noqa: E402
from s3t_train.checkpoints import load_node  # noqa: E402
from s3t_train.config import DataConfig, GroupLoRAConfig, RunConfig, SystemConfig, TrainingConfig  # noqa: E402
from s3t_train.layout import node_path  # noqa: E402
from s3t_train.model import load_grouped_model  # noqa: E402
from s3t_train.run_folder import create_run  # noqa: E402
from s3t_train.training import train_node  # noqa: E402



@pytest.mark.parametrize("kwargs, message", [
    ({"dropout": 1.0}, r"dropout must be a finite number in \[0, 1\)"),
    ({"dropout": -0.1}, r"dropout must be a finite number in \[0, 1\)"),
    ({"layers_per_slice": 0}, r"layers_per_slice must be an integer in \[1, inf\]"),
    ({"use_rslora": 1}, "use_rslora must be True or False"),
    ({"target_modules": ()}, "target_modules must name at least one module"),
    ({"rank": 0}, r"rank must be an integer in \[1, inf\]"),
])
def test_lora_config_rejects_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GroupLoRAConfig(**kwargs)


@pytest.mark.parametrize("rank, alpha, rslora, expected", [(4, 16.0, False, 4.0), (4, 16.0, True, 8.0), (16, 8.0, True, 2.0), (1, 3.0, False, 3.0)])
def test_adapter_scale_is_alpha_over_r_or_sqrt_r(rank, alpha, rslora, expected):
    lora = GroupLoRAConfig(rank=rank, alpha=alpha, use_rslora=rslora)
    model = load_grouped_model("tiny", 2, 2, lora)
    scales = {m.scaling["default"] for m in model.model.modules() if hasattr(m, "scaling") and isinstance(m.scaling, dict)}
    assert lora.scaling == pytest.approx(expected, rel=1e-15)
    assert len(scales) == 1 and scales.pop() == pytest.approx(alpha / (math.sqrt(rank) if rslora else rank), rel=1e-15)


def test_fixed_layers_per_slice_puts_adapters_only_in_the_groups():
    top = load_grouped_model("tiny", 2, 2, GroupLoRAConfig(layers_per_slice=1, target_modules=("query", "key", "value")))
    assert top.groups == [[3], [2]] and top.trunk_depth(0) == 4 and top.trunk_depth(1) == 3 and top.trunk_depth(2) == 2
    adapted = sorted({int(n.split(".")[3]) for n, _ in top.model.named_parameters() if "lora_A" in n})
    assert adapted == [2, 3]
    assert {n.split(".")[6] for n, _ in top.model.named_parameters() if "lora_A" in n} == {"query", "key", "value"}
    bottom = load_grouped_model("tiny", 2, 2, GroupLoRAConfig(layers_per_slice=2, group_order="bottom-up"))
    assert bottom.groups == [[0, 1], [2, 3]] and bottom.trunk_depth(1) == 0
    with pytest.raises(ValueError, match=r"L \(slices\) must be an integer in \[1, 2\] for model 'tiny' \(4 layers, 2 layers per slice\)"):
        load_grouped_model("tiny", 2, 3, GroupLoRAConfig(layers_per_slice=2))
    with pytest.raises(ValueError, match=r"target_modules \['no_such_module'\] are not modules of model 'tiny'"):
        load_grouped_model("tiny", 2, 2, GroupLoRAConfig(target_modules=("no_such_module",)))


def _config(data: Path, dropout: float, **lora) -> RunConfig:
    return RunConfig(
        data=DataConfig(str(data), limit=24, split_seed=2),
        lora=GroupLoRAConfig(rank=4, dropout=dropout, **lora),
        training=TrainingConfig(model="tiny", epochs=2, batch_size=4, lr=5e-3, max_length=24, seed=3),
        system=SystemConfig(shards=1, slices=2, budget=1),
    )


def _train_twice(tmp_path: Path, config: RunConfig, prefix: tuple[int, ...]) -> list[dict]:
    states = []
    for name in ("a", "b"):
        create_run(config, tmp_path / name)
        for k in range(1, len(prefix) + 1):
            train_node(tmp_path / name, 0, prefix[:k])
        states.append(load_node(node_path(tmp_path / name, 0, prefix)).group)
    return states


@pytest.mark.parametrize("layers_per_slice", [None, 1])
def test_lora_dropout_is_seeded_per_stage_and_changes_training(tmp_path, shared_data, layers_per_slice):
    prefix = (1, 0)
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    a, b = _train_twice(tmp_path / "drop", _config(shared_data / "sst2", 0.3, layers_per_slice=layers_per_slice), prefix)
    assert torch.equal(torch.rand(3), before)  # the caller's RNG stream is untouched
    assert a.keys() == b.keys() and all(torch.equal(a[n], b[n]) for n in a)  # same prefix, same weights
    (plain, _) = _train_twice(tmp_path / "plain", _config(shared_data / "sst2", 0.0, layers_per_slice=layers_per_slice), prefix)
    assert max(float((a[n] - plain[n]).abs().max()) for n in a) > 1e-4  # dropout really acts


def test_cli_flags_reach_the_run_config(tmp_path, shared_data, capsys):
    out = tmp_path / "run"
    code = main([
        "train", "--data", str(shared_data / "sst2"), "--out", str(out), "--model", "tiny", "--limit", "16", "--shards", "1",
        "--slices", "2", "--budget", "1", "--rank", "2", "--alpha", "4", "--rslora", "--lora-dropout", "0.1",
        "--target-modules", "query", "key", "--layers-per-slice", "1", "--group-order", "bottom-up", "--max-length", "16",
    ])
    assert code == 0, capsys.readouterr().err
    lora = json.loads((out / "config.json").read_text())["lora"]
    assert lora == {"rank": 2, "alpha": 4.0, "use_rslora": True, "dropout": 0.1, "target_modules": ["query", "key"],
                    "layers_per_slice": 1, "group_order": "bottom-up"}
    assert main(["train", "--data", str(shared_data / "sst2"), "--out", str(tmp_path / "bad"), "--model", "tiny", "--lora-dropout", "2"]) == 2
    assert "dropout must be a finite number in [0, 1)" in capsys.readouterr().err
    assert main(["train", "--data", str(shared_data / "sst2"), "--out", str(tmp_path / "bad"), "--model", "tiny", "--device", "gpu"]) == 2
    assert "device must be 'cpu', 'cuda' or 'cuda:N'" in capsys.readouterr().err


def test_deletion_is_exact_with_dropout_rslora_and_fixed_layers(tmp_path, shared_data):
    """Served logits after a deletion are bitwise those of the clean prefix trained from scratch."""
    from s3t_train.driver import train_run
    from s3t_train.evaluation import eval_dataset
    from s3t_train.layout import STORE_FILE
    from s3t_train.run import S3TRun
    from s3t_train.serving import shard_logits, stage_logits
    from s3t_train.store import DataStore

    config = _config(shared_data / "sst2", 0.2, layers_per_slice=1, use_rslora=True)
    config.system = SystemConfig(shards=2, slices=2, budget=2)
    create_run(config, tmp_path / "run")
    train_run(tmp_path / "run", progress=False)
    run = S3TRun(tmp_path / "run")
    texts = eval_dataset(run, limit=10, seed=5).texts
    victim = run.store.slice_ids(0, int(run.sequences[0][0][1]))[0]
    run.deletions.delete(victim)
    served = run.deletions.served_stages()[0]
    assert len(served) == 1 and served[0] == int(run.sequences[0][0][0])
    create_run(config, tmp_path / "scratch")
    store = DataStore(tmp_path / "scratch" / STORE_FILE)
    store.remove(victim)
    store.close()
    train_node(tmp_path / "scratch", 0, served)
    assert torch.equal(stage_logits(S3TRun(tmp_path / "scratch"), 0, served, texts), shard_logits(run, 0, texts))
