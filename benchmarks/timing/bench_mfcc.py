"""Time `wise.features.mfcc.mfcc` against librosa on 60 s of real speech, on one core.

The audio is RAVDESS dev clips (16 kHz FLAC, read with `wise.audio.load_audio`) in path order,
concatenated and cut to `--seconds`. librosa computes the same analysis: `feature.mfcc` with our
window, hop, FFT size, 26 HTK mel bands 0-8000 Hz, 13 coefficients, frames not centred, plus
two `feature.delta` calls (delta, then delta of delta, width 2 * delta_window + 1), timed
without stacking its outputs into one array as ours does. librosa frames over n_fft samples
(the window centred in them), so it makes one frame fewer from 60 s (3,998 against 3,999).
The two are timed alternately, `--repeats` times each, so a change in the machine's load hits
both alike.

Writes benchmarks/results/mfcc.json (ours: median and best time, ms per second of audio,
real-time factor; librosa's median and best; ours / librosa; the load average; the feature
config and the code version) and prints it.
Usage: python benchmarks/timing/bench_mfcc.py [--clips DIR] [--seconds S] [--repeats N]
"""

from __future__ import annotations

import os

# One core: pin the BLAS / OpenMP pools before numpy loads them.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from dataclasses import asdict  # noqa: E402
from pathlib import Path  # noqa: E402

import librosa  # noqa: E402
import numpy as np  # noqa: E402

from wise import code_version  # noqa: E402
from wise.audio import load_audio  # noqa: E402
from wise.config import FeatureConfig  # noqa: E402
from wise.features.mfcc import mfcc  # noqa: E402
from wise.fsutil import atomic_write_text  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "results" / "mfcc.json"
CLIPS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "ravdess-dev"


def real_speech(clips: Path, seconds: float, sample_rate: int) -> tuple[np.ndarray, int]:
    """The first clips under `clips` in path order, concatenated and cut to `seconds`:
    (float32 samples, number of clips used)."""
    want = int(seconds * sample_rate)
    parts, have = [], 0
    for path in sorted(clips.rglob("*.flac")):
        parts.append(load_audio(path, sample_rate))
        have += len(parts[-1])
        if have >= want:
            return np.concatenate(parts)[:want], len(parts)
    raise SystemExit(f"bench_mfcc: error: {clips}: {have / sample_rate:.1f} s of .flac audio, "
                     f"need {seconds} s")


def librosa_mfcc(x: np.ndarray, cfg: FeatureConfig) -> tuple[np.ndarray, ...]:
    """librosa's MFCC with our analysis settings, and its deltas and delta-deltas."""
    ceps = librosa.feature.mfcc(
        y=x, sr=cfg.sample_rate, n_mfcc=cfg.n_ceps, n_fft=512, win_length=cfg.win_length,
        hop_length=cfg.hop_length, window="hamming", center=False, n_mels=cfg.n_mels,
        fmin=cfg.fmin, fmax=cfg.fmax, htk=True, lifter=cfg.lifter)
    width = 2 * cfg.delta_window + 1
    d1 = librosa.feature.delta(ceps, width=width)
    return ceps, d1, librosa.feature.delta(d1, width=width)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def timing(times: list[float], seconds: float) -> dict:
    median = float(np.median(times))
    return {"median_s": round(median, 5), "best_s": round(min(times), 5),
            "ms_per_audio_second": round(1000 * median / seconds, 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=Path, default=CLIPS)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--repeats", type=int, default=100)
    args = ap.parse_args()

    cfg = FeatureConfig()
    x, n_clips = real_speech(args.clips, args.seconds, cfg.sample_rate)
    n_frames = mfcc(x, cfg).shape[0]          # warm-up: builds the cached filterbank tables
    librosa_frames = librosa_mfcc(x, cfg)[0].shape[1]
    load_before = os.getloadavg()
    ours, theirs = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        mfcc(x, cfg)
        t1 = time.perf_counter()
        librosa_mfcc(x, cfg)
        t2 = time.perf_counter()
        ours.append(t1 - t0)
        theirs.append(t2 - t1)
    mine, lib = timing(ours, args.seconds), timing(theirs, args.seconds)
    result = {
        "benchmark": "mfcc",
        "audio": f"real speech: the first {n_clips} RAVDESS dev clips in path order, "
                 "concatenated",
        "audio_seconds": args.seconds,
        "frames": n_frames,
        "repeats": args.repeats,
        "threads": 1,
        **mine,
        "real_time_factor": round(args.seconds / mine["median_s"], 1),  # audio s per second
        "librosa": {**lib, "version": librosa.__version__,
                    "frames": librosa_frames,
                    "call": "feature.mfcc + 2 x feature.delta, float32 input, outputs not "
                            "stacked"},
        "ours_over_librosa": round(mine["median_s"] / lib["median_s"], 3),
        "load_average_1min": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "feature_config": asdict(cfg),
        "code_version": code_version(),
        "numpy": np.__version__,
        "python": platform.python_version(),
        "cpu": cpu_name(),
    }
    atomic_write_text(OUT, json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
