"""Causal-LM instruction tuning with a tiny random Llama from a config: loss on response
tokens only, deletion exact bitwise (next-token logits), greedy generation from the mean of
the live shards' next-token logits."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from analysis.cli import main as s3t  # noqa: E402
from exactness_oracle import retrained_without  # noqa: E402
from s3t_train.audit import audit  # noqa: E402
from s3t_train.causal_lm import generate, next_token_logits  # noqa: E402
from s3t_train.config import DataConfig, GroupLoRAConfig, RunConfig, SystemConfig, TrainingConfig  # noqa: E402
from s3t_train.data import load_examples  # noqa: E402
from s3t_train.driver import train_run  # noqa: E402
from s3t_train.instructions import encode_instructions, end_token, response_loss  # noqa: E402
from s3t_train.model import load_tokenizer  # noqa: E402
from s3t_train.run import S3TRun  # noqa: E402
from s3t_train.run_folder import create_run  # noqa: E402
from s3t_train.serving import live_stages, predict_logits  # noqa: E402

WORDS = "red green blue film music story good bad long short".split()
PROMPTS = ["repeat : red film", "repeat : good music story", "repeat : blue"]



@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """train.jsonl: 'repeat : w1 w2' -> 'w1 w2'."""
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("lm") / "train.jsonl"
    rows = []
    for _ in range(24):
        words = " ".join(rng.choice(WORDS, int(rng.integers(1, 4))).tolist())
        rows.append(json.dumps({"prompt": f"repeat : {words}", "response": words}))
    path.write_text("\n".join(rows) + "\n")
    return path


def lm_config(data: Path) -> RunConfig:
    return RunConfig(
        data=DataConfig(str(data), text_column="prompt", label_column="response", task="causal-lm"),
        lora=GroupLoRAConfig(rank=4, target_modules=("q_proj", "v_proj")),
        training=TrainingConfig(model="tiny", epochs=2, batch_size=6, lr=1e-2, max_length=24, seed=4),
        system=SystemConfig(shards=2, slices=2, budget=2),
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory, data) -> Path:
    run_dir = tmp_path_factory.mktemp("lm-run") / "run"
    create_run(lm_config(data), run_dir)
    train_run(run_dir, progress=False)
    return run_dir


def test_rows_mark_response_tokens_and_loss_ignores_the_prompt():
    tokenizer = load_tokenizer("tiny")
    (row,) = encode_instructions(tokenizer, [("repeat : red", "red film")], 32)
    prompt = tokenizer("repeat : red")["input_ids"]
    answer = tokenizer("red film", add_special_tokens=False)["input_ids"] + [end_token(tokenizer)]
    assert row[0].tolist() == prompt + answer and row[1].tolist() == [0] * len(prompt) + [1] * len(answer)
    logits = torch.randn(1, row.shape[1], tokenizer.vocab_size, generator=torch.Generator().manual_seed(0))
    expected = torch.nn.functional.cross_entropy(logits[0, len(prompt) - 1 : -1], torch.tensor(answer))
    assert torch.allclose(response_loss(logits, [row]), expected, rtol=1e-6)
    changed = logits.clone()
    changed[0, : len(prompt) - 1] += 5.0  # logits that predict prompt tokens do not count
    assert torch.equal(response_loss(changed, [row]), response_loss(logits, [row]))


def test_causal_lm_needs_prompt_and_response_columns(data):
    with pytest.raises(ValueError, match="needs text_column \\(the prompt\\) and label_column"):
        load_examples(data, task="causal-lm")
    pairs = load_examples(data, text_column="prompt", label_column="response", task="causal-lm")
    assert pairs.texts[0][0].startswith("repeat : ") and pairs.label_names == ["response"]


def test_delete_is_exact_bitwise_and_generation_follows_the_mean(trained, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(trained, run_dir)
    run = S3TRun(run_dir)
    tokenizer = load_tokenizer("tiny")
    rows = encode_instructions(tokenizer, PROMPTS, 24)
    full = tuple(int(s) for s in run.sequences[0][0])
    before = next_token_logits(run, [(0, full)], rows)
    assert not torch.equal(before, next_token_logits(run, [(0, ())], rows))  # training changed the model
    second = full[1]
    victim = run.store.slice_ids(0, second)[0]
    run.deletions.delete(victim)
    served = run.deletions.served_stages()[0]
    assert second not in served and len(served) == 1
    served_logits = next_token_logits(run, [(0, served)], rows)

    fresh = retrained_without(run, 0, served, victim, tmp_path / "scratch")
    assert torch.equal(next_token_logits(fresh, [(0, served)], rows), served_logits)
    assert audit(run)["ok"]

    # greedy generation: first token is the argmax of the live shards' mean next-token logits
    mean = next_token_logits(run, live_stages(run), rows).mean(dim=0)
    generated = generate(run, PROMPTS, max_new_tokens=1)
    stop = end_token(tokenizer)
    expected = [tokenizer.decode([t for t in [int(i)] if t != stop], skip_special_tokens=True) for i in mean.argmax(-1)]
    assert generated == expected
    assert generate(run, PROMPTS, max_new_tokens=3)[0].startswith(generated[0])
    with pytest.raises(ValueError, match="generates text"):
        predict_logits(run, PROMPTS)


def test_cli_causal_lm_train_delete_predict(tmp_path, data, capsys):
    out = tmp_path / "run"
    assert s3t(["train", "--data", str(data), "--out", str(out), "--task", "causal-lm", "--text-column", "prompt",
                "--label-column", "response", "--model", "tiny", "--shards", "1", "--slices", "2", "--budget", "2",
                "--rank", "2", "--target-modules", "q_proj", "v_proj", "--max-length", "24"]) == 0
    assert s3t(["delete", "--run", str(out), "--id", "5"]) == 0
    capsys.readouterr()
    assert s3t(["predict", "--run", str(out), "--text", PROMPTS[0], "--max-new-tokens", "4", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)[0]
    assert row["prompt"] == PROMPTS[0] and isinstance(row["response"], str)
    assert s3t(["eval", "--run", str(out)]) == 2 and "generates text" in capsys.readouterr().err


def test_causal_lm_export_loads_in_plain_peft_with_the_same_logits(trained, tmp_path):
    import peft
    from transformers import AutoModelForCausalLM

    from s3t_train.export import export_served
    from s3t_train.instructions import padded_tokens

    run = S3TRun(trained)
    rows = encode_instructions(load_tokenizer("tiny"), PROMPTS, 24)
    manifest = export_served(run, tmp_path / "export")
    served = next_token_logits(run, live_stages(run), rows)
    input_ids, mask, _ = padded_tokens(rows)
    for i, entry in enumerate(manifest["shards"]):
        base = AutoModelForCausalLM.from_pretrained(tmp_path / "export" / manifest["base_model"])
        model = peft.PeftModel.from_pretrained(base, tmp_path / "export" / entry["adapter"]).eval()
        with torch.no_grad():
            logits = model(input_ids=input_ids, attention_mask=mask).logits
        torch.testing.assert_close(logits[torch.arange(len(rows)), mask.sum(1) - 1], served[i], rtol=1e-5, atol=1e-5)
