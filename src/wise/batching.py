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
    phone_ids     (B, Q)       each utterance's phone sequence as ids in `PHONES`
                               (`wise.phones`; CNN+Phoneme)
    utt_stats     (B, S)       each utterance's normalised frames' mean and std, then its
                               normalised functionals if the pack has them (S = 2F + K)

Only `utt_words`, `utt_len` and `labels` are always there: a model declares the rest it reads
(`batch_inputs()`, a set of `BatchInput`) and `collate` builds only those; a field not asked
for is an empty tensor, which no model can read by mistake.

Index padding points at row 0 and is always masked by the lengths, so it never changes a
result. Frames are normalised here with a `wise.normalize.Normalizer`: statistics of the
training folds, or under per-speaker normalisation each speaker's own, a test speaker's from
his or her audio (never labels).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import torch

from wise.features.cache import FeatureStore, UtteranceFeatures
from wise.normalize import Normalizer
from wise.phones import PHONE_ID

T = TypeVar("T")
R = TypeVar("R")


def _empty() -> torch.Tensor:
    return torch.zeros(0)


class BatchInput(enum.Enum):
    """The optional parts of a `Batch`, each a few fields that go together. A model says which
    it reads (`batch_inputs()`); `collate` builds those and leaves the others empty."""

    TEXT = "text"                          # text
    PHONES = "phones"                      # phone_frames, phone_len, word_phones, word_len
    WORD_FRAMES = "word_frames"            # word_frames, word_frame_len
    WORD_MEAN = "word_mean"                # word_mean
    UTTERANCE_FRAMES = "utterance_frames"  # utt_frames, utt_frame_len
    PHONE_IDS = "phone_ids"                # phone_ids, phone_id_len
    UTTERANCE_STATS = "utterance_stats"    # utt_stats


@dataclass
class Batch:
    utt_words: torch.Tensor      # (B, N)  always
    utt_len: torch.Tensor        # (B,)    words per utterance, always
    labels: torch.Tensor         # (B,)    always
    # The rest only when asked for (`BatchInput`), else empty tensors:
    text: torch.Tensor = field(default_factory=_empty)           # (B, N, D)
    phone_frames: torch.Tensor = field(default_factory=_empty)   # (P, Lf, F)
    phone_len: torch.Tensor = field(default_factory=_empty)      # (P,)
    word_phones: torch.Tensor = field(default_factory=_empty)    # (W, Lp)
    word_len: torch.Tensor = field(default_factory=_empty)       # (W,)  phones per word
    word_frames: torch.Tensor = field(default_factory=_empty)    # (W, Lw, F)
    word_frame_len: torch.Tensor = field(default_factory=_empty)  # (W,)
    word_mean: torch.Tensor = field(default_factory=_empty)      # (W, F)
    utt_frames: torch.Tensor = field(default_factory=_empty)     # (B, T, F)
    utt_frame_len: torch.Tensor = field(default_factory=_empty)  # (B,)
    phone_ids: torch.Tensor = field(default_factory=_empty)      # (B, Q)
    phone_id_len: torch.Tensor = field(default_factory=_empty)   # (B,)
    utt_stats: torch.Tensor = field(default_factory=_empty)      # (B, S)

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Batch:
        return Batch(**{k: v.to(device, non_blocking=non_blocking)
                        for k, v in self.__dict__.items()})

    def pin_memory(self) -> Batch:
        """A copy in page-locked host memory, which CUDA copies from without blocking."""
        return Batch(**{k: v.pin_memory() for k, v in self.__dict__.items()})


