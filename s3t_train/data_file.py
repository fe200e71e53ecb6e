"""Reading a local TSV / CSV / JSONL data file: its records, their ids, its header.

**The id of an example** in a local file is the 0-based index of its record among all the
records after the header (from the first line in a file without a header). A TSV or JSONL record is a physical line (lines end at ``\\n``);
a CSV record is what the ``csv`` module reads as one row, so a quoted field that spans
lines stays one record. Blank records, and in JSONL comment lines (starting with ``#``),
keep their index and hold no example, so ids never shift when such lines are added or
removed between the header and a row. TSV and CSV have no comment syntax: a line starting
with ``#`` is data (texts may start with a hashtag). With ``id_column`` the id is instead
the value of that column (the user's own key, a non-empty string, unique in the file).

**The header** of a TSV/CSV file is read with ``header='yes'``, absent with ``'no'``. By
default (``None``) the first row is a header when it contains a named column
(``text_column``, ``label_column``, ...) or a usual label/text column name; it is data when
its label cell is a label that other rows carry; otherwise the layout is ambiguous and the
file is refused, naming both ways to settle it.
"""
from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path

from s3t_train.tasks import LABEL_HEADER_NAMES, TEXT_HEADER_NAMES

HEADER_CHOICES = ("yes", "no")
MAX_KEY_LENGTH = 256
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass
class FileRows:
    """The examples of a file: ``ids`` (record indices), ``texts``, raw ``labels`` and the
    user's ``keys`` (``None`` without ``id_column``)."""

    ids: list[int]
    texts: list
    labels: list[str]
    keys: list[str] | None


