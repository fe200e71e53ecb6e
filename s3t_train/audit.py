"""The audit: no active stage ever saw a deleted example, and nothing trained on or holding
a deleted example is left in the run folder.

Every node file on disk is verified (checksum, :func:`s3t_train.checkpoints.node_problem`)
and its provenance read: a file whose ``seen_ids`` meet the deleted set is a violation
whether its stage is active or not (a deactivated stage's files are erased on deletion);
an active stage must have a sound file written under the run's configuration fingerprint.
"""
from __future__ import annotations

from s3t_train.checkpoints import DamagedCheckpoint, read_node_metadata
from s3t_train.layout import node_path
from s3t_train.run import S3TRun


def audit(run: S3TRun) -> dict:
    """Check every node file of the run against the deletions and the configuration, and
    that no deleted id remains in the store or the activation cache (under a shared lock)."""
    with run.lock.hold(shared=True):
        return _audit(run)


def _audit(run: S3TRun) -> dict:
    deleted = run.deletions.deleted
    fingerprint = run.config.fingerprint()
    violations, tainted_files, damaged, foreign = [], [], [], []
    checked = 0
    for shard in range(run.m):
        active = set(run.deletions.active_stages(shard))
        for prefix in run.deletions.stages[shard]:
            path = node_path(run.run_dir, shard, prefix)
            if not path.is_file():
                if prefix in active:
                    damaged.append({"shard": shard, "stage": list(prefix), "problem": "missing"})
                continue
            try:
                meta = read_node_metadata(path)
            except DamagedCheckpoint as exc:
                damaged.append({"shard": shard, "stage": list(prefix), "problem": str(exc)})
                continue
            bad = sorted(deleted.intersection(meta["seen_ids"]))
            if prefix in active:
                checked += 1
                if bad:
                    violations.append({"shard": shard, "stage": list(prefix), "deleted_ids_seen": bad})
                if meta["fingerprint"] != fingerprint:
                    foreign.append({"shard": shard, "stage": list(prefix), "fingerprint": meta["fingerprint"]})
            if bad:
                tainted_files.append(str(path.relative_to(run.run_dir)))
    in_store = sorted(i for i in deleted if i in run.store)
    in_cache = sorted(run.cache.example_ids() & deleted)
    ok = not (violations or tainted_files or damaged or foreign or in_store or in_cache)
    return {
        "ok": ok, "active_stages_checked": checked, "deleted": len(deleted), "violations": violations,
        "tainted_files": tainted_files, "damaged_checkpoints": damaged, "foreign_fingerprints": foreign,
        "deleted_in_store": in_store, "deleted_in_cache": in_cache,
    }