def prefetch(fn: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
    """`fn(item)` for every item, in order, each computed in a background thread while the
    caller works on the one before (e.g. the next batch collated while the GPU runs this one).
    An exception in `fn` is raised here, at its item."""
    with ThreadPoolExecutor(1, thread_name_prefix="prefetch") as pool:
        pending = pool.submit(fn, items[0]) if items else None
        for i in range(len(items)):
            done = pending.result()
            pending = pool.submit(fn, items[i + 1]) if i + 1 < len(items) else None
            yield done


def utterance_stats(x: np.ndarray, functionals: np.ndarray | None,
                    normalizer: Normalizer | None, speaker: str) -> np.ndarray:
    """(2F + K,) float32: mean and std over the utterance's (normalised) frames `x` (T, F),
    then its normalised functionals (K of them, none when the pack has none)."""
    parts = [x.mean(0), x.std(0)]
    if functionals is not None:
        parts.append(normalizer.apply_functionals(functionals, speaker) if normalizer
                     else np.nan_to_num(np.asarray(functionals, np.float32)))
    return np.concatenate(parts).astype(np.float32)


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(K, L) index matrix of [start, start+len) rows, padded with 0, and its mask."""
    width = max(int(lengths.max()), 1) if len(lengths) else 1
    steps = np.arange(width)
    mask = steps[None, :] < lengths[:, None]
    idx = np.where(mask, starts[:, None] + steps[None, :], 0)
    return idx, mask


def collate(store: FeatureStore | Sequence[UtteranceFeatures], rows: list[int],
            labels: list[int], normalizer: Normalizer | None, speakers: list[str], *,
            inputs: Collection[BatchInput], max_word_frames: int) -> Batch:
    """Gather utterances `rows` of `store` into one `Batch` (labels given per row), with the
    optional fields of `inputs` (what the model reads: its `batch_inputs()`) and no others.

    `max_word_frames` caps a word's frames (`WORD_FRAMES`, `WORD_MEAN`): the most its phones
    may hold, `FeatureConfig.max_word_frames` of the config the features were made with."""
    inputs = frozenset(inputs)
    frames, phone_spans, word_phone_spans, word_spans, texts, phones = [], [], [], [], [], []
    stats = []
    f_off = p_off = 0
    for i in rows:
        u = store[i]
        x = np.asarray(u.frames, np.float32)
        if normalizer is not None:
            x = normalizer.apply(x, speakers[i])
        frames.append(x)
        phone_spans.append(np.asarray(u.phone_frames, np.int64) + f_off)
        word_phone_spans.append(np.asarray(u.word_phones, np.int64) + p_off)
        word_spans.append(np.asarray(u.word_frames, np.int64) + f_off)
        texts.append(np.asarray(u.word_vectors, np.float32))
        if BatchInput.PHONE_IDS in inputs:
            phones.append([PHONE_ID.get(p, 1) for p in u.phones])
        if BatchInput.UTTERANCE_STATS in inputs:
            stats.append(utterance_stats(x, u.functionals, normalizer, speakers[i]))
        f_off += len(x)
        p_off += len(u.phone_frames)
    all_frames = np.concatenate(frames)                                    # (F_total, 39)
    n_words = np.array([len(t) for t in texts])
    w_starts = np.concatenate([[0], np.cumsum(n_words)[:-1]])
    uw_idx, _ = _ranges(w_starts, n_words)                                 # (B, N)
    out = {"utt_words": torch.from_numpy(uw_idx), "utt_len": torch.from_numpy(n_words),
           "labels": torch.tensor(labels, dtype=torch.long)}
    if BatchInput.TEXT in inputs:
        text = np.zeros((len(rows), uw_idx.shape[1], texts[0].shape[1]), np.float32)
        for b, t in enumerate(texts):
            text[b, :len(t)] = t
        out["text"] = torch.from_numpy(text)                               # (B, N, D)
    if BatchInput.PHONES in inputs:
        ph = np.concatenate(phone_spans)                                   # (P, 2)
        wp = np.concatenate(word_phone_spans)                              # (W, 2)
        ph_idx, ph_mask = _ranges(ph[:, 0], ph[:, 1] - ph[:, 0])
        wp_idx, _ = _ranges(wp[:, 0], wp[:, 1] - wp[:, 0])                 # (W, Lp)
        out.update(phone_frames=torch.from_numpy(all_frames[ph_idx] * ph_mask[..., None]),
                   phone_len=torch.from_numpy(ph[:, 1] - ph[:, 0]),         # (P, Lf, 39), (P,)
                   word_phones=torch.from_numpy(wp_idx),
                   word_len=torch.from_numpy(wp[:, 1] - wp[:, 0]))
    if inputs & {BatchInput.WORD_FRAMES, BatchInput.WORD_MEAN}:
        wf = np.concatenate(word_spans)                                    # (W, 2)
        wf_len = np.minimum(wf[:, 1] - wf[:, 0], max_word_frames)
        wf_idx, wf_mask = _ranges(wf[:, 0], wf_len)
        word_frames = all_frames[wf_idx] * wf_mask[..., None]              # (W, Lw, 39)
        if BatchInput.WORD_FRAMES in inputs:
            out.update(word_frames=torch.from_numpy(word_frames),
                       word_frame_len=torch.from_numpy(wf_len))
        if BatchInput.WORD_MEAN in inputs:
            word_mean = word_frames.sum(1) / wf_len[:, None]               # (W, 39)
            out["word_mean"] = torch.from_numpy(word_mean.astype(np.float32))
    if BatchInput.UTTERANCE_FRAMES in inputs:
        utt_frame_len = np.array([len(x) for x in frames])
        utt_frames = np.zeros((len(rows), utt_frame_len.max(), all_frames.shape[1]), np.float32)
        for b, x in enumerate(frames):
            utt_frames[b, :len(x)] = x
        out.update(utt_frames=torch.from_numpy(utt_frames),                # (B, T, 39)
                   utt_frame_len=torch.from_numpy(utt_frame_len))
    if BatchInput.PHONE_IDS in inputs:
        phone_id_len = np.array([len(p) for p in phones])
        phone_ids = np.zeros((len(rows), max(phone_id_len.max(), 1)), np.int64)
        for b, p in enumerate(phones):
            phone_ids[b, :len(p)] = p
        out.update(phone_ids=torch.from_numpy(phone_ids),                  # (B, Q)
                   phone_id_len=torch.from_numpy(phone_id_len))
    if BatchInput.UTTERANCE_STATS in inputs:
        out["utt_stats"] = torch.from_numpy(np.stack(stats))               # (B, S)
    return Batch(**out)
