"""Whether one row beats another: paired differences over the same (seed, fold) runs, with a
95% confidence interval that allows for cross-validation's overlapping training sets.

Two rows trained with the same seeds on the same folds give one UA difference per (seed, fold).
Their mean estimates how much better one row is; a plain t-interval over them would be too
narrow, because the folds' training sets overlap (each row is trained on most of the same
utterances k times), so the differences are not independent. We use the corrected repeated
k-fold cross-validation t-interval (Nadeau & Bengio 2003, "Inference for the generalization
error"; Bouckaert & Frank 2004): the variance of the mean is s² (1/J + n_test/n_train) instead
of s²/J, for J pairs, with J − 1 degrees of freedom. A row is called better or worse only when
the interval excludes 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TypedDict

import numpy as np

from wise.results import CVSummary

# Two-sided 95% quantiles of Student's t, t(0.975; df), for df = 1..30.
_T975 = (12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
         2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
         2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423)


class PairedDifference(TypedDict):
    """`paired_difference`: how much better row a is than row b, over their shared runs."""

    n_pairs: int
    mean: float
    ci95: list[float]                   # [low, high]
    verdict: str                        # "better", "worse" or "no difference shown"


def t975(df: int) -> float:
    """Student's t quantile t(0.975; df): tabulated up to 30 degrees of freedom, then the
    Cornish-Fisher expansion around the normal quantile (error below 1e-4 there)."""
    if df < 1:
        raise ValueError("degrees of freedom must be at least 1")
    if df <= len(_T975):
        return _T975[df - 1]
    z = 1.959964
    return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2)


def paired_difference(a: Mapping, b: Mapping,
                      test_over_train: float) -> PairedDifference | None:
    """Mean of a[key] - b[key] over the keys (e.g. (seed, fold)) both have, with its corrected
    95% interval (see the module's note) and a verdict: "better" or "worse" when the interval
    excludes 0, else "no difference shown". `test_over_train`: a fold's test rows over its
    training rows (0 gives the plain paired t-interval). None with fewer than 2 pairs."""
    keys = [k for k in a if k in b]
    if len(keys) < 2:
        return None
    mean, (lo, hi) = mean_interval([a[k] - b[k] for k in keys], test_over_train)
    verdict = "better" if lo > 0 else "worse" if hi < 0 else "no difference shown"
    return {"n_pairs": len(keys), "mean": mean, "ci95": [lo, hi], "verdict": verdict}


def mean_interval(values, test_over_train: float) -> tuple[float, tuple[float, float]]:
    """The mean of per-(seed, fold) scores (at least 2) and its corrected 95% interval (see the
    module's note): how well a row does, where `paired_difference` says how much better."""
    d = np.asarray(values, dtype=float)
    mean = float(d.mean())
    half = t975(len(d) - 1) * math.sqrt(float(d.var(ddof=1)) * (1 / len(d) + test_over_train))
    return mean, (mean - half, mean + half)


def run_scores(summary: CVSummary, key: str = "ua") -> dict[tuple[int, str], float]:
    """A `wise cv` summary's score per (seed, test fold)."""
    return {(int(f.get("seed", 0)), str(f["test"])): float(f[key]) for f in summary["folds"]}


def fold_scores(summary: CVSummary, key: str = "ua") -> dict[str, float]:
    """A `wise cv` summary's score per test fold, averaged over its seeds: the units to pair
    when a row's seeds give (nearly) the same models, as a scikit-learn row's do, so that its
    (seed, fold) pairs are not as many independent ones."""
    by_fold: dict[str, list[float]] = {}
    for (_, fold), v in run_scores(summary, key).items():
        by_fold.setdefault(fold, []).append(v)
    return {fold: float(np.mean(v)) for fold, v in by_fold.items()}


def test_over_train(summary: CVSummary) -> float:
    """Mean over a summary's runs of test rows / rows of the training folds (those fitted plus
    those held out for early stopping: the model depends on both); 0 when not recorded."""
    ratios = [f["n"] / (f["n_train"] + f.get("n_val", 0)) for f in summary["folds"]
              if f.get("n_train")]
    return float(np.mean(ratios)) if ratios else 0.0


def compare_runs(a: CVSummary, b: CVSummary, key: str = "ua") -> PairedDifference | None:
    """`paired_difference` of two `wise cv` summaries' scores (a - b); the test/train ratio is
    the mean of the two runs' (the same folds, so nearly equal), so that a - b and b - a get
    the same interval."""
    return _compare(a, b, run_scores, key)


def compare_folds(a: CVSummary, b: CVSummary, key: str = "ua") -> PairedDifference | None:
    """`compare_runs` over the test folds, each fold's seeds averaged first (`fold_scores`):
    the wider, safer interval where the seeds do not vary the model much."""
    return _compare(a, b, fold_scores, key)


def _compare(a: CVSummary, b: CVSummary, scores: Callable[[CVSummary, str], dict],
             key: str) -> PairedDifference | None:
    ratio = (test_over_train(a) + test_over_train(b)) / 2
    return paired_difference(scores(a, key), scores(b, key), ratio)
