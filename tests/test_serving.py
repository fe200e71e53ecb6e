"""Serving on a shared frozen trunk: exact against each stage alone, close to the plain peft forward."""
from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from analysis.cli import main  # noqa: E402
from s3t_train.config import DataConfig, GroupLoRAConfig, RunConfig, SystemConfig, TrainingConfig  # noqa: E402
from s3t_train.driver import train_run  # noqa: E402
from s3t_train.evaluation import eval_dataset  # noqa: E402
from s3t_train.packed import pad_batch  # noqa: E402
from s3t_train.run import S3TRun  # noqa: E402
from s3t_train.run_folder import create_run  # noqa: E402
from s3t_train.serving import serving_model, token_rows, predict, predict_logits, stage_logits, stages_logits  # noqa: E402
from s3t_train.stage_model import load_prefix  # noqa: E402



def _train(tmp_path_factory, shared_data: Path, order: str) -> Path:
    run_dir = tmp_path_factory.mktemp("serving") / "run"
    config = RunConfig(
        data=DataConfig(str(shared_data / "sst2"), limit=36, split_seed=1),
        lora=GroupLoRAConfig(rank=4, group_order=order),
        training=TrainingConfig(model="tiny", epochs=1, batch_size=6, lr=5e-3, max_length=24, seed=5),
        system=SystemConfig(shards=2, slices=2, budget=2),
    )
    create_run(config, run_dir)
    train_run(run_dir, progress=False)
    return run_dir


@pytest.fixture(scope="module", params=["top-down", "bottom-up"])
def served_run(request, tmp_path_factory, shared_data) -> Path:
    return _train(tmp_path_factory, shared_data, request.param)


@pytest.fixture(scope="module")
def top_down_run(tmp_path_factory, shared_data) -> Path:
    return _train(tmp_path_factory, shared_data, "top-down")


def _all_stages(run: S3TRun) -> list[tuple[int, tuple[int, ...]]]:
    stages = [(s, ()) for s in range(run.m)]
    for s in range(run.m):
        for seq in run.sequences[s]:
            stages += [(s, tuple(int(x) for x in seq[:k])) for k in range(1, run.L + 1)]
    return list(dict.fromkeys(stages))


def test_shared_trunk_is_bitwise_each_stage_alone_and_close_to_plain_peft(served_run):
    run = S3TRun(served_run)
    texts = eval_dataset(run, limit=70, seed=4).texts  # two batches of 64 and 6 (batch boundaries)
    stages = _all_stages(run)
    together = stages_logits(run, stages, texts)
    model = serving_model(run)
    rows = token_rows(run, texts)
    for i, (shard, prefix) in enumerate(stages):
        assert torch.equal(together[i], stage_logits(run, shard, prefix, texts))  # served alone
        load_prefix(model, run.run_dir, shard, prefix)
        with torch.no_grad():
            packed = torch.cat([model.packed_logits(rows[a : a + 64]) for a in (0, 64)])  # no trunk reuse
            input_ids, mask = pad_batch(rows)
            plain = model.logits(input_ids, mask)  # the plain padded peft forward, all at once
        assert torch.equal(together[i], packed)
        torch.testing.assert_close(together[i], plain, rtol=1e-5, atol=1e-5)


def test_batch_size_does_not_change_results_beyond_rounding(served_run):
    run = S3TRun(served_run)
    texts = eval_dataset(run, limit=20, seed=1).texts
    a = stages_logits(run, _all_stages(run), texts, batch_size=7)
    b = stages_logits(run, _all_stages(run), texts, batch_size=64)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="batch_size must be an integer"):
        stages_logits(run, _all_stages(run), texts, batch_size=0)
    with pytest.raises(ValueError, match="stages must name"):
        stages_logits(run, [], texts)


def test_predict_cli_reads_file_and_stdin(top_down_run, tmp_path, capsys, monkeypatch):
    run = S3TRun(top_down_run)
    texts = eval_dataset(run, limit=9, seed=3).texts
    expected, scores = predict(run, texts), predict_logits(run, texts)
    path = tmp_path / "texts.txt"
    path.write_text("\n".join(texts) + "\n\n", encoding="utf-8")
    cli = ["predict", "--run", str(top_down_run), "--json"]
    assert main([*cli, "--file", str(path)]) == 0
    from_file = json.loads(capsys.readouterr().out)
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(texts[:4])))
    assert main([*cli, "--file", "-", "--text", texts[8]]) == 0
    from_stdin = json.loads(capsys.readouterr().out)
    assert [r["label"] for r in from_file] == expected and [r["text"] for r in from_file] == texts
    assert torch.equal(torch.tensor([r["scores"] for r in from_file]), scores)
    assert [r["text"] for r in from_stdin] == [texts[8], *texts[:4]]
    assert [r["label"] for r in from_stdin] == [expected[8], *expected[:4]]
    assert main([*cli, "--file", str(tmp_path / "nope.txt")]) == 2
    assert "--file: no such file" in capsys.readouterr().err
    assert main(cli) == 2
    assert "predict needs texts" in capsys.readouterr().err


@pytest.mark.parametrize("first_only", [False, True])
def test_batched_attention_equals_attention_per_example(first_only):
    from s3t_train.model import load_grouped_model
    from s3t_train.packed import PackedBatch, packed_bert_layer

    model = load_grouped_model("tiny", 2, 2)
    generator = torch.Generator().manual_seed(0)
    batch = PackedBatch.of_lengths([1, 7, 3, 12])  # a one-token example and uneven lengths
    hidden = torch.randn(sum(batch.lengths), 32, generator=generator)
    with torch.no_grad():
        full = packed_bert_layer(model.layers[0], hidden, batch, batched=False)
        looped = packed_bert_layer(model.layers[0], hidden, batch, first_only, batched=False)
        batched = packed_bert_layer(model.layers[0], hidden, batch, first_only, batched=True)
    torch.testing.assert_close(batched, looped, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(looped, full.index_select(0, batch.first_token) if first_only else full, rtol=1e-5, atol=1e-6)
    assert looped.shape == ((4, 32) if first_only else (23, 32))
