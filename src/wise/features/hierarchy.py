"""The ragged hierarchy of one utterance: words -> phones -> frames, as index arrays.

Nothing here copies frames: a phone is a half-open range `[f0, f1)` of rows of the
utterance's MFCC matrix, a word a range `[p0, p1)` of its phones. The caps of the paper
(Sec. 4.2) are applied here, once, and every capping event is counted so that `wise features`
can report it:

- words: at most `max_words` (128); later words are dropped ("words over the cap");
- phones per word: at most `max_phones_per_word` (14); `phone_overflow="truncate"` drops the
  rest, `"merge"` extends the 14th phone to the end of the last one;
- frames per phone: at most `max_frames_per_phone` (64); the first 64 are kept.

Frames belong to a phone when their centre time lies inside it. A phone (or a word) shorter
than the frame hop can contain no centre; it then gets the single frame nearest its midpoint,
so every phone and word has at least one frame and the recurrent nets never see an empty
sequence. A word whose alignment has no phones inside it becomes one phone spanning the word.
Phones outside every word (silence, noise) are ignored.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from wise.config import FeatureConfig
from wise.features.encoder import frame_times
from wise.utterance import Segment

WORD_AS_PHONE = "<w>"
"""Phone token for a word whose alignment has no phones of its own."""


@dataclass
class Hierarchy:
    word_tokens: list[str]
    phone_tokens: list[str]
    phone_frames: np.ndarray   # (P, 2) int32, [f0, f1) rows of the utterance's frames
    word_phones: np.ndarray    # (N, 2) int32, [p0, p1) rows of phone_frames
    word_frames: np.ndarray    # (N, 2) int32, [f0, f1) frames of the whole word (for HR-)
    events: Counter = field(default_factory=Counter)


def build_hierarchy(words: list[Segment], phones: list[Segment] | None, n_frames: int,
                    cfg: FeatureConfig) -> Hierarchy:
    """Index the frames of each phone and the phones of each word; apply the paper's caps."""
    events: Counter = Counter()
    centres = frame_times(n_frames, cfg)                       # (T,)
    end_of_audio = centres[-1] + cfg.frame_hop_s / 2
    words = sorted(words, key=lambda w: w.start)
    kept = [w for w in words if w.start < end_of_audio]
    if len(kept) < len(words):
        events["words starting after the audio ends"] += len(words) - len(kept)
    if len(kept) > cfg.max_words:
        events["utterances over the word cap"] += 1
        events["words over the cap"] += len(kept) - cfg.max_words
        kept = kept[:cfg.max_words]
    by_word = _phones_by_word(kept, sorted(phones or [], key=lambda p: p.start))

    phone_tokens: list[str] = []
    spans: list[tuple[float, float]] = []
    word_phones = np.zeros((len(kept), 2), np.int32)
    for i, (w, ps) in enumerate(zip(kept, by_word, strict=True)):
        if not ps:
            events["words without phones (one phone spans the word)"] += 1
            ps = [Segment(WORD_AS_PHONE, w.start, w.end)]
        if len(ps) > cfg.max_phones_per_word:
            events["words over the phone cap"] += 1
            if cfg.phone_overflow == "merge":
                last = ps[cfg.max_phones_per_word - 1]
                ps = ps[:cfg.max_phones_per_word - 1] + [Segment(last.token, last.start,
                                                                 ps[-1].end)]
            else:
                ps = ps[:cfg.max_phones_per_word]
        word_phones[i] = (len(spans), len(spans) + len(ps))
        phone_tokens.extend(p.token for p in ps)
        spans.extend((p.start, p.end) for p in ps)

    phone_frames = _frame_ranges(np.array(spans, np.float64).reshape(-1, 2), centres, cfg,
                                 events, "phones")
    over = phone_frames[:, 1] - phone_frames[:, 0] > cfg.max_frames_per_phone
    if over.any():
        events["phones over the frame cap"] += int(over.sum())
        phone_frames[over, 1] = phone_frames[over, 0] + cfg.max_frames_per_phone
    word_spans = np.array([(w.start, w.end) for w in kept], np.float64).reshape(-1, 2)
    word_frames = _frame_ranges(word_spans, centres, cfg, events, "words")
    return Hierarchy([w.token for w in kept], phone_tokens, phone_frames, word_phones,
                     word_frames, events)


def _phones_by_word(words: list[Segment], phones: list[Segment]) -> list[list[Segment]]:
    """Each phone goes to the word containing its midpoint."""
    out: list[list[Segment]] = [[] for _ in words]
    if not words or not phones:
        return out
    starts = np.array([w.start for w in words])
    ends = np.array([w.end for w in words])
    mids = np.array([(p.start + p.end) / 2 for p in phones])
    idx = np.searchsorted(starts, mids, side="right") - 1
    for p, i, m in zip(phones, idx, mids, strict=True):
        if i >= 0 and m < ends[i]:
            out[i].append(p)
    return out


def _frame_ranges(spans: np.ndarray, centres: np.ndarray, cfg: FeatureConfig,
                  events: Counter, what: str) -> np.ndarray:
    """(K, 2) [f0, f1) of the frames whose centre lies in each [start, end) span; at least
    one frame each (the nearest to the span's midpoint)."""
    f0 = np.searchsorted(centres, spans[:, 0], side="left")
    f1 = np.searchsorted(centres, spans[:, 1], side="left")
    empty = f1 <= f0
    if empty.any():
        events[f"{what} shorter than a frame (given the nearest frame)"] += int(empty.sum())
        mids = spans[empty].mean(axis=1)
        if cfg.is_encoder:                                   # centres at 0.02 j
            nearest = np.rint(mids / cfg.frame_hop_s)
        else:
            nearest = np.rint((mids * cfg.sample_rate - cfg.win_length / 2) / cfg.hop_length)
        nearest = np.clip(nearest, 0, len(centres) - 1).astype(np.int64)
        f0[empty], f1[empty] = nearest, nearest + 1
    return np.stack([f0, f1], axis=1).astype(np.int32).reshape(-1, 2)
