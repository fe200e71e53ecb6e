"""Exactness check of one deletion on a trained run (used by ``bench/gpu_check.sh``).

Deletes one example of shard 0 (in the second slice of its first sequence), then trains
the shard's new served prefix from scratch without that example in a fresh folder and
compares the served logits bitwise (``torch.equal``) on held-out texts; runs the audit.
Run: ``python -m bench.exactness_check RUN SCRATCH``; prints one JSON line, exit 1 if not exact.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    import torch

    from s3t_train.audit import audit
    from s3t_train.evaluation import eval_dataset
    from s3t_train.layout import STORE_FILE
    from s3t_train.run import S3TRun
    from s3t_train.run_folder import create_run
    from s3t_train.serving import shard_logits, stage_logits
    from s3t_train.store import DataStore
    from s3t_train.training import train_node

    if len(argv) != 2:
        print("usage: python -m bench.exactness_check RUN SCRATCH", file=sys.stderr)
        return 2
    run_dir, scratch = Path(argv[0]), Path(argv[1])
    run = S3TRun(run_dir)
    texts = eval_dataset(run, limit=256, seed=0).texts
    victim = run.store.slice_ids(0, int(run.sequences[0][0][1]))[0]
    report = run.deletions.delete(victim)
    served = run.deletions.served_stages()[0]
    logits = shard_logits(run, 0, texts)
    started = time.perf_counter()
    create_run(run.config, scratch)
    store = DataStore(scratch / STORE_FILE)
    for example in sorted(run.deletions.deleted):
        store.remove(example)
    store.close()
    for k in range(1, len(served) + 1):
        train_node(scratch, 0, served[:k])
    exact = torch.equal(stage_logits(S3TRun(scratch), 0, served, texts), logits)
    result = {"victim": victim, "response_ms": report.response_seconds * 1000, "served_prefix": report.served_prefix,
              "retrained_from_scratch_s": time.perf_counter() - started, "bitwise_equal": exact, "audit_ok": audit(run)["ok"]}
    print(json.dumps(result))
    return 0 if exact and result["audit_ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
