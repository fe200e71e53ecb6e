"""Accuracy after real retraining, measured at a few request counts of a deletion stream.

SISA (one sequence per shard, a checkpoint per stage) and full fine-tuning (one model) keep
serving only by retraining: after every request SISA retrains the hit shard from the
checkpoint before the hit slice (:func:`s3t_train.retraining.retrain`), full fine-tuning
retrains its one model from scratch. Training is deterministic given (seed, shard, prefix,
data) -- a stage's seed is a hash of (seed, shard, prefix) and the frozen states of a slice
are computed in fixed batches of that slice alone -- so the model after r requests each
followed by its retrain is the model of ONE retrain after deleting all r points: every stage
is last retrained once the data of its slices is final, from a parent that is final too
(``tests/test_deletion_curves.py`` checks it bitwise on the tiny model). So the curve is
measured by one retrain per checkpoint, not one per request; its seconds are what the
measurement took, while the cost SISA pays per request is counted exactly by
:mod:`analysis.realruns.retraining_cost`.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from s3t_train.evaluation import evaluate
from s3t_train.retraining import retrain, stale_stages
from s3t_train.run import S3TRun


def retrained_curve(run_dir: "str | Path", stream_ids: list[int], checkpoints: list[int], eval_set: Any,
                    work_dir: "str | Path") -> list[dict[str, Any]]:
    """Replay ``stream_ids`` on a copy of ``run_dir`` (in ``work_dir``, removed afterwards): at
    each of ``checkpoints`` (increasing request counts), delete the requests so far through the
    run's deletion path (journal, data store, deactivation), retrain every shard with a stale
    stage, and evaluate the served ensemble on ``eval_set``.

    Returns one dict per checkpoint: ``requests``, ``accuracy``, ``seconds`` (retraining),
    ``stage_trainings``, ``shards_retrained`` and ``served_prefix`` (every shard at full length).
    """
    copy = Path(work_dir)
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(run_dir, copy)
    run = S3TRun(copy)
    rows = []
    try:
        done = 0
        for r in checkpoints:
            if r > done:
                run.deletions.delete_many([int(i) for i in stream_ids[done:r]])
                done = r
            started = time.perf_counter()
            shards = [s for s in range(run.m) if stale_stages(run, s)]
            trainings = sum(retrain(run, s, progress=False)["stage_trainings"] for s in shards)
            seconds = time.perf_counter() - started
            served = run.deletions.served_prefix()
            if served != [run.L] * run.m:
                raise RuntimeError(f"after retraining every shard should serve its full sequence; served prefixes {served}")
            rows.append({"requests": int(r), "accuracy": float(evaluate(run, eval_set)["accuracy"]), "seconds": seconds,
                         "stage_trainings": int(trainings), "shards_retrained": len(shards), "served_prefix": served})
    finally:
        run.close()
        shutil.rmtree(copy, ignore_errors=True)
    return rows
