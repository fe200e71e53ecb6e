"""Reliability of a run folder (issue 14): races, poisoned journals, damaged checkpoints,
erasure of what was trained on deleted data. Tiny random BERT, offline, seconds each.

The long fault-injection loops live in ``tests/test_reliability_long.py`` (marker
``reliability_long``).
"""
from __future__ import annotations

import contextlib
import json
import threading
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from s3t_train import retraining  # noqa: E402
from s3t_train.audit import audit  # noqa: E402
from s3t_train.checkpoints import DamagedCheckpoint, load_node, node_problem, read_node_metadata, save_node  # noqa: E402
from s3t_train.config import DataConfig, GroupLoRAConfig, RunConfig, SystemConfig, TrainingConfig  # noqa: E402
from s3t_train.driver import train_run  # noqa: E402
from s3t_train.journal import DeletionJournal, JournalError, encode_record  # noqa: E402
from s3t_train.layout import JOURNAL_FILE, node_path  # noqa: E402
from s3t_train.retraining import retrain  # noqa: E402
from s3t_train.run import S3TRun  # noqa: E402
from s3t_train.run_folder import create_run, pending_nodes  # noqa: E402
from s3t_train.run_lock import RunLock  # noqa: E402
from s3t_train.serving import predict_logits  # noqa: E402



def tiny_config(data: Path) -> RunConfig:
    return RunConfig(
        data=DataConfig(str(data), limit=48, split_seed=3),
        lora=GroupLoRAConfig(rank=4),
        training=TrainingConfig(model="tiny", epochs=1, batch_size=8, lr=5e-3, max_length=32, seed=11),
        system=SystemConfig(shards=2, slices=3, budget=3),
    )


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, shared_data) -> Path:
    run_dir = tmp_path_factory.mktemp("rel") / "run"
    create_run(tiny_config(shared_data / "sst2"), run_dir)
    train_run(run_dir, progress=False)
    return run_dir


def node_files(run_dir: Path) -> list[Path]:
    return sorted(run_dir.glob("shards/*/nodes/*.safetensors"))


def files_trained_on(run_dir: Path, ids: set[int]) -> list[Path]:
    return [p for p in node_files(run_dir) if ids & set(read_node_metadata(p)["seen_ids"])]


# --- item 1: the run lock, delete racing retrain ----------------------------------------
def test_lock_is_exclusive_between_holders(tmp_path):
    first, second = RunLock(tmp_path), RunLock(tmp_path)
    order = []

    def take_second():
        with second.hold():
            order.append("second")

    with first.hold():
        worker = threading.Thread(target=take_second)
        worker.start()
        worker.join(0.3)
        order.append("first done")
    worker.join(5)
    assert order == ["first done", "second"]
    with pytest.raises(RuntimeError, match="cannot be upgraded"):
        with first.hold(shared=True):
            with first.hold():
                pass


def test_lock_in_a_missing_folder_is_a_one_line_error(tmp_path):
    with pytest.raises(ValueError, match="must be a writable folder"):
        with RunLock(tmp_path / "absent").hold():
            pass


def test_delete_during_retrain_is_applied_to_what_the_retrain_produces(run_copy, monkeypatch):
    """Issue 14 item 1: a deletion that arrives while a retrain runs (here, right after its
    first new stage, which saw the example) must not be served by the retrained shard."""
    run = S3TRun(run_copy)
    first = int(run.sequences[0][0][0])
    a, b = run.store.slice_ids(0, first)[:2]
    run.deletions.delete(a)
    real_train_node = retraining.train_node
    racer = {}

    def train_then_race(*args, **kwargs):
        result = real_train_node(*args, **kwargs)
        if "thread" not in racer:  # after the first new stage (it saw b): another process deletes b
            racer["thread"] = threading.Thread(target=lambda: racer.setdefault("report", S3TRun(run_copy).deletions.delete(b)))
            racer["thread"].start()
            racer["thread"].join(1.0)  # old code: done by now; with the lock: waits for this stage
        return result

    real_hold = run.lock.hold

    @contextlib.contextmanager
    def hold_after_the_racer(shared: bool = False):
        # Deterministic interleaving on a loaded machine: once the racer waits for the lock,
        # the retrain takes it again only after the racer's deletion is recorded.
        if "thread" in racer:
            racer["thread"].join(30)
        with real_hold(shared=shared):
            yield

    monkeypatch.setattr(retraining, "train_node", train_then_race)
    monkeypatch.setattr(run.lock, "hold", hold_after_the_racer)
    result = retrain(run, 0)
    racer["thread"].join(30)
    assert not racer["thread"].is_alive() and not racer["report"].already_deleted
    assert result["stage_trainings"] > len(result["stages_retrained"])  # the stage that saw b was rebuilt
    reopened = S3TRun(run_copy)
    assert reopened.deletions.deleted == {a, b}
    report = audit(reopened)
    assert report["ok"], report
    assert files_trained_on(run_copy, {a, b}) == []
    assert reopened.deletions.served_prefix()[0] == 3


