"""Held-out prediction: fit on pilot training seeds, predict a *new* seed's accuracy under deletions.

The pilots are S >= 3 trained S3T systems (same m, L, B, data size; other training seeds).
A state of the target system is the vector of its shards' served (sequence, prefix); the
real ensemble's accuracy at a state is :func:`~analysis.realruns.bands.ensemble_accuracy`
(dead shards leave the vote, live shards' logits are averaged, chance when all are dead).
Pilot ``s`` scores a state as ``g_s(state)``; the shard accuracy growing with the examples
its served prefix has seen is in the pilots' cached logits of every prefix.

Deletion streams are drawn from the request law (point model, without replacement) with
``runs`` Monte Carlo streams, so the stream is a source of variance. For a checkpoint ``c``:

- pilot mean curves ``a_s(c) = mean_runs g_s``; ``mu(c) = mean_s a_s(c)``;
- between-seed variance ``sb2(c) = var_s a_s(c)`` (ddof 1), inflated by ``1 + 1/S`` for a
  new seed (the fit's own uncertainty, the variance of ``mu``, is the ``1/S``);
- within-seed stream variance ``sw2(c) = mean_s var_runs g_s``;
- **mean curve** of the target, averaged over its ``J`` measured streams:
  ``mu +- t_nu sqrt(sb2 (1 + 1/S) + sw2 / J)`` (Student t with Welch-Satterthwaite ``nu``:
  the seed part is estimated from S seeds); the horizon average the same way;
- **one-stream band** (:func:`one_stream_band`): the target's accuracy at a state is modelled
  as the pilot mean ``gbar(state)`` plus the target's offset ``beta x_T(state)`` (``x_T``: the
  mean offset of its live served stages' accuracies from the pilots', known before any
  deletion) plus a seed residual drawn from the leave-one-pilot-out residuals pooled over the
  states of the checkpoint; central ``level`` quantiles over the stream law, then a
  split-conformal shift calibrated leave-one-pilot-out on the pilots' own streams (never on
  the target). At r = 0 the target's state is observed: the band is its clean accuracy.

The evaluation sample: pilots and target are scored on the same evaluation rows, so its
sampling error is common to prediction and measurement and cancels; a prediction of the
*population* accuracy adds ``p (1 - p) / n`` (:func:`eval_sample_variance`).

Scoring (:func:`interval_score`, :func:`clustered_share`): Gneiting & Raftery (2007)
interval score; coverage standard errors clustered by independent stream (a stream is
shared by the nested budgets B of one system), not per checkpoint.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from analysis.realruns.bands import ensemble_accuracy, sample_request_streams
from s3t_sim.checks import check_int, check_real, check_request_counts
from s3t_sim.prefix import served_states_after

MIN_PILOTS = 3


@dataclass
class HeldoutPrediction:
    """Predicted accuracy of a new training seed after each request count."""

    requests: np.ndarray
    mean: np.ndarray  # mu(c)
    mean_low: np.ndarray  # interval for the target's mean over `streams` measured streams
    mean_high: np.ndarray
    band_low: np.ndarray  # predictive band for one stream
    band_high: np.ndarray
    horizon: float  # mean of mu over checkpoints
    horizon_low: float
    horizon_high: float
    between_seed_sd: np.ndarray
    within_seed_sd: np.ndarray
    pilots: int
    streams: int
    runs: int
    seed: Any
    level: float
    band_slope: float  # beta: the target's live-stage offset carried into its ensemble accuracy
    band_shift: float  # the split-conformal widening (negative: narrowing) of the one-stream band


def pilot_state_accuracy(pilot_logits: list[np.ndarray], labels: np.ndarray, index: np.ndarray, prefix: np.ndarray) -> np.ndarray:
    """``g_s(state)`` for every pilot: array (S, *prefix.shape[:-1])."""
    return np.stack([ensemble_accuracy(logits, labels, index, prefix) for logits in pilot_logits])


def _half_width(seed_var: np.ndarray, stream_var: np.ndarray, pilots: int, runs: int, level: float) -> np.ndarray:
    """``t_nu sqrt(seed_var + stream_var)`` with Welch-Satterthwaite degrees of freedom
    ``nu = (A + W)^2 / (A^2 / (S - 1) + W^2 / (S (runs - 1)))``: the seed part is estimated
    from S pilots, the stream part from S x runs Monte Carlo streams."""
    seed_var, stream_var = np.asarray(seed_var, dtype=float), np.asarray(stream_var, dtype=float)
    total = seed_var + stream_var
    denominator = seed_var**2 / (pilots - 1) + stream_var**2 / (pilots * (runs - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        nu = np.where(denominator > 0, total**2 / np.where(denominator > 0, denominator, 1.0), np.inf)
    return stats.t.ppf(0.5 + level / 2, nu) * np.sqrt(total)


def predict_heldout(
    pilot_logits: list[np.ndarray],
    labels: np.ndarray,
    sequences: np.ndarray,
    slice_of_point: np.ndarray,
    point_weights: "np.ndarray | None",
    request_counts: Any,
    streams: int,
    target_stage_accuracy: np.ndarray,
    target_clean_accuracy: float,
    runs: int = 1000,
    seed: Any = 0,
    level: float = 0.95,
) -> HeldoutPrediction:
    """Mean-curve interval and one-stream band of a new seed from ``S >= 3`` pilots' logits (m, B, L+1, n, C)."""
    pilots = len(pilot_logits)
    if pilots < MIN_PILOTS:
        raise ValueError(f"pilot_logits must hold at least {MIN_PILOTS} pilot seeds (the seed spread is estimated from them); got {pilots}")
    counts = check_request_counts(request_counts)
    streams = check_int("streams", streams, 1)
    runs = check_int("runs", runs, 4)
    target_stage_accuracy = np.asarray(target_stage_accuracy, dtype=float)
    if target_stage_accuracy.shape != pilot_logits[0].shape[:3]:
        raise ValueError(f"target_stage_accuracy must have shape (m, B, L+1) = {pilot_logits[0].shape[:3]}; got {target_stage_accuracy.shape}")
    target_clean_accuracy = check_real("target_clean_accuracy", target_clean_accuracy, 0.0, 1.0)
    level = check_real("level", level, 0.5, 1.0, high_inclusive=False)
    rng = np.random.default_rng(seed)
    hits = sample_request_streams(slice_of_point, point_weights, int(counts[-1]), runs, rng, replacement=False)
    index, prefix = served_states_after(sequences, hits, counts)
    g = pilot_state_accuracy(pilot_logits, labels, index, prefix)  # (S, runs, C)
    a = g.mean(axis=1)  # (S, C)
    mu = a.mean(axis=0)
    sb2 = a.var(axis=0, ddof=1)
    sw2 = g.var(axis=1, ddof=1).mean(axis=0)
    inflate = 1.0 + 1.0 / pilots
    half = _half_width(sb2 * inflate, sw2 / streams, pilots, runs, level)
    h = g.mean(axis=2)  # (S, runs): horizon average of each drawn stream
    h_half = float(_half_width(h.mean(axis=1).var(ddof=1) * inflate, h.var(axis=1, ddof=1).mean() / streams, pilots, runs, level))
    band_low, band_high, slope, shift = one_stream_band(g, [stage_accuracy(p, labels) for p in pilot_logits],
                                                        target_stage_accuracy, target_clean_accuracy, index, prefix, counts, rng, level)
    return HeldoutPrediction(counts, mu, np.clip(mu - half, 0, 1), np.clip(mu + half, 0, 1), band_low, band_high, float(mu.mean()),
                             float(mu.mean() - h_half), float(mu.mean() + h_half), np.sqrt(sb2), np.sqrt(sw2),
                             pilots, streams, runs, seed, level, slope, shift)


