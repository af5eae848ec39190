"""39-d MFCC frame features (paper Sec. 3.2), computed the way openSMILE's HTK-compatible MFCC does.

Per frame: pre-emphasis -> Hamming window -> power spectrum -> mel filterbank -> log -> DCT-II ->
sinusoidal lifter; then regression deltas and delta-deltas over the frame sequence. Every
constant is written out in docs/features.md.

Framing convention (the feature hierarchy depends on it): frame t covers samples
[t*hop, t*hop + win); there are 1 + (n - win) // hop frames for n >= win samples (a partial
last window is dropped, as openSMILE does), and a signal shorter than one window is
zero-padded to exactly one frame. A frame's time is its centre, (t*hop + win/2) / sr.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from wise.config import FeatureConfig
from wise.errors import WiseError

MFCC_DIM = 39
"""13 cepstra (c0..c12) + 13 deltas + 13 delta-deltas, in that order."""

# openSMILE's htkcompatible mode scales float samples in [-1, 1] to the 16-bit range and then
# floors the mel energies at 1.0 before the log, as HTK does; keeping both makes c0 and the
# behaviour on digital silence match those tools (silence gives log(1) = 0, never -inf).
_PCM_SCALE = 32767.0
_MEL_FLOOR = 1.0

# Frames per block through framing, FFT and power spectrum. Each block's buffers (about 1 MB at
# a 512-point FFT) stay in cache and are reused; whole-signal float64 temporaries cost more in
# fresh memory than the arithmetic does. These steps are row-wise, so the block size cannot
# change a bit of the output; the mel matmul stays on the whole (T, bins) matrix, as BLAS may
# round a matrix's last rows differently when it is cut into blocks.
_BLOCK_FRAMES = 256


def n_frames(n_samples: int, cfg: FeatureConfig) -> int:
    """Number of frames `mfcc` returns for a signal of `n_samples` samples."""
    win, hop = cfg.win_length, cfg.hop_length
    if n_samples < win:
        return 1
    return 1 + (n_samples - win) // hop


def frame_times(n_frames: int, cfg: FeatureConfig) -> np.ndarray:
    """Centre time in seconds of each of `n_frames` frames: (t*hop + win/2) / sr, float64."""
    t = np.arange(n_frames, dtype=np.float64)
    return (t * cfg.hop_length + cfg.win_length / 2.0) / cfg.sample_rate


def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    """HTK mel scale: 1127 ln(1 + f/700)."""
    return 1127.0 * np.log1p(np.asarray(f, dtype=np.float64) / 700.0)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float,
                   fmax: float) -> np.ndarray:
    """(n_fft//2 + 1, n_mels) triangular weights, HTK style.

    Centres are equally spaced on the mel scale with n_mels + 2 edge points from fmin to fmax;
    each FFT bin's weight is linear in mel (not in Hz) between a filter's neighbouring centres,
    and bins are not rounded to the nearest centre (unlike many Python implementations).
    """
    if not 0.0 <= fmin < fmax <= sample_rate / 2.0:
        raise WiseError(None, f"mel filterbank needs 0 <= fmin < fmax <= sample_rate/2, "
                              f"got fmin={fmin}, fmax={fmax}, sample_rate={sample_rate}")
    edges = np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2)     # (n_mels + 2,)
    bin_mel = hz_to_mel(np.arange(n_fft // 2 + 1) * sample_rate / n_fft)  # (n_bins,)
    lo, centre, hi = edges[:-2], edges[1:-1], edges[2:]                   # (n_mels,) each
    rise = (bin_mel[:, None] - lo) / (centre - lo)
    fall = (hi - bin_mel[:, None]) / (hi - centre)
    return np.maximum(0.0, np.minimum(rise, fall))


def dct_matrix(n_mels: int, n_ceps: int, lifter: int) -> np.ndarray:
    """(n_mels, n_ceps) DCT-II with HTK scaling, sqrt(2/M) for every coefficient c0 included,
    times HTK's sinusoidal lifter 1 + L/2 sin(pi i / L) (no lifter for L <= 0)."""
    j = np.arange(n_mels)[:, None] + 0.5
    i = np.arange(n_ceps)[None, :]
    basis = np.sqrt(2.0 / n_mels) * np.cos(np.pi * i * j / n_mels)
    if lifter <= 0:
        return basis
    return basis * (1.0 + (lifter / 2.0) * np.sin(np.pi * np.arange(n_ceps) / lifter))


def deltas(feat: np.ndarray, window: int) -> np.ndarray:
    """HTK regression deltas over +-window frames, edge frames replicated.

    d_t = sum_{k=1..W} k (c_{t+k} - c_{t-k}) / (2 sum_{k=1..W} k^2). Loops over k only, not over
    frames.
    """
    if window < 1:
        raise ValueError(f"delta window must be >= 1, got {window}")
    n = feat.shape[0]
    padded = np.pad(feat, ((window, window), (0, 0)), mode="edge")
    out = np.zeros_like(feat)
    for k in range(1, window + 1):
        out += k * (padded[window + k:window + k + n] - padded[window - k:window - k + n])
    return out / (2.0 * sum(k * k for k in range(1, window + 1)))


@lru_cache(maxsize=8)
def _tables(sample_rate: int, win: int, n_mels: int, fmin: float, fmax: float, n_ceps: int,
            lifter: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    n_fft = 1 << (win - 1).bit_length()   # next power of two >= window: 512 for 400 samples
    window = np.hamming(win) * _PCM_SCALE  # 0.54 - 0.46 cos(2 pi n / (N - 1)), HTK's Hamming
    fbank = mel_filterbank(sample_rate, n_fft, n_mels, fmin, fmax)
    dct = dct_matrix(n_mels, n_ceps, lifter)
    return n_fft, window, fbank, dct


def static_cepstra(x: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """(T, n_ceps) float64 liftered cepstra c0..c(n_ceps-1), without deltas."""
    x = np.asarray(x)
    if x.ndim != 1:
        raise ValueError(f"mfcc expects a 1-D mono signal, got shape {x.shape}")
    win, hop = cfg.win_length, cfg.hop_length
    if len(x) < win:
        x = np.pad(x, (0, win - len(x)))
    n_fft, window, fbank, dct = _tables(cfg.sample_rate, win, cfg.n_mels, float(cfg.fmin),
                                        float(cfg.fmax), cfg.n_ceps, cfg.lifter)
    t = n_frames(len(x), cfg)
    k = cfg.preemphasis
    power = np.empty((t, n_fft // 2 + 1))                             # (T, n_fft/2 + 1)
    block = min(t, _BLOCK_FRAMES)
    samples = np.empty((block - 1) * hop + win)                       # one block's samples, f64
    emph = np.empty_like(samples)
    frames = np.zeros((block, n_fft))                                 # (block, n_fft), 0-padded
    for start in range(0, t, block):
        m = min(block, t - start)
        n = (m - 1) * hop + win
        s, e, f = samples[:n], emph[:n], frames[:m]
        s[:] = x[start * hop:start * hop + n]
        # Pre-emphasis inside each frame, HTK style (s'_0 = (1-k) s_0): a frame's features then
        # depend on its own samples only, as in openSMILE's cVectorPreemphasis. s_j - k s_{j-1}
        # is the same number in every frame holding sample j, so it is computed once per block
        # and each frame's first sample is then redone.
        np.multiply(s[:-1], k, out=e[1:])
        np.subtract(s[1:], e[1:], out=e[1:])
        np.multiply(np.lib.stride_tricks.sliding_window_view(e, win)[::hop], window,
                    out=f[:, :win])
        f[:, 0] = (1.0 - k) * s[:(m - 1) * hop + 1:hop] * window[0]
        re_im = np.fft.rfft(f, axis=1).view(np.float64)               # (m, n_fft + 2): re, im
        np.multiply(re_im, re_im, out=re_im)
        np.add(re_im[:, 0::2], re_im[:, 1::2], out=power[start:start + m])  # re^2 + im^2
    mel = power @ fbank                                               # (T, n_mels)
    log_mel = np.log(np.maximum(mel, _MEL_FLOOR, out=mel), out=mel)
    return log_mel @ dct                                              # (T, n_ceps)


def mfcc(x: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """(T, 39) float32: c0..c12, their deltas, their delta-deltas. `x` is mono float audio in
    [-1, 1] at `cfg.sample_rate`; T follows the module's framing convention (`n_frames`)."""
    ceps = static_cepstra(x, cfg)
    d1 = deltas(ceps, cfg.delta_window)
    d2 = deltas(d1, cfg.delta_window)
    return np.concatenate([ceps, d1, d2], axis=1).astype(np.float32)
