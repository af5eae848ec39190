"""MFCC definition: framing, shapes, edge cases, and agreement with python_speech_features."""

from __future__ import annotations

import numpy as np
import pytest

import wise.features.mfcc as M
from wise.config import FeatureConfig
from wise.errors import WiseError
from wise.features.mfcc import MFCC_DIM, frame_times, mfcc, n_frames

CFG = FeatureConfig()
SR, WIN, HOP = 16000, 400, 240


def speech_like(n: int, seed: int = 0) -> np.ndarray:
    """Voiced harmonics with a gliding pitch and syllable-rate envelope, plus noise bursts."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SR
    f0 = 120 + 30 * np.sin(2 * np.pi * 0.5 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    voiced = sum(np.sin(k * phase) / k for k in range(1, 30))
    x = 0.1 * voiced * (0.5 + 0.5 * np.sin(2 * np.pi * 3.0 * t)) ** 2
    x += (np.sin(2 * np.pi * 0.7 * t) > 0.6) * 0.05 * rng.standard_normal(n)
    return x + 0.005 * rng.standard_normal(n)


def reference(x: np.ndarray) -> np.ndarray:
    """python_speech_features configured like our MFCC, with its own deltas, (T, 39)."""
    import python_speech_features as psf  # the [test] extra; only the comparison tests use it

    ceps = psf.mfcc(x, samplerate=SR, winlen=0.025, winstep=0.015, numcep=13, nfilt=26,
                    nfft=512, lowfreq=0, highfreq=8000, preemph=0.97, ceplifter=22,
                    appendEnergy=False, winfunc=np.hamming)
    d1 = psf.delta(ceps, 2)
    return np.concatenate([ceps, d1, psf.delta(d1, 2)], axis=1)


def column_corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a - a.mean(0)
    b = b - b.mean(0)
    return (a * b).sum(0) / np.sqrt((a * a).sum(0) * (b * b).sum(0))


def test_config_gives_paper_framing():
    assert (CFG.win_length, CFG.hop_length) == (WIN, HOP)


def test_shape_dtype_and_frame_count_formula():
    for n in (WIN, WIN + 1, WIN + HOP - 1, WIN + HOP, 16000, 48000 + 17):
        feats = mfcc(speech_like(n), CFG)
        assert feats.shape == (1 + (n - WIN) // HOP, MFCC_DIM) == (n_frames(n, CFG), 39)
        assert feats.dtype == np.float32


@pytest.mark.parametrize("n", [0, 1, 160, WIN - 1])
def test_short_signal_gives_one_frame(n):
    feats = mfcc(speech_like(n), CFG) if n else mfcc(np.zeros(0), CFG)
    assert feats.shape == (1, 39) and n_frames(n, CFG) == 1
    assert np.isfinite(feats).all()


def test_frame_times_are_centres():
    t = frame_times(4, CFG)
    np.testing.assert_allclose(t, [0.0125, 0.0275, 0.0425, 0.0575])
    assert frame_times(0, CFG).shape == (0,)


def test_silence_is_finite_and_flat():
    feats = mfcc(np.zeros(SR), CFG)
    assert np.isfinite(feats).all()
    np.testing.assert_array_equal(feats, 0.0)  # every mel energy floors at 1.0: log(1) = 0


def test_deltas_of_a_constant_signal_are_zero():
    feats = mfcc(np.full(SR, 0.3), CFG)
    assert np.abs(feats[:, 13:]).max() < 1e-4
    assert np.abs(feats[:, :13]).max() > 1.0


def test_deterministic_and_frames_independent_of_neighbours():
    x = speech_like(SR)
    a, b = mfcc(x, CFG), mfcc(x.copy(), CFG)
    np.testing.assert_array_equal(a, b)
    # Per-frame pre-emphasis: the static cepstra of frame 10 depend on its own samples only.
    start = 10 * HOP
    alone = M.static_cepstra(x[start:start + WIN], CFG)
    np.testing.assert_allclose(alone[0], M.static_cepstra(x, CFG)[10], rtol=1e-9, atol=1e-9)


def whole_signal_cepstra(x: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """The MFCC chain written directly on the whole (T, win) frame matrix, no blocks."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) < cfg.win_length:
        x = np.pad(x, (0, cfg.win_length - len(x)))
    n_fft, window, fbank, dct = M._tables(cfg.sample_rate, cfg.win_length, cfg.n_mels,
                                          float(cfg.fmin), float(cfg.fmax), cfg.n_ceps,
                                          cfg.lifter)
    frames = np.lib.stride_tricks.sliding_window_view(x, cfg.win_length)[::cfg.hop_length]
    k = cfg.preemphasis
    emph = np.empty_like(frames)
    emph[:, 1:] = frames[:, 1:] - k * frames[:, :-1]
    emph[:, 0] = (1.0 - k) * frames[:, 0]
    spec = np.fft.rfft(emph * window, n=n_fft, axis=1)
    power = spec.real ** 2 + spec.imag ** 2
    return np.log(np.maximum(power @ fbank, 1.0)) @ dct


