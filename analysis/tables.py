"""Tables of results and how numbers are shown: CSV, Markdown, HTML and terminal text.

Files are written by ``s3t_sim.output`` (atomic, mode 0644).
"""
from __future__ import annotations

import csv
import html
import io
import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np


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
    if isinstance(value, np.integer):
        return str(int(value))
    if isinstance(value, np.floating):
        return format_value(float(value), digits)
    if isinstance(value, np.bool_):
        return format_value(bool(value), digits)
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
    if isinstance(value, np.generic):
        return value.item()
    return value
