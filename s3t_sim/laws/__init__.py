"""Exact laws of the deletion process, split by law (see each module).

- :mod:`~s3t_sim.laws.hitsets` — the law of a shard's hit set (Möbius transform);
- :mod:`~s3t_sim.laws.coupon` — ``harmonic``, the coupon collector, ``all_dead_law``, ``sisa_law``;
- :mod:`~s3t_sim.laws.chain` — :class:`HitSetChainLaw` (any prior and criterion, small systems);
- :mod:`~s3t_sim.laws.poisson` — :class:`PoissonEmbeddingLaw` (mean and variance, larger systems);
- :mod:`~s3t_sim.laws.served_prefix` — one shard's served-prefix law by its ``2^L`` hit sets;
- :mod:`~s3t_sim.laws.served_prefix_law` — served-prefix frozen laws (per shard, total), expectation, performance;
- :mod:`~s3t_sim.laws.rotations` — exact served-prefix laws of uniform rotations at any ``L``;
- :mod:`~s3t_sim.laws.deletion` — :func:`deletion_law`, the right law for a system;
- :mod:`~s3t_sim.laws.bound_forms` — the paper's bound forms.
"""
from s3t_sim.laws.bound_forms import BOUND_FORMS, BoundForm, bound_values
from s3t_sim.laws.chain import HitSetChainLaw
from s3t_sim.laws.count import FiniteLaw
from s3t_sim.laws.coupon import CouponCollectorLaw, all_dead_law, harmonic, sisa_law
from s3t_sim.laws.deletion import deletion_law
from s3t_sim.laws.poisson import PoissonEmbeddingLaw
from s3t_sim.laws.served_prefix import served_prefix_distribution
from s3t_sim.laws.served_prefix_law import (
    shard_served_prefix_law,
    system_served_prefix_laws,
    total_served_prefix_law,
    expected_performance,
    system_expected_served_prefix,
    system_served_prefix_distribution,
)

__all__ = [
    "BOUND_FORMS",
    "BoundForm",
    "bound_values",
    "HitSetChainLaw",
    "CouponCollectorLaw",
    "all_dead_law",
    "harmonic",
    "sisa_law",
    "deletion_law",
    "PoissonEmbeddingLaw",
    "expected_performance",
    "served_prefix_distribution",
    "system_expected_served_prefix",
    "system_served_prefix_distribution",
    "shard_served_prefix_law",
    "system_served_prefix_laws",
    "total_served_prefix_law",
    "FiniteLaw",
]
