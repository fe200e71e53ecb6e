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
import os
import sys
import traceback
import typing

import s3t_sim.commands
import s3t_train.commands
from analysis.commands import bounds, calibrate, deletion_curves, figures, plan, report, validate

# In the order of ``s3t --help``.
COMMAND_MODULES = (s3t_sim.commands, bounds, plan, figures, report, validate, deletion_curves, calibrate, s3t_train.commands)


class OneLineErrorParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose refusals are one line (sub-parsers inherit the class)."""

    def error(self, message: str) -> "typing.NoReturn":
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``s3t`` parser with every package's sub-commands."""
    parser = OneLineErrorParser(
        prog="s3t",
        description="S3T exact machine unlearning: simulate deletions, select sequences, "
        "train and unlearn, check bounds, plan capacity, make figures and reports.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one ``s3t`` sub-command; returns the exit status (2 for a refused argument).

    Nothing a user can type produces a traceback: a refused input (``ValueError``,
    ``TypeError``, ``OSError``, ``OverflowError``, ``MemoryError``) is one line on stderr with
    exit status 2; anything else is one line asking for a report, exit status 1, with the
    traceback only when ``S3T_DEBUG=1``. A closed stdout (``s3t ... | head``) ends quietly.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        result = args.func(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # the reader went away (`s3t ... | head`): stop quietly, as s3t_sim.output.print_result does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print(f"s3t {args.command}: interrupted", file=sys.stderr)
        return 130
    except (ValueError, TypeError, OSError, OverflowError, MemoryError) as exc:
        # Validation errors name the parameter and its allowed range: show them plainly.
        _debug_traceback()
        print(f"s3t {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
        _debug_traceback()
        print(f"s3t {args.command}: internal error ({type(exc).__name__}: {_one_line(exc)}); please report it "
              "with the command line (S3T_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 1
    return int(result or 0)


def _one_line(exc: BaseException) -> str:
    """The exception's message on one line (its class name when it has none)."""
    text = " ".join(str(exc).split())
    if isinstance(exc, MemoryError):
        return f"out of memory ({text or 'the input asks for more memory than this machine has'})"
    return text or type(exc).__name__


def _debug_traceback() -> None:
    if os.environ.get("S3T_DEBUG") == "1":
        traceback.print_exc()


if __name__ == "__main__":
    sys.exit(main())
