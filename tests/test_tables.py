"""How numbers, maths and tables are shown to people: format_value, LaTeX (booktabs) tables,
the report's HTML maths and folding, and the figure formats (SVG, PGF refused without TeX)."""
import re
import shutil

import numpy as np
import pytest

from analysis.report.document import FOLD_ROWS, Check, Section, render_html, rich_text, summary_section
from analysis.style import PGF_SYMBOLS, check_formats, new_figure, pgf_available, save_figure
from analysis.tables import Table, format_pairs, format_value, latex_text


@pytest.mark.parametrize("value, shown", [
    (11130.4, "11130"),          # counts: no exponent
    (123456789.0, "123456789"),
    (2.329e-10, "< 1e-9"),       # float noise is not data
    (-3e-12, "> -1e-9"),
    (0.0, "0"),
    (0.12345678, "0.1235"),
    (2.838e-07, "2.838e-07"),    # a real small number keeps its value
    (1e13, "1e+13"),
    (np.float64(99.99), "99.99"),
    (np.int64(7), "7"),
    (["cyclic"], "cyclic"),      # no Python reprs
    ((2, 4, 8), "2, 4, 8"),
    (True, "yes"),
    (float("nan"), "n/a"),
])
def test_format_value_for_people(value, shown):
    assert format_value(value) == shown


def test_latex_table_is_booktabs_with_escaped_text():
    table = Table(["B", "mL·H_{m·min(B,L)}", "note"], [[1, 68.5, "a_b & 50%"], [2, 2.329e-10, "δ ≤ x"]], "Exact rates, m = 5")
    tex = table.to_latex(label="tab:x")
    lines = tex.splitlines()
    assert lines[0] == r"\begin{table}[ht]" and lines[-1] == r"\end{table}"
    assert r"\begin{tabular}{rrl}" in tex and r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex
    assert r"\label{tab:x}" in tex and r"\caption{Exact rates, m = 5}" in tex
    assert r"H\textsubscript{m$\cdot$min(B,L)}" in tex
    assert r"a\_b \& 50\%" in tex and r"$\delta$ $\le$ x" in tex and r"$<10^{-9}$" in tex
    rows = [ln for ln in lines if ln.endswith(r"\\")]
    assert len(rows) == 3 and all(ln.count("&") - ln.count(r"\&") == 2 for ln in rows)
    assert tex.count("{") - tex.count(r"\{") == tex.count("}") - tex.count(r"\}")


def test_latex_text_keeps_sub_and_superscripts():
    assert latex_text("ζ^{B'−1}") == r"$\zeta$\textsuperscript{B'$-$1}"
    assert latex_text("plain_name") == r"plain\_name"


@pytest.mark.parametrize("text, html", [
    ("mL·H_{m·min(B,L)}", "mL·H<sub>m·min(B,L)</sub>"),
    ("ζ(1−ζ^{B'−1})", "ζ(1−ζ<sup>B'−1</sup>)"),
    ("c_max = max δ/g", "c<sub>max</sub> = max δ/g"),
    ("m·H_m = 5·H_5", "m·H<sub>m</sub> = 5·H<sub>5</sub>"),
    ("see plan_pareto.csv and extra_section.json", "see plan_pareto.csv and extra_section.json"),
    ("a < b & <script>", "a &lt; b &amp; &lt;script&gt;"),
])
def test_rich_text_renders_maths_and_escapes(text, html):
    assert rich_text(text) == html


def test_long_tables_fold_and_failures_stand_out():
    long = Table(["k", "value"], [[k, k / 3] for k in range(FOLD_ROWS + 1)], "long")
    short = Table(["k"], [[1]], "short")
    sections = [Section("A", checks=[Check("c1", True, ""), Check("c2", False, "why")], tables=[long, short])]
    page = render_html("t", {}, [summary_section(sections)] + sections)
    assert page.count("<details>") == 1 and f"long: {FOLD_ROWS + 1} rows × 2 columns" in page
    assert '<p class="alert">1 did not hold: c2 (A).</p>' in page
    assert page.count('<td class="no">no</td>') == 1 and page.count('<td class="yes">yes</td>') == 1
    assert re.search(r"td\.no\{[^}]*background:#", page)


def test_figure_formats(monkeypatch):
    assert check_formats(("svg",)) == ("png", "pdf", "svg")
    with pytest.raises(ValueError, match="format must be one of"):
        check_formats(("eps",))
    monkeypatch.setattr(shutil, "which", lambda name: None)  # no TeX system: a one-line refusal that says what to install
    with pytest.raises(ValueError, match=r"^format: pgf needs pdflatex and newunicodechar.sty .*texlive-latex-extra"):
        check_formats(("pgf",))


@pytest.mark.skipif(not pgf_available(), reason="PGF needs pdflatex and newunicodechar: "
                    "apt-get install -y texlive-latex-base texlive-latex-extra (.ci/run installs them)")
def test_pgf_figure_lays_out_every_mapped_symbol(tmp_path):
    fig, ax = new_figure()
    ax.plot([1, 2], [3, 4], label="".join(PGF_SYMBOLS) + " – 95% r_1 $\\zeta(1-\\zeta^{B'})$")
    ax.set_xlabel("budget B′ (δ ≤ c·g)")
    ax.legend()
    saved = save_figure(fig, tmp_path, "symbols", Table(["x"], [[1]]), formats=("pgf",))
    pgf = saved.extra["pgf"].read_text()
    assert "\\begin{pgfpicture}" in pgf and "\\end{pgfpicture}" in pgf
    assert "\\newunicodechar{δ}{\\ensuremath{\\delta}}" in pgf  # the header names the preamble a document needs
    assert "budget B′" in pgf


def test_format_pairs_groups_by_the_first_item():
    assert format_pairs([(4, 2), (2, 7), (2, 1), (4, 1)], "B'", "j") == "B' = 2: j = 1, 7; B' = 4: j = 1, 2"
    assert format_pairs([], "B'", "j") == "none"


def test_bounds_latex_writes_booktabs_tables_of_the_exact_rates(tmp_path, capsys):
    from analysis.cli import main

    tex = tmp_path / "bounds.tex"
    assert main(["bounds", "--grid", "m=2,4;L=2;B=1,2", "--runs", "20", "--gap-slices", "4", "--gap-budgets", "2,4",
                 "--gap-requests", "1,4", "--latex", str(tex)]) == 0
    capsys.readouterr()
    text = tex.read_text()
    labels = re.findall(r"\\label\{tab:bounds-([a-z]+)\}", text)
    assert labels == ["grid", "checks", "gap", "saturation"]
    assert text.count("\\toprule") == text.count("\\bottomrule") == text.count("\\begin{tabular}") == 4
    assert text.count("{") - text.count("\\{") == text.count("}") - text.count("\\}")
    # exact rates: m L H_{m min(B, L)} (H_2 = 3/2, H_4 = 25/12); m = 2, L = 2, B = 1 -> 6
    for m, B, exact in ((2, 1, 6.0), (2, 2, 4 * 25 / 12), (4, 1, 8 * 25 / 12)):
        row = next(line for line in text.splitlines() if line.startswith(f"{m} & 2 & {B} & "))
        assert float(row.split(" & ")[3]) == pytest.approx(exact, rel=1e-5)
    assert "poster & m*L*log(m*L*Bp) & s3t & holds" in text and "growing\\_ray" not in text
    if shutil.which("pdflatex"):
        doc = tmp_path / "doc.tex"
        doc.write_text("\\documentclass{article}\\usepackage{booktabs}\\begin{document}\\input{bounds.tex}\\end{document}\n")
        import subprocess

        proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stdout[-2000:]