def test_concurrent_deletes_are_all_recorded(run_copy):
    run = S3TRun(run_copy)
    ids = run.store.slice_ids(1, 0)[:4] + run.store.slice_ids(1, 2)[:4]
    threads = [threading.Thread(target=lambda i=i: S3TRun(run_copy).deletions.delete(i)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    reopened = S3TRun(run_copy)
    assert sorted(reopened.deletions.journal.entries()) == sorted(ids)
    assert audit(reopened)["ok"]


# --- item 4: the journal ----------------------------------------------------------------
@pytest.mark.parametrize("bad", ['"id": 1e999', '"id": 1000000000000000000000000000000', '"id": 165.9', '"id": true', '"id": -1', '"id": "7"'])
def test_poisoned_journal_record_is_reported_not_coerced(run_copy, bad, capsys):
    from analysis.cli import main

    good = encode_record(5, 1.0)
    (run_copy / JOURNAL_FILE).write_text(good + '{"op": "delete", ' + bad + ', "time": 1.0, "check": "0"}\n')
    with pytest.raises(JournalError, match="line 2 is damaged"):
        S3TRun(run_copy)
    assert main(["audit", "--run", str(run_copy)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "journal.jsonl line 2" in err


def test_record_with_wrong_checksum_is_refused(run_copy):
    line = json.loads(encode_record(5, 1.0))
    line["id"] = 6  # edited without recomputing the checksum
    (run_copy / JOURNAL_FILE).write_text(json.dumps(line) + "\n")
    with pytest.raises(JournalError, match="checksum"):
        S3TRun(run_copy)


@pytest.mark.parametrize("bad", [10**30, True, 165.9, -1, "3"])
def test_invalid_ids_are_refused_at_write(tmp_path, bad):
    journal = DeletionJournal(tmp_path / "j.jsonl")
    with pytest.raises(ValueError, match=r"id must be an integer in \[0, 2\*\*63 - 1\]"):
        journal.append(bad)
    assert not (tmp_path / "j.jsonl").exists() or (tmp_path / "j.jsonl").read_text() == ""


def test_torn_tail_is_repaired_and_reported_then_next_delete_parses(run_copy, capsys):
    from analysis.cli import main

    run = S3TRun(run_copy)
    first, second = run.store.slice_ids(1, 1)[:2]
    run.deletions.delete(first)
    run.close()
    with open(run_copy / JOURNAL_FILE, "a") as f:
        f.write(encode_record(second, 2.0)[:25])  # killed mid-append: never acknowledged
    assert main(["delete", "--run", str(run_copy), "--id", str(second)]) == 0
    captured = capsys.readouterr()
    assert "removed a torn last record" in captured.err and "not accepted" in captured.err
    reopened = S3TRun(run_copy)
    assert reopened.deletions.journal.entries() == [first, second] and reopened.deletions.notice is None


# --- item 5: multi-id deletes -------------------------------------------------------------
def test_multi_id_delete_validates_everything_first(run_copy, capsys):
    from analysis.cli import main

    run = S3TRun(run_copy)
    victim = run.store.slice_ids(0, 0)[0]
    run.close()
    for bad in ("99999999", str(10**29)):
        assert main(["delete", "--run", str(run_copy), "--id", str(victim), bad]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "1 of 2 ids are not" in err and "nothing was deleted" in err
    reopened = S3TRun(run_copy)
    assert reopened.deletions.deleted == set() and victim in reopened.store
    assert reopened.deletions.journal.entries() == []
    assert main(["delete", "--run", str(run_copy), "--id", str(victim), str(victim), "--json"]) == 0
    reports = json.loads(capsys.readouterr().out)
    assert [r["already_deleted"] for r in reports] == [False, True]


# --- item 6: nothing trained on deleted data stays on disk --------------------------------
def test_deletion_erases_every_file_trained_on_the_example(run_copy):
    run = S3TRun(run_copy)
    victims = {run.store.slice_ids(0, 1)[0], run.store.slice_ids(1, 2)[3]}
    before = files_trained_on(run_copy, victims)
    assert len(before) >= 2
    reports = run.deletions.delete_many(sorted(victims))
    assert sum(r.erased_files for r in reports) == len(before)
    assert files_trained_on(run_copy, victims) == []
    assert audit(run)["ok"]
    texts = ["fine", "awful"]
    assert predict_logits(run, texts).shape == (2, 2)  # the served stages are all still there


def test_audit_finds_a_tainted_file_and_a_forgotten_deactivation(run_copy, tmp_path):
    run = S3TRun(run_copy)
    victim = run.store.slice_ids(0, 0)[0]
    tainted = files_trained_on(run_copy, {victim})
    kept = {p: p.read_bytes() for p in tainted}
    run.deletions.delete(victim)
    for p, data in kept.items():  # a file restored from a backup
        p.write_bytes(data)
    report = audit(run)
    assert not report["ok"] and len(report["tainted_files"]) == len(tainted)
    run.deletions.hit[:] = False  # simulate a bug: forget the deactivation
    report = audit(run)
    assert report["violations"] and all(victim in v["deleted_ids_seen"] for v in report["violations"])


def test_crash_between_journal_and_erasure_is_finished_on_open(run_copy):
    run = S3TRun(run_copy)
    victim = run.store.slice_ids(1, 0)[1]
    run.deletions.journal.append(victim)  # journalled, then the process died
    run.close()
    assert files_trained_on(run_copy, {victim})
    reopened = S3TRun(run_copy)
    assert files_trained_on(run_copy, {victim}) == [] and victim not in reopened.store and audit(reopened)["ok"]


# --- item 3: damaged checkpoints ----------------------------------------------------------
def damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "empty":
        path.write_bytes(b"")
    elif how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "garbled":
        path.write_bytes(b"\x00garbage" * 40)
    elif how == "flipped":  # one byte of tensor data (the end of the file)
        path.write_bytes(data[:-3] + bytes([data[-3] ^ 0x10]) + data[-2:])
    elif how == "metadata":  # a digit of the provenance
        i = data.index(b'"seen_ids":"[') + 13
        digit = data[i : i + 1]
        path.write_bytes(data[:i] + (b"9" if digit != b"9" else b"8") + data[i + 1 :])


@pytest.mark.parametrize("how", ["empty", "truncated", "garbled", "flipped", "metadata"])
def test_damaged_checkpoint_is_detected_everywhere_and_rebuilt(run_copy, how, capsys):
    from analysis.cli import main

    run = S3TRun(run_copy)
    stage = run.deletions.served_stages()[0]
    path = node_path(run_copy, 0, stage[:1])
    original = path.read_bytes()
    run.close()
    damage(path, how)
    assert node_problem(path) is not None
    with pytest.raises(DamagedCheckpoint, match=path.name):
        load_node(path)
    for command in (["predict", "--text", "good"], ["audit"], ["eval", "--limit", "4"]):
        assert main([command[0], "--run", str(run_copy), *command[1:]]) == 2 or command[0] == "audit"
        err = capsys.readouterr().err
        assert "Traceback" not in err
    assert main(["audit", "--run", str(run_copy), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["damaged_checkpoints"][0]["stage"] == list(stage[:1])
    assert pending_nodes(run_copy)[0] == (0, stage[:1])  # `train` resume rebuilds it
    result = retrain(S3TRun(run_copy), 0)
    assert list(stage[:1]) in result["stages_retrained"]
    assert path.read_bytes() == original  # rebuilt bit for bit (deterministic training)
    assert audit(S3TRun(run_copy))["ok"]


def test_audit_checks_the_configuration_fingerprint(run_copy):
    run = S3TRun(run_copy)
    path = node_path(run_copy, 1, run.deletions.served_stages()[1][:1])
    node = load_node(path)
    node.fingerprint = "0" * len(node.fingerprint)
    save_node(path, node)
    report = audit(run)
    assert not report["ok"] and report["foreign_fingerprints"][0]["shard"] == 1


# --- item 8/9: train arguments that cannot finish are refused in one line, nothing written -----
@pytest.mark.parametrize("extra, message", [
    (["--epochs", str(10**12)], "epochs must be an integer in [1, 10000]"),
    (["--lr", "1e308"], "lr must be a number in (0, 10]"),
    (["--model", "/nonexistent"], "model must be 'minilm', 'tiny', a hub name or a local folder"),
    (["--out", ""], "out must name a run folder"),
])
def test_train_refuses_settings_that_cannot_finish(shared_data, tmp_path, capsys, extra, message):
    from analysis.cli import main

    out = tmp_path / "never"
    args = ["train", "--data", str(shared_data / "sst2"), "--model", "tiny", "--limit", "20", "--shards", "1",
            "--slices", "2", "--budget", "2", "--out", str(out), *extra]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not out.exists()


def test_train_out_naming_a_file_is_refused(shared_data, tmp_path, capsys):
    from analysis.cli import main

    existing = tmp_path / "file.txt"
    existing.write_text("keep me")
    args = ["train", "--data", str(shared_data / "sst2"), "--model", "tiny", "--limit", "20", "--shards", "1",
            "--slices", "2", "--budget", "2", "--out", str(existing)]
    assert main(args) == 2
    assert "out must be a folder that can be created" in capsys.readouterr().err and existing.read_text() == "keep me"


def test_temporary_files_of_a_killed_process_are_removed_on_open(run_copy):
    leftovers = [run_copy / ".store.sqlite.123.tmp", run_copy / "shards" / "0" / "nodes" / ".0.safetensors.abc.tmp"]
    for path in leftovers:
        path.write_bytes(b"half a file")
    run = S3TRun(run_copy)
    assert run.temporary_files_removed == 2 and not any(p.exists() for p in leftovers)


@pytest.mark.parametrize("name, content, message", [
    ("a.tsv", "sentence\tlabel\ngood film\t1\nno tab here\nbad\t0\n", "data row 1 has 1 column(s), 2 needed"),
    ("b.jsonl", '{"sentence": "x", "label": "1"}\n{"sentence": "y"}\n', "line 2: no 'label' key"),
    ("c.tsv", b"sentence\tlabel\ngo\xffod\t1\n", "is not UTF-8 text"),
    ("d.tsv", "sentence\tlabel\ngood\t1\na tab\tinside\t0\n", "data row 1 has 3 column(s), 2 needed"),
    ("e.tsv", "sentence\tlabel\ngood\t1\nbad\t1\n", "at least 2 classes"),
    ("f.tsv", "sentence\tlabel\ngood\t1\nbad\t0\nmeh\tpositive\n", "mix numbers"),
    ("g.tsv", "sentence\tlabel\ngood\t1\nbad\t\n", "data row 1 has an empty label"),
    ("h.tsv", "sentence\tlabel\n \t1\nbad\t0\n", "data row 0 has an empty text"),
])
def test_bad_data_rows_are_one_line_errors_naming_the_file(tmp_path, capsys, name, content, message):
    from analysis.cli import main

    data = tmp_path / name
    data.write_bytes(content if isinstance(content, bytes) else content.encode())
    out = tmp_path / "out"
    assert main(["train", "--data", str(data), "--model", "tiny", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and str(data) in err
    assert not out.exists()  # no half-made run folder left behind


@pytest.mark.parametrize("edit", ["{}", "shards"])
def test_edited_config_is_refused_in_one_line(run_copy, capsys, edit):
    from analysis.cli import main

    config = run_copy / "config.json"
    if edit == "{}":
        config.write_text("{}")
    else:
        payload = json.loads(config.read_text())
        payload["system"]["shards"] = 5
        config.write_text(json.dumps(payload))
    for command in ("audit", "predict"):
        extra = ["--text", "x"] if command == "predict" else []
        assert main([command, "--run", str(run_copy), *extra]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(run_copy) in err
