"""Long recordings made by joining clips with gaps of silence and faint noise between them,
for the timeline's tests and benchmark: the clips' true places are known to the sample."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

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


def clips_of(ravdess: str | Path, *, n: int | None = None, seed: int = 0,
             exclude: Sequence[str] = ()) -> list[str]:
    """The clips of a RAVDESS folder (`Actor_NN/*.flac`) in sorted order, without the actors
    named in `exclude`; with `n`, a seeded draw of at most `n` of them."""
    pool = [str(c) for a in sorted(Path(ravdess).glob("Actor_*")) if a.name not in exclude
            for c in sorted(a.glob("*.flac"))]
    return pool if n is None else random.Random(seed).sample(pool, min(n, len(pool)))


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


class Spread(TypedDict, total=False):
    median: float
    p05: float
    p95: float


class CutScores(TypedDict):
    """Cuts of a joined recording against its clips' true places."""

    clips: int
    cuts: int
    alone: int              # clips cut out as one phrase that touches no other clip
    merged: int             # clips in a phrase that touches another clip too
    split: int              # clips touched by more than one phrase
    missed: int             # clips no phrase touches
    in_gaps: int            # phrases that touch no clip
    start_offset_s: Spread  # of the clips alone: cut start - clip start
    end_offset_s: Spread    # clip end - cut end


def score_cuts(spans: Sequence[tuple[float, float]], placed: Sequence[Placed]) -> CutScores:
    """How well the cuts `spans` ((start, end) in seconds) match the clips' places."""
    touched = [clips_under(placed, a, b) for a, b in spans]
    phrases_of = [[i for i, ks in enumerate(touched) if k in ks] for k in range(len(placed))]
    alone = [k for k, ps in enumerate(phrases_of) if len(ps) == 1 and len(touched[ps[0]]) == 1]
    starts = [spans[phrases_of[k][0]][0] - placed[k].start for k in alone]
    ends = [placed[k].end - spans[phrases_of[k][0]][1] for k in alone]

    def spread(v: list[float]) -> Spread:
        return ({"median": round(float(np.median(v)), 3),
                 "p05": round(float(np.percentile(v, 5)), 3),
                 "p95": round(float(np.percentile(v, 95)), 3)} if v else {})

    return {"clips": len(placed), "cuts": len(spans), "alone": len(alone),
            "merged": sum(1 for ps in phrases_of if ps and any(len(touched[i]) > 1
                                                                for i in ps)),
            "split": sum(1 for ps in phrases_of if len(ps) > 1),
            "missed": sum(1 for ps in phrases_of if not ps),
            "in_gaps": sum(1 for ks in touched if not ks),
            "start_offset_s": spread(starts), "end_offset_s": spread(ends)}
