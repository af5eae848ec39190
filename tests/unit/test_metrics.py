import numpy as np
import pytest

from wise.config import RunConfig
from wise.crossval import make_folds
from wise.metrics import confusion, scores, unweighted_accuracy, weighted_accuracy
from wise.rows import run_config
from wise.train import split_validation


def test_wa_is_accuracy_and_ua_is_mean_recall_on_imbalanced_data():
    # 8 of class 0, 2 of class 1: always predicting 0 gives WA .8 but UA .5
    y = np.array([0] * 8 + [1] * 2)
    p = np.zeros(10, int)
    assert weighted_accuracy(y, p) == pytest.approx(0.8)
    assert unweighted_accuracy(y, p, 4) == pytest.approx(0.5)   # absent classes ignored
    s = scores(y, p, ("ang", "hap", "neu", "sad"))
    assert s["recall"] == {"ang": 1.0, "hap": 0.0, "neu": None, "sad": None}
    assert confusion(y, p, 2).tolist() == [[8, 0], [2, 0]]


def test_ua_is_not_precision():
    y = np.array([0, 0, 0, 1])
    p = np.array([0, 1, 1, 1])
    # recall: class 0 1/3, class 1 1/1 -> UA 2/3; precision would be (1 + 1/3) / 2
    assert unweighted_accuracy(y, p, 2) == pytest.approx(2 / 3)


def test_session_folds_hold_out_whole_sessions_and_cover_every_row_once():
    sessions = ["S1"] * 4 + ["S2"] * 3 + ["S3"] * 5
    labels = [0, 1, 2, 3] * 3
    rows = list(range(12))
    folds = make_folds(rows, labels, sessions, "session", 5, 0)
    assert [name for name, _ in folds] == ["S1", "S2", "S3"]
    assert sorted(i for _, test in folds for i in test) == rows
    for name, test in folds:
        assert {sessions[i] for i in test} == {name}


def test_random_folds_are_stratified_and_deterministic():
    labels = [0] * 50 + [1] * 25 + [2] * 15 + [3] * 10
    rows = list(range(100))
    folds = make_folds(rows, labels, ["x"] * 100, "random", 5, 3)
    assert sorted(i for _, t in folds for i in t) == rows
    for _, test in folds:
        counts = np.bincount([labels[i] for i in test], minlength=4)
        assert counts.tolist() == [10, 5, 3, 2]
    assert folds == make_folds(rows, labels, ["x"] * 100, "random", 5, 3)


def test_validation_comes_from_the_training_rows_stratified():
    labels = [0] * 40 + [1] * 20
    train_rows = list(range(10, 60))          # rows 0..9 play the test fold
    fit, val = split_validation(train_rows, labels, 0.1, 0)
    assert set(fit) | set(val) == set(train_rows) and not set(fit) & set(val)
    assert not set(val) & set(range(10))
    assert sorted(labels[i] for i in val) == [0, 0, 0, 1, 1]


def test_run_config_overrides_find_their_section_and_keep_types():
    r = run_config({"name": "x", "model_args": {"hierarchy": "mean"}},
                   ["text_dim=300", "train.lr=2e-3", "protocol=random", "fc_dims=[10, 20]",
                    "class_weights=true"])
    assert isinstance(r, RunConfig)
    assert r.model_args == {"hierarchy": "mean", "text_dim": 300, "fc_dims": (10, 20)}
    assert r.train.lr == 0.002 and r.train.class_weights is True
    assert r.cv.protocol == "random"
    with pytest.raises(ValueError, match="'lots' is not a number"):
        run_config({}, ["dropout=lots"])
    with pytest.raises(ValueError, match="unknown option 'colour'"):
        run_config({}, ["colour=red"])
    with pytest.raises(ValueError, match="hierarchy"):
        run_config({}, ["hierarchy=deep"])


def test_early_stopping_waits_for_min_epochs_then_patience():
    from wise.config import TrainConfig
    from wise.train import should_stop

    cfg = TrainConfig(min_epochs=10, patience=6)
    assert not should_stop(8, 2, cfg)      # plateau at the start: keep going
    assert should_stop(10, 2, cfg)
    assert not should_stop(15, 12, cfg)
    assert should_stop(18, 12, cfg)
