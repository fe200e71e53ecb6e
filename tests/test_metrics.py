"""Macro F1 and MCC against hand-computed values, scikit-learn, and at the extremes."""
from __future__ import annotations

import math

import numpy as np
import pytest

from s3t_train.metrics import classification_metrics, confusion_matrix, macro_f1, mcc


def test_binary_values_by_hand():
    # TP = 3, FN = 1, FP = 2, TN = 4
    labels = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    predicted = np.array([1, 1, 1, 0, 1, 1, 0, 0, 0, 0])
    c = confusion_matrix(labels, predicted, 2)
    assert c.tolist() == [[4, 2], [1, 3]]
    assert mcc(c) == pytest.approx((3 * 4 - 2 * 1) / math.sqrt(5 * 4 * 6 * 5), rel=1e-14)
    assert macro_f1(c) == pytest.approx((2 * 3 / (2 * 3 + 2 + 1) + 2 * 4 / (2 * 4 + 1 + 2)) / 2, rel=1e-14)


def test_against_scikit_learn_on_random_multiclass():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(7)
    for num_labels in (2, 3, 5):
        labels = rng.integers(0, num_labels, 400)
        predicted = np.where(rng.random(400) < 0.6, labels, rng.integers(0, num_labels, 400))
        got = classification_metrics(labels, predicted, num_labels)
        assert got["mcc"] == pytest.approx(sklearn_metrics.matthews_corrcoef(labels, predicted), rel=1e-12)
        assert got["macro_f1"] == pytest.approx(sklearn_metrics.f1_score(labels, predicted, average="macro"), rel=1e-12)


def test_extremes():
    perfect = classification_metrics(np.array([0, 1, 2, 1]), np.array([0, 1, 2, 1]), 3)
    assert perfect == {"macro_f1": 1.0, "mcc": 1.0}
    inverted = classification_metrics(np.array([0, 1, 0, 1]), np.array([1, 0, 1, 0]), 2)
    assert inverted == {"macro_f1": 0.0, "mcc": -1.0}
    constant = classification_metrics(np.array([0, 1, 0, 1]), np.array([1, 1, 1, 1]), 2)  # MCC undefined -> 0
    assert constant["mcc"] == 0.0 and constant["macro_f1"] == pytest.approx((0 + 2 * 2 / (4 + 2)) / 2, rel=1e-14)
    with pytest.raises(ValueError, match=r"must be integers in \[0, 1\]"):
        confusion_matrix(np.array([0, 2]), np.array([0, 1]), 2)
    with pytest.raises(ValueError, match="non-empty 1-d arrays of one length"):
        confusion_matrix(np.array([], dtype=int), np.array([], dtype=int), 2)
