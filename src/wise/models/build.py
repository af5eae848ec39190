"""From a run config's `model` name and arguments to a model instance."""

from __future__ import annotations

from dataclasses import replace

from torch import nn

from wise.models.baselines.cnn_phoneme import CnnPhoneme, CnnPhonemeConfig
from wise.models.baselines.lstm_attn import LstmAttn, LstmAttnConfig
from wise.models.baselines.mdre import Mdre, MdreConfig
from wise.models.wise import Wise, WiseConfig

FAMILIES: dict[str, tuple[type, type]] = {
    "wise": (WiseConfig, Wise),
    "mdre": (MdreConfig, Mdre),                      # Table 1, Dual RNNs (Yoon et al. 2018)
    "lstm_attn": (LstmAttnConfig, LstmAttn),         # Table 1, LSTM+Attn (Xu et al. 2019)
    "cnn_phoneme": (CnnPhonemeConfig, CnnPhoneme),   # Table 1, CNN+Phoneme (Yenigalla et al.)
}


def model_config_class(name: str) -> type:
    if name not in FAMILIES:
        raise ValueError(f"unknown model {name!r} (known: {', '.join(FAMILIES)})")
    return FAMILIES[name][0]


def build_model(name: str, args: dict, *, text_dim: int | None = None,
                frame_dim: int | None = None) -> nn.Module:
    """Instantiate model `name`; `text_dim`/`frame_dim`, when given, come from the feature
    pack and override the config (a model must match the vectors it reads)."""
    cfg_cls, model_cls = FAMILIES[name]
    cfg = cfg_cls(**args)
    dims = {k: v for k, v in (("text_dim", text_dim), ("frame_dim", frame_dim))
            if v is not None and hasattr(cfg, k)}
    return model_cls(replace(cfg, **dims))


def batch_needs(model: nn.Module) -> dict[str, bool]:
    """Which optional batch inputs `model` reads, as keyword arguments of
    `wise.batching.collate`: a model declares them with the class attributes
    `needs_word_frames` / `needs_utterance` (WISE: by its hierarchy variant)."""
    hierarchy = getattr(getattr(model, "cfg", None), "hierarchy", "full")
    return {"with_word_frames": hierarchy != "full" or getattr(model, "needs_word_frames", False),
            "with_utterance": getattr(model, "needs_utterance", False)}