def stage_accuracy(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Accuracy of every stage (shard, sequence, prefix) alone on the evaluation rows: (m, B, L+1)."""
    return (np.asarray(logits).argmax(axis=-1) == np.asarray(labels)).mean(axis=-1)


def _offset_covariate(offset: np.ndarray, index: np.ndarray, prefix: np.ndarray) -> np.ndarray:
    """``x(state)``: mean over the live shards of a stage-accuracy offset (m, B, L+1) at the served
    stages; 0 with every shard dead (the ensemble is at chance whatever the seed)."""
    m = offset.shape[0]
    alive = prefix > 0
    values = offset[np.arange(m), index, prefix] * alive
    return values.sum(axis=-1) / np.maximum(alive.sum(axis=-1), 1)


def _quantile_band(centre: np.ndarray, residuals: np.ndarray, rng: np.random.Generator, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Central ``level`` quantiles per checkpoint of ``clip(centre_i + e, 0, 1)``, ``e`` drawn from the
    pooled residuals of that checkpoint (centre (runs, C); residuals (K, C))."""
    pick = rng.integers(0, residuals.shape[0], size=centre.shape)
    draws = np.clip(centre + np.take_along_axis(residuals, pick, axis=0), 0.0, 1.0)
    tail = (1.0 - level) / 2
    return np.quantile(draws, [tail, 1.0 - tail], axis=0, method="inverted_cdf")


def one_stream_band(g: np.ndarray, pilot_stages: list[np.ndarray], target_stages: np.ndarray, target_clean: float,
                    index: np.ndarray, prefix: np.ndarray, counts: np.ndarray, rng: np.random.Generator,
                    level: float) -> tuple[np.ndarray, np.ndarray, float, float]:
    """One-stream band of the target: pilot mean + target offset + pooled seed residual, split-conformal.

    ``g`` (S, runs, C): pilot ``s``'s accuracy at Monte Carlo state ``i``. The first half of the
    states fits, the second half calibrates. Leave one pilot out: ``d_s = g_s - gbar_{-s}``,
    covariate ``x_s`` = the mean live-stage offset of ``s`` from the others' stage accuracies
    (:func:`stage_accuracy`: known for a deployed system before any deletion); the slope
    ``beta = sum x d / sum x^2`` and residuals ``e_s = d_s - beta x_s`` pool every state and pilot
    of a checkpoint (S x runs/2 values, not S - 1 degrees of freedom). The target's band: quantiles of
    ``gbar + beta x_T + e`` over the states. Split-conformal (Romano et al. 2019, CQR): pilot
    ``s`` is predicted from the others (their residuals only) and scored on the calibration
    states at r > 0 with a live shard, ``E = max(low - g_s, g_s - high)``; the band widens (or
    narrows) by the ``ceil((n + 1) level)``-th smallest ``E``. Exchangeable over pilots' streams;
    with S seeds the seed level has only S units (the guarantee is approximate there). At r = 0
    the state is observed: the band is ``target_clean``. Returns (low, high, beta, shift).
    """
    S, runs, C = g.shape
    half = runs // 2
    stages = np.stack(pilot_stages)
    fit, cal = slice(0, half), slice(half, runs)
    later = counts > 0
    d = np.empty((S, half, C))
    x = np.empty((S, runs, C))
    for s in range(S):
        others = np.arange(S) != s
        d[s] = g[s, fit] - g[others, fit].mean(axis=0)
        x[s] = _offset_covariate(stages[s] - stages[others].mean(axis=0), index, prefix)
    xs, ds = x[:, fit][..., later], d[..., later]
    denominator = float(np.sum(xs**2))
    beta = float(np.sum(xs * ds) / denominator) if denominator > 0 else 0.0
    residuals = d - beta * x[:, fit]
    scores = []
    for s in range(S):
        others = np.arange(S) != s
        centre = g[others, fit].mean(axis=0) + beta * x[s, fit]
        low, high = _quantile_band(centre, residuals[others].reshape(-1, C), rng, level)
        keep = later & (prefix[cal] > 0).any(axis=-1)
        scores.append(np.maximum(low - g[s, cal], g[s, cal] - high)[keep])
    scores = np.sort(np.concatenate(scores))
    rank = int(np.ceil((scores.size + 1) * level))
    shift = float(scores[rank - 1]) if 0 < rank <= scores.size else 1.0
    centre = g[:, fit].mean(axis=0) + beta * _offset_covariate(target_stages - stages.mean(axis=0), index[fit], prefix[fit])
    low, high = _quantile_band(centre, residuals.reshape(-1, C), rng, level)
    mid = (low + high) / 2
    low, high = np.clip(np.minimum(low - shift, mid), 0, 1), np.clip(np.maximum(high + shift, mid), 0, 1)
    low[~later], high[~later] = target_clean, target_clean
    return low, high, beta, shift


def eval_sample_variance(accuracy: "np.ndarray | float", examples: int) -> np.ndarray:
    """Binomial variance ``p (1 - p) / n`` of an accuracy measured on ``n`` evaluation examples."""
    examples = check_int("examples", examples, 1)
    p = np.asarray(accuracy, dtype=float)
    return p * (1 - p) / examples


def interval_score(low: np.ndarray, high: np.ndarray, y: np.ndarray, level: float) -> np.ndarray:
    """Interval score ``(u - l) + (2/alpha)(l - y)+ + (2/alpha)(y - u)+`` with ``alpha = 1 - level``
    (Gneiting & Raftery 2007, eq. 43): lower is better; width plus a penalty for misses."""
    alpha = 1.0 - level
    low, high, y = (np.asarray(v, dtype=float) for v in (low, high, y))
    return (high - low) + (2 / alpha) * np.maximum(low - y, 0) + (2 / alpha) * np.maximum(y - high, 0)


def clustered_share(values: np.ndarray, clusters: np.ndarray) -> tuple[float, float, int]:
    """Mean of ``values`` and its cluster-robust standard error (clusters independent, members not).

    ``se^2 = G / (G - 1) * sum_g (sum_{i in g} (x_i - xbar))^2 / N^2`` (the CR1 sandwich for a
    mean, e.g. Cameron & Miller 2015). Returns ``(mean, se, G)``; ``se`` is ``nan`` for G < 2.
    """
    values = np.asarray(values, dtype=float).ravel()
    clusters = np.asarray(clusters).ravel()
    if values.size == 0:
        return float("nan"), float("nan"), 0
    if clusters.size != values.size:
        raise ValueError(f"clusters must have one label per value ({values.size}); got {clusters.size}")
    mean = float(values.mean())
    _, inverse = np.unique(clusters, return_inverse=True)
    sums = np.bincount(inverse.ravel(), weights=values - mean)
    G = sums.size
    se = float(np.sqrt(G / (G - 1) * np.sum(sums**2)) / values.size) if G > 1 else float("nan")
    return mean, se, G


def summarise_heldout(stream_rows: list[dict[str, Any]], mean_rows: list[dict[str, Any]], level: float) -> dict[str, Any]:
    """Scores of the held-out predictions (keys in ``docs/validation.md``).

    ``stream_rows``: one per (data set, target seed, prior, B, stream, checkpoint) with
    ``dataset, measured, band_low, band_high, trivial_low, trivial_high, exact_low, exact_high,
    nontrivial, source`` (``replayed`` through the run, or ``cached`` logits), ``stream_id``
    and ``cluster`` (the unit whose members are dependent, e.g. the training seed); ``mean_rows``: one per (data set, seed, prior, B, checkpoint) with
    ``dataset, measured, mean_low, mean_high, cluster``, plus ``horizon_*`` on the first checkpoint.
    """
    def col(rows: list[dict], key: str) -> np.ndarray:
        return np.array([r[key] for r in rows])

    y, lo, hi, clusters = col(stream_rows, "measured"), col(stream_rows, "band_low"), col(stream_rows, "band_high"), col(stream_rows, "cluster")
    nontrivial = col(stream_rows, "nontrivial").astype(bool)
    inside = (y >= lo - 1e-12) & (y <= hi + 1e-12)
    tlo, thi = col(stream_rows, "trivial_low"), col(stream_rows, "trivial_high")
    trivial_inside = (y >= tlo - 1e-12) & (y <= thi + 1e-12)
    replayed = col(stream_rows, "source") == "replayed"
    cov, cov_se, G = clustered_share(inside, clusters)
    cov_nt, cov_nt_se, _ = clustered_share(inside[nontrivial], clusters[nontrivial])
    my, mlo, mhi, mcl = col(mean_rows, "measured"), col(mean_rows, "mean_low"), col(mean_rows, "mean_high"), col(mean_rows, "cluster")
    m_inside = (my >= mlo - 1e-12) & (my <= mhi + 1e-12)
    m_cov, m_cov_se, m_G = clustered_share(m_inside, mcl)
    horizon = [r for r in mean_rows if "horizon_measured" in r]
    h_err = np.array([r["horizon_predicted"] - r["horizon_measured"] for r in horizon])
    h_inside = [r["horizon_low"] <= r["horizon_measured"] <= r["horizon_high"] for r in horizon]
    return {
        "level": level,
        "checkpoints": int(y.size),
        "nontrivial_checkpoints": int(nontrivial.sum()),
        "independent_streams": int(np.unique(col(stream_rows, "stream_id")).size),
        "clusters": G,
        "band_coverage_nontrivial_replayed": float(inside[nontrivial & replayed].mean()) if (nontrivial & replayed).any() else float("nan"),
        "nontrivial_checkpoints_replayed": int((nontrivial & replayed).sum()),
        "band_coverage": cov, "band_coverage_se": cov_se,
        "band_coverage_nontrivial": cov_nt, "band_coverage_nontrivial_se": cov_nt_se,
        "band_width": float(np.mean(hi - lo)),
        "band_width_nontrivial": float(np.mean((hi - lo)[nontrivial])),
        "band_interval_score": float(interval_score(lo, hi, y, level).mean()),
        "trivial_band_width": float(np.mean(col(stream_rows, "trivial_high") - col(stream_rows, "trivial_low"))),
        "trivial_band_coverage_nontrivial": float(trivial_inside[nontrivial].mean()) if nontrivial.any() else float("nan"),
        "trivial_interval_score": float(interval_score(tlo, thi, y, level).mean()),
        "trivial_band_width_nontrivial": float(np.mean((thi - tlo)[nontrivial])),
        "band_interval_score_nontrivial": float(interval_score(lo, hi, y, level)[nontrivial].mean()),
        "trivial_interval_score_nontrivial": float(interval_score(tlo, thi, y, level)[nontrivial].mean()),
        "exact_band_width_in_sample": float(np.mean(col(stream_rows, "exact_high") - col(stream_rows, "exact_low"))),
        "mean_curve_coverage": m_cov, "mean_curve_coverage_se": m_cov_se, "mean_curves": m_G,
        "mean_curve_checkpoints": int(my.size),
        "mean_curve_width": float(np.mean(mhi - mlo)),
        "mean_curve_interval_score": float(interval_score(mlo, mhi, my, level).mean()),
        "horizon_curves": len(horizon),
        "horizon_coverage": float(np.mean(h_inside)) if horizon else float("nan"),
        "horizon_bias": float(h_err.mean()) if horizon else float("nan"),
        "horizon_mean_abs_error": float(np.abs(h_err).mean()) if horizon else float("nan"),
        "horizon_max_abs_error": float(np.abs(h_err).max()) if horizon else float("nan"),
        **{f"{key}_mean": float(np.mean([r[key] for r in horizon])) for key in ("band_slope", "band_shift") if horizon and key in horizon[0]},
        **{f"{name}_horizon_{stat}": value for name in ("planner_mean_f", "planner_alive_vote") if horizon and f"horizon_{name}" in horizon[0]
           for stat, value in _errors(np.array([r[f"horizon_{name}"] - r["horizon_measured"] for r in horizon])).items()},
        "by_dataset": _by_dataset(stream_rows, mean_rows, inside, m_inside),
    }


def _by_dataset(stream_rows: list[dict[str, Any]], mean_rows: list[dict[str, Any]], inside: np.ndarray, m_inside: np.ndarray) -> dict[str, dict[str, Any]]:
    """Coverage and widths of each data set alone (the pooled scores can hide a data set where the band is wider than trivial)."""
    out = {}
    for dataset in dict.fromkeys(r["dataset"] for r in stream_rows):
        rows = np.array([r["dataset"] == dataset for r in stream_rows])
        nontrivial = rows & np.array([r["nontrivial"] for r in stream_rows], dtype=bool)
        width = np.array([r["band_high"] - r["band_low"] for r in stream_rows])
        trivial = np.array([r["trivial_high"] - r["trivial_low"] for r in stream_rows])
        means = np.array([r["dataset"] == dataset for r in mean_rows])
        mean_width = np.array([r["mean_high"] - r["mean_low"] for r in mean_rows])
        out[str(dataset)] = {
            "band_coverage_nontrivial": float(inside[nontrivial].mean()) if nontrivial.any() else float("nan"),
            "nontrivial_checkpoints": int(nontrivial.sum()),
            "band_width": float(width[rows].mean()), "trivial_band_width": float(trivial[rows].mean()),
            "mean_curve_coverage": float(m_inside[means].mean()) if means.any() else float("nan"),
            "mean_curve_width": float(mean_width[means].mean()) if means.any() else float("nan"),
        }
    return out


def _errors(err: np.ndarray) -> dict[str, float]:
    return {"bias": float(err.mean()), "mean_abs_error": float(np.abs(err).mean()), "max_abs_error": float(np.abs(err).max())}
