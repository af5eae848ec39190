"""Typed configuration. Every choice the paper makes (or leaves open) is a named field.

Feature choices live here because the cache key is derived from them: change one and only the
affected cache entries are rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from pathlib import Path

N_EGEMAPS_LLD = 25             # eGeMAPSv02 low-level descriptors per frame (openSMILE)
N_FUNCTIONALS = {"none": 0, "egemaps": 88, "basic": 26}   # utterance functionals per set
NORMALIZE_MODES = ("corpus", "speaker", "utterance")       # see wise.normalize.Normalizer
PRECISIONS = ("fp32", "bf16")                               # TrainConfig.precision
VALIDATIONS = ("auto", "rows", "speakers")                  # TrainConfig.validation
ENCODER_WINDOWS = ("30s", "clip", "clip+Ns")               # FeatureConfig.encoder_window
ENCODER_DIMS: dict[str, int] = {"whisper-tiny.en": 384, "whisper-base": 512}
"""Values per frame of each Whisper encoder frame source (FeatureConfig.frames). A model folder
given by path joins it once `wise.features.encoder.dim` has loaded it."""


def encoder_padding(window: str) -> float | None:
    """Seconds of Whisper's 30-s window padding the encoder sees after a window's audio, for a
    `FeatureConfig.encoder_window`: None for "30s" (all of it), 0 for "clip", N for "clip+Ns"
    (0 < N < 30). Raises ValueError for anything else."""
    if window == "30s":
        return None
    if window == "clip":
        return 0.0
    m = re.fullmatch(r"clip\+(\d+(?:\.\d+)?)s", window)
    if m is None or not 0 < float(m.group(1)) < 30:
        raise ValueError(f"encoder_window must be one of {', '.join(ENCODER_WINDOWS)} "
                         f"(0 < N < 30), not {window!r}")
    return float(m.group(1))


@dataclass(frozen=True)
class FeatureConfig:
    # Frame features (paper Sec. 3.2): 25 ms window, 40% overlap -> 15 ms hop, 16 kHz.
    sample_rate: int = 16000
    win_ms: float = 25.0
    hop_ms: float = 15.0
    n_ceps: int = 13          # c0..c12; c0 stands in for energy, as openSMILE's MFCC configs do
    n_mels: int = 26          # openSMILE's default mel bank size
    fmin: float = 0.0
    fmax: float = 8000.0
    preemphasis: float = 0.97
    lifter: int = 22          # sinusoidal cepstral liftering, HTK's CEPLIFTER
    delta_window: int = 2     # regression deltas over +-2 frames (HTK/openSMILE default)
    # Hierarchy caps (paper Sec. 4.2).
    max_words: int = 128
    max_phones_per_word: int = 14
    max_frames_per_phone: int = 64
    phone_overflow: str = "truncate"   # "truncate" | "merge" (fold extra phones into the 14th)
    # Word vectors: "glove-6b-50d" (installed package), "spacy-md-300d" (the optional package
    # of spaCy's en_core_web_md 300-d table; not GloVe) or a path to a GloVe-format text file.
    word_vectors: str = "glove-6b-50d"
    # Beyond the paper, for real speech (docs/real-speech.md). "egemaps" (the optional
    # openSMILE extra): the 25 eGeMAPSv02 low-level descriptors (F0 in semitones, loudness,
    # jitter, shimmer, HNR, formants, spectral slopes ...) appended to every frame, so they
    # flow through the same frame -> phone -> word hierarchy as the MFCCs.
    prosody: str = "none"
    # Functionals of the whole utterance, for models that read utterance-level statistics
    # (WiseConfig.utterance_stats): "egemaps", openSMILE's 88 eGeMAPSv02 functionals; "basic",
    # 26 of F0, level and spectral shape from librosa (ISC licence; the optional librosa extra);
    # "pooled", the mean and std over the utterance of every frame value (of the MFCC or the
    # encoder), standardised across utterances like any functionals (per speaker under
    # `normalize: speaker`), which the frame statistics a model computes itself are not.
    functionals: str = "none"
    # Frame source (beyond the paper, for real speech; wise.features.encoder): "mfcc", the
    # paper's 39-d frames above; "whisper-tiny.en" (the encoder of the bundled recogniser),
    # "whisper-base" (the optional extra) or a path to a CTranslate2 Whisper folder: the last
    # layer of Whisper's encoder, one frame per 20 ms, through the same hierarchy. The MFCC
    # fields above then do not apply.
    frames: str = "mfcc"
    # How the encoder sees a clip: "30s", padded to Whisper's 30-s window as it was trained (and
    # as its transcription of the clip encodes it when the model reads these frames); "clip",
    # only as long as it is (cheaper); "clip+Ns", the clip and N seconds of the window's
    # padding (e.g. "clip+7s": the short window the recogniser decodes a clip from, so that
    # one pass again serves both).
    encoder_window: str = "30s"
    # Which of the encoder's layers give the frames: () its last, the output the recogniser
    # decodes from; (k, ...) the output of its first k layers (counted from 1, each through
    # the encoder's closing layer norm), side by side in layer order (a frame is the encoder's
    # width times the number of layers). On the dev actors' emotions, layer 2 of tiny.en
    # reads a new voice better than its last, which is tuned to words and to the voice
    # (docs/real-speech.md).
    encoder_layers: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.phone_overflow not in ("truncate", "merge"):
            raise ValueError(f"phone_overflow must be 'truncate' or 'merge', "
                             f"not {self.phone_overflow!r}")
        if self.win_ms <= 0 or self.hop_ms <= 0 or self.sample_rate <= 0:
            raise ValueError("win_ms, hop_ms and sample_rate must be positive")
        if self.prosody not in ("none", "egemaps"):
            raise ValueError(f"prosody must be 'none' or 'egemaps', not {self.prosody!r}")
        encoder_padding(self.encoder_window)        # raises for anything else
        layers = tuple(self.encoder_layers)          # a list from YAML or a cache's index
        if (any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in layers)
                or len(set(layers)) != len(layers)):
            raise ValueError(f"encoder_layers must be distinct layer numbers from 1, "
                             f"not {list(layers)}")
        layers = tuple(sorted(layers))
        object.__setattr__(self, "encoder_layers", layers)
        if not self.frames:
            raise ValueError("frames must be 'mfcc', an encoder name or a model folder")
        if self.functionals not in (*N_FUNCTIONALS, "pooled"):
            raise ValueError(f"functionals must be one of {', '.join(N_FUNCTIONALS)}, pooled, "
                             f"not {self.functionals!r}")

    def key_fields(self) -> dict:
        """Every field, less the optional ones while at their defaults: a field added to the
        config leaves the key of every cache entry and checkpoint that does not use it as it
        was, so they stay valid."""
        d = asdict(self)
        for name in ("prosody", "functionals"):
            if d[name] == "none":
                del d[name]
        if not d["encoder_layers"]:
            del d["encoder_layers"]
        if d["frames"] == "mfcc":
            d.pop("encoder_layers", None)
            del d["frames"], d["encoder_window"]
        return d

    def key(self) -> str:
        """A short hash of every field: the feature cache is keyed by it."""
        blob = json.dumps(self.key_fields(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    @property
    def is_encoder(self) -> bool:
        """Whether the frames come from a Whisper encoder rather than the MFCC."""
        return self.frames != "mfcc"

    @property
    def frame_dim(self) -> int:
        """Values per frame: 13 cepstra, deltas and delta-deltas (or the encoder's width),
        then any prosody LLDs."""
        prosody = N_EGEMAPS_LLD if self.prosody == "egemaps" else 0
        if not self.is_encoder:
            return 3 * self.n_ceps + prosody
        if self.frames not in ENCODER_DIMS:
            raise ValueError(f"frames: the width of {self.frames} is known once it is loaded "
                             "(wise.features.encoder.dim)")
        return ENCODER_DIMS[self.frames] * max(len(self.encoder_layers), 1) + prosody

    @property
    def frame_hop_s(self) -> float:
        """Seconds between frames: the MFCC hop, or the encoder's 20 ms."""
        return 0.02 if self.is_encoder else self.hop_length / self.sample_rate

    @property
    def n_functionals(self) -> int:
        if self.functionals == "pooled":            # mean and std of every frame value
            return 2 * self.frame_dim
        return N_FUNCTIONALS[self.functionals]

    @property
    def win_length(self) -> int:
        return int(round(self.sample_rate * self.win_ms / 1000))

    @property
    def hop_length(self) -> int:
        return int(round(self.sample_rate * self.hop_ms / 1000))

    @property
    def max_word_frames(self) -> int:
        """The most frames a word's phones may hold (the HR- ablation reads a word's frames
        directly, capped at this)."""
        return self.max_phones_per_word * self.max_frames_per_phone

    def with_overrides(self, **kw: object) -> FeatureConfig:
        names = {f.name: f.type for f in fields(self)}
        bad = sorted(set(kw) - set(names))
        if bad:
            raise KeyError(f"unknown feature option(s): {', '.join(bad)}")
        return type(self)(**{**asdict(self), **kw})


@dataclass(frozen=True)
class TrainConfig:
    lr: float = 1e-3
    lr_decay: float = 1e-3        # Keras "decay": lr_t = lr / (1 + lr_decay * t), t = updates
    weight_decay: float = 1e-4    # the paper's L2 penalty, as Adam's (coupled) weight decay
    l2_on_biases: bool = True     # False: no weight decay on biases (docs/training.md)
    batch_size: int = 32
    max_epochs: int = 30
    min_epochs: int = 10          # never stop earlier: the first epochs often plateau
    patience: int = 6             # then stop after this many epochs without a better val UA
    val_fraction: float = 0.1     # of the training rows, held out for early stopping
    validation: str = "auto"      # what is held out for early stopping: "rows" (val_fraction of
                                  # them, stratified by class), "speakers" (whole training
                                  # speakers with about val_fraction of the rows), or "auto":
                                  # speakers under a speaker-independent protocol, else rows
                                  # (RunConfig resolves it; see wise.train.validation_split
                                  # and docs/training.md)
    class_weights: bool = False   # weight the loss by inverse class frequency
    normalize: str = "corpus"     # frame mean/std: "corpus", "speaker" or "utterance" (see
                                  # wise.normalize.Normalizer; statistics never read labels)
    # Under normalize: speaker, a new speaker's statistics from his or her clips are shrunk
    # towards the training speakers' average as if it were this many more clips (0: not at
    # all; wise.normalize.Normalizer, docs/real-speech.md): few or one-emotion clips then
    # cannot throw the statistics far off.
    adapt_prior_clips: float = 0.0
    # The share of training utterances normalised as an unknown speaker's (the training
    # speakers' average statistics), drawn anew each epoch: the model also learns to read a
    # voice it was not adapted to.
    unadapted_fraction: float = 0.0
    # For models with a linear read-out of the utterance statistics (utterance_logits): fit
    # it first, alone, as the probe row's logistic regression (C, balanced classes), keep it
    # fixed, and train the rest from the last FC layer at zero (Wise.start_from_readout).
    readout_first: bool = False
    readout_C: float = 0.1
    # With readout_first and unadapted_fraction f > 0: fit the read-out on both views of every
    # training utterance, its speaker's statistics (weight 1 - f) and the unknown speaker's
    # (weight f), as the rest of the model is trained; else on the first view alone, and the
    # fixed read-out never learns to read a voice it was not adapted to.
    readout_mix: bool = False
    # Under normalize: speaker, judge each epoch on the validation speakers both adapted to and
    # as unknown speakers (the mean of the two UAs), as the model will be used; else adapted
    # only.
    val_unadapted: bool = False
    # The rows the read-out is fitted on (readout_first): "fit", the training rows less the
    # validation ones, or "all", the validation rows too (their speakers standardised as
    # early stopping sees them), so that it hears every training speaker as the probe row
    # does; the epochs are still judged on the validation rows.
    readout_rows: str = "fit"
    seed: int = 0
    device: str = "auto"          # "auto" (CUDA when available), "cpu", "cuda"
    precision: str = "fp32"       # "bf16": forward and loss under torch.autocast in bfloat16
                                  # (meant for GPUs; allowed on CPU); evaluation stays fp32

    def __post_init__(self) -> None:
        if self.normalize not in NORMALIZE_MODES:
            raise ValueError(f"normalize must be one of {', '.join(NORMALIZE_MODES)}, "
                             f"not {self.normalize!r}")
        if not 0.0 < self.val_fraction < 0.5:
            raise ValueError("val_fraction must be between 0 and 0.5")
        if self.validation not in VALIDATIONS:
            raise ValueError(f"validation must be one of {', '.join(VALIDATIONS)}, "
                             f"not {self.validation!r}")
        if self.adapt_prior_clips < 0:
            raise ValueError("adapt_prior_clips must be 0 or more")
        if self.readout_C <= 0:
            raise ValueError("readout_C must be positive")
        if not 0.0 <= self.unadapted_fraction < 1.0:
            raise ValueError("unadapted_fraction must be in [0, 1)")
        if self.readout_mix and not (self.readout_first and self.unadapted_fraction > 0):
            raise ValueError("readout_mix needs readout_first and unadapted_fraction > 0")
        if self.readout_rows not in ("fit", "all"):
            raise ValueError(f"readout_rows must be 'fit' or 'all', not {self.readout_rows!r}")
        if self.val_unadapted and self.normalize != "speaker":
            raise ValueError("val_unadapted needs normalize: speaker")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, "
                             f"not {self.precision!r}")

    def key_fields(self) -> dict:
        """Every field, less the optional ones while at their defaults: a field added to the
        config leaves the hash of every run that does not use it as it was, so its finished
        folds are still reused."""
        d = asdict(self)
        if d["precision"] == "fp32":
            del d["precision"]
        if d["l2_on_biases"]:
            del d["l2_on_biases"]
        if d["validation"] == "rows":
            del d["validation"]
        if not d["readout_first"]:
            del d["readout_C"]
        if d["readout_rows"] == "fit":
            del d["readout_rows"]
        for name in ("adapt_prior_clips", "unadapted_fraction", "readout_first", "readout_mix",
                     "val_unadapted"):
            if not d[name]:
                del d[name]
        return d


