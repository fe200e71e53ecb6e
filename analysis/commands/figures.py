"""``s3t figures``: regenerate the paper-style figures (PNG, PDF, SVG and CSV each, PGF on request)."""
from __future__ import annotations

import argparse

from analysis.commands.arguments import add_progress_flag, name_list, show_progress, str_list

FIGURE_NAMES = ("deletion_rate_vs_budget, deletion_rate_scaling, served_prefix_vs_requests, selection_under_skew, "
                "failure_count_distribution, performance_gap, training_cost_vs_budget")


def register(subparsers: "argparse._SubParsersAction") -> None:
    """Add ``figures`` to the ``s3t`` parser."""
    p = subparsers.add_parser("figures", help="regenerate the paper-style figures (PNG, PDF, SVG and CSV each)",
                              description=f"Figures: {FIGURE_NAMES}. Beside them: data_dictionary.csv/.json "
                              "(file, column, description with unit) for every CSV.")
    p.add_argument("--out", default="out/figures", help="output folder (default: out/figures)")
    p.add_argument("--only", type=str_list, default=(), help="comma-separated figure names (default: all)")
    p.add_argument("--size", choices=("small", "default"), default="default", help="Monte Carlo runs and grid extent (default: default)")
    p.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    p.add_argument("--formats", type=name_list, default=("svg",),
                   help="comma-separated formats besides PNG and PDF: svg, pgf (pgf needs pdflatex and newunicodechar: apt-get install texlive-latex-base texlive-latex-extra; default: svg)")
    add_progress_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Draw the chosen figures and print where each went."""
    from analysis.figures import make_figures
    from s3t_sim.checks import check_int, check_output_path

    check_int("--seed", args.seed, 0)
    check_output_path("--out", args.out)
    for saved in make_figures(args.out, list(args.only), args.size, args.seed, progress=show_progress(args), formats=tuple(args.formats)):
        print(f"{saved.name}: {saved.png}, " + ", ".join(p.name for p in (saved.pdf, *saved.extra.values(), saved.csv)))
    return 0
