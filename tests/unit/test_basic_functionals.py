"""`functionals: basic`, WISE+'s permissively licensed functionals (librosa), on real speech."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from wise.audio import load_audio
from wise.config import FeatureConfig
from wise.features.prosody import Prosody, basic_functionals

CLIP = Path(__file__).parents[1] / "fixtures" / "ravdess" / "Actor_10" / "03-01-05-02-02-01-10.flac"


def test_values_are_a_voice_and_the_level_is_the_only_thing_gain_moves():
    x = load_audio(CLIP)
    v = basic_functionals(x, 16000)
    assert v.shape == (26,) and v.dtype == np.float32 and np.isfinite(v).all()
    f0_median = 27.5 * 2 ** (v[3] / 12)                   # semitones from 27.5 Hz -> Hz
    assert 80 < f0_median < 400
    assert 0.2 < v[25] < 0.95                              # share of frames near the loudest
    louder = basic_functionals(x * 10 ** (6 / 20), 16000)  # +6 dB
    shifted = [6, 8, 9, 10]                                # level: mean and percentiles
    np.testing.assert_allclose(louder[shifted], v[shifted] + 6.0, atol=0.05)
    np.testing.assert_allclose(louder[[7, 11]], v[[7, 11]], atol=0.05)  # spread: unchanged
    np.testing.assert_allclose(louder[:6], v[:6], atol=1e-3)             # F0 untouched
    np.testing.assert_allclose(louder[12:24], v[12:24], rtol=1e-3, atol=1e-3)  # spectral shape


def test_too_short_is_missing_and_the_config_knows_the_size():
    assert np.isnan(basic_functionals(np.zeros(500, np.float32), 16000)).all()
    cfg = FeatureConfig(functionals="basic")
    assert cfg.n_functionals == 26 and cfg.frame_dim == 39
    v = Prosody(cfg).functionals(load_audio(CLIP))
    np.testing.assert_array_equal(v, basic_functionals(load_audio(CLIP), 16000))