PROTOCOLS = ("session", "speaker_groups", "random")
"""Cross-validation protocols; see wise.crossval.make_folds and docs/evaluation.md."""

SPEAKER_INDEPENDENT = ("session", "speaker_groups")
"""The protocols whose test speakers are never trained on: `validation: auto` holds out whole
training speakers under them, so that the stopping epoch is judged as the test is."""


@dataclass(frozen=True)
class CVConfig:
    protocol: str = "session"     # "session": leave one session out; "speaker_groups": k folds
                                  # of whole speakers; "random": stratified k-fold
    folds: int = 5                # for "speaker_groups" and "random" ("session": one per session)
    subset: str = "all"           # "all" or "improvised" (IEMOCAP's scripted lines repeat
                                  # across sessions and leak text between folds)
    split_seed: int = 0           # shuffles "random" and breaks ties in "speaker_groups"; apart
                                  # from train.seed so that every training seed gets the same folds

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, "
                             f"not {self.protocol!r}")
        if self.subset not in ("all", "improvised"):
            raise ValueError(f"subset must be 'all' or 'improvised', not {self.subset!r}")
        if self.folds < 2:
            raise ValueError("folds must be at least 2")


@dataclass(frozen=True)
class RunConfig:
    """One row of the paper's tables: a model family with its arguments, and how to train and
    evaluate it. Written as YAML in configs/ as a diff from the defaults (read by `wise.rows`)."""

    name: str = "wise"
    model: str = "wise"                      # model family, see wise.models.build
    model_args: dict = field(default_factory=dict)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    cv: CVConfig = field(default_factory=CVConfig)

    def __post_init__(self) -> None:
        if self.train.validation == "auto":
            split = "speakers" if self.cv.protocol in SPEAKER_INDEPENDENT else "rows"
            object.__setattr__(self, "train", replace(self.train, validation=split))

    def to_dict(self) -> dict:
        features = asdict(self.features)
        if not features["encoder_layers"]:     # as in `FeatureConfig.key_fields`
            del features["encoder_layers"]
        if not self.features.is_encoder:
            features.pop("encoder_layers", None)
            del features["frames"], features["encoder_window"]
        return {"name": self.name, "model": self.model, "model_args": dict(self.model_args),
                "features": features, "train": self.train.key_fields(),
                "cv": asdict(self.cv)}


