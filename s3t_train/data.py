"""Text-classification data: loading examples, the seeded shard/slice split, deletion weights.

Every example has a stable id, defined once in :mod:`s3t_train.data_file` for a local file
(the 0-based record index after the header, blank lines keeping theirs; or the user's key
with ``id_column``), the row index for a hub set or ``datasets.Dataset``. The training
examples of a run are kept in :class:`s3t_train.store.DataStore`.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from s3t_sim.checks import check_int
from s3t_train.data_file import read_file_rows
from s3t_train.images import read_image_folder
from s3t_train.hub import read_dataset, read_hub
from s3t_train.tasks import check_task, encode_labels

MAX_CLASSES = 1000  # more distinct labels than this (or than half the rows) is a text column, not labels


@dataclass
class TextDataset:
    """Examples with stable ``ids``, their ``texts`` (``(text, text_pair)`` tuples for pairs),
    ``labels`` (integers, floats for regression), ``label_names`` and the user's ``keys``
    (``id_column``; ``None`` without)."""

    ids: np.ndarray
    texts: list
    labels: np.ndarray
    label_names: list[str]
    keys: list[str] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, positions: np.ndarray) -> "TextDataset":
        positions = np.asarray(positions, dtype=np.int64)
        keys = None if self.keys is None else [self.keys[i] for i in positions]
        return TextDataset(self.ids[positions], [self.texts[i] for i in positions], self.labels[positions], self.label_names, keys)


def resolve_data_file(source: str | Path, split: str = "train") -> Path | None:
    """The file to read for ``split``: the path itself, or for a folder ``train.tsv`` /
    ``dev.tsv`` then ``test.tsv`` (``split='eval'``). ``None`` if ``source`` is not local."""
    path = Path(source)
    if path.is_file():
        return path
    if path.is_dir():
        names = ("train",) if split == "train" else ("dev", "validation", "test")
        for name in names:
            for ext in (".tsv", ".csv", ".jsonl"):
                if (path / f"{name}{ext}").is_file():
                    return path / f"{name}{ext}"
        raise FileNotFoundError(f"no {'/'.join(names)} file (.tsv/.csv/.jsonl) in data folder {path}")
    if path.suffix in (".tsv", ".csv", ".jsonl") or str(source).startswith((".", "/", "~")):
        raise FileNotFoundError(f"data file not found: {source}")
    return None


def load_examples(
    source: "str | Path | datasets.Dataset",
    split: str = "train",
    text_column: str | None = None,
    label_column: str | None = None,
    label_names: list[str] | None = None,
    limit: int | None = None,
    seed: int = 0,
    task: str = "classification",
    text_pair_column: str | None = None,
    *,
    id_column: str | None = None,
    header: str | None = None,
    declared_labels: list[str] | None = None,
) -> TextDataset:
    """Read a text-classification set from a local TSV/CSV/JSONL file or folder
    (:func:`s3t_train.data_file.read_file_rows`: ids, ``header``, ``id_column``), a hub set
    (its own split names, :mod:`s3t_train.hub`) or a ``datasets.Dataset`` object
    (``task='image'``: a folder of class folders, :func:`s3t_train.images.read_image_folder`).

    Training data (``label_names=None``) is checked (:func:`check_training_data`) and its
    classes are ``declared_labels`` in that order, else the sorted distinct labels; held-out
    data is mapped through the run's ``label_names``; ``task='regression'`` reads floats
    (:func:`s3t_train.tasks.encode_labels`). ``text_pair_column`` makes each text a
    ``(text, text_pair)`` tuple (a local file with a header). ``limit`` keeps a seeded
    random subsample of that many rows (ids unchanged).

    Examples
    --------
    >>> ds = load_examples("../shared/data/sst2", limit=10, seed=0)  # doctest: +SKIP
    >>> ds.label_names
    ['0', '1']
    """
    check_task(task, text_pair_column)
    name = str(source) if isinstance(source, (str, Path)) else "the dataset"
    path = resolve_data_file(source, split) if isinstance(source, (str, Path)) and task != "image" else None
    if id_column is not None and path is None:
        raise ValueError(f"id_column needs a local TSV/CSV/JSONL file; {name} is not one")
    if task == "image" and isinstance(source, (str, Path)):
        texts, raw_labels = read_image_folder(source, split)
        ids, keys = np.arange(len(texts), dtype=np.int64), None
    elif task == "causal-lm" and not (text_column and label_column):
        raise ValueError("task 'causal-lm' needs text_column (the prompt) and label_column (the response), e.g. --text-column prompt --label-column response")
    elif path is not None:
        rows = read_file_rows(path, text_column, label_column, text_pair_column, id_column, header)
        texts, raw_labels, ids, keys = rows.texts, rows.labels, np.array(rows.ids, dtype=np.int64), rows.keys
    else:
        if not isinstance(source, (str, Path)):  # a datasets.Dataset (Python API)
            texts, raw_labels = read_dataset(source, task, text_column, label_column, text_pair_column)
        else:
            texts, raw_labels = read_hub(str(source), split, task, text_column, label_column, text_pair_column)
        ids, keys = np.arange(len(texts), dtype=np.int64), None
    if task == "causal-lm":
        texts = list(zip(texts, raw_labels))  # (prompt, response)
    if label_names is None:  # training data
        check_training_data(name, task, texts, raw_labels, label_column, declared_labels, ids)
        label_names = declared_labels
    labels, label_names = encode_labels(task, raw_labels, label_names, name)
    return _subsample(TextDataset(ids, texts, labels, list(label_names), keys), limit, seed)


def _subsample(dataset: TextDataset, limit: int | None, seed: int) -> TextDataset:
    """A seeded random subsample of ``limit`` examples (ids unchanged)."""
    if limit is not None:
        limit = check_int("limit", limit, 1)
        if limit < len(dataset):
            keep = np.sort(np.random.default_rng(seed).choice(len(dataset), size=limit, replace=False))
            dataset = dataset.subset(keep)
    return dataset



def check_training_data(source: str, task: str, texts: list, labels: list[str], label_column: str | None = None,
                        declared: list[str] | None = None, ids: np.ndarray | None = None) -> None:
    """Refuse degenerate training data up front: an empty text or label; for classification,
    a label outside the ``declared`` set, one class, labels that mix numbers and words
    (``0``, ``1``, ``positive``: a column or file mix-up), or (undeclared) more than
    :data:`MAX_CLASSES` classes or (from 10 rows on) more distinct labels than half the rows (a text column)."""
    for what, values in (("text", texts), ("label", labels)):
        for n, value in enumerate(values):
            parts = value if isinstance(value, tuple) else (value,)
            if any(isinstance(v, str) and not v.strip() for v in parts):
                raise ValueError(f"data file {source}: data row {n if ids is None else ids[n]} has an empty {what}")
    if task not in ("classification", "pairs", "image"):
        return
    names = sorted(set(labels))
    column = f"label_column {label_column!r}" if label_column else "the label column"
    if declared is not None:
        outside = [n for n in names if n not in set(declared)]
        if outside:
            raise ValueError(f"{column} of {source} holds labels {outside[:5]} outside the declared labels {list(declared)[:10]}; "
                             f"fix the rows or declare every class with --labels")
    if len(names) < 2:
        raise ValueError(f"{column} of {source} must hold at least 2 classes to train a classifier; every row is labelled {names[0]!r}" if names else f"data file {source} has no rows")
    if declared is None and task != "image" and (len(names) > MAX_CLASSES or (len(labels) >= 10 and len(names) > len(labels) / 2)):
        raise ValueError(f"{column} of {source} has {len(names)} distinct values over {len(labels)} rows (e.g. {names[0][:40]!r}), "
                         f"too many to be classes (at most {MAX_CLASSES} and half the rows): name the label column with "
                         f"--label-column, or declare the classes with --labels A,B")
    numeric = [n for n in names if n.lstrip("-").replace(".", "", 1).isdigit()]
    if numeric and len(numeric) < len(names):
        words = [n for n in names if n not in numeric]
        raise ValueError(f"{column} of {source}: its labels mix numbers {numeric[:3]} and words {words[:3]}: check label_column and the file's rows")


def split_shards_slices(
    ids: np.ndarray, shards: int, slices: int, seed: int = 0, deletion_weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded assignment of every example to a (shard, slice).

    Examples are shuffled and cut into ``shards`` near-equal shards, each cut into
    ``slices`` near-equal slices. With ``deletion_weights`` (one non-negative weight per
    example, larger = likelier to be deleted) each shard's examples are sorted by weight
    before slicing, so the likely deletions share slices that a prior-aware selection
    (BMS) can place late in its sequences.

    Returns ``(shard_of, slice_of)``, two int arrays aligned with ``ids``.
    """
    shards = check_int("shards", shards, 1)
    slices = check_int("slices", slices, 1)
    n = len(ids)
    if n < shards * slices:
        raise ValueError(f"the data must hold at least shards*slices = {shards * slices} examples; got {n}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    shard_of = np.empty(n, dtype=np.int64)
    slice_of = np.empty(n, dtype=np.int64)
    for s, members in enumerate(np.array_split(order, shards)):
        if deletion_weights is not None:
            w = np.asarray(deletion_weights, dtype=float)
            if w.shape != (n,) or np.any(~np.isfinite(w)) or np.any(w < 0):
                raise ValueError(f"deletion_weights must be {n} finite non-negative numbers")
            members = members[np.argsort(-w[members], kind="stable")]
        shard_of[members] = s
        for j, part in enumerate(np.array_split(members, slices)):
            slice_of[part] = j
    return shard_of, slice_of


def slice_prior(shard_of: np.ndarray, slice_of: np.ndarray, weights: np.ndarray, shards: int, slices: int) -> np.ndarray:
    """Per-slice deletion prior of shape (shards, slices): summed example weights, normalised."""
    prior = np.zeros((shards, slices))
    np.add.at(prior, (shard_of, slice_of), np.asarray(weights, dtype=float))
    total = prior.sum()
    return prior / total if total > 0 else np.full((shards, slices), 1.0 / (shards * slices))


def read_deletion_weights(path: str | Path, ids: "np.ndarray | list[str]") -> np.ndarray:
    """Per-example weights from a CSV ``id,weight`` whose ids are the run's example ids (the
    keys with ``id_column``); ids not listed get weight 0, a row whose weight is not a
    number (a header) is skipped."""
    weights = {}
    with Path(path).open(encoding="utf-8") as f:
        for row in csv.reader(f):
            if len(row) < 2:
                continue  # blank line
            try:
                weights[row[0].strip()] = float(row[1])
            except ValueError:
                continue  # header
    return np.array([weights.get(str(i), 0.0) for i in ids])
