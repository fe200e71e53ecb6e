"""The right exact law of the request count for a system, prior and criterion."""
from __future__ import annotations

import numpy as np

from s3t_sim.criteria import Criterion, parse_criterion
from s3t_sim.laws.coupon import CouponCollectorLaw, all_dead_law
from s3t_sim.laws.poisson import PoissonEmbeddingLaw
from s3t_sim.priors import parse_prior
from s3t_sim.system import S3TSystem


def deletion_law(
    system: S3TSystem, prior=None, criterion: "Criterion | str" = "all-dead"
) -> "CouponCollectorLaw | PoissonEmbeddingLaw":
    """The exact law of the request count until ``criterion`` holds, for any prior and criterion.

    ``all-dead`` under the uniform prior is a coupon collector (:func:`all_dead_law`); every
    other case is the Poisson embedding (:class:`PoissonEmbeddingLaw`: error-bounded
    ``mean``/``var`` at any prior, the discrete law by the hit-set chain up to 20 relevant
    slices, refused beyond). Both have scipy.stats' frozen interface
    (:class:`~s3t_sim.laws.count.CountLaw`) and say how they are computed in ``law.method``:

    ========================  ==============================  =================================
    criterion                 uniform prior                   any other prior
    ========================  ==============================  =================================
    ``all-dead``              coupon collector (closed form)  Poisson embedding
    ``any-dead``              Poisson embedding               Poisson embedding
    ``prefix-below:F``        Poisson embedding               Poisson embedding
    ``performance-below:F``   Poisson embedding               Poisson embedding
    ========================  ==============================  =================================

    Examples
    --------
    >>> from s3t_sim.selection.cyclic import cyclic_rotations
    >>> deletion_law(S3TSystem(np.broadcast_to(cyclic_rotations(6, 6), (5, 6, 6))))
    CouponCollectorLaw(n=30, K=30)
    >>> round(deletion_law(S3TSystem(np.broadcast_to(cyclic_rotations(3, 2), (2, 2, 3))), None, "any-dead").mean(), 4)
    5.5
    """
    prior = parse_prior(prior, system.m, system.L)
    criterion = parse_criterion(criterion)
    if criterion.kind == "all-dead" and np.allclose(prior, 1.0 / prior.size, rtol=1e-12, atol=0):
        return all_dead_law(system)
    return PoissonEmbeddingLaw(system, prior, criterion)
