"""The Monte Carlo served-prefix kernel: request by request it is the definition, and its
means agree with the exact law within 4 SE (both objectives from the same runs)."""
from __future__ import annotations

import numpy as np
import pytest

from s3t_sim.prefix import served_prefix
from s3t_sim.selection import expected_served_prefix, select_sequences
from s3t_sim.selection.objectives import served_prefix_estimates


def _direct(seqs, p, R, q, runs, seed):
    """Replay the same request stream one request at a time with ``served_prefix`` (the definition)."""
    L = seqs.shape[1]
    probs = np.append(q * p, max(0.0, 1.0 - q * p.sum()))
    draws = np.random.default_rng(seed).choice(L + 1, size=(runs, R), p=probs / probs.sum())
    after, averaged = np.empty(runs), np.empty(runs)
    for i in range(runs):
        deleted = np.zeros(L + 1, dtype=bool)
        ks = []
        for r in range(R):
            deleted[draws[i, r]] = True
            ks.append(int(served_prefix(seqs, deleted[:L])))
        after[i] = ks[-1]
        averaged[i] = np.mean(ks)
    return after.mean(), averaged.mean()


@pytest.mark.parametrize("L, B, R, q", [(6, 3, 4, 1.0), (5, 5, 23, 0.5), (9, 2, 9, 1 / 3), (4, 24, 40, 1.0)])
def test_kernel_is_the_definition_on_the_same_stream(L, B, R, q):
    p = np.random.default_rng(L).dirichlet(np.ones(L))
    seqs = select_sequences("random", L, B, p, seed=5)
    after, averaged = served_prefix_estimates(seqs, p, R, shard_share=q, method="mc", runs=300, seed=8)
    direct_after, direct_averaged = _direct(seqs, p, R, q, 300, 8)
    assert after.mean == pytest.approx(direct_after, abs=1e-12)
    assert averaged.mean == pytest.approx(direct_averaged, abs=1e-12)
    assert after.runs == averaged.runs == 300 and after.seed == 8


@pytest.mark.parametrize("R", [3, 12, 40])  # fewer requests than slices, about as many, many more
def test_both_objectives_match_exact_within_4_se(R):
    p = np.random.default_rng(1).dirichlet(np.ones(10))
    seqs = select_sequences("bms", 10, 4, p, horizon=R)
    after, averaged = served_prefix_estimates(seqs, p, R, shard_share=0.5, method="mc", runs=20_000, seed=3)
    for mc, average in ((after, False), (averaged, True)):
        exact = float(expected_served_prefix(seqs, p, R, average=average, shard_share=0.5))
        assert mc.method == "mc" and mc.se > 0
        assert abs(mc.mean - exact) < 4 * mc.se


def test_zero_requests_serve_everything():
    after, averaged = served_prefix_estimates([[0, 1, 2]], None, 0, method="mc", runs=10, seed=0)
    assert after.mean == averaged.mean == 3 and after.se == 0
