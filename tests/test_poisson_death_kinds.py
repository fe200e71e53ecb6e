"""The death criteria's survival with alike shards grouped equals the shard-by-shard product."""
from __future__ import annotations

import numpy as np
import pytest

from s3t_sim.laws.poisson import PoissonEmbeddingLaw, death_kinds
from s3t_sim.system import S3TSystem


def _direct(system: S3TSystem, p: np.ndarray, t: np.ndarray):
    death = system.death_slices()
    dead = np.stack([np.prod(np.where(death[s], -np.expm1(-np.outer(t, p[s])), 1.0), axis=1) for s in range(system.m)], axis=1)
    return dead.prod(axis=1), (1.0 - dead).prod(axis=1)  # F(all-dead), S(any-dead)


@pytest.mark.parametrize("fallback", [True, False])
def test_grouped_equals_direct(fallback):
    seqs = np.array([[[0, 1, 2], [1, 2, 0]], [[0, 1, 2], [1, 2, 0]], [[2, 0, 1], [0, 2, 1]], [[0, 1, 2], [1, 2, 0]]])
    p = np.array([[0.1, 0.1, 0.05], [0.1, 0.1, 0.05], [0.2, 0.1, 0.1], [0.04, 0.03, 0.03]])  # shards 0 and 1 alike
    system = S3TSystem(seqs if fallback else seqs[:, :1], checkpoint_fallback=fallback)
    d, q, counts = death_kinds(system.death_slices(), p)
    assert sorted(counts.tolist()) == [1, 1, 2]
    t = np.array([0.5, 3.0, 8.0, 20.0])  # beyond, the direct 1 - prod(...) cancels (the law does not)
    F_all, S_any = _direct(system, p, t) if fallback else _direct_no_fallback(p, t)
    S, F = PoissonEmbeddingLaw(system, p, "all-dead").survival_pair(t)
    np.testing.assert_allclose(F, F_all, rtol=1e-12)
    np.testing.assert_allclose(S + F, 1.0, rtol=1e-12)
    S, F = PoissonEmbeddingLaw(system, p, "any-dead").survival_pair(t)
    np.testing.assert_allclose(S, S_any, rtol=1e-12, atol=1e-300)


def _direct_no_fallback(p, t):
    dead = -np.expm1(-np.outer(t, p.sum(axis=1)))
    return dead.prod(axis=1), (1.0 - dead).prod(axis=1)


def test_one_kind_for_a_shared_set():
    system = S3TSystem(np.broadcast_to(np.array([[0, 1], [1, 0]]), (1000, 2, 2)))
    d, q, counts = death_kinds(system.death_slices(), np.full((1000, 2), 1 / 2000))
    assert d.shape == (1, 2) and counts.tolist() == [1000]
