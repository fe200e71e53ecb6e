"""Sub-commands of ``s3t`` contributed by this package (see ``s3t_sim.cli``)."""
from __future__ import annotations

import argparse


def register(subparsers: "argparse._SubParsersAction") -> None:
    """Add this package's sub-commands to the ``s3t`` parser."""
