"""eGeMAPS + SVM: the classic speech emotion baseline, a row beyond the paper.

Not in the paper. It answers "what does the standard non-neural recipe score on these folds?":
per utterance, openSMILE's eGeMAPSv02 functionals (88 numbers, `wise.features.functionals`),
standardised with the mean and std of the training rows, then an RBF-kernel SVM with class
weights n / (k n_c) (scikit-learn's SVC, i.e. libsvm, one-vs-one over the classes present in
training). It reads the audio only: no words, no alignment, no MFCC frames.

The hyper-parameters are fixed (C = 1, gamma = "scale" = 1 / (88 Var(Z)) on the standardised
training rows Z, balanced class weights), as in the reference figure it reproduces: nothing is
chosen on the test fold, and there is no validation split (every training row is fitted).

Outputs, to keep predictions files uniform across rows: `pred` is libsvm's own decision (the
class most of the k(k-1)/2 pairwise SVMs vote for) and `probs` is each class's share of those
votes, which sums to 1 and peaks at `pred`; it is not a calibrated probability. A feature that
is NaN (openSMILE finds a clip too short) is set to the training mean, i.e. 0 after
standardisation. `n_params` counts the numbers the fitted model keeps: support vectors, dual
coefficients, intercepts and the standardisation's mean and std.

openSMILE is under audEERING's research licence (non-commercial use): an optional extra,
`pip install "wise-ser[opensmile]"`, which also brings scikit-learn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wise.errors import WiseError


@dataclass(frozen=True)
class EgemapsSvmConfig:
    C: float = 1.0                  # soft-margin penalty of the SVM
    gamma: str = "scale"            # RBF width: "scale" (1 / (n_features Var(Z))), "auto"
                                    # (1 / n_features) or a positive number, e.g. "0.01"
    class_weight: str = "balanced"  # "balanced" (n / (k n_c)) or "none"
    n_classes: int = 4

    def __post_init__(self) -> None:
        check_fit_options(self.C, self.class_weight)
        if self.gamma not in ("scale", "auto"):
            try:
                ok = float(self.gamma) > 0
            except ValueError:
                ok = False
            if not ok:
                raise ValueError(f"gamma must be 'scale', 'auto' or a positive number, "
                                 f"not {self.gamma!r}")


def check_fit_options(C: float, class_weight: str) -> None:
    """The ValueError for a penalty or class weighting a scikit-learn row cannot take."""
    if C <= 0:
        raise ValueError("C must be positive")
    if class_weight not in ("balanced", "none"):
        raise ValueError(f"class_weight must be 'balanced' or 'none', not {class_weight!r}")


def check_classes(y: np.ndarray, what: str) -> None:
    """The one-line error when the training rows `y` hold fewer than two classes."""
    if len(np.unique(y)) < 2:
        raise WiseError(None, f"the training rows hold one class only (class {int(y[0])}); "
                              f"{what} needs two or more")


class EgemapsSvm:
    """Standardisation fitted on the training rows, then an RBF SVM."""

    inputs = "egemaps"              # what `wise.crossval` hands `fit`: (N, 88) functionals

    def __init__(self, cfg: EgemapsSvmConfig):
        self.cfg = cfg

    def fit(self, x: np.ndarray, y: np.ndarray) -> EgemapsSvm:
        """x (N, F) functionals, NaN where missing; y (N,) class indices."""
        from sklearn.svm import SVC

        c = self.cfg
        check_classes(y, "an SVM")
        known = ~np.isnan(x)
        n = np.maximum(known.sum(0), 1)
        self.mean = np.where(known, x, 0.0).sum(0) / n                             # (F,)
        std = np.sqrt(np.where(known, (x - self.mean) ** 2, 0.0).sum(0) / n)
        self.std = np.where(std > 0, std, 1.0)                                     # (F,)
        gamma = c.gamma if c.gamma in ("scale", "auto") else float(c.gamma)
        self.svc = SVC(C=c.C, kernel="rbf", gamma=gamma,
                       class_weight=None if c.class_weight == "none" else c.class_weight,
                       decision_function_shape="ovo")
        self.svc.fit(self._standardise(x), y)
        return self

    def _standardise(self, x: np.ndarray) -> np.ndarray:
        return np.nan_to_num((x - self.mean) / self.std, nan=0.0)

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N,) predicted classes and (N, n_classes) vote shares (see the module docstring)."""
        z = self._standardise(x)
        classes = self.svc.classes_
        dec = self.svc.decision_function(z).reshape(len(z), -1)     # (N, k(k-1)/2) one-vs-one
        if len(classes) == 2:                   # scikit-learn flips the sign of the binary case
            dec = -dec
        votes = np.zeros((len(z), self.cfg.n_classes))
        pairs = [(i, j) for i in range(len(classes)) for j in range(i + 1, len(classes))]
        for p, (i, j) in enumerate(pairs):      # libsvm: a positive value is a vote for i
            votes[:, classes[i]] += dec[:, p] > 0
            votes[:, classes[j]] += dec[:, p] <= 0
        return self.svc.predict(z), votes / len(pairs)

    def n_params(self) -> int:
        s = self.svc
        return int(s.support_vectors_.size + s.dual_coef_.size + s.intercept_.size
                   + self.mean.size + self.std.size)
