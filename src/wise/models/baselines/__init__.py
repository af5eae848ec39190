"""The published models WISE is compared with in Table 1, one file each:

    mdre.py         Dual RNNs / MDRE (Yoon et al., SLT 2018): utterance-level fusion
    lstm_attn.py    LSTM+Attn (Xu et al., Interspeech 2019): each word attends over all frames
    cnn_phoneme.py  CNN+Phoneme (Yenigalla et al., Interspeech 2018): MFCC-map CNN + phone CNN

They read whole utterances (`Batch.utt_frames`, `Batch.phone_ids`), which a model asks for in
its `batch_inputs()` (`wise.batching.BatchInput`). Like WISE, each returns (logits (B, C), alpha
(B, N)); none of them weighs words, so alpha is uniform over the real words, which keeps
predictions files and word-level explanations uniform across models.

This module holds the few pieces they share: masks, frame pooling, packed RNN runs. Every one
is written so that padding never changes a result: an utterance scores the same alone and
inside a padded batch.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


def length_mask(lengths: torch.Tensor, size: int) -> torch.Tensor:
    """(B,) lengths -> (B, size) True on the real steps."""
    return torch.arange(size, device=lengths.device)[None, :] < lengths[:, None]


def pool_frames(x: torch.Tensor, lengths: torch.Tensor,
                stride: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean of every `stride` consecutive real frames: (B, T, F) -> (B, ceil(T/stride), F).

    The recurrent baselines run over whole utterances (up to ~2,000 frames at the 15 ms hop);
    pooling shortens them `stride` times. Windows start at frame 0 of each utterance and the
    mean counts real frames only, so a batch's padding never enters a window."""
    if stride == 1:
        return x, lengths
    B, T, F = x.shape
    T2 = -(-T // stride)
    mask = length_mask(lengths, T).to(x.dtype)                              # (B, T)
    x = nn.functional.pad(x * mask[..., None], (0, 0, 0, T2 * stride - T))
    mask = nn.functional.pad(mask, (0, T2 * stride - T))
    total = x.view(B, T2, stride, F).sum(2)                                 # (B, T2, F)
    count = mask.view(B, T2, stride).sum(2, keepdim=True).clamp(min=1.0)    # (B, T2, 1)
    return total / count, -(-lengths // stride)


def run_rnn(rnn: nn.RNNBase, x: torch.Tensor,
            lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Packed run of a one-layer (Bi)GRU/LSTM over (B, L, in).

    Returns every step's output (B, L, dirs*H), zero on padding, and the final state of the
    real steps (B, dirs*H) (for a BiRNN: forward at the last real step, backward at step 0)."""
    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
    out, h = rnn(packed)
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
    h = h[0] if isinstance(h, tuple) else h                   # LSTM: (h_n, c_n)
    dirs = 2 if rnn.bidirectional else 1
    last = h[-dirs:].transpose(0, 1).reshape(x.shape[0], -1)  # (B, dirs*H)
    return out, last


def masked_max(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Max over dim 1 of (B, L, H) taking only the steps where `mask` (B, L) is True."""
    return x.masked_fill(~mask[..., None], float("-inf")).amax(1)


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over dim 1 of (B, L, H) over the steps where `mask` (B, L) is True."""
    m = mask[..., None].to(x.dtype)
    return (x * m).sum(1) / m.sum(1).clamp(min=1.0)


def uniform_alpha(utt_len: torch.Tensor, n_words: int) -> torch.Tensor:
    """(B, N) weights 1/n over each utterance's n real words, 0 on padding words."""
    mask = length_mask(utt_len, n_words).float()
    return mask / mask.sum(1, keepdim=True).clamp(min=1.0)
