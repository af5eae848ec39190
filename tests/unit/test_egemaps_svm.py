"""The eGeMAPS + SVM row's pieces: openSMILE functionals and their cache, the classifier."""

import os
import sys
from pathlib import Path

import numpy as np
import opensmile
import pytest

from wise.audio import load_audio
from wise.errors import WiseError
from wise.features.functionals import (
    INSTALL,
    N_FUNCTIONALS,
    build_functionals,
    functionals,
    require_opensmile,
)
from wise.models.baselines.egemaps_svm import EgemapsSvmConfig
from wise.models.build import build_classic
from wise.rows import load_run_config

CLIPS = sorted((Path(__file__).resolve().parents[1] / "fixtures" / "ravdess").rglob("*.flac"))


def test_functionals_are_opensmiles_egemaps():
    x = load_audio(CLIPS[0])
    smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                            feature_level=opensmile.FeatureLevel.Functionals)
    want = smile.process_signal(x, 16000).to_numpy()[0]
    f = functionals(x, 16000)
    assert f.shape == (N_FUNCTIONALS,) == (len(smile.feature_names),)
    np.testing.assert_array_equal(f, want)
    assert np.isnan(functionals(np.zeros(100, np.float32), 16000)).all()   # too short


def test_cache_is_built_once_and_reused(tmp_path):
    audio = [str(c) for c in CLIPS[:4]]
    a = build_functionals(audio, tmp_path, 16000, workers=1, progress=False)
    assert (a.built, a.reused, a.missing) == (4, 0, 0)
    x = np.load(a.path)
    assert x.shape == (4, N_FUNCTIONALS) and x.dtype == np.float32
    np.testing.assert_array_equal(x[2], functionals(load_audio(audio[2]), 16000))
    b = build_functionals(audio, tmp_path, 16000, workers=1, progress=False)
    assert (b.path, b.built, b.reused) == (a.path, 0, 4)
    # Another list of rows reuses the entries it shares and gets its own matrix.
    c = build_functionals(audio[2:] + [str(CLIPS[4])], tmp_path, 16000, workers=1,
                          progress=False)
    assert (c.built, c.reused) == (1, 2) and c.path != a.path
    np.testing.assert_array_equal(np.load(c.path)[:2], x[2:])
    assert [p.name for p in tmp_path.rglob(".*")] == []                  # no temp files left


def test_a_changed_file_is_recomputed(tmp_path):
    clip = tmp_path / "clip.flac"
    clip.write_bytes(CLIPS[0].read_bytes())
    build_functionals([str(clip), str(CLIPS[1])], tmp_path / "cache", 16000, workers=1,
                      progress=False)
    st = clip.stat()
    os.utime(clip, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    s = build_functionals([str(clip), str(CLIPS[1])], tmp_path / "cache", 16000, workers=1,
                          progress=False)
    assert (s.built, s.reused) == (1, 1)


@pytest.mark.parametrize("module", ["opensmile", "sklearn"])
def test_missing_extra_names_the_install_command(monkeypatch, module):
    monkeypatch.setitem(sys.modules, module, None)          # `import module` now fails
    with pytest.raises(WiseError, match="not installed") as e:
        require_opensmile()
    assert INSTALL in e.value.message and "\n" not in e.value.message


def _blobs(n_per_class: int, n_classes: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(n_classes), n_per_class)
    x = rng.standard_normal((len(y), N_FUNCTIONALS)) * 5 + 100
    x[:, :4] += 40 * np.eye(n_classes, 4)[y]              # classes apart in 4 of 88 dimensions
    return x, y


def _row_svm():
    """The egemaps_svm row's model, unfitted, as `wise cv` builds it."""
    run = load_run_config("egemaps_svm")
    return build_classic(run.model, run.model_args)


def test_svm_separates_classes_and_votes_for_its_prediction():
    x, y = _blobs(30)
    m = _row_svm().fit(x, y)
    xt, yt = _blobs(10, seed=1)
    pred, votes = m.predict(xt)
    assert (pred == yt).mean() > 0.9
    assert votes.shape == (40, 4)
    np.testing.assert_allclose(votes.sum(1), 1.0)
    np.testing.assert_array_equal(votes.argmax(1), pred)
    s = m.svc
    assert m.n_params() == s.support_vectors_.size + s.dual_coef_.size + 6 + 2 * 88


def test_svm_standardises_on_training_rows_and_fills_missing_values():
    x, y = _blobs(10)
    x[3] = np.nan                                          # a clip openSMILE found too short
    m = _row_svm().fit(x, y)
    assert np.isfinite(m.mean).all() and np.isfinite(m.std).all()
    np.testing.assert_allclose(m.mean, np.nanmean(x, 0), rtol=1e-12)
    pred, _ = m.predict(np.full((1, N_FUNCTIONALS), np.nan))
    assert pred.shape == (1,)


def test_two_classes_and_absent_classes():
    x, y = _blobs(15, n_classes=4)
    keep = (y == 1) | (y == 3)
    m = _row_svm().fit(x[keep], y[keep])
    pred, votes = m.predict(x)
    assert set(pred) <= {1, 3}
    assert (votes[:, [0, 2]] == 0).all()
    np.testing.assert_array_equal(votes.argmax(1), pred)
    assert (pred[keep] == y[keep]).mean() > 0.9
    with pytest.raises(WiseError, match="one class"):
        _row_svm().fit(x[y == 2], y[y == 2])


def test_bad_choices_are_refused():
    with pytest.raises(ValueError, match="gamma"):
        EgemapsSvmConfig(gamma="wide")
    with pytest.raises(ValueError, match="class_weight"):
        EgemapsSvmConfig(class_weight="inverse")
    with pytest.raises(ValueError, match="C must"):
        EgemapsSvmConfig(C=0)
    assert EgemapsSvmConfig(gamma="0.01").gamma == "0.01"
