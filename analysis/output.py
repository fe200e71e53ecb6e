"""Writing results: tables (CSV, Markdown, HTML) and files written atomically.

Every file goes to a temporary name in the destination folder first and is moved into
place with ``os.replace``, so an interrupted run never leaves a half-written file.
"""
from __future__ import annotations

import csv
import html
import io
import json
import math
import numbers
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence


def write_bytes_atomic(path: "str | Path", data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def write_text_atomic(path: "str | Path", text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: "str | Path", payload: Any) -> Path:
    """Write ``payload`` as indented JSON atomically (numpy scalars and arrays are converted)."""
    return write_text_atomic(path, json.dumps(to_jsonable(payload), indent=2) + "\n")


def to_jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays, tuples and non-finite floats into plain JSON values."""
    import numpy as np

    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def format_value(value: Any, digits: int = 4) -> str:
    """Format numbers with ``digits`` significant digits; everything else with ``str``."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else ("yes" if value else "no")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "n/a" if math.isnan(value) else ("inf" if value > 0 else "-inf")
        return f"{value:.{digits}g}"
    try:  # numpy scalars
        import numpy as np

        if isinstance(value, np.integer):
            return str(int(value))
        if isinstance(value, np.floating):
            return format_value(float(value), digits)
        if isinstance(value, np.bool_):
            return format_value(bool(value), digits)
    except ImportError:  # pragma: no cover
        pass
    return str(value)


@dataclass
class Table:
    """Rows of numbers with named columns, written as CSV, Markdown or HTML."""

    columns: Sequence[str]
    rows: list[Sequence[Any]] = field(default_factory=list)
    title: str = ""

    def __post_init__(self) -> None:
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"table {self.title!r}: a row has {len(row)} values for {len(self.columns)} columns")

    def to_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(self.columns)
        for row in self.rows:
            writer.writerow([_csv_value(v) for v in row])
        return buffer.getvalue()

    def to_markdown(self, digits: int = 4) -> str:
        header = "| " + " | ".join(self.columns) + " |"
        rule = "| " + " | ".join("---" for _ in self.columns) + " |"
        body = ["| " + " | ".join(format_value(v, digits) for v in row) + " |" for row in self.rows]
        return "\n".join([header, rule, *body])

    def to_html(self, digits: int = 4) -> str:
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(
                f'<td class="num">{html.escape(format_value(v, digits))}</td>' if _is_number(v)
                else f"<td>{html.escape(format_value(v, digits))}</td>"
                for v in row
            ) + "</tr>"
            for row in self.rows
        )
        caption = f"<caption>{html.escape(self.title)}</caption>" if self.title else ""
        return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def to_text(self, digits: int = 4) -> str:
        """Aligned plain-text table for the terminal."""
        cells = [list(self.columns)] + [[format_value(v, digits) for v in row] for row in self.rows]
        widths = [max(len(r[i]) for r in cells) for i in range(len(self.columns))]
        lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def to_records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row)) for row in self.rows]


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


def _csv_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return value.item()
    except ImportError:  # pragma: no cover
        pass
    return value
