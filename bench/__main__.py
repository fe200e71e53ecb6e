"""Run every benchmark: ``python -m bench`` (or ``make bench``); ``python -m bench simulator [options]``
runs one and passes the options on to it.

Each ``bench/bench_<name>.py`` has a ``main(argv)`` that prints a table with the naive
baseline side by side and writes its rows to ``bench/results/<name>.json``.
"""
from __future__ import annotations

import sys
from typing import Callable

from bench import bench_plan, bench_ray, bench_selection, bench_serving, bench_simulator, bench_training

BENCHMARKS: dict[str, Callable[[list[str]], int]] = {
    "plan": bench_plan.main,
    "ray": bench_ray.main,
    "selection": bench_selection.main,
    "serving": bench_serving.main,
    "simulator": bench_simulator.main,
    "training": bench_training.main,
}


def main(argv: list[str]) -> int:
    """Run the named benchmark with the remaining options, or every benchmark."""
    names = sorted(BENCHMARKS)
    if argv and argv[0] not in names and not argv[0].startswith("-"):
        print(f"unknown benchmark {argv[0]!r}; choose from {names}", file=sys.stderr)
        return 2
    if argv and argv[0] in names:
        chosen, options = [argv[0]], argv[1:]
    else:
        chosen, options = names, argv
    for name in chosen:
        print(f"\n=== bench {name} ===", flush=True)
        status = BENCHMARKS[name](options)
        if status:
            return int(status)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
