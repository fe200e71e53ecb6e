"""A trained S3T system: deletion by deactivation, serving, audit, retraining.

:class:`S3TRun` opens a run folder written by :func:`s3t_train.training.train_run`.

Deletion (:meth:`S3TRun.delete`) first appends the id to an append-only journal and
fsyncs it, then acts: the slice that held the example is marked *hit* in its shard, which
deactivates every stage whose prefix contains that slice; each shard switches to serving
its longest clean prefix (:func:`s3t_sim.prefix.best_sequence`); the example is removed
from the data store and from the activation cache. Replaying the journal on opening the
run redoes any action a crash interrupted, so the state after a crash equals the state
without one. Deleting twice is a no-op.

Serving (:meth:`S3TRun.predict_logits`) ensembles the live shards (mean of logits, or a
majority vote); a shard's model is the stage at the end of its served prefix, with
groups 1..k from the prefix's nodes and groups k+1..L switched off.

Reference: Chowdhury et al., S3T, ICLR 2025, arXiv:2406.16257 (deactivation, §3); Bourtoule
et al., "Machine Unlearning" (SISA), IEEE S&P 2021 (sharded ensembles, retraining).
"""
from __future__ import annotations

import csv
import io
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from s3t_sim.prefix import best_sequence, served_prefix
from s3t_sim.validation import check_choice, check_int
from s3t_train.checkpoints import (
    JOURNAL_FILE,
    STORE_FILE,
    atomic_write_text,
    membership_path,
    node_path,
    read_node_metadata,
)
from s3t_train.data import DataStore, TextDataset, load_examples
from s3t_train.training import ActivationCache, RunInfo, configure_torch, load_prefix, model_for, train_node, tree_nodes

VOTES = ("mean", "majority")


