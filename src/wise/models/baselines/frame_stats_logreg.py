"""Frame statistics + logistic regression: the simple anchor for any frame source, a row beyond
the paper.

It answers "what does the plainest reading of these frames score on these folds?": per
utterance, the mean and the standard deviation over its frames of every frame dimension (for
the Whisper encoder's 384-d frames, 768 numbers; `FeatureConfig.frames`), standardised with the
training rows' mean and std, then a multinomial logistic regression with L2 penalty C and class
weights n / (k n_c) (scikit-learn's `LogisticRegression`, lbfgs). With `frames:
whisper-tiny.en` it is the linear probe that people use to read a speech model's encoder for
emotion. It reads no words and no hierarchy: it ignores WISE's structure on purpose.

The hyper-parameters are fixed (C = 0.1, balanced class weights): nothing is chosen on the
test fold, and there is no validation split (every training row is fitted). `probs` are the
model's class probabilities. `n_params` counts the coefficients, intercepts and the
standardisation's mean and std.

Per-speaker normalisation (`normalize: speaker`, as the neural rows have it) is applied before
this model sees the statistics (`wise.crossval.run_classic_fold`): each speaker's vectors are
standardised by that speaker's own mean and std, computed from his or her clips' audio only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wise.models.baselines.egemaps_svm import check_classes, check_fit_options


@dataclass(frozen=True)
class FrameStatsLogregConfig:
    C: float = 0.1                  # inverse L2 strength of the logistic regression
    class_weight: str = "balanced"  # "balanced" (n / (k n_c)) or "none"
    max_iter: int = 2000            # lbfgs iterations (converges in far fewer on these sizes)
    n_classes: int = 4

    def __post_init__(self) -> None:
        check_fit_options(self.C, self.class_weight)


class FrameStatsLogreg:
    """Standardisation fitted on the training rows, then logistic regression."""

    inputs = "frame_stats"          # what `wise.crossval` hands `fit`: (N, 2F) frame mean+std

    def __init__(self, cfg: FrameStatsLogregConfig):
        self.cfg = cfg

    def fit(self, x: np.ndarray, y: np.ndarray) -> FrameStatsLogreg:
        """x (N, 2F) frame statistics; y (N,) class indices."""
        from sklearn.linear_model import LogisticRegression

        c = self.cfg
        check_classes(y, "a classifier")
        self.mean = x.mean(0)                                                   # (2F,)
        std = x.std(0)
        self.std = np.where(std > 0, std, 1.0)                                  # (2F,)
        self.lr = LogisticRegression(
            C=c.C, max_iter=c.max_iter,
            class_weight=None if c.class_weight == "none" else c.class_weight)
        self.lr.fit((x - self.mean) / self.std, y)
        return self

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N,) predicted classes and (N, n_classes) probabilities (0 for a class that was
        not in the training rows)."""
        p = self.lr.predict_proba((x - self.mean) / self.std)                   # (N, k)
        probs = np.zeros((len(x), self.cfg.n_classes))
        probs[:, self.lr.classes_] = p
        return probs.argmax(1), probs

    def n_params(self) -> int:
        return int(self.lr.coef_.size + self.lr.intercept_.size + self.mean.size
                   + self.std.size)
