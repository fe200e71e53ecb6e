"""`datasets` objects through the Python API, and hub sets with their own split names
(the hub itself is replaced by in-memory sets here: the tests run offline)."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")
datasets = pytest.importorskip("datasets")

from s3t_train.audit import audit  # noqa: E402
from s3t_train.config import DataConfig, GroupLoRAConfig, RunConfig, SystemConfig, TrainingConfig  # noqa: E402
from s3t_train.data import load_examples  # noqa: E402
from s3t_train.driver import train_run  # noqa: E402
from s3t_train.evaluation import eval_dataset, evaluate  # noqa: E402
from s3t_train.hub import hub_split  # noqa: E402
from s3t_train.run import S3TRun  # noqa: E402
from s3t_train.run_folder import create_run  # noqa: E402

NAMES = ["World", "Sports", "Business"]
WORDS = ["match", "goal", "market", "stock", "election", "minister", "team", "price"]


def news(n: int, offset: int = 0) -> "datasets.Dataset":
    texts = [f"{WORDS[(i + offset) % 8]} {WORDS[(3 * i + offset) % 8]} news" for i in range(n)]
    features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=NAMES)})
    return datasets.Dataset.from_dict({"text": texts, "label": [(i + offset) % 3 for i in range(n)]}, features=features)


def test_hub_split_uses_the_sets_own_names():
    assert hub_split(["train", "test"], "eval") == "test"  # AG News
    assert hub_split(["train", "validation", "test"], "eval") == "validation"
    assert hub_split(["train", "test"], "train") == "train"
    with pytest.raises(ValueError, match=r"no validation/valid/dev/test split for 'eval'; its splits are \['train'\]"):
        hub_split(["train"], "eval")


def test_hub_set_reads_train_and_its_held_out_split(monkeypatch):
    splits = {"train": news(12), "test": news(6, offset=1)}
    calls = []
    monkeypatch.setattr(datasets, "get_dataset_split_names", lambda *args: list(splits))
    monkeypatch.setattr(datasets, "load_dataset", lambda *args, split: calls.append((args, split)) or splits[split])
    train = load_examples("fancy/ag_news_like:default")
    held_out = load_examples("fancy/ag_news_like:default", "eval", label_names=train.label_names)
    assert calls == [(("fancy/ag_news_like", "default"), "train"), (("fancy/ag_news_like", "default"), "test")]
    assert train.label_names == sorted(NAMES) and len(held_out) == 6
    assert [train.label_names[y] for y in train.labels] == [NAMES[i % 3] for i in range(12)]
    with pytest.raises(ValueError, match="text_column must name a column of the dataset"):
        load_examples("fancy/ag_news_like", text_column="body")


def test_dataset_object_trains_deletes_and_evaluates(tmp_path):
    config = RunConfig(
        data=DataConfig("my-news (datasets.Dataset)"),
        lora=GroupLoRAConfig(rank=2),
        training=TrainingConfig(model="tiny", epochs=1, batch_size=6, max_length=16, seed=1),
        system=SystemConfig(shards=2, slices=2, budget=2),
    )
    create_run(config, tmp_path / "run", dataset=news(24))
    train_run(tmp_path / "run", progress=False)
    run = S3TRun(tmp_path / "run")
    assert run.label_names == sorted(NAMES) and len(run.store) == 24
    assert run.store.get([5]) == ([news(24)[5]["text"]], [sorted(NAMES).index(NAMES[5 % 3])])  # id = row number
    run.deletions.delete(5)
    assert audit(run)["ok"] and 5 not in run.store
    result = evaluate(run, eval_dataset(run, source=news(9, offset=2)))
    assert result["examples"] == 9 and 0 <= result["accuracy"] <= 1
    with pytest.raises(ValueError, match="task 'image' reads a local folder"):
        load_examples(news(3), task="image")
