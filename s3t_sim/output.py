"""Writing results: files written atomically and readable by all, JSON conversion, printing.

Every file goes to a temporary name in the destination folder first, is flushed to disk and
moved into place with ``os.replace``, so an interrupted run never leaves a half-written
file; the temporary file is removed when anything fails. Files get mode ``0o644`` masked by
the process umask (readable by group and others under the default umask ``022``).
"""
from __future__ import annotations

import json
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes_atomic(path: "str | Path", data: bytes, mode: int = 0o644) -> Path:
    """Write ``data`` to ``path`` through a temporary file, fsync and ``os.replace``.

    The file gets ``mode & ~umask``; the temporary file is removed if anything fails.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), mode & ~_umask())
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def write_text_atomic(path: "str | Path", text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: "str | Path", payload: Any) -> Path:
    """Write ``payload`` as indented JSON atomically (numpy values converted by :func:`to_jsonable`)."""
    return write_text_atomic(path, json.dumps(to_jsonable(payload), indent=2) + "\n")


def to_jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays, tuples and non-finite floats (to ``None``) into plain JSON values."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def print_result(payload: Any, as_json: bool, text: "Callable[[Any], str] | str | None" = None, indent: "int | None" = 2) -> None:
    """Print ``payload`` as one JSON document (``as_json``) or as ``text`` for people.

    ``text`` is a string or a function of the payload; ``None`` prints ``str(payload)``.
    A closed pipe (``s3t ... --json | head``) ends the output quietly.
    """
    if as_json:
        out = json.dumps(to_jsonable(payload), indent=indent)
    elif callable(text):
        out = text(payload)
    else:
        out = str(payload) if text is None else text
    try:
        print(out)
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
