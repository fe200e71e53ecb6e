"""The hit-set law (s3t_sim.laws.hitsets) against brute-force enumeration of request streams."""
import doctest
import itertools
import math

import numpy as np
import pytest
from scipy.integrate import quad

import s3t_sim.laws.hitsets
from s3t_sim.laws.hitsets import (
    hit_set_law,
    mobius,
    served_prefix_by_hit_set,
    subset_mass,
    subset_masks,
    time_averaged_hit_set_law,
)
from s3t_sim.prefix import served_prefix


def test_docstring_examples_run():
    result = doctest.testmod(s3t_sim.laws.hitsets, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def set_index(slices) -> int:
    return sum(1 << int(s) for s in set(slices))


def brute_force_hit_set_law(prior, requests: int, shard_share: float) -> np.ndarray:
    """Enumerate every stream of ``requests`` outcomes (a slice of this shard, or elsewhere = -1)."""
    p = np.asarray(prior, dtype=float)
    outcomes = [(s, shard_share * p[s]) for s in range(p.size)] + [(-1, 1.0 - shard_share * p.sum())]
    law = np.zeros(2**p.size)
    for stream in itertools.product(outcomes, repeat=requests):
        law[set_index(s for s, _ in stream if s >= 0)] += math.prod(w for _, w in stream)
    return law


@pytest.mark.parametrize("prior, requests, shard_share", [
    ([0.5, 0.3, 0.2], 4, 1.0),
    ([0.1, 0.2, 0.3], 3, 1.0),      # a row of an (m, L) prior: the rest goes to other shards
    ([0.7, 0.2, 0.1], 5, 1 / 3),
    ([0.25, 0.25, 0.25, 0.25], 0, 0.5),
])
def test_hit_set_law_by_brute_force_enumeration(prior, requests, shard_share):
    want = brute_force_hit_set_law(prior, requests, shard_share)
    assert hit_set_law(prior, requests, shard_share=shard_share) == pytest.approx(want, abs=1e-14)


def test_averaged_law_is_the_mean_over_request_counts():
    p = [0.6, 0.25, 0.1, 0.05]
    want = np.mean([brute_force_hit_set_law(p, r, 0.5) for r in range(1, 6)], axis=0)
    assert hit_set_law(p, 5, average=True, shard_share=0.5) == pytest.approx(want, abs=1e-14)


def test_time_averaged_law_against_the_product_form_integral():
    # At Poisson time u slices are hit independently: P(D = S) = prod_{i in S} (1 - e^{-p_i u}) prod_{i not in S} e^{-p_i u}.
    p = np.array([0.3, 0.2, 0.1])  # a shard holding 60% of the prior
    U = 7.0
    masks = subset_masks(3)

    def at(u: float, index: int) -> float:
        hit = -np.expm1(-p * u)
        return float(np.prod(np.where(masks[index], hit, 1 - hit)))

    want = [quad(at, 0, U, args=(b,), epsabs=1e-14, epsrel=1e-12)[0] / U for b in range(8)]
    assert time_averaged_hit_set_law(p, U) == pytest.approx(want, abs=1e-12)
    # the shard share scales time: rates q p averaged over [0, U] equal rates p averaged over [0, q U]
    assert time_averaged_hit_set_law(p, U, shard_share=0.5) == pytest.approx(time_averaged_hit_set_law(p, U / 2), abs=1e-14)


def test_mobius_inverts_the_subset_sum():
    rng = np.random.default_rng(0)
    f = rng.random((3, 16))
    masks = subset_masks(4)
    below = (masks[:, None, :] <= masks[None, :, :]).all(axis=2)  # below[D, S]: D ⊆ S
    assert mobius(f @ below) == pytest.approx(f, abs=1e-12)
    assert subset_mass([0.1, 0.2, 0.3, 0.4]) == pytest.approx(masks @ [0.1, 0.2, 0.3, 0.4])
    with pytest.raises(ValueError, match="2\\^L entries"):
        mobius(np.ones(6))


def test_served_prefix_by_hit_set_matches_the_prefix_formula():
    seqs = np.array([[0, 1, 2, 3], [2, 3, 0, 1], [1, 0, 3, 2]])
    assert served_prefix_by_hit_set(seqs, chunk=2).tolist() == served_prefix(seqs, subset_masks(4)).tolist()


def test_bad_input_names_the_parameter():
    with pytest.raises(ValueError, match="shard_share"):
        hit_set_law([0.5, 0.5], 2, shard_share=0.0)
    with pytest.raises(ValueError, match="requests"):
        hit_set_law([0.5, 0.5], -1)
    with pytest.raises(ValueError, match="horizon"):
        time_averaged_hit_set_law([0.5, 0.5], 0.0)