def check_example_key(value: object, name: str = "id") -> str:
    """``value`` as a user key: a string (an integer is taken as its decimal form) of 1 to 256
    characters, not blank, without control characters."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_KEY_LENGTH or _CONTROL.search(value):
        shown = repr(value)[:60]
        raise ValueError(f"{name} must be a key of 1 to {MAX_KEY_LENGTH} characters, not blank, without control characters; got {shown}")
    return value


def read_file_rows(path: Path, text_column: str | None, label_column: str | None, text_pair_column: str | None = None,
                   id_column: str | None = None, header: str | None = None) -> FileRows:
    """The examples of a local file (see the module docstring for ids and the header)."""
    try:
        if path.suffix == ".jsonl":
            if header is not None:
                raise ValueError(f"header applies to TSV/CSV files, not to the JSONL file {path} (its keys name the columns)")
            return _read_jsonl(path, text_column, label_column, text_pair_column, id_column)
        return _read_table(path, text_column, label_column, text_pair_column, id_column, header)
    except UnicodeDecodeError as exc:
        raise ValueError(f"data file {path} is not UTF-8 text (byte {exc.start}: {exc.reason}); convert it to UTF-8") from None


def _read_jsonl(path: Path, text_key: str | None, label_column: str | None, pair_key: str | None, id_key: str | None) -> FileRows:
    label_key = label_column or "label"
    out = FileRows([], [], [], [] if id_key else None)
    lines = path.read_text(encoding="utf-8").split("\n")
    if lines[-1] == "":
        lines.pop()
    for index, line in enumerate(lines):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        where = f"data file {path} line {index + 1}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{where}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise ValueError(f"{where}: a JSON object per line is needed")
        if text_key is None:
            text_key = next((k for k in TEXT_HEADER_NAMES if k in row), None)
            if text_key is None:
                raise ValueError(f"text_column must name a key of {path}; keys are {sorted(row)}")
        for name, key in (("text_pair_column", pair_key), ("id_column", id_key)):
            if key is not None and key not in row:
                raise ValueError(f"{name} must name a key of every row of {path}; line {index + 1} has keys {sorted(row)[:10]}")
        missing = [k for k in (text_key, label_key) if k not in row]
        if missing:
            raise ValueError(f"{where}: no {missing[0]!r} key (keys {sorted(row)[:10]})")
        out.ids.append(index)
        out.texts.append(str(row[text_key]) if pair_key is None else (str(row[text_key]), str(row[pair_key])))
        out.labels.append(str(row[label_key]))
        if id_key is not None:
            out.keys.append(check_example_key(row[id_key], f"id_column value of {path} line {index + 1}"))
    _check_unique(out.keys, path, id_key)
    return out


def _records(path: Path, tab: bool) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        if not tab:
            return list(csv.reader(f))
        lines = f.read().split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r").split("\t") if line.strip() else [] for line in lines]


def _read_table(path: Path, text_column: str | None, label_column: str | None, pair_column: str | None,
                id_column: str | None, header: str | None) -> FileRows:
    tab = path.suffix != ".csv"
    records = _records(path, tab)
    start = next((n for n, r in enumerate(records) if _filled(r)), None)
    if start is None:
        raise ValueError(f"data file {path} is empty")
    first = [c.strip().lower() for c in records[start]]
    named = {k: v for k, v in (("text_column", text_column), ("label_column", label_column),
                               ("text_pair_column", pair_column), ("id_column", id_column)) if v is not None}
    if _has_header(path, first, records[start + 1:], named, header):
        columns = {}
        for name, value in named.items():
            if value.lower() not in first:
                raise ValueError(f"{name} must name a column of the header {records[start]} of {path}; got {value!r}")
            columns[name] = first.index(value.lower())
        text_index = columns.get("text_column", next((first.index(n) for n in TEXT_HEADER_NAMES if n in first), 0))
        label_index = columns.get("label_column", next((first.index(n) for n in LABEL_HEADER_NAMES if n in first), len(first) - 1))
        rows = records[start + 1:]
    else:
        columns, text_index, label_index, rows = {}, 0, len(first) - 1, records  # ids: record index in the file
    pair_index, id_index = columns.get("text_pair_column"), columns.get("id_column")
    width = len(first) if tab else max(i for i in (text_index, label_index, pair_index, id_index) if i is not None) + 1
    out = FileRows([], [], [], [] if id_index is not None else None)
    for index, row in enumerate(rows):
        if not _filled(row):
            continue
        if len(row) < width or (tab and len(row) != width):
            raise ValueError(
                f"data file {path}: data row {index} has {len(row)} column(s), {width} needed "
                f"({'tab-separated columns: a tab inside a text shifts them' if tab else 'comma-separated columns'})"
            )
        out.ids.append(index)
        out.texts.append(row[text_index] if pair_index is None else (row[text_index], row[pair_index]))
        out.labels.append(row[label_index].strip())
        if id_index is not None:
            out.keys.append(check_example_key(row[id_index].strip(), f"id_column value of {path} data row {index}"))
    _check_unique(out.keys, path, id_column)
    return out


def _filled(record: list[str]) -> bool:
    return any(c.strip() for c in record)


def _has_header(path: Path, first: list[str], rest: list[list[str]], named: dict[str, str], header: str | None) -> bool:
    """Whether the first row is a header (module docstring); refuses an ambiguous layout."""
    if header == "no":
        if named:
            raise ValueError(f"{next(iter(named))} names a header column, but header is 'no' for {path}: drop one of them")
        return False
    if header == "yes" or named or any(c in LABEL_HEADER_NAMES or c in TEXT_HEADER_NAMES for c in first):
        return True
    labels = {r[-1].strip().lower() for r in rest if _filled(r)}
    if first[-1] in labels:
        return False
    raise ValueError(
        f"data file {path}: cannot tell whether its first row {first[:4]} is a header or data (its last cell "
        f"{first[-1]!r} is not a label of the other rows, nor a usual column name); say --header yes or --header no, "
        f"or name header columns with --text-column/--label-column"
    )


def _check_unique(keys: list[str] | None, path: Path, id_column: str | None) -> None:
    if keys is None:
        return
    seen: dict[str, int] = {}
    for n, key in enumerate(keys):
        if key in seen:
            raise ValueError(f"id_column {id_column!r} of {path} must hold a unique key per row; {key!r} repeats (examples {seen[key]} and {n})")
        seen[key] = n