MAX_PREDICT_SECONDS = 60.0
"""Longest audio `wise predict` / `wise serve` accept by default: the model is trained on
sentence-length utterances, and the paper caps an utterance at 128 words."""

CONFIG_DIR = Path(__file__).parent / "configs"
"""The shipped configs, one YAML per table row (also reachable as configs/ in a checkout)."""


# ------------------------------------------------------------------ `--set KEY=VALUE`
# The one path from text to config fields: `wise features` (the feature options), `wise cv`,
# `train`, `reproduce`, `params`, `asr-study` and `demo` (a row's every section, through
# `wise.rows.run_config`), and a row's own YAML, whose values are checked the same way.

def field_defaults(cls: type) -> dict[str, object]:
    """A config dataclass's fields and their defaults: what `--set` may set, and as what type."""
    return {f.name: f.default if f.default is not MISSING else f.default_factory()
            for f in fields(cls)}


def feature_config(sets: Sequence[str] = ()) -> FeatureConfig:
    """The default `FeatureConfig` with `--set` items applied (`phone_overflow=merge`, or
    `features.phone_overflow=merge`)."""
    values = override({"features": {}}, {"features": field_defaults(FeatureConfig)}, sets)
    return FeatureConfig(**values["features"])


def override(given: Mapping[str, Mapping[str, object]],
             defaults: Mapping[str, Mapping[str, object]], sets: Sequence[str] = (),
             aliases: Mapping[str, str] | None = None) -> dict[str, dict[str, object]]:
    """Sections of config values (`given`: section -> {field: value}, e.g. read from YAML)
    with every `--set` item applied, each value in the type of its field's default.
    `defaults` (section -> {field: default}) says which fields there are.

    An item is `KEY=VALUE`, KEY a field of exactly one section, or `SECTION.KEY=VALUE`
    (`aliases` maps other names of a section to it). VALUE is read as YAML (`true`, `2e-3`,
    `[10, 20]`), but a text field takes it as written (a path stays a path). Every fault is a
    ValueError naming the item or field and, for an unknown one, the options there are."""
    aliases = dict(aliases or {})
    out = {name: dict(given.get(name) or {}) for name in defaults}
    for name, values in out.items():
        bad = sorted(set(values) - set(defaults[name]))
        if bad:
            raise ValueError(f"{name}: unknown option {bad[0]!r}; "
                             f"options: {', '.join(defaults[name])}")
        for key, value in values.items():
            values[key] = _typed(value, defaults[name][key], f"{name}.{key}")
    for item in sets:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set {item!r}: expected KEY=VALUE")
        section, _, name = key.rpartition(".")
        section = aliases.get(section, section)
        owners = ([section] if section else
                  [s for s in defaults if name in defaults[s]])
        if not owners or owners[0] not in defaults or name not in defaults[owners[0]]:
            raise ValueError(f"--set {item!r}: unknown option {key!r}; options: "
                             + _options(defaults))
        if len(owners) > 1:
            raise ValueError(f"--set {item!r}: {name!r} is an option of "
                             f"{' and '.join(owners)}: write "
                             f"{' or '.join(f'{s}.{name}={raw}' for s in owners)}")
        default = defaults[owners[0]][name]
        out[owners[0]][name] = _typed(raw if isinstance(default, str) else _yaml(raw), default,
                                      f"--set {item!r}")
    return out


def _options(defaults: Mapping[str, Mapping[str, object]]) -> str:
    if len(defaults) == 1:
        return ", ".join(next(iter(defaults.values())))
    return "; ".join(f"{name}: {', '.join(keys)}" for name, keys in defaults.items())


def _yaml(raw: str) -> object:
    import yaml

    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw                    # then refused as not of the field's type


_KINDS = {bool: "true or false", int: "an integer", float: "a number", tuple: "a list"}


def _typed(value: object, default: object, where: str) -> object:
    """`value` (from YAML or `--set`) in the type of the field's `default`, or a ValueError
    `<where>: <value> is not <kind>`."""
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "1", "yes"):
            return True
        if str(value).lower() in ("false", "0", "no"):
            return False
    elif isinstance(default, int | float) and not isinstance(value, bool):
        try:
            number = type(default)(value)
        except (TypeError, ValueError):
            pass
        else:
            if not (isinstance(default, int) and isinstance(value, float)
                    and not value.is_integer()):
                return number
    elif isinstance(default, tuple):
        if isinstance(value, list | tuple):
            return tuple(value)
    elif isinstance(default, str):
        return str(value)
    else:
        return value
    raise ValueError(f"{where}: {value!r} is not {_KINDS[type(default)]}")
