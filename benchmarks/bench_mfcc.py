"""Time `wise.features.mfcc.mfcc` on 60 s of synthetic audio, on one core.

Writes benchmarks/results/mfcc.json (real-time factor, ms per second of audio, the feature
config and the code version) and prints it. Usage: python benchmarks/bench_mfcc.py [--repeats N]
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

import numpy as np  # noqa: E402

from wise import code_version  # noqa: E402
from wise.config import FeatureConfig  # noqa: E402
from wise.features.mfcc import mfcc  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "mfcc.json"


def synthetic_audio(seconds: float, sample_rate: int) -> np.ndarray:
    """Noise plus a few gliding tones, float32 in [-1, 1]: content does not change the cost,
    but it keeps the log away from its floor as real speech would."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    x = 0.02 * rng.standard_normal(t.size)
    for f in (150.0, 440.0, 1200.0):
        x += 0.1 * np.sin(2 * np.pi * f * t * (1 + 0.05 * np.sin(2 * np.pi * 0.3 * t)))
    return x.astype(np.float32)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()

    cfg = FeatureConfig()
    x = synthetic_audio(args.seconds, cfg.sample_rate)
    n_frames = mfcc(x, cfg).shape[0]          # warm-up: builds the cached filterbank tables
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        mfcc(x, cfg)
        times.append(time.perf_counter() - t0)
    best, median = min(times), float(np.median(times))
    result = {
        "benchmark": "mfcc",
        "audio_seconds": args.seconds,
        "frames": n_frames,
        "repeats": args.repeats,
        "threads": 1,
        "median_s": round(median, 5),
        "best_s": round(best, 5),
        "ms_per_audio_second": round(1000 * median / args.seconds, 4),
        "real_time_factor": round(args.seconds / median, 1),   # seconds of audio per second
        "feature_config": asdict(cfg),
        "code_version": code_version(),
        "numpy": np.__version__,
        "python": platform.python_version(),
        "cpu": cpu_name(),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
