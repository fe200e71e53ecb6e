"""How numbers, maths and tables are shown to people: format_value, LaTeX (booktabs) tables,
the report's HTML maths and folding, and the figure formats (SVG, PGF refused without TeX)."""
import re
import shutil

import numpy as np
import pytest

from analysis.report.document import FOLD_ROWS, Check, Section, render_html, rich_text, summary_section
from analysis.style import check_formats
from analysis.tables import Table, format_value, latex_text


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


def test_figure_formats():
    assert check_formats(("svg",)) == ("png", "pdf", "svg")
    with pytest.raises(ValueError, match="format must be one of"):
        check_formats(("eps",))
    if not any(shutil.which(t) for t in ("xelatex", "lualatex", "pdflatex")):
        with pytest.raises(ValueError, match="^format: pgf needs one of xelatex"):
            check_formats(("pgf",))
    else:
        assert check_formats(("pgf",)) == ("png", "pdf", "pgf")
