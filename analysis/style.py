"""One figure style for every plot: the Okabe–Ito colour-blind-safe palette, readable
fonts, and a saver that writes PNG + PDF + SVG (+ PGF where pdflatex is installed) and
the CSV of the numbers behind the figure.

Reference: M. Okabe and K. Ito, *Color Universal Design* (2008), https://jfly.uni-koeln.de/color/
"""
from __future__ import annotations

import io
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analysis.tables import Table
from s3t_sim.output import write_bytes_atomic, write_text_atomic

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

# Okabe–Ito, in the order used for successive series (black last, for references).
OKABE_ITO = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "vermillion": "#D55E00",
    "sky": "#56B4E9",
    "purple": "#CC79A7",
    "yellow": "#F0E442",
    "black": "#000000",
}
SERIES_COLOURS = [OKABE_ITO[c] for c in ("blue", "orange", "green", "vermillion", "sky", "purple", "black")]
MARKERS = ["o", "s", "^", "D", "v", "P", "X"]
LINESTYLES = ["-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1)), "-"]

RC_PARAMS = {
    "figure.figsize": (6.4, 4.2),
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "legend.framealpha": 0.9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.8,
    "lines.markersize": 5,
    "pdf.fonttype": 42,
}


def colour(i: int) -> str:
    """The i-th series colour of the palette (cycling)."""
    return SERIES_COLOURS[i % len(SERIES_COLOURS)]


def marker(i: int) -> str:
    """The i-th series marker (cycling)."""
    return MARKERS[i % len(MARKERS)]


def linestyle(i: int) -> "str | tuple":
    """The i-th series line style (cycling)."""
    return LINESTYLES[i % len(LINESTYLES)]


def new_figure(ncols: int = 1, nrows: int = 1, width: float | None = None, height: float | None = None) -> tuple["Figure", Any]:
    """A figure with the project style and its axes (``squeeze`` like ``plt.subplots``)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    plt.rcParams.update(RC_PARAMS)
    base_w, base_h = RC_PARAMS["figure.figsize"]
    size = (width or base_w * (1 + 0.75 * (ncols - 1)), height or base_h * (1 + 0.8 * (nrows - 1)))
    fig, axes = plt.subplots(nrows, ncols, figsize=size, constrained_layout=True)
    return fig, axes


@dataclass
class SavedFigure:
    """Paths of one saved figure and the table behind it."""

    name: str
    title: str
    caption: str
    png: Path
    pdf: Path
    csv: Path
    table: Table
    extra: dict[str, Path] = field(default_factory=dict)  # further formats: "svg", "pgf"


FORMATS = ("png", "pdf", "svg", "pgf")
DEFAULT_FORMATS = ("png", "pdf", "svg")
# PGF: matplotlib lays out the text with pdflatex; the figures' Unicode symbols are mapped to maths by this
# preamble (newunicodechar, TeX Live's latex-extra), which a document that \input's the .pgf needs as well
# (the .pgf file's header lists it).
PGF_SYMBOLS = {"δ": r"\delta", "ζ": r"\zeta", "±": r"\pm", "·": r"\cdot", "≤": r"\le", "≥": r"\ge", "−": "-",
               "′": r"{}^{\prime}", "∈": r"\in", "×": r"\times", "→": r"\to", "≈": r"\approx"}
PGF_PREAMBLE = (r"\usepackage[utf8]{inputenc}\usepackage[T1]{fontenc}\usepackage{newunicodechar}"
                + "".join(rf"\newunicodechar{{{ch}}}{{\ensuremath{{{tex}}}}}" for ch, tex in PGF_SYMBOLS.items()))
PGF_INSTALL = "apt-get install texlive-latex-base texlive-latex-extra"


def check_formats(formats: "tuple[str, ...] | list[str]") -> tuple[str, ...]:
    """The figure formats to write, PNG and PDF always among them; PGF only where pdflatex and
    newunicodechar are installed (matplotlib lays out the text with them) -- otherwise a one-line error."""
    from s3t_sim.checks import check_choice

    for fmt in formats:
        check_choice("format", fmt, FORMATS)
    if "pgf" in formats and not pgf_available():
        raise ValueError(f"format: pgf needs pdflatex and newunicodechar.sty (matplotlib lays out PGF text with them); "
                         f"install them ({PGF_INSTALL}) or leave pgf out")
    return tuple(dict.fromkeys(("png", "pdf", *formats)))


def pgf_available() -> bool:
    """Whether pdflatex and the newunicodechar package of :data:`PGF_PREAMBLE` are installed."""
    import subprocess

    if not (shutil.which("pdflatex") and shutil.which("kpsewhich")):
        return False
    found = subprocess.run(["kpsewhich", "newunicodechar.sty"], capture_output=True, text=True, check=False)
    return found.returncode == 0 and bool(found.stdout.strip())


def save_figure(fig: "Figure", out_dir: "str | Path", name: str, table: Table, title: str = "", caption: str = "",
                formats: "tuple[str, ...]" = DEFAULT_FORMATS) -> SavedFigure:
    """Write ``<name>.<format>`` for each of ``formats`` (PNG and PDF always) and ``<name>.csv``
    under ``out_dir`` atomically, and close ``fig``."""
    import logging

    import matplotlib.pyplot as plt

    logging.getLogger("fontTools").setLevel(logging.ERROR)  # font subsetting chatter when embedding fonts in PDFs
    out_dir = Path(out_dir)
    paths = {}
    for fmt in check_formats(formats):
        buffer = io.BytesIO()
        metadata = {"CreationDate": None} if fmt == "pdf" else {"Date": None} if fmt == "svg" else None
        if fmt == "pgf":
            with plt.rc_context({"pgf.texsystem": "pdflatex", "pgf.preamble": PGF_PREAMBLE, "pgf.rcfonts": False}):
                fig.savefig(buffer, format=fmt)
        else:
            fig.savefig(buffer, format=fmt, metadata=metadata)
        paths[fmt] = write_bytes_atomic(out_dir / f"{name}.{fmt}", buffer.getvalue())
    plt.close(fig)
    csv_path = write_text_atomic(out_dir / f"{name}.csv", table.to_csv())
    extra = {fmt: path for fmt, path in paths.items() if fmt not in ("png", "pdf")}
    return SavedFigure(name, title or table.title, caption, paths["png"], paths["pdf"], csv_path, table, extra)
