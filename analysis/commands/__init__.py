"""The analysis sub-commands of ``s3t``, one module each: ``bounds``, ``plan``, ``figures``,
``report`` and ``validate`` (each with ``register(subparsers)`` and ``run(args)``;
``analysis.cli`` registers them).

These modules import only ``argparse`` and modules without numpy at the top; the analysis
modules below them (numpy, scipy, matplotlib, torch) are imported inside each ``run`` so
that ``s3t --help`` stays fast.
"""
