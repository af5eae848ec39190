"""features cache -> batches: gather a few utterances' rows into padded tensors.

The ragged hierarchy becomes three levels of index arrays, built with numpy in one go per
batch (no Python loop over words or phones):

    phone_frames  (P, Lf, 39)  frames of every phone in the batch, zero-padded; phone_len (P,)
    word_phones   (W, Lp)      for every word, the rows of its phones in the P phone vectors
    utt_words     (B, N)       for every utterance, the rows of its words in the W word vectors
    word_frames   (W, Lw, 39)  frames of every word (the HR- ablation feeds them directly)
    word_mean     (W, 39)      mean frame of every word (the IM+DMF ablation, no hierarchy)
    text          (B, N, D)    word vectors;  utt_len (B,);  labels (B,)
    utt_frames    (B, T, 39)   all frames of each utterance (utterance-level baselines)
    phone_ids     (B, Q)       each utterance's phone sequence as ids in PHONES (CNN+Phoneme)

Index padding points at row 0 and is always masked by the lengths, so it never changes a
result. Frames are normalised here with statistics from the training folds only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import torch

from wise.espeak import ARPABET
from wise.features.cache import FeatureStore

PHONES = ("<pad>", "<unk>", *sorted(ARPABET))
"""Phone vocabulary: 0 pads, 1 is any phone outside ARPAbet (e.g. `<w>`, a word without
phones)."""
PHONE_ID = {p: i for i, p in enumerate(PHONES)}


@dataclass
class Normalizer:
    """Per-dimension mean/std of MFCC frames, per speaker or for the whole corpus."""

    mean: dict[str, np.ndarray]
    std: dict[str, np.ndarray]
    per_speaker: bool

    @classmethod
    def fit(cls, store: FeatureStore, rows: list[int], speakers: list[str],
            per_speaker: bool) -> Normalizer:
        """Statistics over `rows` (training rows only: never fit on a test fold)."""
        groups: dict[str, list[int]] = {}
        for i in rows:
            groups.setdefault(speakers[i] if per_speaker else "*", []).append(i)
        mean, std = {}, {}
        for g, idx in groups.items():
            s = np.zeros(store.frame_dim, np.float64)
            s2 = np.zeros(store.frame_dim, np.float64)
            n = 0
            for i in idx:
                f = np.asarray(store[i].frames, np.float64)
                s += f.sum(0)
                s2 += (f * f).sum(0)
                n += len(f)
            mu = s / n
            mean[g] = mu.astype(np.float32)
            std[g] = np.sqrt(np.maximum(s2 / n - mu * mu, 1e-8)).astype(np.float32)
        return cls(mean, std, per_speaker)

    def stats_for(self, speaker: str) -> tuple[np.ndarray, np.ndarray]:
        # A speaker never seen in training (every test speaker under leave-one-session-out)
        # gets the average of the training speakers' statistics: nothing is ever fitted on
        # the test fold, not even without labels.
        key = speaker if self.per_speaker else "*"
        if key in self.mean:
            return self.mean[key], self.std[key]
        return self._average

    @cached_property
    def _average(self) -> tuple[np.ndarray, np.ndarray]:
        # Computed once, not per utterance of every batch.
        return (np.mean(list(self.mean.values()), axis=0),
                np.mean(list(self.std.values()), axis=0))

    def to_dict(self) -> dict:
        return {"per_speaker": self.per_speaker,
                "mean": {k: v.tolist() for k, v in self.mean.items()},
                "std": {k: v.tolist() for k, v in self.std.items()}}

    @classmethod
    def from_dict(cls, d: dict) -> Normalizer:
        return cls({k: np.asarray(v, np.float32) for k, v in d["mean"].items()},
                   {k: np.asarray(v, np.float32) for k, v in d["std"].items()},
                   bool(d["per_speaker"]))


def _empty() -> torch.Tensor:
    return torch.zeros(0)


@dataclass
class Batch:
    phone_frames: torch.Tensor   # (P, Lf, F)
    phone_len: torch.Tensor      # (P,)
    word_phones: torch.Tensor    # (W, Lp)
    word_len: torch.Tensor       # (W,)  phones per word
    word_frames: torch.Tensor    # (W, Lw, F)
    word_frame_len: torch.Tensor  # (W,)
    word_mean: torch.Tensor      # (W, F)
    utt_words: torch.Tensor      # (B, N)
    utt_len: torch.Tensor        # (B,)  words per utterance
    text: torch.Tensor           # (B, N, D)
    labels: torch.Tensor         # (B,)
    utt_frames: torch.Tensor = field(default_factory=_empty)     # (B, T, F) when asked for
    utt_frame_len: torch.Tensor = field(default_factory=_empty)  # (B,)
    phone_ids: torch.Tensor = field(default_factory=_empty)      # (B, Q) when asked for
    phone_id_len: torch.Tensor = field(default_factory=_empty)   # (B,)

    def to(self, device: torch.device | str) -> Batch:
        return Batch(**{k: v.to(device) for k, v in self.__dict__.items()})


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(K, L) index matrix of [start, start+len) rows, padded with 0, and its mask."""
    width = max(int(lengths.max()), 1) if len(lengths) else 1
    steps = np.arange(width)
    mask = steps[None, :] < lengths[:, None]
    idx = np.where(mask, starts[:, None] + steps[None, :], 0)
    return idx, mask


