"""Prosody and voice quality beside the MFCCs: openSMILE's eGeMAPSv02 descriptors (real speech).

The paper's frames are 39 MFCC values, which carry the spectral envelope but little of the
pitch, and nothing of voice quality; on real emotional speech those matter (docs/real-speech.md).
Two optional additions, chosen in `FeatureConfig`:

- `prosody: egemaps`: the 25 eGeMAPSv02 low-level descriptors (Eyben et al., IEEE TAC 2016) —
  loudness, alpha ratio, Hammarberg index, spectral slopes 0-500 and 500-1500 Hz, spectral
  flux, MFCC 1-4, F0 in semitones from 27.5 Hz, jitter, shimmer, HNR, H1-H2, H1-A3 and the
  frequency, bandwidth and level of formants 1-3 — appended to every one of our frames.
  openSMILE computes them every 10 ms (20 ms windows; 60 ms for pitch and voice quality); each
  of our 15 ms frames takes the descriptor frame whose centre is nearest its own, so nothing is
  interpolated across a voicing boundary (unvoiced frames have F0, jitter, shimmer, HNR = 0, as
  openSMILE gives them).
- `functionals: egemaps`: the 88 eGeMAPSv02 functionals of the whole utterance
  (`wise.features.functionals`), for a model's utterance-level input;
- `functionals: basic`: 26 functionals from librosa (ISC licence, the optional extra
  `pip install "wise-ser[librosa]"`), for users who cannot accept openSMILE's licence: F0 in
  semitones from 27.5 Hz (YIN, 60-500 Hz), RMS level in dB, spectral centroid and log
  spectral flatness, each over the frames within 30 dB of the clip's loudest (mean, std,
  20th/50th/80th percentile, 20-80 range), plus the mean absolute F0 step and the share of
  such frames. YIN gives a pitch for every frame, voiced or not; the 30 dB gate keeps the
  silences out, not the unvoiced consonants. 10 ms hop; the audio as it is (the level is a
  functional here, and per-speaker normalisation takes away a recording's own gain).

openSMILE sees the audio gain-normalised (its loudest 25 ms at -20 dBFS, as the aligner sees
it): its voicing decision has an absolute energy threshold, so that on the quietest real clips
(-55 dBFS) it found voicing in 2% of the frames instead of about half, and pitch, jitter,
shimmer and HNR vanished. Pitch and voice quality do not depend on the microphone's gain; the
recording's level is still in the MFCCs' c0, which are not normalised.

openSMILE is under audEERING's research licence (non-commercial use): it is the optional extra
`pip install "wise-ser[opensmile]"`, imported only when one of these is asked for.
"""

from __future__ import annotations

import warnings

import numpy as np

from wise.audio import normalize_gain
from wise.config import N_EGEMAPS_LLD, N_FUNCTIONALS, FeatureConfig
from wise.errors import WiseError
from wise.features.encoder import encoder_frames, frame_times
from wise.features.mfcc import mfcc


def require_extras(cfg: FeatureConfig) -> None:
    """Raise the one-line error naming the install command when a package `cfg` needs (an
    optional extra) is not installed."""
    if cfg.functionals == "basic":
        try:
            import librosa  # noqa: F401
        except ImportError:
            raise WiseError(None, "functionals: basic needs librosa, not installed here: "
                                  'pip install "wise-ser[librosa]"') from None
    if "egemaps" in (cfg.prosody, cfg.functionals):
        from wise.features.functionals import require_opensmile

        require_opensmile("the egemaps features", sklearn=False)


