"""CNN+Phoneme (Yenigalla et al., Interspeech 2018, "Speech emotion recognition using spectrogram
& phoneme embedding"): Table 1, "CNN+Phoneme".

The original. Two convolutional channels, combined before the classifier: a CNN over the
utterance's spectrogram, read as a time x frequency image, and a CNN over the utterance's
phoneme sequence, each phoneme an embedding vector. Each channel uses filters of several sizes
followed by max pooling; the pooled features of both are concatenated and fully connected
layers with a softmax give the class. Phonemes carry some of what the words say (text
without a word-level transcript) and the spectrogram the acoustics.

What we build:
    spec   = for each width w: max over time and feature position of
             ReLU(Conv2d(1 -> spec_filters, kernel w x spec_height) over the (T x 39) map)
    phones = for each width w: max over time of
             ReLU(Conv1d(phone_embed_dim -> phone_filters, w) over embed(phone_ids))
    logits = Linear(ReLU(Linear(dropout([spec; phones])))) with dropout before each layer

Where we differ, and why.
- The map is our 39-d MFCC frames (13 cepstra, deltas, delta-deltas; normalised), not a
  spectrogram: every model in this project reads the same frame features, so Table 1 compares
  models, not front ends. Frames are mean-pooled `frame_stride` at a time (60 ms columns by
  default) and the filters step 2 along the features, to keep the 2-D convolutions cheap on
  CPU (set frame_stride=1, spec_freq_stride=1 on a GPU).
- The phone sequence comes from the corpus's alignment (ARPAbet, 39 phones plus one unknown
  id, `wise.phones.PHONES`); the embedding is learned with the model from random
  initialisation.
- Sizes (filter widths and counts, embedding and hidden sizes) are our choice, documented as
  fields; convolutions are "wide" (zero padding of w-1 on both time ends) and pooled over the
  real positions only, so an utterance shorter than a filter still works and padding never
  changes a result.
- No word weights: alpha is uniform over the real words.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from wise.batching import Batch, BatchInput
from wise.models.baselines import length_mask, masked_max, pool_frames, uniform_alpha
from wise.models.protocol import DimsFromConfig
from wise.phones import PHONES


@dataclass(frozen=True)
class CnnPhonemeConfig:
    frame_dim: int = 39            # 13 MFCC + deltas + delta-deltas: the map's height
    n_classes: int = 4
    n_phones: int = len(PHONES)    # pad, unknown, 39 ARPAbet phones
    frame_stride: int = 4          # frames mean-pooled per map column (15 ms -> 60 ms)
    spec_widths: tuple[int, ...] = (2, 4, 8)      # filter extents in columns: 120-480 ms
    spec_height: int = 9           # filter extent along the 39 feature dimensions
    spec_freq_stride: int = 2      # filter step along the feature dimensions
    spec_filters: int = 32         # filters per width
    phone_embed_dim: int = 100
    phone_widths: tuple[int, ...] = (3, 4, 5)     # filter extents in phones
    phone_filters: int = 64        # filters per width
    fc_hidden: int = 128
    dropout: float = 0.3

    def __post_init__(self) -> None:
        if not 1 <= self.spec_height <= self.frame_dim:
            raise ValueError(f"spec_height must be between 1 and frame_dim={self.frame_dim}")
        if min(self.spec_widths, default=0) < 1 or min(self.phone_widths, default=0) < 1:
            raise ValueError("spec_widths and phone_widths need at least one width, all >= 1")
        if self.frame_stride < 1:
            raise ValueError("frame_stride must be at least 1")


def _wide_conv_max(conv: nn.Module, x: torch.Tensor, lengths: torch.Tensor,
                   width: int) -> torch.Tensor:
    """ReLU(conv) over zero-padded time (dim 2 of x), max over the real output positions.

    With w-1 zeros at both time ends, output position p covers input steps p-w+1..p, so the
    positions touching at least one real step are p < length + w - 1: the same set, and the
    same values, whatever padding the batch adds after the utterance."""
    pad = (0, 0, width - 1, width - 1) if x.dim() == 4 else (width - 1, width - 1)
    y = F.relu(conv(F.pad(x, pad)))                      # (B, filters, L + w - 1[, freq])
    if y.dim() == 4:
        y = y.amax(-1)                                   # max over feature positions
    valid = length_mask(lengths.clamp(min=1) + width - 1, y.shape[2])      # (B, L + w - 1)
    return masked_max(y.transpose(1, 2), valid)          # (B, filters)


class CnnPhoneme(DimsFromConfig, nn.Module):
    INPUT_DIMS = ("frame_dim",)   # set from the feature pack
    word_attention = False     # uniform word weights: no attention to show

    def __init__(self, cfg: CnnPhonemeConfig):
        super().__init__()
        self.cfg = c = cfg
        self.spec_convs = nn.ModuleList(
            nn.Conv2d(1, c.spec_filters, (w, c.spec_height), stride=(1, c.spec_freq_stride))
            for w in c.spec_widths)
        self.phone_embed = nn.Embedding(c.n_phones, c.phone_embed_dim, padding_idx=0)
        self.phone_convs = nn.ModuleList(
            nn.Conv1d(c.phone_embed_dim, c.phone_filters, w) for w in c.phone_widths)
        n_feat = c.spec_filters * len(c.spec_widths) + c.phone_filters * len(c.phone_widths)
        self.fc = nn.Sequential(
            nn.Dropout(c.dropout), nn.Linear(n_feat, c.fc_hidden), nn.ReLU(),
            nn.Dropout(c.dropout), nn.Linear(c.fc_hidden, c.n_classes))

    def batch_inputs(self) -> frozenset[BatchInput]:
        """The optional batch fields it reads: whole utterances' frames and phone ids."""
        return frozenset({BatchInput.UTTERANCE_FRAMES, BatchInput.PHONE_IDS})

    def forward(self, b: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (B, C) and a uniform alpha (B, N) over the real words."""
        c = self.cfg
        frames, n_frames = pool_frames(b.utt_frames, b.utt_frame_len, c.frame_stride)
        frames = frames * length_mask(n_frames, frames.shape[1])[..., None]
        image = frames.unsqueeze(1)                                        # (B, 1, T, 39)
        spec = [_wide_conv_max(conv, image, n_frames, w)
                for conv, w in zip(self.spec_convs, c.spec_widths, strict=True)]
        phone_mask = length_mask(b.phone_id_len, b.phone_ids.shape[1])
        emb = self.phone_embed(b.phone_ids) * phone_mask[..., None]        # (B, Q, E)
        emb = emb.transpose(1, 2)                                          # (B, E, Q)
        phones = [_wide_conv_max(conv, emb, b.phone_id_len, w)
                  for conv, w in zip(self.phone_convs, c.phone_widths, strict=True)]
        feats = torch.cat(spec + phones, 1)                                # (B, 96 + 192)
        return self.fc(feats), uniform_alpha(b.utt_len, b.utt_words.shape[1])
