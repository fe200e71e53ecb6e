"""The report as data (sections of text, checks, tables and figures) and its two renderings:
one self-contained HTML page (figures inline as base64 PNG, maths as HTML sub/superscripts,
long tables folded) and a Markdown file.
"""
from __future__ import annotations

import base64
import html
import os
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from analysis.style import SavedFigure
from analysis.tables import Table, format_value

FOLD_ROWS = 12  # tables longer than this are folded behind <details> with a one-line summary
WIDE_PNG = 1300  # figures wider than this (pixels) may use more than the text column


@dataclass
class Check:
    """One claim that was checked, whether it held, and the numbers that say so."""

    claim: str
    held: bool
    detail: str


@dataclass
class Section:
    """A titled part of the report."""

    title: str
    paragraphs: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    figures: list[SavedFigure] = field(default_factory=list)
    anchor: str = ""
    alerts: list[str] = field(default_factory=list)  # shown highlighted, after the paragraphs
    fold: bool = True  # fold tables longer than FOLD_ROWS

    def __post_init__(self) -> None:
        if not self.anchor:
            self.anchor = "".join(ch if ch.isalnum() else "-" for ch in self.title.lower()).strip("-")


@dataclass
class ReportContext:
    """What a section reads: the output folder, the seed, the report size and whether to show progress."""

    out_dir: Path
    seed: int
    size: str
    progress: bool = False


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1040px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.7em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:1em 0;font-size:.88em;display:block;max-width:100%;overflow-x:auto}
caption{text-align:left;font-weight:600;padding-bottom:.3em}
th,td{border:1px solid #ccc;padding:.25em .55em;text-align:left;vertical-align:top}
th{background:#f2f2f2}
td.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1.2em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.9em;color:#444}
.held{color:#006d4e;font-weight:600}.failed{color:#fff;background:#b00020;font-weight:700}
td.no{color:#fff;background:#b00020;font-weight:700}td.yes{color:#006d4e}
p.alert{border-left:6px solid #b00020;background:#fdecee;padding:.4em .7em;font-weight:600}
details{margin:1em 0}summary{cursor:pointer;color:#0b4f8a}
figure.wide{width:min(1500px,96vw);max-width:none;margin-left:calc(50% - min(750px,48vw))}
.meta{font-size:.9em;color:#444}
nav ul{columns:2}
code{background:#f4f4f4;padding:0 .2em}
"""


def render_html(title: str, meta: dict[str, str], sections: list[Section]) -> str:
    """One self-contained HTML page: no external file, script or font is referenced."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        '<table class="meta"><tbody>'
        + "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in meta.items())
        + "</tbody></table>",
        "<nav><ul>" + "".join(f'<li><a href="#{s.anchor}">{rich_text(s.title)}</a></li>' for s in sections) + "</ul></nav>",
    ]
    for section in sections:
        parts.append(f'<section id="{section.anchor}"><h2>{rich_text(section.title)}</h2>')
        parts.extend(f"<p>{rich_text(p)}</p>" for p in section.paragraphs)
        parts.extend(f'<p class="alert">{rich_text(a)}</p>' for a in section.alerts)
        if section.checks:
            rows = "".join(
                f"<tr><td>{rich_text(c.claim)}</td>"
                f'<td class="{"held" if c.held else "failed"}">{"held" if c.held else "did not hold"}</td>'
                f"<td>{rich_text(c.detail)}</td></tr>"
                for c in section.checks
            )
            parts.append(f"<table><thead><tr><th>claim</th><th>result</th><th>detail</th></tr></thead><tbody>{rows}</tbody></table>")
        parts.extend(_table_html(table, section.fold) for table in section.tables)
        parts.extend(_figure_html(figure) for figure in section.figures)
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


_BRACED = re.compile(r"([_^])\{([^{}]*)\}")
_BARE_SUB = re.compile(r"(?<![\w.])([A-Za-zδζ])_([A-Za-z0-9]+)\b")


def rich_text(text: str) -> str:
    """``text`` as HTML with its maths written for a reader: ``H_{m·min(B,L)}`` and ``ζ^{B'−1}``
    become sub/superscripts, as does a one-letter base with a bare subscript (``H_m``, ``c_max``);
    everything else is escaped (file names such as ``plan_pareto.csv`` stay as they are)."""
    escaped = html.escape(text, quote=False)
    tag = {"_": "sub", "^": "sup"}
    escaped = _BRACED.sub(lambda m: f"<{tag[m.group(1)]}>{m.group(2)}</{tag[m.group(1)]}>", escaped)
    return _BARE_SUB.sub(r"\1<sub>\2</sub>", escaped)


def _cell_html(value: object, digits: int = 4) -> str:
    if isinstance(value, bool):
        return f'<td class="{"yes" if value else "no"}">{"yes" if value else "no"}</td>'
    numeric = isinstance(value, (int, float)) or type(value).__module__ == "numpy"
    return f'<td class="num">{html.escape(format_value(value, digits))}</td>' if numeric else f"<td>{rich_text(format_value(value, digits))}</td>"


def _table_html(table: Table, fold: bool = True) -> str:
    """The table with maths rendered and booleans marked; folded behind ``<details>`` with a
    one-line summary when it has more than :data:`FOLD_ROWS` rows."""
    head = "".join(f"<th>{rich_text(str(c))}</th>" for c in table.columns)
    body = "".join("<tr>" + "".join(_cell_html(v) for v in row) + "</tr>" for row in table.rows)
    caption = f"<caption>{rich_text(table.title)}</caption>" if table.title else ""
    rendered = f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    if not fold or len(table.rows) <= FOLD_ROWS:
        return rendered
    name = rich_text(table.title) if table.title else "Table"
    return (f"<details><summary>{name}: {len(table.rows)} rows × {len(table.columns)} columns "
            f"({', '.join(rich_text(str(c)) for c in table.columns[:6])}{', …' if len(table.columns) > 6 else ''}); "
            f"click to show</summary>{rendered}</details>")


def _figure_html(figure: SavedFigure) -> str:
    png = Path(figure.png).read_bytes()
    width = struct.unpack(">I", png[16:20])[0]  # IHDR width
    data = base64.b64encode(png).decode("ascii")
    alt = html.escape(figure.title or figure.name)
    formats = ", ".join(f"<code>.{fmt}</code>" for fmt in ("pdf", *figure.extra, "csv"))
    wide = ' class="wide"' if width > WIDE_PNG else ""
    return (f'<figure id="fig-{html.escape(figure.name)}"{wide}>'
            f'<img alt="{alt}" src="data:image/png;base64,{data}">'
            f"<figcaption><b>{rich_text(figure.title or figure.name)}.</b> {rich_text(figure.caption)} "
            f"Files: <code>{html.escape(figure.name)}.png</code>, {formats}.</figcaption></figure>")


def render_markdown(title: str, meta: dict[str, str], sections: list[Section], base: "Path | None" = None) -> str:
    """The same report as Markdown (maths as ``<sub>``/``<sup>``, failed checks in bold); figures
    are linked relative to ``base``, the folder of ``report.md`` (by name alone without it)."""
    lines = [f"# {title}", ""]
    lines += [f"- **{k}**: {v}" for k, v in meta.items()]
    for section in sections:
        lines += ["", f"## {section.title}", ""]
        for p in section.paragraphs:
            lines += [p, ""]
        lines += [item for a in section.alerts for item in (f"**{a}**", "")]
        if section.checks:
            lines += [
                "| claim | result | detail |",
                "| --- | --- | --- |",
                *[f"| {c.claim} | {'held' if c.held else '**did not hold**'} | {c.detail} |" for c in section.checks],
                "",
            ]
        for table in section.tables:
            if table.title:
                lines += [f"**{table.title}**", ""]
            lines += [table.to_markdown(), ""]
        for figure in section.figures:
            stem = (Path(os.path.relpath(figure.png, base)) if base is not None else Path(Path(figure.png).name)).with_suffix("").as_posix()
            lines += [f"![{figure.title or figure.name}]({stem}.png)", "", f"*{figure.caption}* ([PDF]({stem}.pdf), [CSV]({stem}.csv))", ""]
    tag = {"_": "sub", "^": "sup"}
    text = _BRACED.sub(lambda m: f"<{tag[m.group(1)]}>{m.group(2)}</{tag[m.group(1)]}>", "\n".join(lines))
    return text.rstrip() + "\n"


def summary_section(sections: list[Section]) -> Section:
    """A first section listing every check of the report and whether it held; the checks that
    did not hold are named in a highlighted paragraph above the table."""
    checks = [c for s in sections for c in s.checks]
    held = sum(c.held for c in checks)
    text = f"{held} of {len(checks)} checks held." if checks else "No checks were run."
    failed = [f"{c.claim} ({s.title})" for s in sections for c in s.checks if not c.held]
    alerts = [f"{len(failed)} did not hold: " + "; ".join(failed) + "."] if failed else []
    table = Table(["section", "claim", "held"], [(s.title, c.claim, c.held) for s in sections for c in s.checks])
    return Section("Summary of checks", paragraphs=[text], alerts=alerts, tables=[table] if checks else [], fold=False)
