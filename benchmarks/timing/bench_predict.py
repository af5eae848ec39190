"""End-to-end latency of `predict` on real (synthetic) speech, with and without ASR.

    python benchmarks/timing/bench_predict.py --model M.wise --manifest M.jsonl [--session Ses01]
        [--n 40] [--long 10] [--asr whisper|pocketsphinx] [--out predict.json]

Takes `--n` utterances of one session (use a fold's model whose test session it is, so the
model has not seen them) and `--long` longer clips made by joining 3-8 of them (about 10-30 s,
transcripts joined likewise), and times `Predictor.predict` on each, warm (after one
warm-up call), once with the transcript given and once without (ASR makes it). Reports
seconds per second of audio (median, p90), per-stage times, the cold start (load the
checkpoint, first prediction), and the wall time of one `wise predict` process. Writes
benchmarks/results/predict.json (or `--out`).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
import soundfile as sf
import torch

from wise import code_version
from wise.audio import load_audio
from wise.predict import Predictor
from wise.utterance import read_manifest

RESULTS = Path(__file__).resolve().parents[1] / "results"


def _stats(values: list[float]) -> dict:
    v = np.array(values)
    return {"median": round(float(np.median(v)), 4), "p90": round(float(np.quantile(v, 0.9)), 4),
            "mean": round(float(v.mean()), 4)}


def _run(p: Predictor, clips: list[tuple[str, str, float]], with_text: bool) -> dict:
    per_second, latency, stages = [], [], {}
    for path, text, seconds in clips:
        t = time.perf_counter()
        r = p.predict(path, text=text if with_text else None)
        dt = time.perf_counter() - t
        latency.append(dt)
        per_second.append(dt / seconds)
        for k, v in r.seconds.items():
            stages.setdefault(k, []).append(v / seconds)
    return {"clips": len(clips), "audio_seconds": _stats([c[2] for c in clips]),
            "latency_seconds": _stats(latency),
            "seconds_per_audio_second": _stats(per_second),
            "stage_seconds_per_audio_second_median": {k: round(float(np.median(v)), 5)
                                                      for k, v in stages.items()}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--session", default="Ses01")
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--long", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--asr", choices=("whisper", "pocketsphinx"), default="whisper")
    ap.add_argument("--out", type=Path, default=RESULTS / "predict.json")
    args = ap.parse_args()

    rows = [u for u in read_manifest(args.manifest) if u.session == args.session][:args.n]
    short = [(u.audio, u.text, float(u.duration)) for u in rows]
    rng = np.random.default_rng(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="bench-predict-"))
    long = []
    for k in range(args.long):
        pick = rng.choice(len(rows), size=min(len(rows), int(rng.integers(3, 9))),
                          replace=False)
        gap = np.zeros(4000, np.float32)                 # 0.25 s of silence between them
        x = np.concatenate([np.concatenate([load_audio(rows[i].audio), gap]) for i in pick])
        path = tmp / f"long{k}.wav"
        sf.write(path, x, 16000)
        long.append((str(path), " ".join(rows[i].text for i in pick), len(x) / 16000))

    load0 = psutil.getloadavg()
    t = time.perf_counter()
    p = Predictor(args.model, asr=args.asr)
    t_load = time.perf_counter() - t
    t = time.perf_counter()
    p.predict(short[0][0])                      # first call: loads the aligner and recogniser
    t_first = time.perf_counter() - t

    result = {
        "cores": psutil.cpu_count(), "cpu": platform.processor() or platform.machine(),
        "torch_threads": torch.get_num_threads(), "code_version": code_version(),
        "model": args.model, "model_name": p.name, "recognizer": p.asr_name,
        "load_average_at_start": list(load0),
        "cold_start": {"load_checkpoint_seconds": round(t_load, 3),
                       "first_prediction_with_asr_seconds": round(t_first, 3)},
    }
    for name, clips in (("short", short), ("long", long)):
        result[name] = {"with_transcript": _run(p, clips, True),
                        "with_asr": _run(p, clips, False)}
    # The whole command, as a user runs it once: interpreter, imports, load, one prediction.
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "wise.cli", "predict", args.model, short[1][0],
                    "--json", "--asr", args.asr], check=True, capture_output=True)
    result["cli_one_file_with_asr_wall_seconds"] = round(time.perf_counter() - t, 2)
    result["load_average_at_end"] = list(psutil.getloadavg())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
