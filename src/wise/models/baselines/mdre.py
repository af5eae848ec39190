"""Dual RNNs / MDRE (Yoon, Byun and Jung, SLT 2018): Table 1, "Dual RNNs".

The original. An audio recurrent encoder (ARE) runs a GRU over the utterance's MFCC frames
(39-d, at most 750 frames of 10 ms) and concatenates its last state with 35 utterance-level
prosodic features from openSMILE; a text recurrent encoder (TRE) runs a GRU over the
transcript's GloVe vectors. In the multimodal model (MDRE) each encoder's vector goes through
a linear projection to half its size, the two are concatenated, and a linear layer + softmax
gives the class. The authors' reference script uses one layer of 200 GRU units for both
encoders, with dropout on each GRU's input and output at keep probability 0.7 (audio) and 0.3
(text).

What we build. The same two encoders and the same fusion at the utterance level:
    h_audio = last real state of audio_gru over the utterance's frames         (B, 200)
    e_audio = [h_audio; prosody]                  prosody: (B, 12), see below
    h_text  = last real state of text_gru over the word vectors                (B, 200)
    logits  = out([audio_proj(e_audio); text_proj(h_text)])                   (B, 4)

Where we differ, and why.
- Prosody: we have only the 39-d MFCC per frame, not openSMILE's prosodic set (pitch, voicing,
  loudness). We use the mean, std, min and max over the utterance's real frames of c0 (the
  log-energy stand-in), its delta and its delta-delta: 12 numbers (`prosody_dims`,
  `prosody_stats`). They are computed on all frames, before pooling.
- Length: instead of truncating at 750 frames, the audio GRU reads the whole utterance with
  every `frame_stride` frames mean-pooled into one (6 x 15 ms = 90 ms steps by default), so a
  1,500-frame utterance is 250 GRU steps and one CPU epoch stays short (set frame_stride=1
  on a GPU).
- The loss is the project's softmax cross-entropy (the reference code used a sigmoid
  cross-entropy per class), and the projections' biases are per unit, not one scalar.
- Word vectors are the feature pack's (GloVe-6B 50-d by default, 300-d with a GloVe file).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from wise.batching import Batch, BatchInput
from wise.models.baselines import length_mask, pool_frames, run_rnn, uniform_alpha
from wise.models.protocol import DimsFromConfig

PROSODY_STATS = ("mean", "std", "min", "max")


@dataclass(frozen=True)
class MdreConfig:
    frame_dim: int = 39            # 13 MFCC + deltas + delta-deltas
    text_dim: int = 300            # GloVe size (the original: 300; our packaged default: 50)
    n_classes: int = 4
    frame_stride: int = 6          # frames mean-pooled per audio GRU step (15 ms -> 90 ms)
    audio_hidden: int = 200        # reference script: 200
    text_hidden: int = 200         # reference script: 200
    prosody_dims: tuple[int, ...] = (0, 13, 26)   # c0, delta c0, delta-delta c0
    prosody_stats: tuple[str, ...] = PROSODY_STATS
    audio_dropout: float = 0.3     # on the audio GRU's input and output (keep prob 0.7)
    text_dropout: float = 0.7      # on the text GRU's input and output (keep prob 0.3)

    def __post_init__(self) -> None:
        bad = [s for s in self.prosody_stats if s not in PROSODY_STATS]
        if bad:
            raise ValueError(f"prosody_stats must be among {', '.join(PROSODY_STATS)}, "
                             f"not {', '.join(map(repr, bad))}")
        if self.frame_stride < 1:
            raise ValueError("frame_stride must be at least 1")
        if any(not 0 <= d < self.frame_dim for d in self.prosody_dims):
            raise ValueError(f"prosody_dims must lie in [0, {self.frame_dim})")


def prosody(frames: torch.Tensor, lengths: torch.Tensor, dims: tuple[int, ...],
            stats: tuple[str, ...]) -> torch.Tensor:
    """Utterance statistics of some frame dimensions over the real frames only.

    frames (B, T, F), lengths (B,) -> (B, len(stats) * len(dims)), grouped by statistic."""
    x = frames[:, :, list(dims)]                                           # (B, T, d)
    mask = length_mask(lengths, x.shape[1])[..., None]                     # (B, T, 1)
    n = lengths[:, None].to(x.dtype).clamp(min=1.0)
    mean = (x * mask).sum(1) / n
    out = {"mean": mean,
           "std": ((((x - mean[:, None]) * mask) ** 2).sum(1) / n).sqrt(),
           "min": x.masked_fill(~mask, float("inf")).amin(1),
           "max": x.masked_fill(~mask, float("-inf")).amax(1)}
    return torch.cat([out[s] for s in stats], 1)


class Mdre(DimsFromConfig, nn.Module):
    INPUT_DIMS = ("frame_dim", "text_dim")   # set from the feature pack
    word_attention = False     # uniform word weights: no attention to show

    def __init__(self, cfg: MdreConfig):
        super().__init__()
        self.cfg = c = cfg
        n_prosody = len(c.prosody_dims) * len(c.prosody_stats)
        e_audio = c.audio_hidden + n_prosody
        self.audio_gru = nn.GRU(c.frame_dim, c.audio_hidden, batch_first=True)   # ARE
        self.text_gru = nn.GRU(c.text_dim, c.text_hidden, batch_first=True)      # TRE
        self.audio_drop = nn.Dropout(c.audio_dropout)
        self.text_drop = nn.Dropout(c.text_dropout)
        # Each encoder's vector to half its size, as the reference code's MDRE does.
        self.audio_proj = nn.Linear(e_audio, e_audio // 2)
        self.text_proj = nn.Linear(c.text_hidden, c.text_hidden // 2)
        self.out = nn.Linear(e_audio // 2 + c.text_hidden // 2, c.n_classes)

    def batch_inputs(self) -> frozenset[BatchInput]:
        """The optional batch fields it reads: word vectors and whole utterances' frames."""
        return frozenset({BatchInput.TEXT, BatchInput.UTTERANCE_FRAMES})

    def forward(self, b: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (B, C) and a uniform alpha (B, N) over the real words."""
        c = self.cfg
        frames, n_frames = pool_frames(b.utt_frames, b.utt_frame_len, c.frame_stride)
        _, h_audio = run_rnn(self.audio_gru, self.audio_drop(frames), n_frames)     # (B, 200)
        p = prosody(b.utt_frames, b.utt_frame_len, c.prosody_dims, c.prosody_stats)  # (B, 12)
        e_audio = torch.cat([self.audio_drop(h_audio), p], 1)                      # (B, 212)
        _, h_text = run_rnn(self.text_gru, self.text_drop(b.text), b.utt_len)       # (B, 200)
        fused = torch.cat([self.audio_proj(e_audio),
                           self.text_proj(self.text_drop(h_text))], 1)              # (B, 206)
        return self.out(fused), uniform_alpha(b.utt_len, b.utt_words.shape[1])