class DeletionJournal:
    """Append-only journal of deletion requests, one JSON line each, fsynced on append."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._file = None

    def entries(self) -> list[int]:
        if not self.path.is_file():
            return []
        ids = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                ids.append(int(json.loads(line)["id"]))
            except (ValueError, KeyError, TypeError):
                continue  # a torn last line from a crash mid-append: the request was never acknowledged
        return ids

    def append(self, example_id: int) -> None:
        if self._file is None:
            self._file = open(self.path, "a", encoding="utf-8")
        self._file.write(json.dumps({"op": "delete", "id": int(example_id), "time": time.time()}) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


@dataclass
class DeletionReport:
    """What one deletion did, with the time of each step (seconds)."""

    example_id: int
    shard: int
    slice: int
    already_deleted: bool
    deactivated: list[tuple[int, ...]]  # stages of the shard newly switched off
    served_prefix: list[int]  # per shard, after the deletion
    dead_shards: list[int]
    journal_seconds: float = 0.0
    switch_seconds: float = 0.0  # deactivation + serving switch
    store_seconds: float = 0.0  # removal from the data store and the activation cache

    @property
    def response_seconds(self) -> float:
        """Journal + deactivation + serving switch: until the served model no longer uses the example."""
        return self.journal_seconds + self.switch_seconds

    def to_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items()}
        d["deactivated"] = [list(p) for p in self.deactivated]
        d["response_seconds"] = self.response_seconds
        return d


class S3TRun:
    """A trained S3T system in a run folder.

    Parameters
    ----------
    run_dir : folder written by ``s3t train`` / :func:`s3t_train.training.train_run`.

    Examples
    --------
    >>> run = S3TRun("runs/demo")  # doctest: +SKIP
    >>> run.delete(17).served_prefix  # doctest: +SKIP
    [2, 3, 3]
    >>> run.predict(["a gorgeous film"])  # doctest: +SKIP
    ['1']
    """

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self.info = RunInfo.open(self.run_dir)
        self.config = self.info.config
        self.sequences = self.info.sequences
        self.m, self.L = self.config.system.shards, self.config.system.slices
        self.store = DataStore(self.run_dir / STORE_FILE)
        self.label_names = self.store.label_names
        self.journal = DeletionJournal(self.run_dir / JOURNAL_FILE)
        self.cache = ActivationCache()
        self._node_states: dict[Path, object] = {}
        self.stages = [tree_nodes(self.sequences[s]) for s in range(self.m)]  # per shard, parents first
        self._load_membership()
        self.deleted: set[int] = set()
        self.hit = np.zeros((self.m, self.L), dtype=bool)
        for example_id in self.journal.entries():  # replay: redo what a crash may have cut short
            self._act(example_id)
        self.deleted |= self.store.deleted_ids()
        self._update_dirty()

    # --- state ----------------------------------------------------------------------
    def _load_membership(self) -> None:
        """Where each example sat when the shard's current checkpoints were trained."""
        self.trained_location: dict[int, tuple[int, int]] = {}
        for shard in range(self.m):
            for j, ids in enumerate(json.loads(membership_path(self.run_dir, shard).read_text())):
                for i in ids:
                    self.trained_location[int(i)] = (shard, j)

    def _update_dirty(self) -> None:
        self.hit = np.zeros((self.m, self.L), dtype=bool)  # slice saw a deleted example
        for i in self.deleted:
            if i in self.trained_location:
                self.hit[self.trained_location[i]] = True

    def served_prefix(self) -> list[int]:
        """Active prefix length of each shard (0 = dead), via :func:`s3t_sim.prefix.served_prefix`."""
        return [int(served_prefix(self.sequences[s], self.hit[s])) for s in range(self.m)]

    def served_stages(self) -> list[tuple[int, ...] | None]:
        """The prefix each shard serves (``None`` for a dead shard)."""
        out = []
        for s in range(self.m):
            index, k = best_sequence(self.sequences[s], self.hit[s])
            out.append(tuple(int(x) for x in self.sequences[s][index][:k]) if k > 0 else None)
        return out

    def dead_shards(self) -> list[int]:
        return [s for s, k in enumerate(self.served_prefix()) if k == 0]

    def active_stages(self, shard: int) -> list[tuple[int, ...]]:
        """Stages of ``shard`` whose prefix holds no hit slice."""
        return [p for p in self.stages[shard] if not self.hit[shard, list(p)].any()]

    # --- deletion -------------------------------------------------------------------
    def _act(self, example_id: int) -> tuple[int, int] | None:
        """The action of a deletion (after the journal): deactivate, remove, forget."""
        location = self.trained_location.get(example_id) or self.store.location(example_id)
        self._deactivate(example_id)
        self._remove(example_id, location)
        return location

    def _deactivate(self, example_id: int) -> None:
        """Mark the example deleted and its slice hit: every stage that saw it stops serving."""
        self.deleted.add(example_id)
        if example_id in self.trained_location:
            self.hit[self.trained_location[example_id]] = True

    def _remove(self, example_id: int, location: tuple[int, int] | None) -> None:
        """Remove the example from the data store and its slice's cached activations."""
        slice_mates = self.store.slice_ids(*location) if location else ()
        self.store.remove(example_id)
        self.cache.drop(example_id, slice_mates)

    def delete(self, example_id: int) -> DeletionReport:
        """Forget training example ``example_id`` (its 0-based row in the training file)."""
        example_id = check_int("id", example_id, 0)
        location = self.trained_location.get(example_id) or self.store.location(example_id)
        if location is None:
            known = sorted(self.trained_location)
            held = f"{len(known)} ids from {known[0]} to {known[-1]}, e.g. {known[:5]}" if known else "none trained yet"
            raise ValueError(
                f"id must be the id of a training example of this run (a 0-based row of the training file "
                f"that the run holds: {held}); got {example_id}"
            )
        shard, slice_ = location
        if example_id in self.deleted:
            return DeletionReport(example_id, shard, slice_, True, [], self.served_prefix(), self.dead_shards())
        before = set(self.active_stages(shard))
        t0 = time.perf_counter()
        self.journal.append(example_id)
        t1 = time.perf_counter()
        self._deactivate(example_id)
        prefixes = self.served_prefix()
        self._served = self.served_stages()  # the serving switch
        t2 = time.perf_counter()
        self._remove(example_id, location)
        t3 = time.perf_counter()
        deactivated = sorted(before - set(self.active_stages(shard)), key=lambda p: (len(p), p))
        return DeletionReport(
            example_id, shard, slice_, False, deactivated, prefixes, [s for s, k in enumerate(prefixes) if k == 0],
            journal_seconds=t1 - t0, switch_seconds=t2 - t1, store_seconds=t3 - t2,
        )

    # --- serving --------------------------------------------------------------------
    def _model(self):
        configure_torch()
        return model_for(self.config, len(self.label_names))

    def _tokenize(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        from s3t_train.model import load_tokenizer

        enc = load_tokenizer(self.config.training.model)(list(texts), truncation=True, max_length=self.config.training.max_length, padding=True, return_tensors="pt")
        return enc["input_ids"], enc["attention_mask"]

    def stage_logits(self, shard: int, prefix: tuple[int, ...], texts: list[str], batch_size: int = 64) -> torch.Tensor:
        """Logits of the model at the end of stage ``prefix`` of ``shard`` (any stage, active or not)."""
        model = self._model()
        load_prefix(model, self.run_dir, shard, tuple(prefix), self.config.fingerprint(), self._node_states)
        device = self.config.training.device
        out = []
        with torch.no_grad():
            for start in range(0, len(texts), batch_size):
                input_ids, mask = self._tokenize(texts[start : start + batch_size])
                out.append(model.logits(input_ids.to(device), mask.to(device)).float().cpu())
        return torch.cat(out) if out else torch.zeros(0, len(self.label_names))

    def shard_logits(self, shard: int, texts: list[str]) -> torch.Tensor:
        """Logits of the model ``shard`` serves now (error if it is dead)."""
        stage = self.served_stages()[shard]
        if stage is None:
            raise ValueError(f"shard {shard} is dead (every sequence lost its first slice); run `s3t retrain --shard {shard}`")
        return self.stage_logits(shard, stage, texts)

    def predict_logits(self, texts: list[str], vote: str = "mean") -> torch.Tensor:
        """Ensemble over live shards: mean of logits, or (``vote='majority'``) vote counts
        per label with the mean logits added / 1000 to break ties."""
        check_choice("vote", vote, VOTES)
        live = [s for s, stage in enumerate(self.served_stages()) if stage is not None]
        if not live:
            raise ValueError("every shard is dead: nothing can serve; retrain a shard with `s3t retrain --shard S`")
        per_shard = torch.stack([self.shard_logits(s, list(texts)) for s in live])
        mean = per_shard.mean(dim=0)
        if vote == "mean":
            return mean
        votes = torch.nn.functional.one_hot(per_shard.argmax(dim=-1), len(self.label_names)).sum(dim=0).float()
        return votes + mean.softmax(dim=-1) / 1000

    def predict(self, texts: list[str], vote: str = "mean") -> list[str]:
        """Predicted label names of ``texts``."""
        return [self.label_names[i] for i in self.predict_logits(texts, vote).argmax(dim=-1).tolist()]

    def eval_dataset(self, limit: int | None = None, seed: int = 0) -> TextDataset:
        """Held-out examples: ``dev``/``test`` file of the data folder (or the data itself if a file)."""
        d = self.config.data
        return load_examples(d.source, "eval", d.text_column, d.label_column, label_names=self.label_names, limit=limit, seed=seed)

    def evaluate(self, dataset: TextDataset | None = None, vote: str = "mean", limit: int | None = None) -> dict:
        """Accuracy of the served ensemble, with the served prefix of each shard."""
        dataset = dataset if dataset is not None else self.eval_dataset(limit)
        predicted = self.predict_logits(dataset.texts, vote).argmax(dim=-1).numpy()
        correct = predicted == dataset.labels
        n = len(dataset)
        accuracy = float(correct.mean())
        return {
            "accuracy": accuracy,
            "accuracy_se": float(np.sqrt(accuracy * (1 - accuracy) / n)),
            "examples": n,
            "served_prefix": self.served_prefix(),
            "dead_shards": self.dead_shards(),
            "deleted": len(self.deleted),
            "train_examples": len(self.store),
            "vote": vote,
        }

    def performance_profile(self, shard: int = 0, dataset: TextDataset | None = None, path: str | Path | None = None, limit: int | None = None) -> list[tuple[int, float]]:
        """Measured f(k): accuracy of ``shard``'s first sequence with k = 0..L active groups
        (k = 0: pretrained encoder with the untrained head). Optionally writes CSV ``k,accuracy``."""
        shard = check_int("shard", shard, 0, self.m - 1)
        dataset = dataset if dataset is not None else self.eval_dataset(limit)
        order = tuple(int(s) for s in self.sequences[shard][0])
        rows = []
        for k in range(self.L + 1):
            logits = self.stage_logits(shard, order[:k], dataset.texts)
            rows.append((k, float((logits.argmax(dim=-1).numpy() == dataset.labels).mean())))
        if path is not None:
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            writer.writerow(["k", "accuracy"])
            writer.writerows(rows)
            atomic_write_text(path, buffer.getvalue())
        return rows

    # --- audit and retraining -------------------------------------------------------
    def audit(self) -> dict:
        """Check, from each active stage's provenance, that it never saw a deleted id; and
        that no deleted id remains in the store or the activation cache."""
        violations = []
        checked = 0
        for shard in range(self.m):
            for prefix in self.active_stages(shard):
                seen = set(read_node_metadata(node_path(self.run_dir, shard, prefix))["seen_ids"])
                bad = sorted(seen & self.deleted)
                checked += 1
                if bad:
                    violations.append({"shard": shard, "stage": list(prefix), "deleted_ids_seen": bad})
        in_store = sorted(i for i in self.deleted if i in self.store)
        in_cache = sorted(self.cache.example_ids() & self.deleted)
        ok = not violations and not in_store and not in_cache
        return {"ok": ok, "active_stages_checked": checked, "deleted": len(self.deleted), "violations": violations, "deleted_in_store": in_store, "deleted_in_cache": in_cache}

    def retrain(self, shard: int, progress: bool | None = None) -> dict:
        """Rebuild ``shard`` without the deleted data: retrain every stage that saw a
        deleted example (and its descendants), parents first, then mark the shard clean."""
        import sys

        from tqdm.auto import tqdm

        shard = check_int("shard", shard, 0, self.m - 1)
        configure_torch()
        stale: set[tuple[int, ...]] = set()
        for prefix in self.stages[shard]:
            path = node_path(self.run_dir, shard, prefix)
            if prefix[:-1] in stale or not path.is_file() or set(read_node_metadata(path)["seen_ids"]) & self.deleted:
                stale.add(prefix)
        todo = sorted(stale, key=lambda p: (len(p), p))
        started = time.perf_counter()
        show = sys.stderr.isatty() if progress is None else progress
        results = [train_node(self.run_dir, shard, p, cache=self.cache) for p in tqdm(todo, desc=f"retraining shard {shard}", disable=not show)]
        atomic_write_text(membership_path(self.run_dir, shard), json.dumps(self.store.membership(shard, self.L)))
        self._node_states = {k: v for k, v in self._node_states.items() if f"shards{os.sep}{shard}{os.sep}" not in str(k)}
        self._load_membership()
        self._update_dirty()
        return {
            "shard": shard,
            "stages_retrained": [list(p) for p in todo],
            "slice_passes": sum(r.slice_passes for r in results),
            "seconds": time.perf_counter() - started,
            "served_prefix": self.served_prefix(),
        }

    def close(self) -> None:
        self.journal.close()
        self.store.close()
