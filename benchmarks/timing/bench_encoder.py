"""What Whisper's encoder frames cost: per 5-s clip on one core, alone and inside `predict`.

    python benchmarks/timing/bench_encoder.py --manifest ravdess-dev.jsonl --runs runs/real-speech \
        [--n 20] [--out benchmarks/results/encoder.json]

1. **The frames alone.** For each encoder (`whisper-tiny.en`, and its layer 2 alone;
   `whisper-base` when its extra is installed) and window (`30s`, `clip`; `clip+7s` for layer
   2): seconds to compute the frames of a 5-s clip (`wise.features.encoder.encoder_frames`),
   median over `--n` real clips padded with silence to exactly 5 s, after one warm-up; one
   thread (CTranslate2's and BLAS's). The MFCC is timed the same way for scale.
2. **Inside predict, no transcript.** The fold-1 checkpoint of seed 0 of finished cv runs
   predicts the same clips with ASR: the median of each stage (`Prediction.seconds`) and of
   the total. The runs: RUNS/wise_plus (MFCC frames), RUNS/wise_whisper_previous (tiny.en's
   last layer, taken from the recogniser's own 30-s window; `wise_whisper` as first
   shipped), RUNS/wise_whisper_layers_2_4 (its layers 2 and 4 over the 30-s window) and
   RUNS/wise_whisper_layers_2_4_short_window (over the clip + 7 s window the recogniser
   decodes a short clip from, the config shipped now); the layered ones take layer 4 from
   the recogniser and compute layer 2. What the encoder adds to predict is the
   difference of the "features" stage from the MFCC model's; the recogniser's window (and so
   its ASR stage) differs between the rows, and the totals say the rest. A row that is
   missing, or whose checkpoint this version cannot load, is left out.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from wise import code_version
from wise.audio import load_audio
from wise.config import FeatureConfig
from wise.errors import WiseError
from wise.features.encoder import encoder_frames
from wise.features.mfcc import mfcc
from wise.fsutil import atomic_write_text
from wise.predict import Predictor
from wise.utterance import read_manifest

RESULTS = Path(__file__).resolve().parents[1] / "results"
SECONDS = 5.0


def clips(manifest: str, n: int) -> list[np.ndarray]:
    """`n` clips of different speakers and emotions, each padded with silence (or cut) to 5 s."""
    rows = list(read_manifest(manifest))
    picked = [rows[i] for i in np.linspace(0, len(rows) - 1, n).astype(int)]
    out = []
    for u in picked:
        x = load_audio(u.audio)[:int(SECONDS * 16000)]
        out.append(np.pad(x, (0, int(SECONDS * 16000) - len(x))))
    return out


def median_seconds(fn, xs: list[np.ndarray]) -> float:
    fn(xs[0])                                                   # warm-up (model load)
    times = []
    for x in xs:
        t = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t)
    return round(float(np.median(times)), 4)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--runs", default="runs/real-speech")
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--out", default=str(RESULTS / "encoder.json"))
    args = ap.parse_args()
    xs = clips(args.manifest, args.n)
    result: dict = {"code_version": code_version(), "machine": platform.processor() or
                    platform.machine(), "clip_seconds": SECONDS, "n": len(xs),
                    "frames_alone": {}, "predict": {}}
    with threadpool_limits(1):
        result["frames_alone"]["mfcc"] = median_seconds(lambda x: mfcc(x, FeatureConfig()), xs)
        for frames, layers, windows in (("whisper-tiny.en", (), ("30s", "clip")),
                                        ("whisper-tiny.en", (2,), ("30s", "clip+7s", "clip")),
                                        ("whisper-base", (), ("30s", "clip"))):
            for window in windows:
                cfg = FeatureConfig(frames=frames, encoder_window=window,
                                    encoder_layers=layers)
                try:
                    s = median_seconds(lambda x, c=cfg: encoder_frames(x, c), xs)
                except WiseError as e:                 # the extra is not installed
                    print(f"{frames}: {e.message}", flush=True)
                    break
                name = f"{frames}{''.join(f' layer {k}' for k in layers)} {window}"
                result["frames_alone"][name] = s
                print(f"{name}: {s:.4f} s per 5-s clip", flush=True)
        rows = list(read_manifest(args.manifest))
        for row in ("wise_plus", "wise_whisper_previous", "wise_whisper_layers_2_4",
                    "wise_whisper_layers_2_4_short_window"):
            model = Path(args.runs) / row / "seed_0" / "fold_1" / "model.wise"
            if not model.is_file():
                print(f"{row}: no {model}, left out", flush=True)
                continue
            try:
                p = Predictor(model)
            except WiseError as e:                     # made by an older version
                print(f"{row}: {e.message}, left out", flush=True)
                continue
            tests = {json.loads(line)["id"] for line in
                     open(model.parent / "predictions.jsonl", encoding="utf-8")}
            held_out = [u for u in rows if u.id in tests][:args.n]
            p.predict(held_out[0].audio)                               # warm-up
            stages: dict[str, list[float]] = {}
            for u in held_out:
                x = load_audio(u.audio)[:int(SECONDS * 16000)]
                x = np.pad(x, (0, int(SECONDS * 16000) - len(x)))
                r = p.predict(x, sample_rate=16000, name=u.id)
                for k, v in r.seconds.items():
                    stages.setdefault(k, []).append(v)
            result["predict"][row] = {"frames": p.features.frames,
                                      **{k: round(float(np.median(v)), 4)
                                         for k, v in stages.items()}}
            print(row, result["predict"][row], flush=True)
    if {"wise_plus", "wise_whisper"} <= set(result["predict"]):
        result["encoder_adds_to_predict"] = round(
            result["predict"]["wise_whisper"]["features"]
            - result["predict"]["wise_plus"]["features"], 4)
    atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
