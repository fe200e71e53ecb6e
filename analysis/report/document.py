"""The report as data (sections of text, checks, tables and figures) and its two renderings:
one self-contained HTML page (figures inline as base64 PNG) and a Markdown file.
"""
from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path
from analysis.style import SavedFigure
from analysis.tables import Table


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
table{border-collapse:collapse;margin:1em 0;font-size:.88em}
caption{text-align:left;font-weight:600;padding-bottom:.3em}
th,td{border:1px solid #ccc;padding:.25em .55em;text-align:left;vertical-align:top}
th{background:#f2f2f2}
td.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1.2em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.9em;color:#444}
.held{color:#006d4e;font-weight:600}.failed{color:#b34700;font-weight:600}
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
        "<nav><ul>" + "".join(f'<li><a href="#{s.anchor}">{html.escape(s.title)}</a></li>' for s in sections) + "</ul></nav>",
    ]
    for section in sections:
        parts.append(f'<section id="{section.anchor}"><h2>{html.escape(section.title)}</h2>')
        parts.extend(f"<p>{html.escape(p)}</p>" for p in section.paragraphs)
        if section.checks:
            rows = "".join(
                f"<tr><td>{html.escape(c.claim)}</td>"
                f'<td class="{"held" if c.held else "failed"}">{"held" if c.held else "did not hold"}</td>'
                f"<td>{html.escape(c.detail)}</td></tr>"
                for c in section.checks
            )
            parts.append(f"<table><thead><tr><th>claim</th><th>result</th><th>detail</th></tr></thead><tbody>{rows}</tbody></table>")
        parts.extend(table.to_html() for table in section.tables)
        for figure in section.figures:
            data = base64.b64encode(Path(figure.png).read_bytes()).decode("ascii")
            alt = html.escape(figure.title or figure.name)
            parts.append(
                f'<figure id="fig-{html.escape(figure.name)}"><img alt="{alt}" src="data:image/png;base64,{data}">'
                f"<figcaption><b>{alt}.</b> {html.escape(figure.caption)} "
                f"Files: <code>{html.escape(figure.name)}.png</code>, <code>.pdf</code>, <code>.csv</code>.</figcaption></figure>"
            )
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def render_markdown(title: str, meta: dict[str, str], sections: list[Section]) -> str:
    """The same report as Markdown; figures are linked (they sit beside ``report.md``)."""
    lines = [f"# {title}", ""]
    lines += [f"- **{k}**: {v}" for k, v in meta.items()]
    for section in sections:
        lines += ["", f"## {section.title}", ""]
        for p in section.paragraphs:
            lines += [p, ""]
        if section.checks:
            lines += [
                "| claim | result | detail |",
                "| --- | --- | --- |",
                *[f"| {c.claim} | {'held' if c.held else 'did not hold'} | {c.detail} |" for c in section.checks],
                "",
            ]
        for table in section.tables:
            if table.title:
                lines += [f"**{table.title}**", ""]
            lines += [table.to_markdown(), ""]
        for figure in section.figures:
            lines += [f"![{figure.title or figure.name}]({figure.name}.png)", "", f"*{figure.caption}* ([PDF]({figure.name}.pdf), [CSV]({figure.name}.csv))", ""]
    return "\n".join(lines).rstrip() + "\n"


def summary_section(sections: list[Section]) -> Section:
    """A first section listing every check of the report and whether it held."""
    checks = [c for s in sections for c in s.checks]
    held = sum(c.held for c in checks)
    text = f"{held} of {len(checks)} checks held." if checks else "No checks were run."
    table = Table(["section", "claim", "held"], [(s.title, c.claim, c.held) for s in sections for c in s.checks])
    return Section("Summary of checks", paragraphs=[text], tables=[table] if checks else [])

