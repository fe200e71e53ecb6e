"""``s3t report``: run the bound checks, the key figures and a planning example, and write
``report.html`` (one self-contained page) and ``report.md`` with every figure (PNG, PDF, SVG,
CSV) beside them, ``data_dictionary.csv``/``.json`` for those CSVs and ``report_tables.tex``
(every table of the report as a booktabs LaTeX table).

Everything runs on embedded defaults (no data, no network) and imports only the base
dependencies (numpy, scipy, networkx, matplotlib, tqdm). Three sections come from files in
the output folder when present: the comparison with real runs left by
``s3t validate --out OUT/validation`` (:func:`analysis.realruns.report_section.validation_section`),
the deletion curves of ``s3t deletion-curves --out OUT/deletion-curves`` (:func:`~analysis.realruns.report_section.deletion_curves_section`)
and an ``extra_section.json`` written by any other tool (:func:`extra_section`).
"""
from __future__ import annotations

import json
import os
import platform
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from analysis import figures
from analysis.realruns.report_section import deletion_curves_section, validation_section
from analysis.report.document import Check, ReportContext, Section, render_html, render_markdown, summary_section
from analysis.report.sections import REPORT_SIZES, THEORY_SECTIONS
from analysis.tables import Table
from s3t_sim.output import write_text_atomic
from s3t_sim.checks import check_choice, check_int


@dataclass
class ReportResult:
    """Where the report went, its sections and how long it took."""

    html: Path
    markdown: Path
    sections: list[Section]
    seconds: float

    @property
    def checks(self) -> list[Check]:
        return [c for s in self.sections for c in s.checks]


def extra_section(ctx: ReportContext) -> "Section | None":
    """An ``extra_section.json`` in the output folder becomes a section (a hook for any tool
    that wants its results in the report).

    Format: ``{"title": str, "paragraphs": [str], "checks": [{"claim", "held", "detail"}],
    "tables": [{"title", "columns", "rows"}]}``; absent file → no section.
    """
    path = ctx.out_dir / "extra_section.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    return Section(
        data.get("title", "Additional results"),
        paragraphs=list(data.get("paragraphs", [])),
        checks=[Check(c["claim"], bool(c["held"]), c.get("detail", "")) for c in data.get("checks", [])],
        tables=[Table(t["columns"], [list(r) for r in t["rows"]], t.get("title", "")) for t in data.get("tables", [])],
    )


def build_report(out_dir: "str | Path" = "out", seed: int = 0, size: str = "default", progress: bool = False) -> ReportResult:
    """Run every check and figure and write ``report.html`` and ``report.md`` under ``out_dir``."""
    from tqdm.auto import tqdm

    check_choice("size", size, tuple(REPORT_SIZES))
    seed = check_int("seed", seed, 0)
    start = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    chosen = REPORT_SIZES[size]
    fig_size = figures.SIZES[chosen.figure_size]
    ctx = ReportContext(out_dir=out_dir, seed=seed, size=size, progress=progress)
    sections = [section(ctx, chosen, fig_size) for section in tqdm(THEORY_SECTIONS, desc="report", disable=not progress)]
    sections += [s for s in (extra_section(ctx), validation_section(ctx), deletion_curves_section(ctx)) if s is not None]
    seconds = time.perf_counter() - start
    sections.append(Section("Reproduce", paragraphs=[
        f"Regenerate this report with: s3t report --out {out_dir.name} --seed {seed} --size {size}  (or make report).",
        "Figures alone: s3t figures --out DIR; bounds: s3t bounds --grid default; planning: s3t plan --json.",
        f"Wall time {seconds:.1f} s on {platform.machine()} with {_cpu_count()} CPU(s).",
    ]))
    sections.insert(0, summary_section(sections))
    meta = {
        "generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "seed": str(seed),
        "size": size,
        "versions": _versions(),
        "command": "s3t report " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["report"] else f"build_report(seed={seed}, size={size!r})",
    }
    title = "S3T: bound checks, figures and capacity planning"
    figures.write_data_dictionary(out_dir, [f for s in sections for f in s.figures])
    write_text_atomic(out_dir / "report_tables.tex", latex_tables(sections))
    html_path = write_text_atomic(out_dir / "report.html", render_html(title, meta, sections))
    md_path = write_text_atomic(out_dir / "report.md", render_markdown(title, meta, sections, out_dir))
    return ReportResult(html_path, md_path, sections, seconds)


def latex_tables(sections: list[Section]) -> str:
    """Every table of the report as a booktabs ``table`` labelled ``tab:<section anchor>-<i>``
    (``\\usepackage{booktabs}`` in the preamble; ``\\input`` the file or copy a table)."""
    parts = ["% Tables of the S3T report (s3t report); needs \\usepackage{booktabs}."]
    for section in sections:
        for i, table in enumerate(section.tables, 1):
            titled = table if table.title else Table(table.columns, table.rows, section.title)
            parts.append(f"% {section.title}\n" + titled.to_latex(label=f"tab:{section.anchor}-{i}"))
    return "\n".join(parts)


def _versions() -> str:
    import matplotlib
    import networkx
    import scipy

    try:
        from importlib.metadata import version

        s3t_version = version("s3t")
    except Exception:  # noqa: BLE001 - not installed as a distribution
        s3t_version = "source tree"
    return (f"s3t {s3t_version}, Python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
            f"networkx {networkx.__version__}, matplotlib {matplotlib.__version__}")


def _cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
