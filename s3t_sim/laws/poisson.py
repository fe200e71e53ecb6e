"""Mean and variance of the failure count for any prior and criterion, by the Poisson embedding.

Requests arrive at rate 1; slice ``i`` is first hit at an independent ``Exp(p_i)`` time and
shards evolve independently. The survival ``S(t) = P(criterion not yet holding at t)`` and
its complement ``F(t)`` are built here, each as a sum or product of non-negative terms
(``-expm1``, ``log1mexp``: no ``1 - x`` of nearly equal numbers), hence to full relative
accuracy at any prior; :func:`s3t_sim.laws.quadrature.count_moments` turns them into
``E[N]``, ``Var[N]`` with a stated error bound. The discrete law (``cdf``, ``sf``, ``pmf``)
comes from the hit-set chain (:class:`~s3t_sim.laws.chain.HitSetChainLaw`, sums of
non-negative terms) where it fits; beyond its size it is refused, never approximated: the
alternatives (inclusion–exclusion, de-Poissonisation of ``S``) cancel catastrophically.
"""
from __future__ import annotations

from functools import cached_property

import numpy as np

from s3t_sim.criteria import Criterion, parse_criterion
from s3t_sim.laws.chain import HitSetChainLaw
from s3t_sim.laws.count import CountLaw
from s3t_sim.laws.quadrature import CountMoments, count_moments, log1mexp
from s3t_sim.laws.rotations import poisson_count_law, rotation_prefix_pmf, uniform_rotation_starts
from s3t_sim.laws.served_prefix import MAX_SHARD_SLICES, shard_tables
from s3t_sim.priors import parse_prior
from s3t_sim.system import S3TSystem

MAX_VALUES = 20_000  # distinct aggregate-performance values the convolution may carry


