"""Argument types and flags shared by the analysis sub-commands."""
from __future__ import annotations

import argparse
import sys


def add_progress_flag(parser: argparse.ArgumentParser) -> None:
    """``--progress/--no-progress``; :func:`show_progress` reads it."""
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="show progress bars (default: when stderr is a terminal)")


def show_progress(args: argparse.Namespace) -> bool:
    """Whether to draw progress bars: as asked, else when stderr is a terminal."""
    return sys.stderr.isatty() if args.progress is None else bool(args.progress)


def int_list(text: str) -> tuple[int, ...]:
    """Comma-separated integers, e.g. ``2,4,8``."""
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers; got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one integer")
    return values


def str_list(text: str) -> tuple[str, ...]:
    """Comma-separated names, blanks dropped."""
    return tuple(v.strip() for v in text.split(",") if v.strip())


def name_list(text: str) -> tuple[str, ...]:
    """Comma-separated names, blanks dropped; at least one."""
    values = str_list(text)
    if not values:
        raise argparse.ArgumentTypeError(f"expected at least one comma-separated name; got {text!r}")
    return values


def check_model(model: str) -> None:
    """Refuse a ``--model`` that names a missing path or a folder without a model in it
    (``minilm``, ``tiny``, a hub name or a local model folder pass)."""
    from pathlib import Path

    if model in ("minilm", "tiny"):
        return
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ValueError(f"--model {model!r}: the folder holds no config.json (not a saved model)")
    elif not model.strip() or path.exists() or model.startswith(("/", ".", "~")):
        raise ValueError(f"--model must be minilm, tiny, a hub name or a local model folder; {model!r} is not a folder")
