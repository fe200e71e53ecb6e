"""Monte Carlo of the deletion process: the fast simulator, the naive baseline, SISA's cost.

- :mod:`~s3t_sim.montecarlo.result` — :class:`MonteCarloResult`, seeds, chunked runs;
- :mod:`~s3t_sim.montecarlo.streams` — request models and first-hit counts;
- :mod:`~s3t_sim.montecarlo.fast` — the vectorised simulator;
- :mod:`~s3t_sim.montecarlo.naive` — the per-request baseline;
- :mod:`~s3t_sim.montecarlo.sisa_cost` — SISA's retraining cost.
- :mod:`~s3t_sim.montecarlo.policy` — a retraining policy replayed over a horizon.
"""
from s3t_sim.montecarlo.fast import simulate_failure_counts, simulate_performance, simulate_served_prefix
from s3t_sim.montecarlo.naive import naive_failure_counts, naive_run, naive_served_prefix
from s3t_sim.montecarlo.result import MonteCarloResult
from s3t_sim.montecarlo.sisa_cost import expected_sisa_cost_per_request, simulate_sisa_cost
from s3t_sim.montecarlo.streams import REQUEST_MODELS, apportion_points

__all__ = [
    "simulate_failure_counts",
    "simulate_performance",
    "simulate_served_prefix",
    "naive_failure_counts",
    "naive_run",
    "naive_served_prefix",
    "MonteCarloResult",
    "expected_sisa_cost_per_request",
    "simulate_sisa_cost",
    "REQUEST_MODELS",
    "apportion_points",
]
