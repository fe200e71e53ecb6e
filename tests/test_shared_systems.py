"""Shards that share a sequence set hold it once, and every answer equals the per-shard computation."""
from __future__ import annotations

import numpy as np

from s3t_sim.selection.cyclic import balanced_prefix_tree
from s3t_sim.system import S3TSystem, best_prefix_minima


def _pair(m: int, L: int, B: int) -> tuple[S3TSystem, S3TSystem]:
    one = balanced_prefix_tree(L, B)
    return S3TSystem(np.broadcast_to(one, (m, B, L))), S3TSystem(np.array(np.broadcast_to(one, (m, B, L))))


def test_a_shared_set_is_held_once_even_for_many_shards():
    shared, _ = _pair(3, 5, 7)
    assert shared.shared and shared.sequences.strides[0] == 0
    big = S3TSystem(np.broadcast_to(balanced_prefix_tree(64, 64), (100_000, 64, 64)))
    assert big.shared and big.sequences.base is not None and big.sequences.strides[0] == 0  # no 100,000 copies


def test_shared_and_per_shard_paths_agree():
    rng = np.random.default_rng(0)
    shared, copied = _pair(4, 6, 9)
    assert not copied.shared
    deleted = rng.random((5, 4, 6)) < 0.4
    assert np.array_equal(shared.served_prefix(deleted), copied.served_prefix(deleted))
    assert np.array_equal(shared.death_slices(), copied.death_slices())
    events = rng.integers(0, 30, size=(5, 4, 6))
    assert np.array_equal(shared.stage_lifetimes(events), copied.stage_lifetimes(events))


def test_best_prefix_minima_is_the_max_over_orders_of_running_minima():
    rng = np.random.default_rng(1)
    seqs = balanced_prefix_tree(7, 12)
    values = rng.exponential(size=(50, 7))
    direct = np.minimum.accumulate(values[:, seqs], axis=-1).max(axis=-2)
    assert np.array_equal(best_prefix_minima(values, seqs), direct)
    ints = rng.integers(-5, 2**40, size=(20, 7))  # beyond int32: no narrowing
    assert np.array_equal(best_prefix_minima(ints, seqs), np.minimum.accumulate(ints[:, seqs], axis=-1).max(axis=-2))
