"""A checkpoint carries everything needed to use it: weights, model and feature config, label
names, normaliser, word-vector identity and code version. It holds only tensors and plain
Python values, so it loads with `torch.load(..., weights_only=True)` (no arbitrary pickle).

Loading refuses, with one line that names the problem, anything that is not such a file: no
PyTorch archive at all (an audio file given as the model, an empty file), an archive cut short,
one holding a pickled Python object, another format tag, contents that changed since they were
written (a checkpoint records the SHA-256 of its contents, `content_sha256`: torch.load reads
a flipped byte in the weights without complaint, measured), and a model whose input widths do
not fit its own feature config.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import re
import zipfile
from pathlib import Path

import torch

from wise.config import RunConfig
from wise.errors import WiseError, first_line
from wise.features.encoder import dim as encoder_dim
from wise.features.words import vectors_dim
from wise.fsutil import atomic_file
from wise.labels import LABELS
from wise.models.build import build_with_dims
from wise.models.protocol import DIM_NAMES, ModelDims, TorchModel
from wise.normalize import Normalizer
from wise.rows import run_config
from wise.version import __version__

FORMAT = "wise-checkpoint-1"
DIGEST = "content_sha256"

# What a file given as a checkpoint is instead, from its first bytes: say so in words.
_NOT_A_CHECKPOINT = ((b"RIFF", "WAV audio"), (b"fLaC", "FLAC audio"), (b"OggS", "Ogg audio"),
                     (b"ID3", "MP3 audio"), (b"\xff\xfb", "MP3 audio"),
                     (b"\x1aE\xdf\xa3", "WebM/Matroska media"), (b"{", "JSON text"))
_ZIP = b"PK\x03\x04"       # torch.save writes a zip archive


def save_checkpoint(path: str | Path, model: TorchModel, run: RunConfig,
                    normalizer: Normalizer, *, word_vectors: str,
                    extra: dict | None = None) -> None:
    run_dict = run.to_dict()
    run_dict["model_args"] = {k: list(v) if isinstance(v, tuple) else v
                              for k, v in run.model_args.items() if k not in DIM_NAMES}
    blob = {"format": FORMAT, "version": __version__, "labels": list(LABELS),
            "run": run_dict, "dims": model.dims.given(), "word_vectors": word_vectors,
            "normalizer": normalizer.to_dict(),
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "extra": extra or {}}
    save_blob(path, blob)


def save_blob(path: str | Path, blob: dict) -> None:
    """Write a checkpoint's dict with the SHA-256 of its contents, atomically."""
    blob = {**blob, DIGEST: content_digest(blob)}
    buf = io.BytesIO()
    # Into memory first: torch's file writer reports a failed write (a full disk) as a bare
    # RuntimeError, a plain write as the OSError that names the cause.
    torch.save(blob, buf)
    with atomic_file(path) as tmp:
        tmp.write_bytes(buf.getbuffer())


def content_digest(blob: dict) -> str:
    """SHA-256 of a checkpoint's contents (all but the digest itself), the same after a save
    and a load: tensors by dtype, shape and bytes, other values by type and repr, dicts in key
    order; a tuple reads back as a list from some writers, so the two hash alike."""
    h = hashlib.sha256()

    def feed(x: object) -> None:
        if isinstance(x, dict):
            h.update(b"{%d" % len(x))
            for k in sorted(x, key=str):
                feed(str(k))
                feed(x[k])
        elif isinstance(x, list | tuple):
            h.update(b"[%d" % len(x))
            for v in x:
                feed(v)
        elif isinstance(x, torch.Tensor):
            t = x.detach().cpu().contiguous()
            h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
        else:
            h.update(f"{type(x).__name__}:{x!r};".encode())

    feed({k: v for k, v in blob.items() if k != DIGEST})
    return h.hexdigest()


