"""Reading speech: any rate, any channel count in; 16 kHz mono float32 out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from wise.errors import WiseError


def audio_info(path: str | Path) -> tuple[int, int, int]:
    """(sample rate, channels, frames) from the header only, without reading samples."""
    path = Path(path)
    if not path.is_file():
        raise WiseError(path, "audio file not found")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as e:
        raise WiseError(path, f"not a readable audio file ({_short(e)})") from None
    return int(info.samplerate), int(info.channels), int(info.frames)


def load_audio(path: str | Path, sample_rate: int = 16000) -> np.ndarray:
    """Load a file as mono float32 at `sample_rate`: mixes channels down, resamples with soxr.

    Raises `WiseError` naming the file for a missing, unreadable, corrupt or empty file.
    """
    path = Path(path)
    if not path.is_file():
        raise WiseError(path, "audio file not found")
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError) as e:
        raise WiseError(path, f"not a readable audio file ({_short(e)})") from None
    if data.shape[0] == 0:
        raise WiseError(path, "audio is empty (zero samples)")
    x = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if sr != sample_rate:
        x = soxr.resample(x, sr, sample_rate)
    x = np.ascontiguousarray(x, dtype=np.float32)
    if not np.isfinite(x).all():
        raise WiseError(path, "audio contains NaN or infinite samples")
    return x


def _short(e: Exception) -> str:
    return str(e).strip().splitlines()[-1][:160] if str(e).strip() else type(e).__name__
