"""Run every benchmark: ``python -m bench`` (or ``make bench``); ``python -m bench simulator [options]``
runs one and passes the options on to it.

Each ``bench/bench_<name>.py`` has a ``main(argv)`` that prints a table with the naive
baseline side by side and writes its rows to ``bench/results/<name>.json``.
"""
from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = sorted(m.name[len("bench_"):] for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    if argv and argv[0] not in names and not argv[0].startswith("-"):
        print(f"unknown benchmark {argv[0]!r}; choose from {names}", file=sys.stderr)
        return 2
    if argv and argv[0] in names:
        chosen, options = [argv[0]], argv[1:]
    else:
        chosen, options = names, argv
    for name in chosen:
        print(f"\n=== bench {name} ===", flush=True)
        status = importlib.import_module(f"bench.bench_{name}").main(options)
        if status:
            return int(status)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
