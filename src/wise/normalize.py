"""Speaker and corpus statistics: what frames and functionals are standardised with, fitted on
training rows and saved in every checkpoint (`wise.checkpoint`), so that prediction
standardises new audio exactly as training did.

Fitting reads the feature pack; applying them is `wise.batching.collate`'s job. Statistics
come from audio only, never from labels: a test speaker's own statistics (per-speaker
normalisation) are unsupervised adaptation, see docs/real-speech.md.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from wise.config import NORMALIZE_MODES
from wise.features.cache import FeatureStore


@dataclass
class Normalizer:
    """Per-dimension mean/std of frames, by `mode` (TrainConfig.normalize):

    - "corpus": one mean/std over the training rows' frames;
    - "speaker": each speaker's own mean/std. Training speakers' statistics come from their
      training rows; a speaker the model never saw gets statistics from his or her own
      utterances through `adapt` (frames only, never labels: unsupervised speaker
      adaptation), or, when none are given, the average of the training speakers';
    - "utterance": each utterance standardised by its own frames' mean/std (nothing to fit:
      works on a single clip of anybody, and removes level and voice offsets along with it).

    Utterance functionals, when the pack has them, are standardised the same way per speaker,
    and over the corpus under "corpus" and "utterance" (one utterance has one vector).

    A new speaker's statistics from few or unbalanced clips (`adapt`, `with_speaker`) can be
    far from those of all his or her speech: two clips give a poor std, and four angry clips
    a mean shifted towards anger, which then reads as less angry. `prior_clips` n0 > 0
    (TrainConfig.adapt_prior_clips; docs/real-speech.md) shrinks the statistics of n clips
    towards the training speakers' average as if it were n0 more clips: w = n / (n + n0) of
    the speaker's mean and variance, 1 - w of the average's.
    """

    mean: dict[str, np.ndarray]
    std: dict[str, np.ndarray]
    mode: str = "corpus"
    func_mean: dict[str, np.ndarray] = field(default_factory=dict)
    func_std: dict[str, np.ndarray] = field(default_factory=dict)
    prior_clips: float = 0.0

    @classmethod
    def fit(cls, store: FeatureStore, rows: list[int], speakers: list[str],
            mode: str) -> Normalizer:
        """Statistics over `rows` (training rows only: never fit on a test fold)."""
        if mode not in NORMALIZE_MODES:
            raise ValueError(f"normalize must be one of {NORMALIZE_MODES}, not {mode!r}")
        by = speakers if mode == "speaker" else None
        mean, std = _group_stats(store, rows, by) if mode != "utterance" else ({}, {})
        fmean, fstd = _functional_stats(store, rows, by)
        return cls(mean, std, mode, fmean, fstd)

    def adapt(self, store: FeatureStore, rows: list[int], speakers: list[str]) -> Normalizer:
        """Under "speaker": a copy that also knows the speakers of `rows` it had no statistics
        for, from those rows' frames (no labels are read). Other modes: itself."""
        if self.mode != "speaker":
            return self
        new = [i for i in rows if speakers[i] not in self.mean]
        if not new:
            return self
        out = self._copy()
        values = store.arrays["functionals"] if store.n_functionals else None
        for g, idx in _groups(new, speakers).items():
            out._learn(g, [store[i].frames for i in idx],
                       [values[i] for i in idx] if values is not None else None, self)
        return out

    def with_speaker(self, speaker: str, frames: list[np.ndarray],
                     functionals: list[np.ndarray | None]) -> Normalizer:
        """Under "speaker": a copy with `speaker`'s statistics from these clips' frames and
        functionals (prediction: a new speaker's recordings; no labels). Else itself."""
        heard = SpeakerStats()
        for f, v in zip(frames, functionals, strict=True):
            heard.add(f, v)
        return self.with_stats(speaker, heard)

    def with_stats(self, speaker: str, heard: SpeakerStats) -> Normalizer:
        """`with_speaker` from statistics gathered clip by clip (a recording as it is heard,
        a service session)."""
        if self.mode != "speaker" or not heard.clips:
            return self
        out = self._copy()
        mean, std = heard.frame_stats()
        out.mean[speaker], out.std[speaker] = out._shrunk(mean, std, heard.clips, self.mean,
                                                          self.std, speaker)
        if self.func_mean and heard.all_functionals:
            fmean, fstd = _nan_stats(np.stack(heard.functionals).astype(np.float64))
            out.func_mean[speaker], out.func_std[speaker] = out._shrunk(
                fmean, fstd, heard.clips, self.func_mean, self.func_std, speaker)
        return out

    def _copy(self) -> Normalizer:
        return Normalizer(dict(self.mean), dict(self.std), self.mode, dict(self.func_mean),
                          dict(self.func_std), self.prior_clips)

    def _learn(self, speaker: str, frames: list[np.ndarray],
               functionals: list[np.ndarray] | None, prior: Normalizer) -> None:
        """Set `speaker`'s statistics from these clips, shrunk (see the class doc) towards
        the average of `prior`'s speakers but `speaker`."""
        mean, std = _stats(frames)
        self.mean[speaker], self.std[speaker] = self._shrunk(
            mean, std, len(frames), prior.mean, prior.std, speaker)
        if functionals is None or not self.func_mean:
            return
        fmean, fstd = _nan_stats(np.stack(functionals).astype(np.float64))   # of (n, K)
        self.func_mean[speaker], self.func_std[speaker] = self._shrunk(
            fmean, fstd, len(functionals), prior.func_mean, prior.func_std, speaker)

    def _shrunk(self, mean: np.ndarray, std: np.ndarray, n: int, means: dict, stds: dict,
                speaker: str) -> tuple[np.ndarray, np.ndarray]:
        """`mean`, `std` of n clips pulled towards the average of `means`, `stds` over the
        speakers other than `speaker` (w = n / (n + prior_clips))."""
        if self.prior_clips <= 0:
            return mean, std
        others = [k for k in means if k != speaker]
        avg_mean = np.mean([means[k] for k in others], axis=0)
        avg_std = np.mean([stds[k] for k in others], axis=0)
        w = n / (n + self.prior_clips)
        var = w * std.astype(np.float64) ** 2 + (1 - w) * avg_std.astype(np.float64) ** 2
        return ((w * mean + (1 - w) * avg_mean).astype(np.float32),
                np.sqrt(var).astype(np.float32))

    def stats_for(self, speaker: str) -> tuple[np.ndarray, np.ndarray]:
        key = speaker if self.mode == "speaker" else "*"
        if key in self.mean:
            return self.mean[key], self.std[key]
        return self._average

    def apply_functionals(self, v: np.ndarray, speaker: str) -> np.ndarray:
        """(K,) functionals standardised for `speaker`; a missing value (NaN: a clip too
        short for openSMILE) becomes 0, the mean."""
        key = speaker if self.mode == "speaker" else "*"
        if key in self.func_mean:
            mu, sd = self.func_mean[key], self.func_std[key]
        else:
            mu = np.mean(list(self.func_mean.values()), axis=0)
            sd = np.mean(list(self.func_std.values()), axis=0)
        return np.nan_to_num((np.asarray(v, np.float32) - mu) / sd, nan=0.0)

    def apply(self, x: np.ndarray, speaker: str) -> np.ndarray:
        """`x` (T, F) standardised for `speaker`."""
        if self.mode == "utterance":
            mu = x.mean(0)
            sd = np.sqrt(np.maximum(x.var(0), 1e-8))
            return ((x - mu) / sd).astype(np.float32)
        mu, sd = self.stats_for(speaker)
        return (x - mu) / sd

    @cached_property
    def _average(self) -> tuple[np.ndarray, np.ndarray]:
        # Computed once, not per utterance of every batch.
        return (np.mean(list(self.mean.values()), axis=0),
                np.mean(list(self.std.values()), axis=0))

    def to_dict(self) -> dict:
        def lists(d: dict) -> dict:
            return {k: v.tolist() for k, v in d.items()}

        d = {"mode": self.mode, "mean": lists(self.mean), "std": lists(self.std),
             "func_mean": lists(self.func_mean), "func_std": lists(self.func_std)}
        if self.prior_clips:     # an option at its default is left out, as in the configs
            d["prior_clips"] = self.prior_clips
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Normalizer:
        def arrays(key: str) -> dict:
            return {k: np.asarray(v, np.float32) for k, v in d.get(key, {}).items()}

        return cls(arrays("mean"), arrays("std"), d["mode"], arrays("func_mean"),
                   arrays("func_std"), float(d.get("prior_clips", 0.0)))


