"""Real fine-tuning runs: the simulator against them (``s3t validate``) and the paper's main
figure on any model and data (``s3t deletion-curves``).

- :mod:`analysis.realruns.bands`: predicted accuracy bands, request streams, ensemble accuracy, coverage;
- :mod:`analysis.realruns.heldout`: held-out prediction of a new seed from pilot seeds, and its scores;
- :mod:`analysis.realruns.experiment`: configuration, training and logit caching, stream replay, measured f(k);
- :mod:`analysis.realruns.compare`: measured against predicted, the S3T/SISA/full-LoRA table, the summary;
- :mod:`analysis.realruns.mainfigure`: the main figure (accuracy and training cost against deletions), one drawing function;
- :mod:`analysis.realruns.curves`: deletion curves from cached prefix logits, the shared band rows;
- :mod:`analysis.realruns.retraining_cost`: the example-passes S3T, SISA and full fine-tuning pay along a stream;
- :mod:`analysis.realruns.retrained`: SISA and full fine-tuning retrained for real at request checkpoints;
- :mod:`analysis.realruns.deletion_config`, :mod:`analysis.realruns.deletion_experiment`,
  :mod:`analysis.realruns.deletion_summary`: ``s3t deletion-curves`` (sizes, the experiment, summary and files);
- :mod:`analysis.realruns.figures`: the CSV/JSON files and figures of a run;
- :mod:`analysis.realruns.report_section`: the section ``s3t report`` shows after a run.
"""
