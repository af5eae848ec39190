"""WA and UA the way the SER literature means them (and often swaps them).

WA, weighted accuracy = plain accuracy over utterances (classes weighted by their size).
UA, unweighted accuracy = mean over classes of each class's recall (every class counts the
same). Neither is precision.
"""

from __future__ import annotations

from typing import TypedDict

import numpy as np


class Scores(TypedDict):
    """What `scores` returns, and the first keys of every fold's `metrics.json`."""

    wa: float
    ua: float
    recall: dict[str, float | None]     # per label; None for a label absent from the fold
    confusion: list[list[int]]          # rows are true labels, columns predictions
    n: int


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """(n_classes, n_classes) counts; rows are true classes, columns predictions."""
    m = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(m, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return m


def weighted_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return float((y_true == y_pred).mean()) if len(y_true) else float("nan")


def recalls(cm: np.ndarray) -> np.ndarray:
    """Per-class recall; NaN for a class absent from y_true."""
    support = cm.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(cm) / support, np.nan)


def unweighted_accuracy(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> float:
    """Mean recall over the classes present in y_true."""
    return float(np.nanmean(recalls(confusion(y_true, y_pred, n_classes))))


def scores(y_true: np.ndarray, y_pred: np.ndarray, labels: tuple[str, ...]) -> Scores:
    cm = confusion(y_true, y_pred, len(labels))
    return {"wa": weighted_accuracy(y_true, y_pred),
            "ua": unweighted_accuracy(y_true, y_pred, len(labels)),
            "recall": {lab: (None if np.isnan(r) else float(r))
                       for lab, r in zip(labels, recalls(cm), strict=True)},
            "confusion": cm.tolist(), "n": int(len(y_true))}
