"""A checkpoint carries everything needed to use it: weights, model and feature config, label
names, normaliser, word-vector identity and code version. It holds only tensors and plain
Python values, so it loads with `torch.load(..., weights_only=True)` (no arbitrary pickle)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from wise.batching import Normalizer
from wise.config import RunConfig
from wise.errors import WiseError
from wise.fsutil import atomic_file
from wise.labels import LABELS
from wise.models.build import build_model
from wise.rows import run_config
from wise.version import __version__

FORMAT = "wise-checkpoint-1"


def save_checkpoint(path: str | Path, model: nn.Module, run: RunConfig,
                    normalizer: Normalizer, *, word_vectors: str,
                    extra: dict | None = None) -> None:
    model_args = dict(run.model_args)
    for k in ("text_dim", "frame_dim", "utterance_dim"):   # the dims the model was built with
        if hasattr(model.cfg, k):
            model_args[k] = getattr(model.cfg, k)
    run_dict = run.to_dict()
    run_dict["model_args"] = {k: list(v) if isinstance(v, tuple) else v
                              for k, v in model_args.items()}
    blob = {"format": FORMAT, "version": __version__, "labels": list(LABELS),
            "run": run_dict, "word_vectors": word_vectors,
            "normalizer": normalizer.to_dict(),
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "extra": extra or {}}
    with atomic_file(path) as tmp:
        torch.save(blob, tmp)


def load_checkpoint(path: str | Path) -> tuple[nn.Module, RunConfig, Normalizer, dict]:
    """(model in eval mode, run config, normaliser, the raw checkpoint dict)."""
    path = Path(path)
    if not path.is_file():
        raise WiseError(path, "checkpoint not found")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling failure means "not a checkpoint"
        raise WiseError(path, f"not a wise checkpoint ({type(e).__name__})") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise WiseError(path, "not a wise checkpoint (unknown format)")
    # A checkpoint from another version of this code may name options or layers this one
    # does not have: say so, rather than fail somewhere inside the model.
    try:
        d = blob["run"]
        run = run_config({k: d[k] for k in ("name", "model", "model_args", "features", "train",
                                            "cv")})
    except (KeyError, TypeError, ValueError) as e:
        raise WiseError(path, f"checkpoint config not usable by wise {__version__} "
                              f"(made with {blob.get('version', '?')}): {e}") from None
    try:
        model = build_model(run.model, run.model_args)
        model.load_state_dict(blob["state_dict"])
        normalizer = Normalizer.from_dict(blob["normalizer"])
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise WiseError(path, f"checkpoint weights do not fit the {run.model} model of wise "
                              f"{__version__} (made with {blob.get('version', '?')}): "
                              f"{first[:200]}") from None
    model.eval()
    return model, run, normalizer, blob