def death_kinds(death: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Alike shards grouped: distinct rows of (death mask ``(m, L)``, prior ``(m, L)``) and their
    counts, so that the survival costs O(kinds L) per time, not O(m L)."""
    if np.all(death == death[0]) and np.all(p == p[0]):  # the common case: one kind, no sort
        return death[:1], p[:1], np.array([death.shape[0]])
    rows, counts = np.unique(np.concatenate([death.astype(float), p], axis=1), axis=0, return_counts=True)
    L = death.shape[1]
    return rows[:, :L] > 0, rows[:, L:], counts


def _death_pair(kinds: tuple, kind: str, fallback: bool, t: np.ndarray) -> tuple:
    """``(S, F)`` for ``all-dead``/``any-dead`` from the shard kinds (:func:`death_kinds`,
    ``n_k`` shards each). With fallback ``a_k = log P(shard dead) = sum_{i in F_k} log(1 - e^{-p_i t})``,
    without ``log(1 - e^{-P_k t})`` (``log1mexp``: a product's log would lose the digits of a
    tiny ``1 - P(dead)``). ``all-dead``: ``F = exp(sum_k n_k a_k)``, ``S = -expm1(...)``;
    ``any-dead``: ``log S = sum_k n_k log(1 - e^{a_k})``, ``F = -expm1(log S)``."""
    death, p, counts = kinds
    if fallback:
        logs = np.where(death, log1mexp(t[:, None, None] * p), 0.0).sum(axis=2)  # (T, kinds)
    else:
        logs = log1mexp(t[:, None] * p.sum(axis=1))
    if kind == "all-dead":
        total = logs @ counts
        return -np.expm1(total), np.exp(total)
    log_alive = log1mexp(-logs) @ counts  # log(1 - e^{a}) = log1mexp(-a)
    return np.exp(log_alive), -np.expm1(log_alive)


def _shard_law(sequences: np.ndarray, p_row: np.ndarray, fallback: bool, t: np.ndarray) -> np.ndarray:
    """``P(k_s(t) = k)``, shape ``(T, L + 1)``: sums over hit sets of products of
    ``e^{-p_i t}`` and ``-expm1(-p_i t)`` (all non-negative)."""
    L = p_row.size
    starts = uniform_rotation_starts(sequences, p_row) if fallback and L > MAX_SHARD_SLICES else None
    if starts is not None:  # any L, without the 2^L hit sets (laws/rotations.py)
        return rotation_prefix_pmf(L, starts, poisson_count_law(L, p_row[0], t)).T
    law = np.zeros((t.size, L + 1))
    if not fallback:
        law[:, L] = np.exp(-t * p_row.sum())
        law[:, 0] = -np.expm1(-t * p_row.sum())
        return law
    ks = shard_tables(sequences)[1]
    x = np.outer(t, p_row)
    probs = np.ones((t.size, 1))
    for i in range(L):  # slice i is bit i of the hit-set index
        probs = np.concatenate([probs * np.exp(-x[:, i : i + 1]), probs * -np.expm1(-x[:, i : i + 1])], axis=1)
    return probs @ (ks[:, None] == np.arange(L + 1)[None, :]).astype(float)


class PoissonEmbeddingLaw(CountLaw):
    """Failure count for any prior and criterion: exact mean/var (error-bounded), chain-based law.

    ``mean()``/``var()`` by :func:`~s3t_sim.laws.quadrature.count_moments` on the survival
    pair (module docstring); ``moments`` holds them with their absolute error bounds
    (``mean_error``, ``var_error``). ``sf``/``cdf``/``pmf`` (and everything built on them:
    ``median``, ``ppf``, ``interval``, ``expect``, ``rvs``) use the hit-set chain on the
    criterion's relevant slices, which refuses more than 20 of them.

    Examples
    --------
    >>> from s3t_sim.selection.cyclic import cyclic_rotations
    >>> law = PoissonEmbeddingLaw(S3TSystem(np.broadcast_to(cyclic_rotations(6, 6), (5, 6, 6))), None, "all-dead")
    >>> round(law.mean(), 1), law.moments.mean_error < 1e-10 * law.mean()
    (119.8, True)
    """

    method = "Poisson embedding (error-bounded quadrature; discrete law by the hit-set chain)"

    def __init__(self, system: S3TSystem, prior=None, criterion: "Criterion | str" = "all-dead"):
        self.system = system
        self.prior = parse_prior(prior, system.m, system.L)
        self.criterion = parse_criterion(criterion)
        self.criterion.check_reachable(system, self.prior)
        self.per_time = system.n_slices  # memory per time point of the survival pair
        if not self.criterion.depends_only_on_death() and system.checkpoint_fallback:
            self.per_time = 2 ** min(system.L, 20)
            for s in range(system.m if system.L > MAX_SHARD_SLICES else 1):  # checks L early
                if uniform_rotation_starts(system.sequences[s], self.prior[s]) is None:
                    shard_tables(system.sequences[s])
            if system.L > MAX_SHARD_SLICES:  # every shard a uniform rotation set
                self.per_time = (system.L + 1) ** 2 + system.n_slices

    def __repr__(self) -> str:
        return f"PoissonEmbeddingLaw(m={self.system.m}, L={self.system.L}, criterion={self.criterion})"

    def survival_pair(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(S(t), F(t))`` at times ``t`` ``(T,)``, each to full relative accuracy."""
        t = np.atleast_1d(np.asarray(t, dtype=float))
        system, p = self.system, self.prior
        if self.criterion.depends_only_on_death():
            return _death_pair(self._death_kinds, self.criterion.kind, system.checkpoint_fallback, t)
        L = system.L
        f = np.concatenate([[0.0], np.cumsum(self.criterion.stage_weights(L))])  # f(k) - f(0)
        losses = f[-1] - f  # f(L) - f(k), k = 0..L
        integer = np.allclose(losses, np.round(losses))
        total = {0.0: np.ones(t.size)}  # law of the summed loss, value -> probability at each time
        laws: dict = {}
        for s in range(system.m):
            key = system.sequences[s].tobytes() + p[s].tobytes()
            if key not in laws:  # identical shards share one law
                laws[key] = _shard_law(system.sequences[s], p[s], system.checkpoint_fallback, t)
            total = _convolve(total, laws[key], losses, integer)
        slack = self.criterion.slack(system.m, L)
        threshold = slack + 1e-9 * max(1.0, abs(slack))
        zero = np.zeros(t.size)
        alive = sum((q for v, q in total.items() if v <= threshold), zero)
        failed = sum((q for v, q in total.items() if v > threshold), zero)
        return alive, failed

    def survival(self, t: "float | np.ndarray") -> "float | np.ndarray":
        """``S(t)``: probability that the criterion does not hold at Poisson time ``t`` (vectorised)."""
        out = self.survival_pair(np.atleast_1d(np.asarray(t, dtype=float)))[0]
        return out if np.ndim(t) else float(out[0])

    @cached_property
    def _death_kinds(self) -> tuple:
        return death_kinds(self.system.death_slices(), self.prior)

    @cached_property
    def moments(self) -> CountMoments:
        """Mean and variance with absolute error bounds (:func:`~s3t_sim.laws.quadrature.count_moments`)."""
        per_time = self._death_kinds[0].size if self.criterion.depends_only_on_death() else self.per_time
        chunk = max(16, (1 << 22) // per_time)  # bounded memory

        def pair(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            parts = [self.survival_pair(t[i : i + chunk]) for i in range(0, t.size, chunk)]
            return np.concatenate([a for a, _ in parts]), np.concatenate([b for _, b in parts])

        return count_moments(pair, self.prior[self.prior > 0])

    def mean(self) -> float:
        """``E[N] = int_0^inf S(t) dt``."""
        return self.moments.mean

    def var(self) -> float:
        """``Var[N] = Var[T] - E[T]``."""
        return self.moments.var

    @cached_property
    def _chain(self) -> HitSetChainLaw:
        return HitSetChainLaw(self.system, self.prior, self.criterion)

    def _sf_table(self, r_max: int) -> np.ndarray:
        return self._chain._sf_table(r_max)


def _convolve(total: dict, law: np.ndarray, losses: np.ndarray, integer: bool) -> dict:
    """The law of ``sum + loss(k_s)`` from the law of ``sum`` and one shard's ``P(k_s = k)``."""
    if integer:  # whole-stage losses: dense arrays indexed by value
        offsets = np.round(losses).astype(int)
        size = int(max(total)) + offsets.max() + 1
        dense = np.zeros((law.shape[0], size))
        for value, prob in total.items():
            for k, offset in enumerate(offsets):  # offsets repeat where a stage weighs 0
                dense[:, int(value) + offset] += prob * law[:, k]
        return {float(v): dense[:, v] for v in np.flatnonzero(dense.any(axis=0))}
    nxt: dict = {}
    for value, prob in total.items():
        for k in range(losses.size):
            v = round(value + losses[k], 9)
            nxt[v] = nxt[v] + prob * law[:, k] if v in nxt else prob * law[:, k]
    if len(nxt) > MAX_VALUES:
        raise ValueError(
            f"PoissonEmbeddingLaw: the aggregate performance takes more than {MAX_VALUES} values; use the simulator"
        )
    return nxt
