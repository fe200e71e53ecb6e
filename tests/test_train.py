"""Unit tests of the training backend with the tiny random BERT (fast, offline)."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from exactness_oracle import retrained_without  # noqa: E402
from s3t_train.audit import audit  # noqa: E402
from s3t_train.cache import ActivationCache  # noqa: E402
from s3t_train.checkpoints import load_node  # noqa: E402
from s3t_train.config import DataConfig, GroupLoRAConfig, RunConfig, SystemConfig, TrainingConfig, config_mismatches  # noqa: E402
from s3t_train.data import load_examples, split_shards_slices  # noqa: E402
from s3t_train.driver import train_run  # noqa: E402
from s3t_train.evaluation import eval_dataset, performance_profile  # noqa: E402
from s3t_train.layout import node_path  # noqa: E402
from s3t_train.model import layer_groups, load_grouped_model  # noqa: E402
from s3t_train.packed import PackedBatch, pad_batch  # noqa: E402
from s3t_train.retraining import retrain  # noqa: E402
from s3t_train.run import S3TRun  # noqa: E402
from s3t_train.run_folder import create_run  # noqa: E402
from s3t_train.serving import predict, predict_logits, shard_logits, stage_logits  # noqa: E402
from s3t_train.store import DataStore  # noqa: E402
from s3t_train.training import train_node  # noqa: E402




def tiny_config(data: Path, **system) -> RunConfig:
    return RunConfig(
        data=DataConfig(str(data), limit=48, split_seed=3),
        lora=GroupLoRAConfig(rank=4),
        training=TrainingConfig(model="tiny", epochs=2, batch_size=8, lr=5e-3, max_length=32, seed=11),
        system=SystemConfig(**{"shards": 2, "slices": 3, "budget": 3, **system}),
    )


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, shared_data) -> Path:
    run_dir = tmp_path_factory.mktemp("tiny") / "run"
    create_run(tiny_config(shared_data / "sst2"), run_dir)
    summary = train_run(run_dir, progress=False)
    assert summary.skipped == 0 and summary.slice_passes == summary.tree_cost
    return run_dir


# --- data -----------------------------------------------------------------------------
def test_sst2_ids_are_row_numbers_without_header(shared_data):
    ds = load_examples(shared_data / "sst2")
    lines = (shared_data / "sst2" / "train.tsv").read_text(encoding="utf-8").splitlines()
    assert lines[0].split("\t") == ["sentence", "label"]
    assert len(ds) == len(lines) - 1 and ds.label_names == ["0", "1"]
    for i in (0, 7, len(ds) - 1):
        text, label = lines[i + 1].split("\t")
        assert ds.texts[i] == text and ds.labels[i] == int(label)


def test_agnews_has_no_header_and_string_labels(shared_data):
    ds = load_examples(shared_data / "agnews", limit=30, seed=1)
    assert ds.label_names == ["Business", "Sci/Tech", "Sports", "World"]
    first = (shared_data / "agnews" / "train.tsv").read_text(encoding="utf-8").splitlines()[int(ds.ids[0])]
    assert first.split("\t")[0] == ds.texts[0]
    evalset = load_examples(shared_data / "agnews", "eval", label_names=ds.label_names, limit=5)
    assert len(evalset) == 5


def test_limit_is_seeded_and_keeps_ids(shared_data):
    a = load_examples(shared_data / "sst2", limit=20, seed=4)
    b = load_examples(shared_data / "sst2", limit=20, seed=4)
    c = load_examples(shared_data / "sst2", limit=20, seed=5)
    assert a.ids.tolist() == b.ids.tolist() != c.ids.tolist()
    assert np.all(np.diff(a.ids) > 0)


def test_split_covers_every_example_once_and_prior_groups_likely_deletions():
    ids = np.arange(60)
    shard_of, slice_of = split_shards_slices(ids, 2, 3, seed=0)
    counts = np.zeros((2, 3), int)
    np.add.at(counts, (shard_of, slice_of), 1)
    assert counts.tolist() == [[10, 10, 10], [10, 10, 10]]
    weights = np.where(ids % 6 == 0, 1.0, 0.0)  # 10 likely deletions
    shard_of, slice_of = split_shards_slices(ids, 2, 3, seed=0, deletion_weights=weights)
    likely = ids[weights > 0]
    assert len({(shard_of[i], slice_of[i]) for i in likely}) == 2  # one slice per shard holds them all
    with pytest.raises(ValueError, match="shards\\*slices"):
        split_shards_slices(np.arange(5), 2, 3)


def test_store_really_removes_and_is_idempotent(tmp_path, shared_data):
    ds = load_examples(shared_data / "sst2", limit=12, seed=0)
    shard_of, slice_of = split_shards_slices(ds.ids, 2, 2, seed=0)
    store = DataStore.create(tmp_path / "s.sqlite", ds, shard_of, slice_of)
    victim = int(ds.ids[3])
    assert store.remove(victim) == (int(shard_of[3]), int(slice_of[3]))
    assert store.remove(victim) == (int(shard_of[3]), int(slice_of[3]))
    assert victim not in store and store.deleted_ids() == {victim} and len(store) == 11
    with pytest.raises(KeyError, match=str(victim)):
        store.get([victim])
    store.close()
    assert ds.texts[3].encode() not in (tmp_path / "s.sqlite").read_bytes()  # secure_delete overwrote it


def test_store_creation_is_atomic_and_cleans_up(tmp_path, shared_data):
    ds = load_examples(shared_data / "sst2", limit=12, seed=0)
    shard_of, slice_of = split_shards_slices(ds.ids, 2, 2, seed=0)
    with pytest.raises(ValueError):
        DataStore.create(tmp_path / "s.sqlite", ds, shard_of[:3].astype(float) * np.nan, slice_of)  # fails mid-write
    assert list(tmp_path.iterdir()) == []  # neither the store nor its temporary file


def test_run_files_are_readable_by_all(trained_run):
    modes = {p.relative_to(trained_run): p.stat().st_mode & 0o777 for p in trained_run.rglob("*") if p.is_file()}
    assert any(p.suffix == ".safetensors" for p in modes) and (Path("store.sqlite") in modes)
    umask = os.umask(0)
    os.umask(umask)
    assert set(modes.values()) == {0o644 & ~umask}, modes


# --- configuration and model ----------------------------------------------------------
def test_config_json_round_trip_and_mismatch_names_fields(tmp_path):
    cfg = tiny_config(tmp_path)
    again = RunConfig.from_json(cfg.to_json())
    assert again == cfg and again.fingerprint() == cfg.fingerprint()
    other = tiny_config(tmp_path, budget=2)
    other.training.epochs = 3
    assert config_mismatches(cfg, other) == ["system.budget", "training.epochs"]
    with pytest.raises(ValueError, match="group_order"):
        GroupLoRAConfig(group_order="sideways")
    with pytest.raises(ValueError, match="epochs must be an integer in \\[1, inf\\]"):
        TrainingConfig(epochs=0)


def test_layer_groups_orders_and_limits():
    assert layer_groups(6, 3) == [[4, 5], [2, 3], [0, 1]]
    assert layer_groups(6, 3, "bottom-up") == [[0, 1], [2, 3], [4, 5]]
    assert layer_groups(4, 3) == [[3], [2], [0, 1]]
    with pytest.raises(ValueError, match="L must be an integer in \\[1, 4\\]"):
        layer_groups(4, 5)
    with pytest.raises(ValueError, match="L \\(slices\\) must be an integer in \\[1, 4\\]"):
        load_grouped_model("tiny", 2, L=5)


def test_untrained_groups_are_exact_identity():
    model = load_grouped_model("tiny", 2, L=2, seed=0)
    ids = torch.tensor([[101, 2023, 2003, 102]])
    mask = torch.ones_like(ids)
    before = model.logits(ids, mask)
    model.prepare_stage(1, seed=5)  # fresh adapters: B = 0
    model.prepare_stage(2, seed=6)
    assert torch.equal(model.logits(ids, mask), before)


def _random_rows(lengths: list[int], seed: int) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.cat([torch.tensor([[101]]), torch.randint(1000, 20000, (1, n - 2), generator=generator), torch.tensor([[102]])], dim=1) for n in lengths]


def test_packed_batch_layout_and_rejects_empty_rows():
    batch = PackedBatch.of_lengths([3, 1, 2])
    assert batch.first_token.tolist() == [0, 3, 4] and batch.token_index.tolist() == [0, 1, 2, 3, 6, 7]
    padded = torch.arange(18.0).view(3, 3, 2)
    packed = batch.unpad(padded)
    assert torch.equal(packed, torch.tensor([[0.0, 1], [2, 3], [4, 5], [6, 7], [12, 13], [14, 15]]))
    parts = batch.split(packed)
    assert [tuple(t.shape) for t in parts] == [(1, 3, 2), (1, 1, 2), (1, 2, 2)]
    assert all(torch.equal(part[0], padded[b, : part.shape[1]]) for b, part in enumerate(parts))
    with pytest.raises(ValueError, match="lengths"):
        PackedBatch.of_lengths([2, 0])


@pytest.mark.parametrize("name", ["tiny", "minilm"])
def test_packed_forward_equals_padded_peft_forward(name):
    """Padding-free logits and gradients equal the padded HF/peft forward (float tolerance)."""
    model = load_grouped_model(name, 3, L=2, seed=0)
    assert model.supports_layer_cache
    trainable = model.prepare_stage(2, seed=4)
    with torch.no_grad():  # non-zero adapters in both groups, so LoRA takes part everywhere
        generator = torch.Generator().manual_seed(9)
        for group in model._group_params:
            for p in group.values():
                p.add_(0.05 * torch.randn(p.shape, generator=generator))
    rows = _random_rows([7, 19, 3, 12, 19, 5], seed=1)
    input_ids, mask = pad_batch(rows)
    target = torch.tensor([0, 2, 1, 1, 0, 2])
    padded = model.logits(input_ids, mask)
    packed = model.packed_logits(rows)
    torch.testing.assert_close(packed, padded, rtol=1e-5, atol=1e-6)
    entry = model.entry_layer(2)  # the lower group: from cached states at a middle layer
    states = model.hidden_entering(rows, entry)
    assert [s.shape[1] for s in states] == [7, 19, 3, 12, 19, 5]
    from_layer = model.logits_from_layer(torch.cat(states, dim=1)[0], PackedBatch.of_lengths([7, 19, 3, 12, 19, 5]), entry)
    torch.testing.assert_close(from_layer, padded, rtol=1e-5, atol=1e-6)
    grads = [torch.autograd.grad(torch.nn.functional.cross_entropy(logits, target), trainable) for logits in (padded, packed, from_layer)]
    assert any(g.abs().max() > 1e-4 for g in grads[0])  # a real comparison, not zeros against zeros
    for other in grads[1:]:
        for g_padded, g_other in zip(grads[0], other):
            torch.testing.assert_close(g_other, g_padded, rtol=1e-5, atol=1e-6)


# --- training -------------------------------------------------------------------------
@pytest.mark.parametrize("order", ["top-down", "bottom-up"])
def test_cached_stage_equals_plain_peft_stage(tmp_path, shared_data, order):
    """The activation cache changes the speed, not the result (float tolerance)."""
    cfg = tiny_config(shared_data / "sst2", shards=1, slices=2, budget=1)
    cfg.lora.group_order = order
    states = {}
    for use_cache in (True, False):
        run_dir = tmp_path / f"run-{use_cache}"
        create_run(cfg, run_dir)
        train_node(run_dir, 0, (0,), use_cache=use_cache)
        result = train_node(run_dir, 0, (0, 1), use_cache=use_cache)
        states[use_cache] = load_node(node_path(run_dir, 0, (0, 1)))
    assert result.examples == 48 and result.slice_passes == 4
    for part in ("group", "head"):
        for name, value in states[True].__dict__[part].items():
            torch.testing.assert_close(value, states[False].__dict__[part][name], rtol=1e-4, atol=1e-5)


def test_same_prefix_trained_anywhere_gives_identical_weights(trained_run, tmp_path):
    other = tmp_path / "elsewhere"
    create_run(RunConfig.from_json((trained_run / "config.json").read_text()), other)
    train_node(other, 1, (2,), cache=ActivationCache())
    train_node(other, 1, (2, 0))
    a, b = load_node(node_path(trained_run, 1, (2, 0))), load_node(node_path(other, 1, (2, 0)))
    assert a.seen_ids == b.seen_ids
    assert all(torch.equal(a.group[n], b.group[n]) for n in a.group)
    assert all(torch.equal(a.head[n], b.head[n]) for n in a.head)


def test_budget_above_L_trains_the_prefix_tree_once(tmp_path, shared_data):
    from s3t_sim.selection import training_cost

    cfg = tiny_config(shared_data / "sst2", shards=1, slices=3, budget=5)
    cfg.training.epochs = 1
    create_run(cfg, tmp_path / "run")
    summary = train_run(tmp_path / "run", progress=False)
    sequences = json.loads((tmp_path / "run" / "sequences.json").read_text())[0]
    cost = training_cost(sequences)
    assert summary.slice_passes == summary.tree_cost == cost["shared_cost"] < cost["separate_cost"] == 5 * 6
    assert len(summary.trained) == cost["distinct_prefixes"]


def test_interrupted_train_resumes_and_foreign_config_is_refused(run_copy, shared_data):
    path = node_path(run_copy, 0, (1, 2))
    path.unlink()  # as if the run had been killed before this node
    summary = train_run(run_copy, progress=False)
    assert [(r.shard, r.prefix) for r in summary.trained] == [(0, (1, 2))]
    assert summary.skipped == 17
    other = tiny_config(shared_data / "sst2")
    other.training.lr = 1e-2
    with pytest.raises(ValueError, match="training.lr"):
        create_run(other, run_copy)
    with pytest.raises(ValueError, match="another configuration"):
        load_node(path, fingerprint=other.fingerprint())


# --- deletion, serving, audit, retraining ---------------------------------------------
def test_delete_is_exact_bitwise(run_copy, shared_data, tmp_path):
    """After a deletion the served model equals one trained from scratch on the clean prefix."""
    run = S3TRun(run_copy)
    texts = eval_dataset(run, limit=16, seed=2).texts
    first, second = (int(s) for s in run.sequences[0][0][:2])
    victim = run.store.slice_ids(0, second)[0]
    report = run.deletions.delete(victim)
    assert (report.shard, report.slice) == (0, second)
    served = run.deletions.served_stages()[0]
    assert len(served) == 2 and second not in served  # another rotation keeps 2 clean slices
    assert report.served_prefix == run.deletions.served_prefix() == [2, 3]
    assert report.deactivated == [p for p in run.deletions.stages[0] if second in p]
    served_logits = shard_logits(run, 0, texts)

    fresh = retrained_without(run, 0, served, victim, tmp_path / "scratch")
    assert torch.equal(stage_logits(fresh, 0, served, texts), served_logits)
    assert audit(run)["ok"]


def test_delete_removes_cached_activations_and_is_idempotent(run_copy):
    run = S3TRun(run_copy)
    retrained_ids = run.store.slice_ids(1, 0)
    victim = retrained_ids[0]
    run.deletions.delete(victim)
    retrain(run, 1)  # fills the cache with the shard's (clean) examples
    assert set(retrained_ids[1:]) <= run.cache.example_ids() and victim not in run.cache.example_ids()
    victim2 = retrained_ids[1]
    report = run.deletions.delete(victim2)
    assert victim2 not in run.cache.example_ids() and victim2 not in run.store
    again = run.deletions.delete(victim2)
    assert again.already_deleted and again.served_prefix == report.served_prefix
    assert run.deletions.journal.entries() == [victim, victim2]
    with pytest.raises(ValueError, match="id must be the id of a training example"):
        run.deletions.delete(10**9)


def test_journal_replay_after_crash_gives_same_state(run_copy, tmp_path):
    twin = tmp_path / "twin"
    shutil.copytree(run_copy, twin)
    run = S3TRun(run_copy)
    victim = run.store.slice_ids(1, 1)[2]
    run.deletions.delete(victim)
    crashed = S3TRun(twin)
    crashed.deletions.journal.append(victim)  # journal written, then the process died before acting
    del crashed
    replayed = S3TRun(twin)
    assert victim not in replayed.store and replayed.deletions.deleted == run.deletions.deleted
    assert replayed.deletions.served_prefix() == run.deletions.served_prefix() and replayed.deletions.served_stages() == run.deletions.served_stages()
    texts = ["a fine film", "dull and tired"]
    assert torch.equal(predict_logits(replayed, texts), predict_logits(run, texts))


def test_dead_shard_is_excluded_then_retrained(run_copy):
    run = S3TRun(run_copy)
    texts = ["a moving story", "not worth it"]
    for slice_ in range(3):  # hit every first slice of shard 0
        run.deletions.delete(run.store.slice_ids(0, slice_)[0])
    assert run.deletions.served_prefix()[0] == 0 and run.deletions.dead_shards() == [0]
    assert torch.equal(predict_logits(run, texts), shard_logits(run, 1, texts))
    majority = predict(run, texts, vote="majority")
    assert majority == predict(run, texts)  # one live shard: the vote is its argmax
    for slice_ in range(3):
        run.deletions.delete(run.store.slice_ids(1, slice_)[0])
    with pytest.raises(ValueError, match="every shard is dead"):
        predict(run, texts)
    result = retrain(run, 0)
    assert len(result["stages_retrained"]) == 9 and result["served_prefix"] == [3, 0]
    assert audit(run)["ok"] and audit(run)["active_stages_checked"] == 9
    reopened = S3TRun(run_copy)
    assert reopened.deletions.served_prefix() == [3, 0]


def test_retrain_touches_only_stages_that_saw_deleted_data(run_copy):
    run = S3TRun(run_copy)
    last = int(run.sequences[1][0][2])
    run.deletions.delete(run.store.slice_ids(1, last)[0])
    result = retrain(run, 1)
    assert sorted(map(tuple, result["stages_retrained"])) == sorted(p for p in run.deletions.stages[1] if last in p)
    assert result["served_prefix"] == [3, 3] and audit(run)["ok"]


def test_audit_detects_a_stage_that_saw_deleted_data(run_copy):
    run = S3TRun(run_copy)
    victim = run.store.slice_ids(0, 0)[0]
    run.deletions.delete(victim)
    run.deletions.hit[:] = False  # simulate a bug: forget the deactivation
    report = audit(run)
    assert not report["ok"] and all(victim in v["deleted_ids_seen"] for v in report["violations"])


def test_performance_profile_csv(run_copy, tmp_path):
    run = S3TRun(run_copy)
    rows = performance_profile(run, 0, path=tmp_path / "f.csv", limit=20)
    assert [k for k, _ in rows] == [0, 1, 2, 3]
    lines = (tmp_path / "f.csv").read_text().splitlines()
    assert lines[0] == "k,accuracy" and len(lines) == 5
    assert all(0 <= float(line.split(",")[1]) <= 1 for line in lines[1:])


def test_cli_train_delete_eval_audit(tmp_path, shared_data, capsys):
    from analysis.cli import main

    out = tmp_path / "cli"
    args = ["train", "--data", str(shared_data / "sst2"), "--shards", "1", "--slices", "2", "--budget", "2",
            "--epochs", "1", "--model", "tiny", "--limit", "20", "--out", str(out)]
    assert main(args) == 0
    assert "prefix tree 6" in capsys.readouterr().out
    victim = DataStore(out / "store.sqlite").slice_ids(0, 1)[0]
    assert main(["delete", "--run", str(out), "--id", str(victim)]) == 0
    capsys.readouterr()
    assert main(["eval", "--run", str(out), "--limit", "10", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["served_prefix"] == [1] and result["examples"] == 10 and 0 <= result["accuracy"] <= 1
    assert main(["audit", "--run", str(out)]) == 0
    assert capsys.readouterr().out.startswith("audit OK: 1 active stages checked against 1 deleted ids")
    assert main(["predict", "--run", str(out), "--text", "good"]) == 0
    assert capsys.readouterr().out.split("\t")[0] in ("0", "1")
    assert main(["train", "--data", str(shared_data / "sst2"), "--slices", "9", "--model", "tiny", "--out", str(tmp_path / "x")]) == 2
    assert "L (slices) must be an integer in [1, 4]" in capsys.readouterr().err
