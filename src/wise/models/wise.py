"""WISE (Shen et al., Interspeech 2020), read top to bottom: HR -> IM -> DMF.

Hierarchical representation (HR, Sec. 3.2), frames -> phones -> words:
    phone vector = last real state of phone_gru over the phone's 39-d frames      (eq 6)
    a_i          = last real state of word_gru over the word's phone vectors
Interaction mechanism (IM, Sec. 3.1), one step per word i:
    [h~a_{i-1}; h~t_{i-1}] = [[W_aa, W_ta], [W_at, W_tt]] @ [h_a_{i-1}; h_t_{i-1}]  (eq 3)
    h_a_i = LSTM_a(a_i, h~a_{i-1});  h_t_i = LSTM_t(t_i, h~t_{i-1})               (eqs 1, 2)
Deep multimodal fusion (DMF, Sec. 3.3):
    e_i = tanh(W_a h_a_i + W_t h_t_i);  alpha = softmax_i(e_i . w_c)               (eqs 7, 8)
    p_c = sum_i alpha_i (W_a h_a_i + W_t h_t_i)                                    (eq 9)
    FC: dropout -> 200 -> ReLU -> dropout -> 100 -> ReLU -> 4                      (eqs 10-12)
        (the prose's reading, dropout after each ReLU: `dropout_at="after_relu"`)

Every ablation and variant of the paper is a field of `WiseConfig`; the rows of Tables 1 and 2
are set in configs/*.yaml (`wise.rows`). With 300-d text vectors the default model has 584,654
parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from wise.batching import Batch, BatchInput
from wise.models.protocol import DimsFromConfig

HR_CELLS = ("gru", "lstm", "bigru", "bilstm")
HIERARCHIES = ("full", "no_phone", "mean")
MODALITIES = ("both", "audio", "text")
DROPOUT_AT = ("before_linear", "after_relu")


@dataclass(frozen=True)
class WiseConfig:
    frame_dim: int = 39            # 13 MFCC + deltas + delta-deltas
    text_dim: int = 300            # GloVe size (the paper: 300; our packaged default: 50)
    n_classes: int = 4
    # HR
    hr_cell: str = "gru"           # Sec. 3.2: LSTM, BiLSTM, BiGRU were also tried
    hierarchy: str = "full"        # "full" | "no_phone" (HR-) | "mean" (IM+DMF: no HR)
    phone_hidden: int = 50
    word_hidden: int = 100
    rnn_chunk: int = 1000          # sequences per recurrent call (CPU backward slows past ~2k)
    # IM
    audio_hidden: int = 100
    text_hidden: int = 150
    interaction: bool = True       # False: HR+DMF, the two LSTMs run independently
    interaction_cell: bool = False  # also mix the cell states (the paper does not say)
    interaction_init_std: float = 0.05
    swap_inputs: bool = False      # eqs (4)/(5) as printed: audio LSTM reads t_i, text LSTM a_i
    modality: str = "both"         # "audio" / "text": one branch alone (Table 1 rows)
    # DMF
    attention: bool = True         # False: IM+HR, pool without attention
    pooling: str = "last"          # without attention: "last" real step or "mean" over steps
    fusion_dim: int = 200
    fc_dims: tuple[int, int] = (200, 100)
    dropout: float = 0.3
    dropout_at: str = "before_linear"  # eqs 10-11: r_1, r_2 on the inputs of the first two
                                       # linear layers; "after_relu": after each ReLU (prose)
    # Beyond the paper (real speech, docs/real-speech.md): the utterance's frame statistics
    # (mean and std of every frame dimension) and its functionals, through one hidden layer,
    # joined to p_c before the FC layers. Word-level fusion has little to learn from on a
    # few hundred clips of two sentences; utterance statistics are what classic SER uses.
    utterance_stats: bool = False
    utterance_dim: int = 78        # 2 * frame_dim + functionals: set from the feature pack
    utterance_hidden: int = 100
    # Also a linear read-out of those statistics added to the logits, a skip past the FC
    # layers: the model then holds the linear probe of its frames (frame_stats_logreg) as a
    # part, and the word-level path learns what the probe misses.
    utterance_logits: bool = False
    # Also a learned attentive pooling of the utterance's frames into the utterance layer: an
    # attention-weighted mean and std of the (normalised) frames, the weights a softmax over
    # the frames of w . tanh(W x_t) (attentive statistics pooling; Okabe et al. 2018).
    attentive_pooling: bool = False
    pooling_hidden: int = 128

    def __post_init__(self) -> None:
        for name, value, allowed in (("hr_cell", self.hr_cell, HR_CELLS),
                                     ("hierarchy", self.hierarchy, HIERARCHIES),
                                     ("modality", self.modality, MODALITIES),
                                     ("pooling", self.pooling, ("last", "mean")),
                                     ("dropout_at", self.dropout_at, DROPOUT_AT)):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
        if self.modality != "both" and (self.interaction or self.swap_inputs):
            raise ValueError("a single-modality model has no interaction: set interaction=false")


def _rnn(cell: str, n_in: int, hidden: int) -> nn.RNNBase:
    kind = nn.GRU if cell.endswith("gru") else nn.LSTM
    return kind(n_in, hidden, batch_first=True, bidirectional=cell.startswith("bi"))


def _out_dim(cell: str, hidden: int) -> int:
    return hidden * (2 if cell.startswith("bi") else 1)


def last_state(rnn: nn.RNNBase, x: torch.Tensor, lengths: torch.Tensor, chunk: int) -> torch.Tensor:
    """(K, L, in) padded sequences -> (K, out) final state of the real (unpadded) steps.

    Packed, so padding is never read; chunked, because one call over thousands of sequences
    makes the CPU backward pass several times slower."""
    outs = []
    for s in range(0, x.shape[0], chunk):
        packed = pack_padded_sequence(x[s:s + chunk], lengths[s:s + chunk].cpu(),
                                      batch_first=True, enforce_sorted=False)
        _, h = rnn(packed)
        h = h[0] if isinstance(h, tuple) else h                  # LSTM: (h_n, c_n)
        # h: (layers*directions, k, hidden) -> (k, directions*hidden)
        outs.append(h.transpose(0, 1).reshape(h.shape[1], -1))
    return torch.cat(outs)


class Wise(DimsFromConfig, nn.Module):
    INPUT_DIMS = ("frame_dim", "text_dim", "utterance_dim")   # set from the feature pack

    def __init__(self, cfg: WiseConfig):
        super().__init__()
        self.cfg = cfg
        c = cfg
        use_audio, use_text = c.modality in ("both", "audio"), c.modality in ("both", "text")
        a_dim = 0
        # --- HR: frames -> phones -> words (Sec. 3.2)
        if use_audio:
            if c.hierarchy == "full":
                self.phone_gru = _rnn(c.hr_cell, c.frame_dim, c.phone_hidden)
                self.word_gru = _rnn(c.hr_cell, _out_dim(c.hr_cell, c.phone_hidden),
                                     c.word_hidden)
                a_dim = _out_dim(c.hr_cell, c.word_hidden)
            elif c.hierarchy == "no_phone":                      # HR-: frames straight to words
                self.word_gru = _rnn(c.hr_cell, c.frame_dim, c.word_hidden)
                a_dim = _out_dim(c.hr_cell, c.word_hidden)
            else:                                                # IM+DMF: mean frame per word
                a_dim = c.frame_dim
        # --- IM: the two word-level LSTMs (Sec. 3.1), stepped by hand for the interaction
        a_in = c.text_dim if c.swap_inputs else a_dim
        t_in = a_dim if c.swap_inputs else c.text_dim
        if use_audio:
            self.lstm_a = nn.LSTMCell(a_in, c.audio_hidden)
        if use_text:
            self.lstm_t = nn.LSTMCell(t_in, c.text_hidden)
        if c.interaction:
            n = c.audio_hidden + c.text_hidden
            # [[W_aa, W_ta], [W_at, W_tt]], one matrix shared by all steps (eq 3)
            self.interaction = nn.Parameter(torch.randn(n, n) * c.interaction_init_std)
        # --- DMF (Sec. 3.3)
        if use_audio:
            self.W_a = nn.Linear(c.audio_hidden, c.fusion_dim, bias=False)   # omega_a, eq 7
        if use_text:
            self.W_t = nn.Linear(c.text_hidden, c.fusion_dim, bias=False)    # omega_t, eq 7
        if c.attention:
            self.w_c = nn.Parameter(torch.empty(c.fusion_dim))             # context vector, eq 8
            nn.init.normal_(self.w_c, std=c.fusion_dim ** -0.5)
        fc_in = c.fusion_dim
        if (c.utterance_logits or c.attentive_pooling) and not c.utterance_stats:
            raise ValueError("utterance_logits and attentive_pooling join the utterance "
                             "statistics: set utterance_stats=true")
        if c.utterance_stats:
            u_in = c.utterance_dim
            if c.attentive_pooling:
                self.pool_proj = nn.Linear(c.frame_dim, c.pooling_hidden)
                self.pool_score = nn.Linear(c.pooling_hidden, 1, bias=False)
                u_in += 2 * c.frame_dim
            self.utterance_mlp = nn.Sequential(
                nn.Dropout(c.dropout), nn.Linear(u_in, c.utterance_hidden), nn.ReLU())
            fc_in += c.utterance_hidden
        if c.utterance_logits:
            self.utterance_readout = nn.Linear(c.utterance_dim, c.n_classes)
        d1, d2 = c.fc_dims
        if c.dropout_at == "before_linear":
            self.fc = nn.Sequential(
                nn.Dropout(c.dropout), nn.Linear(fc_in, d1), nn.ReLU(),
                nn.Dropout(c.dropout), nn.Linear(d1, d2), nn.ReLU(),
                nn.Linear(d2, c.n_classes))                               # eqs 10-12
        else:
            self.fc = nn.Sequential(
                nn.Linear(fc_in, d1), nn.ReLU(), nn.Dropout(c.dropout),
                nn.Linear(d1, d2), nn.ReLU(), nn.Dropout(c.dropout),
                nn.Linear(d2, c.n_classes))                               # Sec. 3.3's prose

    @torch.no_grad()
    def start_from_readout(self, stats: torch.Tensor, labels: torch.Tensor,
                           class_weight: torch.Tensor, C: float,
                           row_weight: torch.Tensor | None = None) -> None:
        """Fit the utterance read-out alone (`utterance_logits`) as the probe is fitted: a
        multinomial logistic regression of `labels` (N,) on `stats` (N, S), minimising
        sum_i r_i w_y_i loss_i + |W|^2 / (2 C) by L-BFGS to convergence (r_i: `row_weight`, 1
        when None), and keep it fixed; then zero the last FC layer, so that the model's
        logits start as the read-out's: the rest of the model learns what the probe misses
        (TrainConfig.readout_first)."""
        lin = self.utterance_readout
        opt = torch.optim.LBFGS(lin.parameters(), lr=1.0, max_iter=500,
                                tolerance_grad=1e-6, line_search_fn="strong_wolfe")
        w = class_weight[labels]
        if row_weight is not None:
            w = w * row_weight

        def closure() -> torch.Tensor:
            opt.zero_grad()
            with torch.enable_grad():
                loss = (F.cross_entropy(lin(stats), labels, reduction="none") * w).sum()
                loss = loss + lin.weight.pow(2).sum() / (2 * C)
                loss.backward()
            return loss

        opt.step(closure)
        nn.init.zeros_(self.fc[-1].weight)
        nn.init.zeros_(self.fc[-1].bias)
        lin.requires_grad_(False)

    @property
    def word_attention(self) -> bool:
        return self.cfg.attention    # eq 8's alpha; without it, uniform weights

    def batch_inputs(self) -> frozenset[BatchInput]:
        """The optional batch fields this variant reads: the word vectors, and each word's
        phones' frames (HR), its frames (HR-) or its mean frame (no HR), by modality."""
        c = self.cfg
        inputs = {BatchInput.UTTERANCE_STATS} if c.utterance_stats else set()
        if c.attentive_pooling:
            inputs.add(BatchInput.UTTERANCE_FRAMES)
        if c.modality in ("both", "text"):
            inputs.add(BatchInput.TEXT)
        if c.modality in ("both", "audio"):
            inputs.add({"full": BatchInput.PHONES, "no_phone": BatchInput.WORD_FRAMES,
                        "mean": BatchInput.WORD_MEAN}[c.hierarchy])
        return frozenset(inputs)

    # ---------------------------------------------------------------- HR
    def word_audio(self, b: Batch) -> torch.Tensor:
        """Word-level audio vectors a_i for every word of the batch: (W, a_dim)."""
        c = self.cfg
        if c.hierarchy == "mean":
            return b.word_mean                                                # (W, 39)
        if c.hierarchy == "no_phone":
            return last_state(self.word_gru, b.word_frames, b.word_frame_len, c.rnn_chunk)
        phones = last_state(self.phone_gru, b.phone_frames, b.phone_len, c.rnn_chunk)  # (P, 50)
        return last_state(self.word_gru, phones[b.word_phones], b.word_len, c.rnn_chunk)

    # ---------------------------------------------------------------- IM
    def word_states(self, a: torch.Tensor | None, t: torch.Tensor | None,
                    steps: int) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Run the audio and text LSTMs over `steps` words, mixing their states through the
        interaction matrix before every step. a: (B, N, a_in), t: (B, N, t_in).
        Returns h_a (B, N, 100) and h_t (B, N, 150) (None for an absent branch)."""
        c = self.cfg
        if c.swap_inputs:
            a, t = t, a
        # Input halves of all gates for all steps at once; only the recurrent half is stepped.
        xa = F.linear(a, self.lstm_a.weight_ih, self.lstm_a.bias_ih) if a is not None else None
        xt = F.linear(t, self.lstm_t.weight_ih, self.lstm_t.bias_ih) if t is not None else None
        ref = xa if xa is not None else xt
        B = ref.shape[0]
        Ha, Ht = c.audio_hidden, c.text_hidden
        h_a = ref.new_zeros(B, Ha) if xa is not None else None
        c_a = ref.new_zeros(B, Ha) if xa is not None else None
        h_t = ref.new_zeros(B, Ht) if xt is not None else None
        c_t = ref.new_zeros(B, Ht) if xt is not None else None
        out_a, out_t = [], []
        for i in range(steps):
            if c.interaction:                                            # eq 3
                mixed = torch.cat([h_a, h_t], 1) @ self.interaction.T       # (B, 250)
                h_a, h_t = mixed[:, :Ha], mixed[:, Ha:]
                if c.interaction_cell:
                    mixed_c = torch.cat([c_a, c_t], 1) @ self.interaction.T
                    c_a, c_t = mixed_c[:, :Ha], mixed_c[:, Ha:]
            if xa is not None:
                h_a, c_a = _lstm_step(self.lstm_a, xa[:, i], h_a, c_a)    # eq 2 / 4
                out_a.append(h_a)
            if xt is not None:
                h_t, c_t = _lstm_step(self.lstm_t, xt[:, i], h_t, c_t)    # eq 1 / 5
                out_t.append(h_t)
        return (torch.stack(out_a, 1) if out_a else None,
                torch.stack(out_t, 1) if out_t else None)

    def attentive_stats(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, T, F) padded frames -> (B, 2F) attention-weighted mean and std over each
        utterance's real frames (`attentive_pooling`)."""
        mask = torch.arange(x.shape[1], device=x.device)[None, :] < lengths[:, None]
        e = self.pool_score(torch.tanh(self.pool_proj(x))).squeeze(-1)       # (B, T)
        a = torch.softmax(e.masked_fill(~mask, float("-inf")), dim=1).unsqueeze(-1)
        mean = (a * x).sum(1)                                                 # (B, F)
        var = (a * (x - mean.unsqueeze(1)) ** 2).sum(1)
        return torch.cat([mean, var.clamp_min(1e-6).sqrt()], 1)

    # ---------------------------------------------------------------- DMF
    def forward(self, b: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (B, 4) and attention weights alpha (B, N) (uniform/one-hot without attention)."""
        c = self.cfg
        B, N = b.utt_words.shape
        mask = torch.arange(N, device=b.utt_len.device)[None, :] < b.utt_len[:, None]  # (B, N)
        a = t = None
        if c.modality in ("both", "audio"):
            a = self.word_audio(b)[b.utt_words]                                # (B, N, a_dim)
        if c.modality in ("both", "text"):
            t = b.text                                                         # (B, N, D)
        h_a, h_t = self.word_states(a, t, N)
        joint = 0
        if h_a is not None:
            joint = joint + self.W_a(h_a)
        if h_t is not None:
            joint = joint + self.W_t(h_t)                                      # (B, N, 200)
        if c.attention:
            e = torch.tanh(joint)                                              # eq 7
            scores = (e @ self.w_c).masked_fill(~mask, float("-inf"))         # eq 8
            alpha = torch.softmax(scores, dim=1)                               # (B, N)
        elif c.pooling == "mean":
            alpha = mask.float() / b.utt_len[:, None].float()
        else:                                                  # last real word
            alpha = F.one_hot(b.utt_len - 1, N).float()
        p_c = (alpha.unsqueeze(-1) * joint).sum(1)                             # eq 9, (B, 200)
        if c.utterance_stats:
            u = b.utt_stats                                                    # (B, S)
            if c.attentive_pooling:
                u = torch.cat([u, self.attentive_stats(b.utt_frames, b.utt_frame_len)], 1)
            p_c = torch.cat([p_c, self.utterance_mlp(u)], 1)                   # (B, 300)
        logits = self.fc(p_c)                                                  # (B, 4)
        if c.utterance_logits:
            logits = logits + self.utterance_readout(b.utt_stats)
        return logits, alpha


def _lstm_step(cell: nn.LSTMCell, x_gates: torch.Tensor, h: torch.Tensor,
               c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One LSTM step whose input half `x_gates` = W_ih x + b_ih was computed ahead."""
    gates = x_gates + F.linear(h, cell.weight_hh, cell.bias_hh)
    i, f, g, o = gates.chunk(4, 1)                      # torch's gate order
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)

