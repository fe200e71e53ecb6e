"""Hugging Face ``datasets``: hub sets with the split names each set really has, and
``datasets.Dataset`` objects given to the Python API.

:func:`hub_split` maps the run's ``train`` / ``eval`` to a set's own splits (held out:
``validation``, ``valid``, ``dev``, then ``test``; AG News has only ``train`` and ``test``).
:func:`read_dataset` takes the text (and pair) and label columns of a ``Dataset``; a
``ClassLabel`` column gives its label names. An example's id is its row number in the split.
Images are read from local folders only (:mod:`s3t_train.images`).
"""
from __future__ import annotations

from s3t_train.tasks import LABEL_HEADER_NAMES, TEXT_HEADER_NAMES

EVAL_SPLITS = ("validation", "valid", "dev", "test")


def hub_split(names: list[str], split: str) -> str:
    """The dataset's own split for the run's ``split`` ('train' or 'eval')."""
    wanted = ("train",) if split == "train" else EVAL_SPLITS
    found = next((n for n in wanted if n in names), None)
    if found is None:
        raise ValueError(f"the dataset has no {'/'.join(wanted)} split for {split!r}; its splits are {list(names)}")
    return found


def read_dataset(ds, task: str, text_column: str | None, label_column: str | None, text_pair_column: str | None) -> tuple[list, list[str]]:
    """Texts (``(text, pair)`` tuples with ``text_pair_column``) and labels (as strings; a
    ``ClassLabel``'s names) of a ``datasets.Dataset``."""
    if task == "image":
        raise ValueError("task 'image' reads a local folder of class folders (root/<class>/<image>), not a datasets object or hub set")
    columns = list(ds.column_names)
    text_key = text_column or next((k for k in TEXT_HEADER_NAMES if k in columns), None)
    label_key = label_column or next((k for k in LABEL_HEADER_NAMES if k in columns), None)
    for what, key in (("text_column", text_key), ("label_column", label_key), ("text_pair_column", text_pair_column)):
        if (key is None and what != "text_pair_column") or (key is not None and key not in columns):
            raise ValueError(f"{what} must name a column of the dataset {columns}; got {key!r}")
    feature = ds.features[label_key]
    names = getattr(feature, "int2str", None)  # ClassLabel: integer -> label name
    labels = [names(int(v)) if names else str(v) for v in ds[label_key]]
    texts = [str(t) for t in ds[text_key]]
    if text_pair_column is not None:
        texts = list(zip(texts, [str(t) for t in ds[text_pair_column]]))
    return texts, labels


def read_hub(name: str, split: str, task: str, text_column: str | None, label_column: str | None, text_pair_column: str | None) -> tuple[list, list[str]]:
    """:func:`read_dataset` of hub set ``name`` (``'name:config'`` picks a configuration),
    split chosen by :func:`hub_split` from the set's own split names (needs the network)."""
    try:
        import datasets  # the train extra installs it
    except ImportError as exc:
        raise FileNotFoundError(f"{name!r} is not a local file or folder, and loading it from the hub needs `pip install datasets`") from exc
    args = name.split(":", 1)
    ds = datasets.load_dataset(*args, split=hub_split(datasets.get_dataset_split_names(*args), split))
    return read_dataset(ds, task, text_column, label_column, text_pair_column)
