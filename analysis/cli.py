"""The ``s3t`` command line.

The top floor: each package contributes its sub-commands through command modules with a
``register(subparsers)`` function (``s3t_sim.commands``, one module per sub-command in
``analysis.commands``, ``s3t_train.commands``), imported here downward. Those modules import only
``argparse`` and modules without numpy at the top: the modules that pull numpy, scipy,
matplotlib or torch are imported inside the command's ``run`` so that ``s3t --help`` and
``s3t simulate`` stay fast.
"""
from __future__ import annotations

import argparse
import sys

import s3t_sim.commands
import s3t_train.commands
from analysis.commands import bounds, calibrate, figures, plan, report, validate

# In the order of ``s3t --help``.
COMMAND_MODULES = (s3t_sim.commands, bounds, plan, figures, report, validate, calibrate, s3t_train.commands)


def build_parser() -> argparse.ArgumentParser:
    """The ``s3t`` parser with every package's sub-commands."""
    parser = argparse.ArgumentParser(
        prog="s3t",
        description="S3T exact machine unlearning: simulate deletions, select sequences, "
        "train and unlearn, check bounds, plan capacity, make figures and reports.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one ``s3t`` sub-command; returns the exit status (2 for a refused argument)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        result = args.func(args)
    except (ValueError, TypeError, FileNotFoundError) as exc:
        # Validation errors name the parameter and its allowed range: show them plainly.
        print(f"s3t {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