def collate(store: FeatureStore, rows: list[int], labels: list[int],
            normalizer: Normalizer | None, speakers: list[str], *,
            with_word_frames: bool = False, with_utterance: bool = False,
            max_word_frames: int = 14 * 64) -> Batch:
    """Gather utterances `rows` of `store` into one `Batch` (labels given per row).

    `with_word_frames` also fills `word_frames`/`word_mean` (only the HR- and no-hierarchy
    variants read them); `with_utterance` fills `utt_frames` and `phone_ids` (the
    utterance-level baselines read them). What is not asked for is an empty tensor."""
    frames, phone_spans, word_phone_spans, word_spans, texts, phones = [], [], [], [], [], []
    f_off = p_off = 0
    for i in rows:
        u = store[i]
        x = np.asarray(u.frames, np.float32)
        if normalizer is not None:
            mu, sd = normalizer.stats_for(speakers[i])
            x = (x - mu) / sd
        frames.append(x)
        phone_spans.append(np.asarray(u.phone_frames, np.int64) + f_off)
        word_phone_spans.append(np.asarray(u.word_phones, np.int64) + p_off)
        word_spans.append(np.asarray(u.word_frames, np.int64) + f_off)
        texts.append(np.asarray(u.word_vectors, np.float32))
        if with_utterance:
            phones.append([PHONE_ID.get(p, 1) for p in u.phones])
        f_off += len(x)
        p_off += len(u.phone_frames)
    all_frames = np.concatenate(frames)                                    # (F_total, 39)
    ph = np.concatenate(phone_spans)                                       # (P, 2)
    wp = np.concatenate(word_phone_spans)                                  # (W, 2)
    wf = np.concatenate(word_spans)                                        # (W, 2)

    ph_idx, ph_mask = _ranges(ph[:, 0], ph[:, 1] - ph[:, 0])
    phone_frames = all_frames[ph_idx] * ph_mask[..., None]                 # (P, Lf, 39)
    wp_idx, _ = _ranges(wp[:, 0], wp[:, 1] - wp[:, 0])                     # (W, Lp)
    wf_len = np.minimum(wf[:, 1] - wf[:, 0], max_word_frames)
    if with_word_frames:
        wf_idx, wf_mask = _ranges(wf[:, 0], wf_len)
        word_frames = all_frames[wf_idx] * wf_mask[..., None]              # (W, Lw, 39)
        word_mean = word_frames.sum(1) / wf_len[:, None]                   # (W, 39)
    else:
        word_frames = np.zeros((len(wf), 0, all_frames.shape[1]), np.float32)
        word_mean = np.zeros((len(wf), all_frames.shape[1]), np.float32)

    n_words = np.array([len(t) for t in texts])
    w_starts = np.concatenate([[0], np.cumsum(n_words)[:-1]])
    uw_idx, uw_mask = _ranges(w_starts, n_words)                           # (B, N)
    text = np.zeros((len(rows), uw_idx.shape[1], texts[0].shape[1]), np.float32)
    for b, t in enumerate(texts):
        text[b, :len(t)] = t
    utt_frame_len = np.array([len(x) for x in frames])
    if with_utterance:
        utt_frames = np.zeros((len(rows), utt_frame_len.max(), all_frames.shape[1]), np.float32)
        for b, x in enumerate(frames):
            utt_frames[b, :len(x)] = x
        phone_id_len = np.array([len(p) for p in phones])
        phone_ids = np.zeros((len(rows), max(phone_id_len.max(), 1)), np.int64)
        for b, p in enumerate(phones):
            phone_ids[b, :len(p)] = p
    else:
        utt_frames = np.zeros((len(rows), 0, all_frames.shape[1]), np.float32)
        phone_ids = np.zeros((len(rows), 0), np.int64)
        phone_id_len = np.zeros(len(rows), np.int64)
    return Batch(
        utt_frames=torch.from_numpy(utt_frames), utt_frame_len=torch.from_numpy(utt_frame_len),
        phone_ids=torch.from_numpy(phone_ids), phone_id_len=torch.from_numpy(phone_id_len),
        phone_frames=torch.from_numpy(phone_frames),
        phone_len=torch.from_numpy(ph[:, 1] - ph[:, 0]),
        word_phones=torch.from_numpy(wp_idx), word_len=torch.from_numpy(wp[:, 1] - wp[:, 0]),
        word_frames=torch.from_numpy(word_frames), word_frame_len=torch.from_numpy(wf_len),
        word_mean=torch.from_numpy(word_mean.astype(np.float32)),
        utt_words=torch.from_numpy(uw_idx), utt_len=torch.from_numpy(n_words),
        text=torch.from_numpy(text), labels=torch.tensor(labels, dtype=torch.long))