@pytest.mark.parametrize("block", [1, 7, 256])
def test_blocked_pipeline_is_bit_identical_to_whole_signal_formula(monkeypatch, block):
    """Cached features carry no code version: the block-wise computation must reproduce the
    direct formula bit for bit (signed zeros included), whatever the block size."""
    monkeypatch.setattr(M, "_BLOCK_FRAMES", block)
    signals = [speech_like(n, seed=n) for n in (0, 1, WIN - 1, WIN, WIN + HOP, 7 * HOP + WIN,
                                                 SR + 17, 5 * SR)]
    signals += [np.zeros(SR), np.full(SR, 0.3), speech_like(SR).astype(np.float32)]
    for x in signals:
        for cfg in (CFG, CFG.with_overrides(preemphasis=0.0, lifter=0)):
            got, want = M.static_cepstra(x, cfg), whole_signal_cepstra(x, cfg)
            assert got.shape == want.shape
            assert np.array_equal(got.view(np.uint64), want.view(np.uint64))


def test_rejects_bad_input_and_config():
    with pytest.raises(ValueError):
        mfcc(np.zeros((2, SR)), CFG)
    with pytest.raises(WiseError):
        mfcc(np.zeros(SR), CFG.with_overrides(fmax=9000.0))


def test_filterbank_follows_htk_definition():
    fb = M.mel_filterbank(SR, 512, 26, 0.0, 8000.0)      # (257, 26)
    assert fb.shape == (257, 26) and fb.min() >= 0.0 and fb.max() <= 1.0
    assert abs(M.hz_to_mel(1000.0) - 1000.0) < 0.1         # the mel scale's anchor point
    # Weights are linear in mel, so neighbouring triangles sum to 1 between the first and the
    # last centre (HTK's loWt / 1 - loWt split).
    edges = np.linspace(0.0, M.hz_to_mel(8000.0), 28)
    bin_mel = M.hz_to_mel(np.arange(257) * SR / 512)
    inside = (bin_mel >= edges[1]) & (bin_mel <= edges[-2])
    np.testing.assert_allclose(fb[inside].sum(1), 1.0, atol=1e-12)
    # Each filter's peak sits at the FFT bin nearest its centre (in mel).
    for j in range(26):
        assert np.argmax(fb[:, j]) == np.argmin(np.abs(bin_mel - edges[j + 1]))


def test_dct_is_htk_scaled_and_liftered():
    d = M.dct_matrix(26, 13, 0)
    gram = d.T @ d                                          # columns orthogonal, sqrt(2/M) scale
    np.testing.assert_allclose(np.diag(gram)[1:], 1.0, atol=1e-12)
    np.testing.assert_allclose(gram[0, 0], 2.0, atol=1e-12)
    lift = M.dct_matrix(26, 13, 22)[0] / d[0]
    np.testing.assert_allclose(lift, 1 + 11 * np.sin(np.pi * np.arange(13) / 22))


def test_agrees_with_python_speech_features():
    n = WIN + 299 * HOP                                    # ~4.5 s, a whole number of hops,
    x = speech_like(n)                                     # so both tools agree on T
    ours, ref = mfcc(x, CFG), reference(x)
    assert ours.shape == ref.shape == (300, 39)
    corr = column_corr(ours.astype(np.float64), ref)
    # Its filterbank rounds band edges to whole FFT bins and is linear in Hz; ours is HTK's
    # (linear in mel, unrounded), which moves the higher cepstra a little.
    assert corr[:2].min() > 0.99
    assert corr[1:13].min() > 0.9 and corr[1:13].mean() > 0.94
    assert corr[13:].min() > 0.9


@pytest.fixture
def psf_filterbank(monkeypatch):
    """Swap python_speech_features' filterbank into our pipeline for one test."""
    import python_speech_features as psf

    monkeypatch.setattr(M, "mel_filterbank", lambda sr, n_fft, n_mels, lo, hi:
                        psf.get_filterbanks(n_mels, n_fft, sr, lo, hi).T)
    M._tables.cache_clear()
    yield
    M._tables.cache_clear()


def test_every_other_step_matches_python_speech_features(psf_filterbank):
    """Given its filterbank, framing, window, FFT size, power, log, DCT, lifter and deltas must
    reproduce it; only c0 differs (sample scale and DCT-II scaling: constant factor and offset)."""
    from python_speech_features import sigproc

    x = speech_like(WIN + 199 * HOP, seed=1)
    ref = reference(x)
    # It pre-emphasises the whole signal; feeding that in with our per-frame step disabled
    # must give its cepstra to float precision.
    emph = sigproc.preemphasis(x, 0.97)
    exact = M.static_cepstra(emph, CFG.with_overrides(preemphasis=0.0))
    np.testing.assert_allclose(exact[:, 1:], ref[:, 1:13], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(column_corr(exact[:, :1], ref[:, :1]), 1.0, atol=1e-9)
    # Our own per-frame pre-emphasis differs only in each frame's first sample.
    ours = mfcc(x, CFG).astype(np.float64)
    keep = [i for i in range(39) if i % 13 != 0]
    assert column_corr(ours[:, keep], ref[:, keep]).min() > 0.998
