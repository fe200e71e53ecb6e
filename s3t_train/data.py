"""Text-classification data: loading examples, the seeded shard/slice split, deletion weights.

Every example has a stable id: for a local file, its 0-based row number with the header
excluded. The training examples of a run are kept in :class:`s3t_train.store.DataStore`.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from s3t_sim.checks import check_int
from s3t_train.images import read_image_folder
from s3t_train.hub import read_dataset, read_hub
from s3t_train.tasks import LABEL_HEADER_NAMES, TEXT_HEADER_NAMES, check_task, encode_labels



@dataclass
class TextDataset:
    """Examples with stable ``ids``, their ``texts`` (``(text, text_pair)`` tuples for pairs),
    ``labels`` (integers, floats for regression) and ``label_names``."""

    ids: np.ndarray
    texts: list
    labels: np.ndarray
    label_names: list[str]

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, positions: np.ndarray) -> "TextDataset":
        positions = np.asarray(positions, dtype=np.int64)
        return TextDataset(self.ids[positions], [self.texts[i] for i in positions], self.labels[positions], self.label_names)


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


def _read_rows(path: Path, text_column: str | None, label_column: str | None, text_pair_column: str | None = None) -> tuple[list, list[str]]:
    try:
        return _parse_rows(path, text_column, label_column, text_pair_column)
    except UnicodeDecodeError as exc:
        raise ValueError(f"data file {path} is not UTF-8 text (byte {exc.start}: {exc.reason}); convert it to UTF-8") from None


def _parse_rows(path: Path, text_column: str | None, label_column: str | None, text_pair_column: str | None) -> tuple[list, list[str]]:
    if path.suffix == ".jsonl":
        text_key, label_key = text_column, label_column or "label"
        texts, labels = [], []
        with path.open(encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"data file {path} line {number}: not JSON ({exc.msg})") from None
                if not isinstance(row, dict):
                    raise ValueError(f"data file {path} line {number}: a JSON object per line is needed")
                if text_key is None:
                    text_key = next((k for k in TEXT_HEADER_NAMES if k in row), None)
                    if text_key is None:
                        raise ValueError(f"text_column must name a key of {path}; keys are {sorted(row)}")
                if text_pair_column is not None and text_pair_column not in row:
                    raise ValueError(f"text_pair_column must name a key of {path}; keys are {sorted(row)}")
                missing = [k for k in (text_key, label_key) if k not in row]
                if missing:
                    raise ValueError(f"data file {path} line {number}: no {missing[0]!r} key (keys {sorted(row)[:10]})")
                texts.append(str(row[text_key]) if text_pair_column is None else (str(row[text_key]), str(row[text_pair_column])))
                labels.append(str(row[label_key]))
        return texts, labels
    delimiter = "\t" if path.suffix == ".tsv" else ","
    with path.open(encoding="utf-8", newline="") as f:
        if delimiter == "\t":
            rows = [line.rstrip("\n").rstrip("\r").split("\t") for line in f if line.strip()]
        else:
            rows = [r for r in csv.reader(f) if r]
    if not rows:
        raise ValueError(f"data file {path} is empty")
    first = [c.strip().lower() for c in rows[0]]
    has_header = (
        delimiter == ","
        or (text_column is not None and text_column.lower() in first)
        or (label_column is not None and label_column.lower() in first)
        or (text_pair_column is not None and text_pair_column.lower() in first)
        or first[-1] in LABEL_HEADER_NAMES
    )
    text_index, label_index = 0, len(rows[0]) - 1
    if has_header:
        if text_column is not None:
            if text_column.lower() not in first:
                raise ValueError(f"text_column must be one of the header's columns {rows[0]}; got {text_column!r}")
            text_index = first.index(text_column.lower())
        else:
            text_index = next((first.index(n) for n in TEXT_HEADER_NAMES if n in first), 0)
        if label_column is not None:
            if label_column.lower() not in first:
                raise ValueError(f"label_column must be one of the header's columns {rows[0]}; got {label_column!r}")
            label_index = first.index(label_column.lower())
        else:
            label_index = next((first.index(n) for n in LABEL_HEADER_NAMES if n in first), len(first) - 1)
        rows = rows[1:]
    pair_index = text_index
    if text_pair_column is not None:
        if not has_header or text_pair_column.lower() not in first:
            raise ValueError(f"text_pair_column must name a column of the header of {path}, {first}; got {text_pair_column!r}")
        pair_index = first.index(text_pair_column.lower())
    width = max(text_index, label_index, pair_index) + 1 if delimiter == "," else len(first)
    odd = next((n for n, r in enumerate(rows) if len(r) < width or (delimiter == "\t" and len(r) != width)), None)
    if odd is not None:
        raise ValueError(
            f"data file {path}: data row {odd} has {len(rows[odd])} column(s), {width} needed "
            f"({'tab-separated columns: a tab inside a text shifts them' if delimiter == chr(9) else 'comma-separated columns'})"
        )
    if text_pair_column is not None:
        return [(r[text_index], r[pair_index]) for r in rows], [r[label_index].strip() for r in rows]
    texts = [r[text_index] for r in rows]
    labels = [r[label_index].strip() for r in rows]
    return texts, labels


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
) -> TextDataset:
    """Read a text-classification set from a local TSV/CSV/JSONL file or folder, a hub set
    (its own split names, :mod:`s3t_train.hub`) or a ``datasets.Dataset`` object
    (``task='image'``: a folder of class folders, :func:`s3t_train.images.read_image_folder`).

    Labels are mapped to integers through ``label_names`` (sorted distinct labels when not
    given), or read as floats for ``task='regression'`` (:func:`s3t_train.tasks.encode_labels`);
    ``text_pair_column`` makes each text a ``(text, text_pair)`` tuple (a local file with a
    header). ``limit`` keeps a seeded random subsample of that many rows (ids unchanged).

    Examples
    --------
    >>> ds = load_examples("../shared/data/sst2", limit=10, seed=0)  # doctest: +SKIP
    >>> ds.label_names
    ['0', '1']
    """
    check_task(task, text_pair_column)
    if task == "image" and isinstance(source, (str, Path)):
        return _subsample(_dataset(*read_image_folder(source, split), task, label_names, str(source)), limit, seed)
    if task == "causal-lm" and not (text_column and label_column):
        raise ValueError("task 'causal-lm' needs text_column (the prompt) and label_column (the response), e.g. --text-column prompt --label-column response")
    if not isinstance(source, (str, Path)):  # a datasets.Dataset (Python API)
        texts, raw_labels = read_dataset(source, task, text_column, label_column, text_pair_column)
    elif path := resolve_data_file(source, split):
        texts, raw_labels = _read_rows(path, text_column, label_column, text_pair_column)
    else:
        texts, raw_labels = read_hub(str(source), split, task, text_column, label_column, text_pair_column)
    if task == "causal-lm":
        texts = list(zip(texts, raw_labels))  # (prompt, response)
    return _subsample(_dataset(texts, raw_labels, task, label_names, str(source) if isinstance(source, (str, Path)) else "the dataset"), limit, seed)


def _dataset(texts: list, raw_labels: list[str], task: str, label_names: list[str] | None, source: str) -> TextDataset:
    if label_names is None:  # training data
        _check_training_data(source, task, texts, raw_labels)
    labels, label_names = encode_labels(task, raw_labels, label_names, source)
    return TextDataset(np.arange(len(texts), dtype=np.int64), texts, labels, list(label_names))


def _subsample(dataset: TextDataset, limit: int | None, seed: int) -> TextDataset:
    """A seeded random subsample of ``limit`` examples (ids unchanged)."""
    if limit is not None:
        limit = check_int("limit", limit, 1)
        if limit < len(dataset):
            keep = np.sort(np.random.default_rng(seed).choice(len(dataset), size=limit, replace=False))
            dataset = dataset.subset(keep)
    return dataset



def _check_training_data(source: str, task: str, texts: list, labels: list[str]) -> None:
    """Refuse degenerate training data up front: an empty text or label; for classification,
    one class, or labels that mix numbers and words (``0``, ``1``, ``positive``: a column or
    file mix-up)."""
    for what, values in (("text", texts), ("label", labels)):
        for n, value in enumerate(values):
            parts = value if isinstance(value, tuple) else (value,)
            if any(isinstance(v, str) and not v.strip() for v in parts):
                raise ValueError(f"data file {source}: data row {n} has an empty {what}")
    if task not in ("classification", "pairs", "image"):
        return
    names = sorted(set(labels))
    if len(names) < 2:
        raise ValueError(f"label_column of {source} must hold at least 2 classes to train a classifier; every row is labelled {names[0]!r}" if names else f"data file {source} has no rows")
    numeric = [n for n in names if n.lstrip("-").replace(".", "", 1).isdigit()]
    if numeric and len(numeric) < len(names):
        words = [n for n in names if n not in numeric]
        raise ValueError(f"labels of {source} mix numbers {numeric[:3]} and words {words[:3]}: check label_column and the file's rows")

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


def read_deletion_weights(path: str | Path, ids: np.ndarray) -> np.ndarray:
    """Per-example weights from a CSV ``id,weight`` (ids not listed get weight 0)."""
    weights = {}
    with Path(path).open(encoding="utf-8") as f:
        for row in csv.reader(f):
            if not row or not row[0].strip().lstrip("-").isdigit():
                continue  # header or blank line
            weights[int(row[0])] = float(row[1])
    return np.array([weights.get(int(i), 0.0) for i in ids])
