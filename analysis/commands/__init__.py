"""Sub-commands of ``s3t`` contributed by this package (see ``analysis.cli``):
``bounds``, ``plan``, ``figures``, ``report`` and ``validate``, one module each.

These modules import only ``argparse`` and each other at the top; the analysis modules
below them (numpy, scipy, matplotlib, torch) are imported inside each command's ``run``
so that ``s3t --help`` stays fast.
"""
from __future__ import annotations

import argparse

from analysis.commands import bounds, figures, plan, report, validate


def register(subparsers: "argparse._SubParsersAction") -> None:
    """Add this package's sub-commands to the ``s3t`` parser."""
    for module in (bounds, plan, figures, report, validate):
        module.register(subparsers)
