"""Example ids defined once (issue 14 items 2 and 7, issue 13 --id-column and `s3t ids`).

Each test fails on the code before this change: ids skipped blank lines, a headerless CSV
lost its first row, a label column of texts became hundreds of classes, user keys did not exist.
Runs are created without training (``create_run`` writes the store, the split and the
membership files), so deletion is exercised end to end in milliseconds.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch")

from analysis.cli import main  # noqa: E402
from s3t_train.config import DataConfig, RunConfig, SystemConfig, TrainingConfig  # noqa: E402
from s3t_train.data import load_examples, read_deletion_weights  # noqa: E402
from s3t_train.journal import DeletionJournal, encode_record  # noqa: E402
from s3t_train.run import S3TRun  # noqa: E402
from s3t_train.run_folder import create_run  # noqa: E402

WORDS = ["good", "bad", "great", "awful", "fine", "poor"]


def _rows(n: int) -> list[tuple[str, str]]:
    return [(f"{WORDS[i % 6]} film number {i}", str(i % 2)) for i in range(n)]


def _config(path, **data) -> RunConfig:
    return RunConfig(data=DataConfig(str(path), **data), training=TrainingConfig(model="tiny"), system=SystemConfig(2, 2, 1))


def test_blank_lines_keep_their_index_and_delete_removes_that_record(tmp_path):
    lines = ["sentence\tlabel"] + [f"{t}\t{y}" for t, y in _rows(12)]
    lines.insert(1 + 3, "")  # a blank record at index 3: the row after it is record 4
    lines.insert(1 + 7, "   ")
    (tmp_path / "d.tsv").write_text("\n".join(lines) + "\n")
    ds = load_examples(tmp_path / "d.tsv")
    records = lines[1:]
    for i, text in zip(ds.ids, ds.texts):
        assert records[i].split("\t")[0] == text  # the id IS the record index after the header
    assert 3 not in ds.ids and 7 not in ds.ids and len(ds) == 12
    create_run(_config(tmp_path / "d.tsv"), tmp_path / "run")
    assert main(["delete", "--run", str(tmp_path / "run"), "--id", "3"]) == 2  # a blank record holds no example
    assert main(["delete", "--run", str(tmp_path / "run"), "--id", "4"]) == 0
    run = S3TRun(tmp_path / "run")
    try:
        held = set(run.store.get([int(i) for i in ds.ids if i != 4])[0])
        assert records[4].split("\t")[0] not in held and len(held) == 11  # record 4's text is gone, nothing else
    finally:
        run.close()


def test_csv_without_header_keeps_its_first_row(tmp_path):
    rows = _rows(10)
    (tmp_path / "d.csv").write_text("".join(f"{t},{y}\n" for t, y in rows))
    ds = load_examples(tmp_path / "d.csv")
    assert ds.texts == [t for t, _ in rows] and list(ds.ids) == list(range(10))


def test_quoted_field_over_two_lines_is_one_record(tmp_path):
    rows = _rows(8)
    body = "".join(f'"{t}\nsecond line",{y}\n' if i == 2 else f"{t},{y}\n" for i, (t, y) in enumerate(rows))
    (tmp_path / "d.csv").write_text("text,label\n" + body)
    ds = load_examples(tmp_path / "d.csv")
    assert list(ds.ids) == list(range(8)) and ds.texts[3] == rows[3][0] and ds.texts[2].endswith("second line")


def test_jsonl_comments_and_blank_lines_keep_their_index(tmp_path):
    lines = [json.dumps({"text": t, "label": y}) for t, y in _rows(6)]
    lines[1:1] = ["# a comment", ""]
    (tmp_path / "d.jsonl").write_text("\n".join(lines) + "\n")
    ds = load_examples(tmp_path / "d.jsonl")
    assert list(ds.ids) == [0, 3, 4, 5, 6, 7] and ds.texts[1] == _rows(6)[1][0]


def test_ambiguous_first_row_is_refused_with_the_way_out(tmp_path):
    (tmp_path / "d.tsv").write_text("words\tsentiment\n" + "".join(f"{t}\t{y}\n" for t, y in _rows(10)))
    with pytest.raises(ValueError, match=r"cannot tell whether its first row .* --header yes or --header no"):
        load_examples(tmp_path / "d.tsv")
    assert len(load_examples(tmp_path / "d.tsv", header="yes")) == 10
    assert len(load_examples(tmp_path / "d.tsv", label_column="sentiment")) == 10
    with pytest.raises(ValueError, match="label_column names a header column, but header is 'no'"):
        load_examples(tmp_path / "d.tsv", header="no", label_column="sentiment")
    with pytest.raises(ValueError, match="header must be one of"):
        DataConfig("x.tsv", header="maybe")


def test_id_column_keys_through_delete_journal_and_ids(tmp_path, capsys):
    rows = _rows(12)
    (tmp_path / "k.csv").write_text("uid,text,label\n" + "".join(f"key-{i},{t},{y}\n" for i, (t, y) in enumerate(rows)))
    run_dir = tmp_path / "run"
    create_run(_config(tmp_path / "k.csv", id_column="uid", text_column="text"), run_dir)
    assert main(["delete", "--run", str(run_dir), "--id", "key-5", "key-11"]) == 0
    assert main(["delete", "--run", str(run_dir), "--id", "key-1", "5"]) == 2  # '5' is not a key: nothing deleted
    records = [json.loads(line) for line in (run_dir / "journal.jsonl").read_text().splitlines()]
    assert [r["id"] for r in records] == ["key-5", "key-11"]
    capsys.readouterr()
    assert main(["ids", "--run", str(run_dir), "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert len(listing) == 12 and {r["id"] for r in listing if r["deleted"]} == {"key-5", "key-11"}
    run = S3TRun(run_dir)  # reopening replays the keyed journal
    try:
        assert run.deletions.deleted == {5, 11} and len(run.store) == 10
        assert run.deletions.delete("key-5").already_deleted
    finally:
        run.close()
    journal = DeletionJournal(tmp_path / "j.jsonl", keyed=True)
    with pytest.raises(ValueError, match="must be a key"):
        journal.append(5)  # an integer in a keyed journal is refused, not coerced
    with pytest.raises(ValueError, match=r"id must be an integer"):
        encode_record("key-5", 1.0)  # and a key in an unkeyed one


def test_duplicate_or_blank_keys_are_refused(tmp_path):
    (tmp_path / "k.csv").write_text("uid,text,label\na,good,1\nb,bad,0\na,fine,1\n")
    with pytest.raises(ValueError, match="id_column 'uid' .* 'a' repeats"):
        load_examples(tmp_path / "k.csv", id_column="uid")
    (tmp_path / "b.csv").write_text("uid,text,label\na,good,1\n ,bad,0\n")
    with pytest.raises(ValueError, match="id_column value .* data row 1"):
        load_examples(tmp_path / "b.csv", id_column="uid")


def test_text_column_as_labels_is_refused_naming_label_column(tmp_path):
    (tmp_path / "d.tsv").write_text("sentence\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in _rows(40)))
    with pytest.raises(ValueError, match="label_column 'sentence' .* 40 distinct values over 40 rows"):
        load_examples(tmp_path / "d.tsv", label_column="sentence")
    numbered = "".join(f"{i} things\t{i % 2}\n" for i in range(20)) + "".join(f"{i}\t{i % 2}\n" for i in range(20))
    (tmp_path / "n.tsv").write_text("sentence\tlabel\n" + numbered)  # numbers and words among the "labels": still too many
    with pytest.raises(ValueError, match="label_column 'sentence' .* 40 distinct values over 40 rows"):
        load_examples(tmp_path / "n.tsv", label_column="sentence")
    many = "".join(f"t{i}\tc{i % 1001}\n" for i in range(3000))  # 1001 classes, a third of the rows
    (tmp_path / "m.tsv").write_text("sentence\tlabel\n" + many)
    with pytest.raises(ValueError, match="1001 distinct values"):
        load_examples(tmp_path / "m.tsv")


def test_declared_labels_fix_the_classes(tmp_path):
    (tmp_path / "d.tsv").write_text("sentence\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in _rows(10)) + "odd\t2\n")
    with pytest.raises(ValueError, match=r"labels \['2'\] outside the declared labels \['1', '0'\]"):
        load_examples(tmp_path / "d.tsv", declared_labels=["1", "0"])
    (tmp_path / "ok.tsv").write_text("sentence\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in _rows(10)))
    ds = load_examples(tmp_path / "ok.tsv", declared_labels=["1", "0"])
    assert ds.label_names == ["1", "0"] and list(ds.labels[:2]) == [1, 0]  # the declared order is the class index
    with pytest.raises(ValueError, match="labels must be at least 2 distinct"):
        DataConfig("x.tsv", labels=("a", "a"))


def test_old_run_folder_is_refused(tmp_path):
    (tmp_path / "d.tsv").write_text("sentence\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in _rows(8)))
    run_dir = tmp_path / "run"
    create_run(_config(tmp_path / "d.tsv"), run_dir)
    config = json.loads((run_dir / "config.json").read_text())
    for key in ("header", "id_column", "labels"):
        del config["data"][key]
    (run_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="before example ids were defined once"):
        S3TRun(run_dir)


def test_deletion_weights_speak_the_run_ids(tmp_path):
    (tmp_path / "w.csv").write_text("id,weight\nkey-b,2.5\n\nkey-c,1\n")
    assert read_deletion_weights(tmp_path / "w.csv", ["key-a", "key-b", "key-c"]).tolist() == [0.0, 2.5, 1.0]
    (tmp_path / "n.csv").write_text("id,weight\n1,3\n")
    assert read_deletion_weights(tmp_path / "n.csv", np.array([0, 1, 2])).tolist() == [0.0, 3.0, 0.0]


def test_integer_keys_of_a_jsonl_file(tmp_path):
    lines = [json.dumps({"uid": 100 + i, "text": t, "label": y}) for i, (t, y) in enumerate(_rows(10))]
    (tmp_path / "k.jsonl").write_text("\n".join(lines) + "\n")
    run_dir = tmp_path / "run"
    create_run(_config(tmp_path / "k.jsonl", id_column="uid"), run_dir)
    assert main(["delete", "--run", str(run_dir), "--id", "103"]) == 0
    assert main(["delete", "--run", str(run_dir), "--id", "3"]) == 2  # the record index is not the id of a keyed run
    run = S3TRun(run_dir)
    try:
        assert run.deletions.deleted == {3} and run.store.public_id(3) == "103"
    finally:
        run.close()
    (tmp_path / "f.jsonl").write_text(json.dumps({"uid": 1.5, "text": "good", "label": "1"}) + "\n")
    with pytest.raises(ValueError, match="id_column value .* line 1"):
        load_examples(tmp_path / "f.jsonl", id_column="uid")