def _read(path: Path) -> dict:
    """The checkpoint's dict, read with weights_only=True, or the one-line reason it is not
    one."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as e:
        raise WiseError(path, f"checkpoint cannot be read ({e.strerror or e})") from None
    if not head:
        raise WiseError(path, "not a wise checkpoint: the file is empty")
    if not head.startswith(_ZIP):
        kind = next((k for magic, k in _NOT_A_CHECKPOINT if head.startswith(magic)), None)
        what = f"it is {kind}" if kind else "the file is not a PyTorch archive"
        raise WiseError(path, f"not a wise checkpoint: {what} (a checkpoint is what `wise "
                              "train` or `wise cv` writes)")
    if not zipfile.is_zipfile(path):
        raise WiseError(path, "damaged checkpoint: the archive is cut short or broken (an "
                              "interrupted copy or a full disk?)")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        found = re.search(r"GLOBAL ([\w.]+)", str(e))
        if found:
            raise WiseError(path, f"refused: the checkpoint holds a pickled Python object "
                                  f"({found[1]}), and loading one could run any code; a wise "
                                  "checkpoint holds only tensors and plain values") from None
        raise WiseError(path, "damaged checkpoint: its contents cannot be read") from None
    except Exception:  # noqa: BLE001 - whatever else fails inside a zip archive is damage
        raise WiseError(path, "damaged checkpoint: its contents cannot be read") from None
    if not isinstance(blob, dict) or "format" not in blob:
        raise WiseError(path, "not a wise checkpoint: a PyTorch file without wise's format tag")
    if blob["format"] != FORMAT:
        raise WiseError(path, f"not a checkpoint this wise reads: its format tag is "
                              f"{str(blob['format'])[:40]!r}, not {FORMAT!r}")
    if DIGEST not in blob:
        raise WiseError(path, f"not a checkpoint this wise reads: it has no {DIGEST}, which "
                              "every checkpoint wise writes has")
    if blob[DIGEST] != content_digest(blob):
        raise WiseError(path, "damaged checkpoint: its contents have changed since it was "
                              "written (their SHA-256 differs)")
    return blob


def load_checkpoint(path: str | Path) -> tuple[TorchModel, RunConfig, Normalizer, dict]:
    """(model in eval mode, run config, normaliser, the raw checkpoint dict)."""
    path = Path(path)
    if path.is_dir():       # a `wise cv` run folder, say: its checkpoints are files inside
        raise WiseError(path, "is a folder, not a checkpoint file (a checkpoint is the "
                              "model.wise file that `wise train` or `wise cv` writes)")
    if not path.is_file():
        raise WiseError(path, "checkpoint not found")
    blob = _read(path)
    if not isinstance(blob.get("labels"), list) or not isinstance(blob.get("word_vectors"), str):
        raise WiseError(path, "not a usable wise checkpoint: its label names or word-vector "
                              "name are missing")
    # A checkpoint from another version of this code may name options or layers this one
    # does not have: say so, rather than fail somewhere inside the model.
    try:
        d = blob["run"]
        # A stored train section without "validation" held out rows: `TrainConfig.key_fields`
        # leaves the field out at that value.
        run = run_config({**{k: d[k] for k in ("name", "model", "model_args", "features", "cv")},
                          "train": {"validation": "rows", **d["train"]}})
        dims = ModelDims(**blob["dims"])
    except (KeyError, TypeError, ValueError) as e:
        why = f"missing {e}" if isinstance(e, KeyError) else str(e)
        raise WiseError(path, f"checkpoint config not usable by wise {__version__} "
                              f"(made with {blob.get('version', '?')}): {why}") from None
    try:
        model = build_with_dims(run.model, run.model_args, dims)
        model.load_state_dict(blob["state_dict"])
        normalizer = Normalizer.from_dict(blob["normalizer"])
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise WiseError(path, f"checkpoint weights do not fit the {run.model} model of wise "
                              f"{__version__} (made with {blob.get('version', '?')}): "
                              f"{first_line(e)[:200]}") from None
    mismatch = _feature_mismatch(model, run)
    if mismatch:
        raise WiseError(path, f"checkpoint's feature config is not the one its model was "
                              f"trained on: {mismatch}")
    model.eval()
    return model, run, normalizer, blob





def _feature_mismatch(model: TorchModel, run: RunConfig) -> str:
    """How the model's input widths disagree with what its feature config makes ("" when
    they agree): a checkpoint whose feature config came from another feature set."""
    f, dims = run.features, model.dims
    if f.is_encoder:            # a model folder's width is known once it is loaded
        encoder_dim(f.frames)
    frame_dim = dims.frame_dim
    if frame_dim is not None and frame_dim != f.frame_dim:
        return f"the model reads {frame_dim}-d frames, the config makes {f.frame_dim}-d ones"
    utterance_dim = dims.utterance_dim
    if utterance_dim is not None and utterance_dim != 2 * f.frame_dim + f.n_functionals:
        return (f"the model reads {utterance_dim} utterance statistics, the config makes "
                f"{2 * f.frame_dim + f.n_functionals}")
    text_dim = dims.text_dim
    words = vectors_dim(f.word_vectors)      # None: not on this machine (predict says so)
    if text_dim is not None and words is not None and text_dim != words:
        return f"the model reads {text_dim}-d word vectors, {f.word_vectors} has {words}"
    return ""
