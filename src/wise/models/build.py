"""From a run config's `model` name and arguments to a model instance."""

from __future__ import annotations

from dataclasses import replace

from wise.errors import WiseError
from wise.features.functionals import require_opensmile
from wise.models.baselines.cnn_phoneme import CnnPhoneme, CnnPhonemeConfig
from wise.models.baselines.egemaps_svm import EgemapsSvm, EgemapsSvmConfig
from wise.models.baselines.frame_stats_logreg import FrameStatsLogreg, FrameStatsLogregConfig
from wise.models.baselines.lstm_attn import LstmAttn, LstmAttnConfig
from wise.models.baselines.mdre import Mdre, MdreConfig
from wise.models.protocol import ClassicModel, ModelDims, TorchModel
from wise.models.wise import Wise, WiseConfig

FAMILIES: dict[str, tuple[type, type]] = {
    "wise": (WiseConfig, Wise),
    "mdre": (MdreConfig, Mdre),                      # Table 1, Dual RNNs (Yoon et al. 2018)
    "lstm_attn": (LstmAttnConfig, LstmAttn),         # Table 1, LSTM+Attn (Xu et al. 2019)
    "cnn_phoneme": (CnnPhonemeConfig, CnnPhoneme),   # Table 1, CNN+Phoneme (Yenigalla et al.)
}

# Rows that are not torch models: fitted with scikit-learn on one vector per utterance, one per
# fold (wise.crossval.run_classic_fold); no checkpoint, so no `wise train` or `wise predict`.
# Each class says which vector it reads (`inputs`): "egemaps", openSMILE's functionals, or
# "frame_stats", the mean and std of the feature pack's frames.
CLASSIC: dict[str, tuple[type, type]] = {
    "egemaps_svm": (EgemapsSvmConfig, EgemapsSvm),   # beyond the paper: eGeMAPS + RBF SVM
    "frame_stats_logreg": (FrameStatsLogregConfig, FrameStatsLogreg),  # pooled frames + LR
}


def is_classic(model: str) -> bool:
    """Whether model `model` is a scikit-learn row (`ClassicModel`: fitted per fold, no
    checkpoint) rather than a torch one (`TorchModel`)."""
    return model in CLASSIC


def require_classic(name: str, row: str) -> None:
    """Raise the one-line error naming the install command when scikit-learn row `name` (of
    table row `row`) needs an optional package that is not installed."""
    if CLASSIC[name][1].inputs == "egemaps":
        require_opensmile(row)
        return
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise WiseError(None, f"{row} needs scikit-learn, not installed here: "
                              "pip install scikit-learn") from None


def model_config_class(name: str) -> type:
    if name not in FAMILIES and name not in CLASSIC:
        raise ValueError(f"unknown model {name!r} (known: {', '.join([*FAMILIES, *CLASSIC])})")
    return (FAMILIES.get(name) or CLASSIC[name])[0]


def build_classic(name: str, args: dict) -> ClassicModel:
    """An unfitted scikit-learn row (see CLASSIC)."""
    cfg_cls, model_cls = CLASSIC[name]
    return model_cls(cfg_cls(**args))


def build_model(name: str, args: dict, *, text_dim: int | None = None,
                frame_dim: int | None = None, n_functionals: int = 0) -> TorchModel:
    """Instantiate model `name`; `text_dim`/`frame_dim`, when given, come from the feature
    pack and override the config (a model must match the vectors it reads)."""
    if name in CLASSIC:
        raise WiseError(None, f"{name} is a scikit-learn row, not a torch model: it has no "
                              f"parameters before it is fitted and no checkpoint; cross-validate "
                              f"it with `wise cv --config {name}`")
    utterance_dim = 2 * frame_dim + n_functionals if frame_dim is not None else None
    return build_with_dims(name, args, ModelDims(frame_dim, text_dim, utterance_dim))


def build_with_dims(name: str, args: dict, dims: ModelDims) -> TorchModel:
    """Model `name` with config `args` and the input widths of `dims` it reads (those it
    does not read, and None ones, are ignored): how a checkpoint's model is rebuilt."""
    cfg_cls, model_cls = FAMILIES[name]
    widths = {k: v for k, v in dims.given().items() if k in model_cls.INPUT_DIMS}
    return model_cls(replace(cfg_cls(**args), **widths))

