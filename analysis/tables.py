"""Tables of results and how numbers are shown: CSV, Markdown, HTML, LaTeX (booktabs) and
terminal text.

Files are written by ``s3t_sim.output`` (atomic, mode 0644).
"""
from __future__ import annotations

import csv
import html
import io
import math
import numbers
import re
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np


NOISE = 1e-9  # |x| below this prints as "< 1e-9": floating-point noise, not data


def format_value(value: Any, digits: int = 4) -> str:
    """A number as a person reads it: ``digits`` significant digits, no exponent for values
    up to 1e12 (``11130``, not ``1.113e+04``), ``0`` for zero and ``< 1e-9`` for smaller
    magnitudes (float noise); sequences as comma-separated items; everything else ``str``."""
    if isinstance(value, (bool, np.bool_)) or value is None:
        return "" if value is None else ("yes" if value else "no")
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return _format_float(float(value), digits)
    if isinstance(value, (list, tuple, np.ndarray)):
        return ", ".join(format_value(v, digits) for v in value)
    return str(value)


def _format_float(value: float, digits: int) -> str:
    if not math.isfinite(value):
        return "n/a" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if value == 0:
        return "0"
    if abs(value) < NOISE:
        return "< 1e-9" if value > 0 else "> -1e-9"
    if 10 ** digits <= abs(value) < 1e12:
        return f"{value:.0f}"
    return f"{value:.{digits}g}"


def format_pairs(pairs: "Sequence[tuple[Any, Any]]", first: str, second: str) -> str:
    """Pairs grouped by their first item, as a reader wants them: ``[(2, 1), (2, 7), (4, 1)]`` with
    ``first="B'"``, ``second="j"`` gives ``B' = 2: j = 1, 7; B' = 4: j = 1``; ``none`` for no pair."""
    if not pairs:
        return "none"
    keys = list(dict.fromkeys(p[0] for p in sorted(pairs)))
    return "; ".join(f"{first} = {format_value(k)}: {second} = " + ", ".join(format_value(v) for c, v in sorted(pairs) if c == k)
                     for k in keys)


@dataclass
class Table:
    """Rows of numbers with named columns, written as CSV, Markdown, HTML or LaTeX.

    ``descriptions`` maps a column to its meaning and unit (the data dictionary).
    """

    columns: Sequence[str]
    rows: list[Sequence[Any]] = field(default_factory=list)
    title: str = ""
    descriptions: dict[str, str] = field(default_factory=dict)

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

    def to_latex(self, digits: int = 6, label: str = "") -> str:
        """A booktabs ``table`` environment (needs ``\\usepackage{booktabs}``); numbers right-aligned."""
        align = "".join("r" if self.rows and all(_is_number(row[i]) for row in self.rows) else "l" for i in range(len(self.columns)))
        lines = ["\\begin{table}[ht]", "\\centering"]
        if self.title:
            lines.append(f"\\caption{{{latex_text(self.title)}}}")
        if label:
            lines.append(f"\\label{{{label}}}")
        lines += [f"\\begin{{tabular}}{{{align}}}", "\\toprule",
                  " & ".join(latex_text(str(c)) for c in self.columns) + " \\\\", "\\midrule"]
        lines += [" & ".join(_latex_cell(v, digits) for v in row) + " \\\\" for row in self.rows]
        lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}"]
        return "\n".join(lines) + "\n"

    def to_text(self, digits: int = 4) -> str:
        """Aligned plain-text table for the terminal."""
        cells = [list(self.columns)] + [[format_value(v, digits) for v in row] for row in self.rows]
        widths = [max(len(r[i]) for r in cells) for i in range(len(self.columns))]
        lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def to_records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row)) for row in self.rows]


_LATEX_SPECIAL = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
                  "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}",
                  "<": r"\textless{}", ">": r"\textgreater{}", "δ": r"$\delta$", "ζ": r"$\zeta$", "·": r"$\cdot$",
                  "−": "$-$", "≤": r"$\le$", "≥": r"$\ge$", "′": "$'$", "±": r"$\pm$", "∈": r"$\in$", "×": r"$\times$",
                  "…": r"\dots{}", "²": "$^2$"}


def latex_escape(text: str) -> str:
    """Text with LaTeX's special characters escaped."""
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def latex_text(text: str) -> str:
    """``latex_escape`` that keeps ``X_{sub}`` and ``X^{sup}`` as sub- and superscripts."""
    pieces = re.split(r"([_^])\{([^{}]*)\}", text)
    out = [latex_escape(pieces[0])]
    for i in range(1, len(pieces), 3):
        command = "textsubscript" if pieces[i] == "_" else "textsuperscript"
        out.append(f"\\{command}{{{latex_escape(pieces[i + 1])}}}{latex_escape(pieces[i + 2])}")
    return "".join(out)


def _latex_cell(value: Any, digits: int) -> str:
    if isinstance(value, (float, np.floating)) and 0 < abs(float(value)) < NOISE:
        return r"$<10^{-9}$" if value > 0 else r"$>-10^{-9}$"
    return latex_text(format_value(value, digits))


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


def _csv_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, np.generic):
        return value.item()
    return value
