"""LSTM+Attn (Xu et al., Interspeech 2019, "Learning alignment for multimodal emotion
recognition from speech"): Table 1, "LSTM+Attn".

The original. A BiLSTM speech encoder runs over all acoustic frames of the utterance and a
BiLSTM text encoder over the transcript's GloVe vectors. For every word, an attention network
scores the word's text state against every frame state of the utterance, and the weighted
sum of frame states is the word's aligned audio vector: the alignment is learned, not taken
from a forced aligner, and each word may draw on any frame. The aligned audio vector and the
word's text state are concatenated and a BiLSTM runs over the words; its outputs are pooled
over time into one vector that a fully connected layer classifies.

What we build, with s_j the frame states and h_i the word states:
    s_j     = audio_lstm over the utterance's frames (every `frame_stride` mean-pooled)
    h_i     = text_lstm over the word vectors
    e_ij    = v . tanh(W_q h_i + W_k s_j)   (additive; or h_i . W s_j with attention="bilinear")
    a_ij    = softmax_j(e_ij) over the real frames of the utterance, ALL of them
    m_i     = [sum_j a_ij s_j ; h_i]
    u       = max (or mean) over real words of fusion_lstm(m_1..m_N)
    logits  = out(dropout(u))

Where we differ, and why.
- Frames are our 39-d MFCC, mean-pooled `frame_stride` at a time (90 ms steps by default, still
  about three per word), so a long utterance stays a few hundred encoder steps and the
  (N x T x attention_dim) scores stay small on CPU (set frame_stride=1 on a GPU).
- Sizes (64 units per direction in each BiLSTM, 32-d attention) are our choice, in WISE's
  range of parameters; `attention`, `pooling` and every size are fields.
- The per-word attention weights are over frames, not words: alpha, which this project reports
  per word, is uniform over the real words (max pooling weighs no word).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from wise.batching import Batch, BatchInput
from wise.models.baselines import (
    length_mask,
    masked_max,
    masked_mean,
    pool_frames,
    run_rnn,
    uniform_alpha,
)
from wise.models.protocol import DimsFromConfig

ATTENTIONS = ("additive", "bilinear")


@dataclass(frozen=True)
class LstmAttnConfig:
    frame_dim: int = 39            # 13 MFCC + deltas + delta-deltas
    text_dim: int = 300            # GloVe size (the original: 300; our packaged default: 50)
    n_classes: int = 4
    frame_stride: int = 6          # frames mean-pooled per audio LSTM step (15 ms -> 90 ms)
    audio_hidden: int = 64         # per direction, BiLSTM over frames
    text_hidden: int = 64          # per direction, BiLSTM over words
    attention: str = "additive"    # "additive": v.tanh(W_q h + W_k s); "bilinear": h.W s
    attention_dim: int = 32        # size of the additive attention's hidden layer
    fusion_hidden: int = 64        # per direction, BiLSTM over [aligned audio; text state]
    pooling: str = "max"           # over words: "max" or "mean"
    dropout: float = 0.3

    def __post_init__(self) -> None:
        for name, value, allowed in (("attention", self.attention, ATTENTIONS),
                                     ("pooling", self.pooling, ("max", "mean"))):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
        if self.frame_stride < 1:
            raise ValueError("frame_stride must be at least 1")


class LstmAttn(DimsFromConfig, nn.Module):
    INPUT_DIMS = ("frame_dim", "text_dim")   # set from the feature pack
    word_attention = False     # uniform word weights: no attention to show

    def __init__(self, cfg: LstmAttnConfig):
        super().__init__()
        self.cfg = c = cfg
        s_dim, h_dim = 2 * c.audio_hidden, 2 * c.text_hidden
        self.audio_lstm = nn.LSTM(c.frame_dim, c.audio_hidden, batch_first=True,
                                  bidirectional=True)
        self.text_lstm = nn.LSTM(c.text_dim, c.text_hidden, batch_first=True,
                                 bidirectional=True)
        if c.attention == "additive":
            self.W_q = nn.Linear(h_dim, c.attention_dim)
            self.W_k = nn.Linear(s_dim, c.attention_dim, bias=False)
            self.v = nn.Linear(c.attention_dim, 1, bias=False)
        else:
            self.W = nn.Linear(s_dim, h_dim, bias=False)
        self.fusion_lstm = nn.LSTM(s_dim + h_dim, c.fusion_hidden, batch_first=True,
                                   bidirectional=True)
        self.drop = nn.Dropout(c.dropout)
        self.out = nn.Linear(2 * c.fusion_hidden, c.n_classes)

    def align(self, h: torch.Tensor, s: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
        """Each word's attention over all real frames of its utterance.

        h (B, N, h_dim) word states, s (B, T, s_dim) frame states, frame_mask (B, T)
        -> weights (B, N, T), zero on padded frames."""
        if self.cfg.attention == "additive":
            q = self.W_q(h).unsqueeze(2)                                  # (B, N, 1, d)
            k = self.W_k(s).unsqueeze(1)                                  # (B, 1, T, d)
            e = self.v(torch.tanh(q + k)).squeeze(-1)                     # (B, N, T)
        else:
            e = h @ self.W(s).transpose(1, 2)                             # (B, N, T)
        e = e.masked_fill(~frame_mask[:, None, :], float("-inf"))
        return torch.softmax(e, dim=-1)

    def batch_inputs(self) -> frozenset[BatchInput]:
        """The optional batch fields it reads: word vectors and whole utterances' frames."""
        return frozenset({BatchInput.TEXT, BatchInput.UTTERANCE_FRAMES})

    def forward(self, b: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (B, C) and a uniform alpha (B, N) over the real words."""
        c = self.cfg
        frames, n_frames = pool_frames(b.utt_frames, b.utt_frame_len, c.frame_stride)
        s, _ = run_rnn(self.audio_lstm, frames, n_frames)                 # (B, T, 2*Ha)
        h, _ = run_rnn(self.text_lstm, b.text, b.utt_len)                 # (B, N, 2*Ht)
        a = self.align(h, s, length_mask(n_frames, s.shape[1]))           # (B, N, T)
        m = torch.cat([a @ s, h], -1)                                     # (B, N, 2*Ha + 2*Ht)
        u, _ = run_rnn(self.fusion_lstm, self.drop(m), b.utt_len)         # (B, N, 2*Hf)
        words = length_mask(b.utt_len, u.shape[1])
        pooled = masked_max(u, words) if c.pooling == "max" else masked_mean(u, words)
        return self.out(self.drop(pooled)), uniform_alpha(b.utt_len, b.utt_words.shape[1])
