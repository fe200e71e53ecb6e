"""``s3t report``: the checks, figures and a planning example as report.html and report.md."""
from __future__ import annotations

import argparse

from analysis.commands.arguments import add_progress_flag, show_progress


def register(subparsers: "argparse._SubParsersAction") -> None:
    """Add ``report`` to the ``s3t`` parser."""
    p = subparsers.add_parser("report", help="run the checks, figures and a planning example; write report.html and report.md",
                              description="The main job: bound checks, key figures and a planning example on embedded "
                              "defaults, written as one self-contained HTML page and a Markdown file.")
    p.add_argument("--out", default="out", help="output folder (default: out)")
    p.add_argument("--size", choices=("small", "default"), default="default", help="small (quick check) or default")
    p.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    add_progress_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build the report and name the checks that did not hold."""
    from analysis.report.build import build_report
    from s3t_sim.checks import check_int, check_output_path

    check_int("--seed", args.seed, 0)
    check_output_path("--out", args.out)

    result = build_report(args.out, seed=args.seed, size=args.size, progress=show_progress(args))
    held = sum(c.held for c in result.checks)
    print(f"{result.html} and {result.markdown} written in {result.seconds:.1f} s; {held} of {len(result.checks)} checks held.")
    for check in result.checks:
        if not check.held:
            print(f"  did not hold: {check.claim} ({check.detail})")
    return 0