class Prosody:
    """openSMILE extractors for a feature config, set up once (about 0.25 s each) and reused."""

    def __init__(self, cfg: FeatureConfig):
        require_extras(cfg)
        self.cfg = cfg
        self._lld = self._functionals = None
        if "egemaps" not in (cfg.prosody, cfg.functionals):
            return
        import opensmile

        if cfg.prosody == "egemaps":
            self._lld = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                                        feature_level=opensmile.FeatureLevel.LowLevelDescriptors)
        if cfg.functionals == "egemaps":
            self._functionals = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                                                feature_level=opensmile.FeatureLevel.Functionals)

    def frames(self, x: np.ndarray, n_frames: int) -> np.ndarray:
        """(n_frames, 25) float32: the descriptors at our frames' centres."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            df = self._lld.process_signal(normalize_gain(x), self.cfg.sample_rate)
        values = df.to_numpy(np.float32)                                  # (K, 25), 10 ms apart
        if len(values) == 0:                 # shorter than one descriptor window
            return np.zeros((n_frames, N_EGEMAPS_LLD), np.float32)
        start = df.index.get_level_values("start").total_seconds().to_numpy()
        end = df.index.get_level_values("end").total_seconds().to_numpy()
        centres = (start + end) / 2.0                                     # (K,)
        if len(centres) == 1:
            return np.repeat(np.nan_to_num(values, nan=0.0), n_frames, axis=0)
        ours = frame_times(n_frames, self.cfg)                            # (T,)
        right = np.clip(np.searchsorted(centres, ours), 1, len(centres) - 1)
        left = right - 1
        nearest = np.where(ours - centres[left] <= centres[right] - ours, left, right)
        return np.nan_to_num(values[nearest], nan=0.0)

    def functionals(self, x: np.ndarray) -> np.ndarray:
        """(K,) float32 utterance functionals of the configured set; NaN where a clip is too
        short for them."""
        if self.cfg.functionals == "basic":
            return basic_functionals(x, self.cfg.sample_rate)
        from wise.features.functionals import functionals

        return functionals(normalize_gain(x), self.cfg.sample_rate, self._functionals)


def basic_functionals(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """(26,) float32: `functionals: basic` (see the module's docstring), from librosa."""
    import librosa

    hop = sample_rate // 100
    if len(x) < 1024:                        # shorter than one YIN window
        return np.full(N_FUNCTIONALS["basic"], np.nan, np.float32)
    f0 = librosa.yin(x, fmin=60, fmax=500, sr=sample_rate, frame_length=1024, hop_length=hop)
    level = 20 * np.log10(librosa.feature.rms(y=x, frame_length=400, hop_length=hop)[0] + 1e-6)
    centroid = librosa.feature.spectral_centroid(y=x, sr=sample_rate, n_fft=512,
                                                 hop_length=hop)[0]
    flatness = librosa.feature.spectral_flatness(y=x, n_fft=512, hop_length=hop)[0]
    n = min(len(f0), len(level), len(centroid), len(flatness))
    f0, level, centroid, flatness = f0[:n], level[:n], centroid[:n], flatness[:n]
    loud = level > level.max() - 30.0
    semitones = 12 * np.log2(f0[loud] / 27.5)

    def six(v: np.ndarray) -> list[float]:
        p20, p50, p80 = np.percentile(v, [20, 50, 80])
        return [v.mean(), v.std(), p20, p50, p80, p80 - p20]

    step = np.abs(np.diff(semitones)).mean() if len(semitones) > 1 else 0.0
    return np.array(six(semitones) + six(level[loud]) + six(centroid[loud])
                    + six(np.log(flatness[loud] + 1e-8)) + [step, loud.mean()], np.float32)


def pooled(frames: np.ndarray) -> np.ndarray:
    """(2F,) float32: the mean, then the std, of every dimension of `frames` (T, F), summed in
    float64 (`functionals: pooled`; the probe row's input)."""
    f = np.asarray(frames, np.float64)
    return np.concatenate([f.mean(0), f.std(0)]).astype(np.float32)


def utterance_functionals(x: np.ndarray, frames: np.ndarray, cfg: FeatureConfig,
                          prosody: Prosody | None) -> np.ndarray:
    """(cfg.n_functionals,) float32 functionals of the utterance: `functionals: pooled`, the
    mean and std of its `frames` (T, frame_dim); else the configured set's, of the audio `x`."""
    if cfg.functionals == "pooled":
        return pooled(frames)
    return prosody.functionals(x)


def frame_features(x: np.ndarray, cfg: FeatureConfig, prosody: Prosody | None,
                   encoded: np.ndarray | None = None) -> np.ndarray:
    """(T, cfg.frame_dim) float32: the MFCC (or encoder) frames, then the prosody descriptors
    if configured. Training (the cache) and prediction both compute frames here. `encoded`:
    the whole encoder's frames of `x` when the recogniser has computed them already (the same
    ones, `wise.align.recognition.Recognition.encoder_frames`): the last layer's frames."""
    if cfg.is_encoder:                                          # (T, D)
        feats = encoder_frames(x, cfg, last=encoded)
    else:
        feats = mfcc(x, cfg)                                    # (T, 39)
    if cfg.prosody == "none":
        return feats
    return np.concatenate([feats, prosody.frames(x, len(feats))], axis=1)
