"""Deletion curves from cached prefix logits: the served ensemble's accuracy along request
streams, and the band rows every deletion-curve table shares (no torch).

A state (each shard's served sequence and prefix after r requests,
:func:`s3t_sim.prefix.served_states_after`) is scored by the mean-logit ensemble of its live
shards, chance when every shard is dead (:func:`analysis.realruns.bands.ensemble_accuracy`),
which is what the run itself serves (``s3t validate`` checks it against ``S3TRun.evaluate``).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from analysis.realruns.bands import ensemble_accuracy
from s3t_sim.prefix import served_states_after

CURVE_COLUMNS = ("dataset", "method", "B", "requests", "mean", "low", "high", "samples", "source")
CHUNK = 200  # streams per block: (block, checkpoints, m * L) booleans at a time


def accuracy_along_streams(logits: np.ndarray, labels: np.ndarray, sequences: np.ndarray, hits: np.ndarray,
                           counts: np.ndarray) -> np.ndarray:
    """Ensemble accuracy (runs, len(counts)) after each request count of each stream.

    ``logits`` (m, B, L+1, n, C) of the system ``sequences`` (m, B, L); ``hits`` (runs, R) the
    flat slice ``shard * L + slice`` each request hits. Streams are scored in blocks of
    :data:`CHUNK`, so memory stays bounded for thousands of long streams.
    """
    hits = np.atleast_2d(np.asarray(hits, dtype=np.int64))
    out = np.empty((hits.shape[0], len(counts)))
    for start in range(0, hits.shape[0], CHUNK):
        index, prefix = served_states_after(sequences, hits[start : start + CHUNK], counts)
        out[start : start + CHUNK] = ensemble_accuracy(logits, labels, index, prefix)
    return out


def all_dead_after(sequences: np.ndarray, hits: np.ndarray) -> np.ndarray:
    """Per stream, the number of requests after which every shard of ``sequences`` is dead
    (every sequence's first slice hit); ``R + 1`` when the stream never gets there.

    >>> all_dead_after(np.array([[[0, 1]], [[1, 0]]]), np.array([[0, 3, 1], [1, 1, 1]])).tolist()
    [2, 4]
    """
    sequences = np.asarray(sequences)
    m, _, L = sequences.shape
    hits = np.atleast_2d(np.asarray(hits, dtype=np.int64))
    runs, R = hits.shape
    first_hit = np.full((runs, m * L), R, dtype=np.int64)
    np.minimum.at(first_hit, (np.repeat(np.arange(runs), R), hits.ravel()), np.tile(np.arange(R), runs))
    heads = np.unique(sequences[:, :, 0] + L * np.arange(m)[:, None], axis=None)  # every sequence's first slice, flat
    last = first_hit[:, heads].max(axis=1)
    return np.where(last < R, last + 1, R + 1)


def band_rows(values: np.ndarray, counts: np.ndarray, level: float, **key: Any) -> list[dict[str, Any]]:
    """One row per request count: ``key`` (dataset, method, B, source) + mean, central ``level``
    band (inverted CDF, so with a handful of samples it is their range) and the sample count
    over the rows of ``values`` (samples, len(counts))."""
    values = np.atleast_2d(np.asarray(values, dtype=float))
    tail = (1.0 - level) / 2
    low, high = np.quantile(values, [tail, 1 - tail], axis=0, method="inverted_cdf")
    base = {"dataset": key.get("dataset"), "method": key.get("method"), "B": key.get("B"), "source": key.get("source", "cached")}
    return [{**base, "requests": int(r), "mean": float(mu), "low": float(lo), "high": float(hi), "samples": int(values.shape[0])}
            for r, mu, lo, hi in zip(counts, values.mean(axis=0), low, high)]


def band_end(rows: list[dict[str, Any]], chance: float) -> int:
    """The first request count from which every cached curve's band is exactly chance (every shard
    dead in all but the band's tails), or the last count of ``rows``."""
    cached = [r for r in rows if r["source"] == "cached"]
    alive = [r["requests"] for r in cached if r["high"] != chance or r["low"] != chance]
    return min(max(alive, default=-1) + 1, max((r["requests"] for r in cached), default=0))