def _groups(rows: list[int], speakers: list[str] | None) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for i in rows:
        groups.setdefault(speakers[i] if speakers is not None else "*", []).append(i)
    return groups


class SpeakerStats:
    """One speaker's clips as they are heard, for `Normalizer.with_stats`: the frames' running
    sums (memory does not grow with the clips' length) and each clip's functionals."""

    def __init__(self) -> None:
        self.clips = 0
        self.n_frames = 0
        self._sum: np.ndarray | float = 0.0
        self._sum_sq: np.ndarray | float = 0.0
        self.functionals: list[np.ndarray] = []
        self.all_functionals = True      # every clip came with its functionals

    def add(self, frames: np.ndarray, functionals: np.ndarray | None = None) -> None:
        f = np.asarray(frames, np.float64)
        self._sum = self._sum + f.sum(0)
        self._sum_sq = self._sum_sq + (f * f).sum(0)
        self.n_frames += len(f)
        self.clips += 1
        if functionals is None:
            self.all_functionals = False
        else:
            self.functionals.append(np.asarray(functionals))

    def frame_stats(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-dimension mean/std over every frame added."""
        mu = self._sum / self.n_frames
        sd = np.sqrt(np.maximum(self._sum_sq / self.n_frames - mu * mu, 1e-8))
        return mu.astype(np.float32), sd.astype(np.float32)


def _stats(frames: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean/std over all the frames of these utterances (each (T, F))."""
    heard = SpeakerStats()
    for f in frames:
        heard.add(f)
    return heard.frame_stats()


def _nan_stats(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """NaN-aware mean/std of (n, K) functionals (NaN: a clip too short for openSMILE)."""
    with warnings.catch_warnings():          # a column that is NaN throughout
        warnings.simplefilter("ignore", RuntimeWarning)
        mu, sd = np.nanmean(v, 0), np.nanstd(v, 0)
    return np.nan_to_num(mu).astype(np.float32), np.maximum(np.nan_to_num(sd), 1e-4).astype(
        np.float32)


def _group_stats(store: FeatureStore, rows: list[int],
                 speakers: list[str] | None) -> tuple[dict, dict]:
    """Mean/std of the frames of `rows`, per speaker (or all under "*" when None)."""
    mean, std = {}, {}
    for g, idx in _groups(rows, speakers).items():
        mean[g], std[g] = _stats(store[i].frames for i in idx)
    return mean, std


def _functional_stats(store: FeatureStore, rows: list[int],
                      speakers: list[str] | None) -> tuple[dict, dict]:
    """Mean/std of the utterance functionals of `rows`, grouped as `_group_stats`; empty when
    the pack has none."""
    if not store.n_functionals:
        return {}, {}
    values = store.arrays["functionals"]
    mean, std = {}, {}
    for g, idx in _groups(rows, speakers).items():
        mean[g], std[g] = _nan_stats(np.asarray(values[sorted(idx)], np.float64))
    return mean, std
