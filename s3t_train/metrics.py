"""Classification metrics of the served ensemble beside accuracy: macro F1 and MCC.

With ``C`` the confusion matrix (rows true, columns predicted), ``t_k``/``p_k`` its row/column
sums, ``c`` its trace and ``s`` the number of examples:

* macro F1: the mean over the labels that occur (as truth or prediction) of
  ``2 TP_k / (2 TP_k + FP_k + FN_k)``;
* Matthews correlation coefficient, multi-class (Gorodkin 2004, *Comput. Biol. Chem.*
  28:367): ``(c s - sum_k p_k t_k) / sqrt((s^2 - sum_k p_k^2)(s^2 - sum_k t_k^2))``, which
  for two labels is the usual ``(TP TN - FP FN) / sqrt(...)``. Where a factor of the
  denominator is 0 (all truths or all predictions one label) MCC is undefined; it is
  reported as 0, the convention of scikit-learn.

Regression (STS-B style), predictions ``p`` against targets ``y``:

* Pearson ``r = sum (p - pbar)(y - ybar) / sqrt(sum (p - pbar)^2 sum (y - ybar)^2)``;
* Spearman ``rho``: Pearson's r of the ranks, ties given their average rank;
* mean squared error. Where ``p`` or ``y`` is constant, r and rho are undefined and reported
  as 0 (as MCC above).
"""
from __future__ import annotations

import numpy as np

from s3t_sim.checks import check_int


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, num_labels: int) -> np.ndarray:
    """``C[i, j]`` = number of examples with true label i predicted as j."""
    num_labels = check_int("num_labels", num_labels, 1)
    labels, predicted = np.asarray(labels, dtype=np.int64), np.asarray(predicted, dtype=np.int64)
    if labels.shape != predicted.shape or labels.ndim != 1 or labels.size == 0:
        raise ValueError(f"labels and predicted must be non-empty 1-d arrays of one length; got shapes {labels.shape}, {predicted.shape}")
    if min(labels.min(), predicted.min()) < 0 or max(labels.max(), predicted.max()) >= num_labels:
        raise ValueError(f"labels and predicted must be integers in [0, {num_labels - 1}]")
    return np.bincount(labels * num_labels + predicted, minlength=num_labels**2).reshape(num_labels, num_labels)


def macro_f1(confusion: np.ndarray) -> float:
    """Mean F1 over the labels that occur as truth or prediction."""
    tp = np.diag(confusion).astype(float)
    denominator = confusion.sum(axis=0) + confusion.sum(axis=1)  # 2 TP + FP + FN
    present = denominator > 0
    return float(np.mean(2 * tp[present] / denominator[present]))


def mcc(confusion: np.ndarray) -> float:
    """Matthews correlation coefficient (multi-class form); 0 where undefined."""
    confusion = confusion.astype(float)
    s, c = confusion.sum(), np.trace(confusion)
    t, p = confusion.sum(axis=1), confusion.sum(axis=0)
    denominator = np.sqrt((s**2 - p @ p) * (s**2 - t @ t))
    return float((c * s - p @ t) / denominator) if denominator > 0 else 0.0


def classification_metrics(labels: np.ndarray, predicted: np.ndarray, num_labels: int) -> dict[str, float]:
    """``{'macro_f1', 'mcc'}`` of ``predicted`` against ``labels``."""
    confusion = confusion_matrix(labels, predicted, num_labels)
    return {"macro_f1": macro_f1(confusion), "mcc": mcc(confusion)}


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    a, b = a / max(np.abs(a).max(), np.finfo(float).tiny), b / max(np.abs(b).max(), np.finfo(float).tiny)  # no overflow
    denominator = np.sqrt((a @ a) * (b @ b))
    return float(np.clip(a @ b / denominator, -1.0, 1.0)) if denominator > 0 else 0.0


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``values``, ties given the mean of the ranks they span.

    >>> average_ranks(np.array([3.0, 1.0, 3.0, 2.0])).tolist()
    [3.5, 1.0, 3.5, 2.0]
    """
    values = np.asarray(values, dtype=float)
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], len(values)]
    ranks = np.empty(len(values))
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)  # mean of ranks start+1..end
    return ranks


def regression_metrics(targets: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """``{'pearson', 'spearman', 'mse'}`` of ``predicted`` against ``targets`` (finite, n >= 2)."""
    targets, predicted = np.asarray(targets, dtype=float), np.asarray(predicted, dtype=float)
    if targets.shape != predicted.shape or targets.ndim != 1 or targets.size < 2:
        raise ValueError(f"targets and predicted must be 1-d arrays of one length >= 2; got shapes {targets.shape}, {predicted.shape}")
    if not (np.all(np.isfinite(targets)) and np.all(np.isfinite(predicted))):
        raise ValueError("targets and predicted must be finite numbers")
    return {
        "pearson": _pearson(predicted, targets),
        "spearman": _pearson(average_ranks(predicted), average_ranks(targets)),
        "mse": float(np.mean((predicted - targets) ** 2)),
    }
