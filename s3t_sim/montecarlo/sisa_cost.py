"""SISA's retraining cost: per request, along a stream, and on the S3T failure stream."""
from __future__ import annotations

import numpy as np

from s3t_sim.criteria import Criterion
from s3t_sim.montecarlo.streams import Setup, hit_events, open_simulation
from s3t_sim.priors import parse_prior
from s3t_sim.system import S3TSystem


def expected_sisa_cost_per_request(sisa: S3TSystem, prior: "np.ndarray | str | None", unit: str = "stages") -> float:
    """Expected SISA retraining cost of one i.i.d. request, ``sum_i p_i c_i``.

    Over a stopping time ``T`` (e.g. the S3T failure count on the same stream) the expected
    total is ``E[T] * sum_i p_i c_i`` by Wald's identity.
    """
    prior = parse_prior(prior, sisa.m, sisa.L)
    return float((prior * sisa.retraining_stage_cost(unit)).sum())


def simulate_sisa_cost(
    sisa: S3TSystem,
    prior: "np.ndarray | str | None",
    request_counts: "np.ndarray | list[int]",
    runs: int,
    seed=None,
    unit: str = "stages",
) -> np.ndarray:
    """SISA's cumulative retraining cost after each request count (i.i.d. requests), ``(runs, T)``.

    Every request retrains its shard from the checkpoint before the hit slice (see
    :meth:`S3TSystem.retraining_stage_cost`); the per-slice request numbers between
    consecutive counts are multinomial.
    """
    sim = open_simulation(sisa, prior, runs, seed)
    runs, prior = sim.runs, sim.setup.prior.ravel()
    cost = sisa.retraining_stage_cost(unit).ravel()
    asked = np.asarray(request_counts)
    if asked.ndim != 1 or np.any(asked < 0) or np.any(np.diff(asked) < 0):
        raise ValueError("request_counts must be a non-decreasing 1-D list of integers >= 0")
    rng = np.random.default_rng(sim.seed_seq)
    steps = np.diff(np.concatenate([[0], asked]))
    out = np.zeros((runs, asked.size))
    total = np.zeros(runs)
    for t, step in enumerate(steps):
        if step:
            total = total + rng.multinomial(int(step), prior, size=runs) @ cost
        out[:, t] = total
    return out


def embedded_run(
    setup: Setup, relevant: np.ndarray, criterion: Criterion, cost: np.ndarray, rng: np.random.Generator, runs: int
) -> tuple[np.ndarray, np.ndarray]:
    """Failure count and SISA's cost on the same stream, from the Poisson embedding (i.i.d.).

    Requests arrive at rate 1, so slice ``j`` receives an independent Poisson stream of rate
    ``p_j``. Draw the relevant slices' first-hit times ``E_j ~ Exp(p_j)``, find the failure
    time ``tau`` (a first-hit time); then up to ``tau`` a relevant slice hit at ``E_j`` got
    ``1 + Poisson(p_j (tau - E_j))`` requests and the other slices ``Poisson(p_j tau)``. The
    count is the total number of requests by ``tau`` (exactly the discrete failure count),
    and SISA's cost is ``sum_j c_j N_j``.
    """
    system = setup.system
    p_all = setup.prior.ravel()
    c_all = cost.ravel()
    p = p_all[relevant]
    clocks = rng.standard_exponential((runs, p.size)) / p
    order = np.argsort(clocks, axis=1)
    event = criterion.failure_event(system, hit_events(system, relevant, order))
    tau = np.take_along_axis(clocks, np.take_along_axis(order, event[:, None], axis=1), axis=1)  # (runs, 1)
    hit = clocks <= tau
    extra_requests = rng.poisson(np.where(hit, p * (tau - clocks), 0.0))
    on_relevant = np.where(hit, 1 + extra_requests, 0)
    count = on_relevant.sum(axis=1)
    total_cost = on_relevant @ c_all[relevant]
    others = np.ones(p_all.size, dtype=bool)
    others[relevant] = False
    for value in np.unique(c_all[others]):  # slices outside the criterion, grouped by their cost
        mass = p_all[others & (c_all == value)].sum()
        n = rng.poisson(mass * tau[:, 0])
        count = count + n
        total_cost = total_cost + value * n
    return count, total_cost
