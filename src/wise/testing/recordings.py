"""Long recordings made by joining clips with gaps of silence and faint noise between them,
for the timeline's tests and benchmark: the clips' true places are known to the sample."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from wise.audio import load_audio

SR = 16000
NOISE_RMS = 0.003           # faint white noise, about -50 dBFS


@dataclass(frozen=True)
class Placed:
    """Where a clip lies in the joined recording."""

    clip: str
    start: float                # seconds
    end: float


def join_clips(clips: Sequence[str | Path], out: str | Path, *, gaps_s: tuple[float, float],
               seed: int = 0, sample_rate: int = SR, channels: int = 1) -> list[Placed]:
    """Write `out` (any format soundfile writes, by its suffix): before each clip a gap drawn
    uniformly from `gaps_s` seconds, every other one digital silence and the rest faint
    noise, and one second of silence at the end. The file is written clip by clip, so a
    recording of an hour needs no more memory than a clip. Returns each clip's place."""
    rng = np.random.default_rng(seed)
    placed, t = [], 0.0
    with sf.SoundFile(str(out), "w", samplerate=sample_rate, channels=channels) as f:
        def put(x: np.ndarray) -> None:
            if sample_rate != SR:
                import soxr

                x = soxr.resample(x, SR, sample_rate)
            f.write(np.repeat(x[:, None], channels, axis=1) if channels > 1 else x)

        for i, clip in enumerate(clips):
            n = int(rng.uniform(*gaps_s) * SR)
            gap = (np.zeros(n, np.float32) if i % 2 == 0
                   else (NOISE_RMS * rng.standard_normal(n)).astype(np.float32))
            x = load_audio(clip, SR)
            put(gap)
            t += n / SR
            placed.append(Placed(str(clip), t, t + len(x) / SR))
            put(x)
            t += len(x) / SR
        put(np.zeros(SR, np.float32))
    return placed


def clips_under(placed: Sequence[Placed], start: float, end: float) -> list[int]:
    """The indices of the placed clips that the span from `start` to `end` overlaps."""
    return [k for k, c in enumerate(placed) if start < c.end and c.start < end]
