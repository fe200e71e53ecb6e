"""The simulator against real fine-tuning runs (``s3t validate``).

- :mod:`analysis.realruns.bands`: predicted accuracy bands, request streams, ensemble accuracy, coverage;
- :mod:`analysis.realruns.heldout`: held-out prediction of a new seed from pilot seeds, and its scores;
- :mod:`analysis.realruns.experiment`: configuration, training and logit caching, stream replay, measured f(k);
- :mod:`analysis.realruns.compare`: measured against predicted, the S3T/SISA/full-LoRA table, the summary;
- :mod:`analysis.realruns.mainfigure`: accuracy against deletions until every shard is dead (the paper-style figure);
- :mod:`analysis.realruns.figures`: the CSV/JSON files and figures of a run;
- :mod:`analysis.realruns.report_section`: the section ``s3t report`` shows after a run.
"""
