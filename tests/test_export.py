"""Export of the served ensemble: plain peft loads the adapters back and gets the same logits."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
peft = pytest.importorskip("peft")

from analysis.cli import main  # noqa: E402
from s3t_train.config import DataConfig, GroupLoRAConfig, RunConfig, SystemConfig, TrainingConfig  # noqa: E402
from s3t_train.driver import train_run  # noqa: E402
from s3t_train.evaluation import eval_dataset  # noqa: E402
from s3t_train.packed import pad_batch  # noqa: E402
from s3t_train.run import S3TRun  # noqa: E402
from s3t_train.run_folder import create_run  # noqa: E402
from s3t_train.serving import predict_logits, stages_logits, token_rows  # noqa: E402



@pytest.mark.parametrize("lora", [GroupLoRAConfig(rank=4), GroupLoRAConfig(rank=2, use_rslora=True, layers_per_slice=1, target_modules=("query", "key", "value"))])
def test_exported_adapters_load_in_plain_peft_with_the_same_logits(tmp_path, shared_data, lora):
    from transformers import AutoModelForSequenceClassification

    run_dir = tmp_path / "run"
    create_run(RunConfig(DataConfig(str(shared_data / "sst2"), limit=30, split_seed=4), lora,
                         TrainingConfig(model="tiny", epochs=1, batch_size=5, lr=5e-3, max_length=24, seed=2),
                         SystemConfig(shards=3, slices=2, budget=2)), run_dir)
    train_run(run_dir, progress=False)
    run = S3TRun(run_dir)
    run.deletions.delete(run.store.slice_ids(1, 0)[0])  # shard 1 serves a shorter prefix
    for s in (0, 1):
        run.deletions.delete(run.store.slice_ids(2, s)[0])  # shard 2 dies
    assert [len(p) if p is not None else None for p in run.deletions.served_stages()] == [2, 1, None]
    live = [s for s, stage in enumerate(run.deletions.served_stages()) if stage is not None]
    texts = eval_dataset(run, limit=12, seed=0).texts
    assert main(["export", "--run", str(run_dir), "--out", str(tmp_path / "export")]) == 0
    manifest = json.loads((tmp_path / "export" / "ensemble.json").read_text())
    assert [s["shard"] for s in manifest["shards"]] == live and manifest["dead_shards"] == run.deletions.dead_shards()
    input_ids, mask = pad_batch(token_rows(run, texts))
    served = stages_logits(run, [(s, run.deletions.served_stages()[s]) for s in live], texts)
    loaded = []
    for i, entry in enumerate(manifest["shards"]):
        base = AutoModelForSequenceClassification.from_pretrained(tmp_path / "export" / manifest["base_model"])
        model = peft.PeftModel.from_pretrained(base, tmp_path / "export" / entry["adapter"]).eval()
        with torch.no_grad():
            loaded.append(model(input_ids=input_ids, attention_mask=mask).logits)
        torch.testing.assert_close(loaded[-1], served[i], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(torch.stack(loaded).mean(0), predict_logits(run, texts), rtol=1e-5, atol=1e-5)
    assert main(["export", "--run", str(run_dir), "--out", str(tmp_path / "export")]) == 2  # refuses to overwrite
