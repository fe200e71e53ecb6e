"""Image classification with a tiny random ViT from a config (folder-per-class images made
here with PIL): deletion exact bitwise, audit, evaluation, the command line."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")
Image = pytest.importorskip("PIL.Image")

from analysis.cli import main as s3t  # noqa: E402
from exactness_oracle import retrained_without  # noqa: E402
from s3t_train.audit import audit  # noqa: E402
from s3t_train.config import DataConfig, GroupLoRAConfig, RunConfig, SystemConfig, TrainingConfig  # noqa: E402
from s3t_train.data import load_examples  # noqa: E402
from s3t_train.driver import train_run  # noqa: E402
from s3t_train.evaluation import eval_dataset, evaluate  # noqa: E402
from s3t_train.model import load_grouped_model  # noqa: E402
from s3t_train.run import S3TRun  # noqa: E402
from s3t_train.run_folder import create_run  # noqa: E402
from s3t_train.serving import live_stages, predict, predict_logits, shard_logits, stage_logits, stages_logits  # noqa: E402

CLASSES = ("blue", "green", "red")



def write_images(root: Path, per_class: dict[str, int], seed: int = 0) -> Path:
    """``root/<split>/<class>/<i>.png``: 20x20 noise images tinted by their class's channel."""
    rng = np.random.default_rng(seed)
    for split, n in per_class.items():
        for c, name in enumerate(CLASSES):
            (root / split / name).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                pixels = rng.integers(0, 120, (20, 20, 3))
                pixels[..., 2 - c] += 120
                Image.fromarray(pixels.astype(np.uint8)).save(root / split / name / f"{i:02d}.png")
    return root


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    return write_images(tmp_path_factory.mktemp("img") / "data", {"train": 8, "val": 3})


def image_config(data: Path) -> RunConfig:
    return RunConfig(
        data=DataConfig(str(data), task="image"),
        lora=GroupLoRAConfig(rank=4, target_modules=("q_proj", "v_proj")),
        training=TrainingConfig(model="tiny", epochs=2, batch_size=6, lr=5e-3, seed=2),
        system=SystemConfig(shards=2, slices=2, budget=2),
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory, images) -> Path:
    run_dir = tmp_path_factory.mktemp("image-run") / "run"
    create_run(image_config(images), run_dir)
    train_run(run_dir, progress=False)
    return run_dir


def test_image_folder_ids_labels_and_bad_input(images, tmp_path):
    train = load_examples(images, task="image")
    assert train.label_names == list(CLASSES) and len(train) == 24
    assert train.texts[9].endswith("green/01.png") and train.labels[9] == 1 and train.ids[9] == 9
    assert len(load_examples(images, "eval", task="image")) == 9
    with pytest.raises(FileNotFoundError, match="not a folder"):
        load_examples(tmp_path / "missing", task="image")
    (tmp_path / "empty" / "cls").mkdir(parents=True)
    with pytest.raises(ValueError, match="holds no images"):
        load_examples(tmp_path / "empty", task="image")
    with pytest.raises(ValueError, match="target_modules \\['query'\\] are not modules"):
        load_grouped_model("tiny", 3, L=2, lora=GroupLoRAConfig(target_modules=("query", "v_proj")), task="image")


def test_image_delete_is_exact_bitwise(trained, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(trained, run_dir)
    run = S3TRun(run_dir)
    paths = eval_dataset(run).texts
    before = stage_logits(run, 0, tuple(int(s) for s in run.sequences[0][0]), paths)
    second = int(run.sequences[0][0][1])
    victim = run.store.slice_ids(0, second)[0]
    run.deletions.delete(victim)
    served = run.deletions.served_stages()[0]
    assert second not in served and len(served) == 1
    served_logits = shard_logits(run, 0, paths)
    assert not torch.equal(before, served_logits)

    fresh = retrained_without(run, 0, served, victim, tmp_path / "scratch")
    assert torch.equal(stage_logits(fresh, 0, served, paths), served_logits)
    assert audit(run)["ok"] and victim not in run.store
    assert torch.equal(predict_logits(run, paths), stages_logits(run, live_stages(run), paths).mean(dim=0))


def test_image_eval_and_predict(trained):
    run = S3TRun(trained)
    result = evaluate(run)
    assert result["task"] == "image" and result["examples"] == 9 and 0 <= result["accuracy"] <= 1
    dataset = eval_dataset(run)
    assert predict(run, dataset.texts[:2]) == [CLASSES[i] for i in predict_logits(run, dataset.texts[:2]).argmax(-1).tolist()]


def test_cli_image_train_predict(tmp_path, images, capsys):
    out = tmp_path / "run"
    base = ["train", "--data", str(images), "--out", str(out), "--task", "image", "--model", "tiny",
            "--shards", "1", "--slices", "2", "--budget", "2", "--rank", "2"]
    assert s3t(base) == 2 and "target_modules ['query', 'value'] are not modules" in capsys.readouterr().err
    assert s3t([*base, "--target-modules", "q_proj", "v_proj"]) == 0
    capsys.readouterr()
    image = str(images / "val" / "red" / "00.png")
    assert s3t(["predict", "--run", str(out), "--text", image, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["label"] in CLASSES
    assert s3t(["predict", "--run", str(out), "--text", str(tmp_path / "nope.png")]) == 2
    assert "image not found" in capsys.readouterr().err


def test_image_export_loads_in_plain_peft_with_the_same_logits(trained, tmp_path):
    import peft
    from transformers import AutoModelForImageClassification

    from s3t_train.export import export_served
    from s3t_train.serving import token_rows

    run = S3TRun(trained)
    paths = eval_dataset(run).texts
    manifest = export_served(run, tmp_path / "export")
    served = stages_logits(run, live_stages(run), paths)
    pixels = torch.cat(token_rows(run, paths))
    for i, entry in enumerate(manifest["shards"]):
        base = AutoModelForImageClassification.from_pretrained(tmp_path / "export" / manifest["base_model"])
        model = peft.PeftModel.from_pretrained(base, tmp_path / "export" / entry["adapter"]).eval()
        with torch.no_grad():
            torch.testing.assert_close(model(pixel_values=pixels).logits, served[i], rtol=1e-5, atol=1e-5)
