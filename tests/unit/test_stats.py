"""Paired differences between rows and their corrected intervals (wise.stats)."""

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from wise.stats import (
    compare_folds,
    compare_runs,
    fold_scores,
    mean_interval,
    paired_difference,
    t975,
)


@pytest.mark.parametrize("df", [1, 2, 4, 14, 30, 31, 44, 100, 1000])
def test_t_quantile_matches_scipy(df):
    assert t975(df) == pytest.approx(scipy_stats.t.ppf(0.975, df), abs=2e-4)


def test_plain_paired_interval_is_the_paired_t_interval():
    rng = np.random.default_rng(0)
    a = {k: float(x) for k, x in enumerate(rng.normal(0.6, 0.05, 15))}
    b = {k: a[k] - float(x) for k, x in enumerate(rng.normal(0.02, 0.03, 15))}
    v = paired_difference(a, b, test_over_train=0.0)
    d = np.array([a[k] - b[k] for k in a])
    lo, hi = scipy_stats.t.interval(0.95, len(d) - 1, d.mean(), scipy_stats.sem(d))
    assert v["mean"] == pytest.approx(d.mean())
    assert v["ci95"] == pytest.approx([lo, hi], abs=1e-4)


def test_a_mean_interval_is_the_t_interval_widened_by_the_correction():
    x = np.random.default_rng(1).normal(0.7, 0.08, 12)
    mean, (lo, hi) = mean_interval(x, 0.0)
    assert mean == pytest.approx(x.mean())
    assert (lo, hi) == pytest.approx(scipy_stats.t.interval(0.95, 11, x.mean(),
                                                            scipy_stats.sem(x)), abs=1e-4)
    _, (lo3, hi3) = mean_interval(x, 1 / 3)
    assert (hi3 - lo3) / (hi - lo) == pytest.approx(math.sqrt((1 / 12 + 1 / 3) / (1 / 12)))


def test_the_correction_widens_the_interval_as_nadeau_and_bengio_say():
    a = {k: 0.6 + 0.01 * (k % 3) for k in range(15)}
    b = {k: 0.55 + 0.02 * (k % 2) for k in range(15)}
    plain = paired_difference(a, b, 0.0)
    fixed = paired_difference(a, b, 0.25)
    width = lambda v: v["ci95"][1] - v["ci95"][0]  # noqa: E731
    assert width(fixed) / width(plain) == pytest.approx(math.sqrt((1 / 15 + 0.25) / (1 / 15)))


def test_verdicts():
    base = {k: 0.5 + 0.01 * (k % 4) for k in range(15)}
    better = {k: v + 0.05 + 0.002 * (k % 3) for k, v in base.items()}
    mixed = {k: v + (0.03 if k % 2 else -0.03) for k, v in base.items()}
    assert paired_difference(better, base, 0.25)["verdict"] == "better"
    assert paired_difference(base, better, 0.25)["verdict"] == "worse"
    assert paired_difference(mixed, base, 0.25)["verdict"] == "no difference shown"


def test_only_shared_pairs_count_and_one_pair_is_too_few():
    a = {(0, "Ses01"): 0.6, (0, "Ses02"): 0.7, (1, "Ses01"): 0.5}
    b = {(0, "Ses01"): 0.5, (0, "Ses02"): 0.6}
    assert paired_difference(a, b, 0.0)["n_pairs"] == 2
    assert paired_difference(a, {(0, "Ses01"): 0.5}, 0.0) is None


def test_compare_runs_pairs_by_seed_and_test_fold():
    def run(uas):
        return {"folds": [{"seed": s, "test": t, "ua": u, "n": 20, "n_train": 80}
                          for (s, t), u in uas.items()]}
    a = run({(0, "A"): 0.7, (0, "B"): 0.6, (1, "A"): 0.72, (1, "B"): 0.61})
    b = run({(1, "B"): 0.55, (1, "A"): 0.70, (0, "B"): 0.50, (0, "A"): 0.69})   # other order
    v = compare_runs(a, b)
    assert v["n_pairs"] == 4
    assert v["mean"] == pytest.approx(np.mean([0.01, 0.10, 0.02, 0.06]))


def test_compare_folds_averages_each_folds_seeds_before_pairing():
    # Seeds that give the same model repeat each fold's difference: over (seed, fold) pairs
    # that looks like twice the evidence; over folds it is what it is.
    def run(uas):
        return {"folds": [{"seed": s, "test": t, "ua": u, "n": 20, "n_train": 80}
                          for (s, t), u in uas.items()]}
    folds = {"A": 0.05, "B": 0.01, "C": 0.09}
    a = run({(s, t): 0.7 + d for s in (0, 1, 2) for t, d in folds.items()})
    b = run({(s, t): 0.7 for s in (0, 1, 2) for t in folds})
    assert fold_scores(a) == pytest.approx({t: 0.7 + d for t, d in folds.items()})
    by_fold, by_run = compare_folds(a, b), compare_runs(a, b)
    assert by_fold["n_pairs"] == 3 and by_run["n_pairs"] == 9
    assert by_fold["mean"] == pytest.approx(by_run["mean"])
    assert by_fold["ci95"][0] < by_run["ci95"][0] and by_fold["ci95"][1] > by_run["ci95"][1]
    ref = paired_difference(dict(folds), dict.fromkeys(folds, 0.0), 20 / 80)
    assert by_fold["ci95"] == pytest.approx(ref["ci95"])
