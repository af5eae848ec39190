"""The JSON documents a cross-validation writes, as typed dicts: each (seed, fold)'s
`metrics.json` (`FoldResult`) and each run's `summary.json` (`CVSummary`). They are what
`wise.crossval` hands on, what `wise.stats` pairs and what `wise.report` turns into tables;
typed dicts, not dataclasses, because they are read back from disk as they were written.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict

from wise.metrics import Scores


class FoldResult(Scores):
    """One (seed, fold)'s `metrics.json`, what `train_job` hands back: the test fold's scores
    (adapted to the test speakers under `normalize: speaker`), how the training went, and the
    labels behind the scores."""

    seed: int
    fold: int
    test: str                           # the fold's name, e.g. "Ses01"
    wa_unadapted: NotRequired[float]    # `normalize: speaker`, test speakers never trained on:
    ua_unadapted: NotRequired[float]    # scored with the training speakers' statistics too
    n_train: int                        # rows fitted
    n_val: int                          # rows held out for early stopping
    validation: NotRequired[dict]       # which speakers were held out (`validation: speakers`)
    best_epoch: int | None              # None for a scikit-learn row
    best_val_ua: float | None
    history: list[dict]                 # one entry per epoch
    n_params: NotRequired[int]          # a scikit-learn row's (the neural rows' is the run's)
    seconds: float
    config_hash: str                    # a finished fold is reused only for the same config
    y_true: list[int]
    y_pred: list[int]


class PooledScores(TypedDict):
    """`summarize`: the scores over every (seed, fold) of a run."""

    seeds: list[int]
    folds: list[dict]                   # each run's scores, a subset of its FoldResult
    ua_unadapted_mean: NotRequired[float]
    ua_unadapted_std: NotRequired[float]
    wa_mean: float
    wa_std: float
    ua_mean: float
    ua_std: float
    ua_fold_std: float                  # over folds of each fold's mean over seeds
    ua_seed_std: float                  # over seeds within a fold, averaged over folds
    pooled_wa: float                    # every run's predictions counted together
    pooled_ua: float
    confusion: list[list[int]]


class CVSummary(PooledScores):
    """A run's `summary.json`, what `run_cv` hands back and `wise.report` reads."""

    name: str
    config: dict                        # `RunConfig.to_dict()`
    code_version: str
    manifest: str
    n_utterances: int
    protocol: str
    subset: str
    n_params: int
    labels: list[str]
    word_vectors: str
    word_dim: int
    seconds: float
    run_dir: NotRequired[str]           # set by `wise.report.load_summaries`: where it was read
