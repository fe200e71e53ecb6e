"""The audit: no active stage ever saw a deleted example, and no deleted example is left."""
from __future__ import annotations

from s3t_train.checkpoints import read_node_metadata
from s3t_train.layout import node_path
from s3t_train.run import S3TRun


def audit(run: S3TRun) -> dict:
    """Check, from each active stage's provenance, that it never saw a deleted id; and
    that no deleted id remains in the store or the activation cache."""
    deleted = run.deletions.deleted
    violations = []
    checked = 0
    for shard in range(run.m):
        for prefix in run.deletions.active_stages(shard):
            seen = set(read_node_metadata(node_path(run.run_dir, shard, prefix))["seen_ids"])
            bad = sorted(seen & deleted)
            checked += 1
            if bad:
                violations.append({"shard": shard, "stage": list(prefix), "deleted_ids_seen": bad})
    in_store = sorted(i for i in deleted if i in run.store)
    in_cache = sorted(run.cache.example_ids() & deleted)
    ok = not violations and not in_store and not in_cache
    return {"ok": ok, "active_stages_checked": checked, "deleted": len(deleted), "violations": violations, "deleted_in_store": in_store, "deleted_in_cache": in_cache}
