"""The exact law of the failure count for any prior and criterion, by the chain on hit sets."""
from __future__ import annotations

from functools import cached_property

import numpy as np

from s3t_sim.criteria import Criterion, parse_criterion
from s3t_sim.laws.count import CountLaw
from s3t_sim.laws.hitsets import subset_masks
from s3t_sim.priors import parse_prior
from s3t_sim.system import S3TSystem

MAX_CHAIN_SLICES = 20  # 2^20 hit sets: the chain's size limit (sf, cdf, pmf)
MAX_MOMENT_SLICES = 14  # the first-step moment equations run in Python: 2^14 sets
MAX_WORK = 2e9  # operations r K 2^K allowed to iterate the chain


class HitSetChainLaw(CountLaw):
    """Exact law of the failure count for any prior and criterion (i.i.d. requests).

    The set ``D`` of hit slices (among the ``K`` slices the criterion looks at) is a Markov
    chain: from ``D`` a request adds slice ``i`` with probability ``p_i`` and leaves ``D``
    unchanged with probability ``1 - sum_{i not in D} p_i``. The count is the hitting time of
    the failed sets. ``sf``/``cdf``/``pmf`` iterate the chain; ``mean``/``var`` solve the
    first-step equations backwards from the largest sets (``T_D = G + T_{D + i}``,
    ``G ~ Geometric(q_D)``). Every operation adds or multiplies non-negative numbers (the
    stay probability is the hit plus irrelevant mass, never ``1 - q_D``), so ``P(N > r)``
    is exact to ~``r K 1e-16`` relative even in its far tail. ``K <= 20`` for the law
    (and ``r K 2^K <= 2e9`` operations), ``K <= 14`` for the moments.

    Examples
    --------
    >>> from s3t_sim.selection.cyclic import cyclic_rotations
    >>> law = HitSetChainLaw(S3TSystem(np.broadcast_to(cyclic_rotations(3, 2), (2, 2, 3))), None, "any-dead")
    >>> round(law.mean(), 4)
    5.5
    """

    method = "hit-set chain"

    def __init__(self, system: S3TSystem, prior=None, criterion: "Criterion | str" = "all-dead"):
        self.system = system
        self.prior = parse_prior(prior, system.m, system.L)
        self.criterion = parse_criterion(criterion)
        self.relevant = self.criterion.relevant_slices(system, self.prior)
        K = self.relevant.size
        if K > MAX_CHAIN_SLICES:
            raise ValueError(
                f"the hit-set chain needs at most {MAX_CHAIN_SLICES} relevant slices; this system has {K} "
                "(no stable shortcut exists for the discrete law: use the moments or simulate)"
            )
        masks = subset_masks(K)
        deleted = np.zeros((2**K, system.n_slices), dtype=bool)
        deleted[:, self.relevant] = masks
        prefixes = system.served_prefix(deleted.reshape(-1, system.m, system.L))
        self.failed = self.criterion.holds(prefixes, system.L)
        if not self.failed[-1]:
            raise ValueError(f"criterion {self.criterion} never holds under this prior")
        self.p = self.prior.ravel()[self.relevant]
        self.escape = (~masks * self.p).sum(axis=1)  # q_D: probability of a new relevant slice
        rest = np.delete(self.prior.ravel(), self.relevant).sum()  # mass of irrelevant slices
        self.stay = np.clip(rest + (masks * self.p).sum(axis=1), 0.0, 1.0)  # 1 - q_D without cancellation

    def __repr__(self) -> str:
        return f"HitSetChainLaw(K={self.relevant.size}, criterion={self.criterion})"

    def _moments(self) -> tuple[float, float]:
        K = self.relevant.size
        if K > MAX_MOMENT_SLICES:
            raise ValueError(
                f"HitSetChainLaw moments need at most {MAX_MOMENT_SLICES} relevant slices; this system has {K}: "
                "use PoissonEmbeddingLaw"
            )
        first = np.zeros(2**K)
        spread = np.zeros(2**K)  # Var[N_D]
        order = np.argsort(-subset_masks(K).sum(axis=1), kind="stable")
        for D in order:  # larger sets first
            if self.failed[D]:
                continue
            q = self.escape[D]
            nxt = [(D | (1 << i), self.p[i] / q) for i in range(K) if not D >> i & 1 and self.p[i] > 0]
            e_next = sum(w * first[b] for b, w in nxt)
            first[D] = 1 / q + e_next
            # N_D = G + N_next, G ~ Geometric(q) independent: Var = (1 - q)/q^2 + E[Var] + Var[E],
            # every term non-negative (no E[N^2] - E[N]^2 cancellation)
            spread[D] = self.stay[D] / q**2 + sum(w * (spread[b] + (first[b] - e_next) ** 2) for b, w in nxt)
        return float(first[0]), float(spread[0])

    @cached_property
    def _mean_var(self) -> tuple[float, float]:
        return self._moments()

    def mean(self) -> float:
        return self._mean_var[0]

    def var(self) -> float:
        return self._mean_var[1]

    def _sf_table(self, r_max: int) -> np.ndarray:
        """``P(N > r)`` for ``r = 0..r_max``."""
        K = self.relevant.size
        if r_max * K * 2**K > MAX_WORK:
            raise ValueError(
                f"P(N > r) up to r = {r_max} with K = {K} relevant slices needs {r_max * K * 2**K:.3g} operations "
                f"(limit {MAX_WORK:g}); no stable shortcut exists (inclusion-exclusion and de-Poissonisation "
                "cancel): use the moments or simulate"
            )
        state = np.zeros(2**K)
        state[0] = 1.0
        index = np.arange(2**K)
        without = [index[(index >> i & 1) == 0] for i in range(K)]
        alive = ~self.failed
        table = np.ones(r_max + 1)
        for r in range(1, r_max + 1):
            new = state * self.stay
            for i in range(K):
                new[without[i] | (1 << i)] += state[without[i]] * self.p[i]  # targets are distinct
            state = np.where(alive, new, 0.0)
            table[r] = state.sum()
        return table
