"""Workers or threads: how `wise predict` should spend this machine's cores on many clips, and
what a lone clip waits.

    python benchmarks/timing/bench_threads.py RAVDESS_DIR [--clips 64] [--repeats 2]
        [--model CHECKPOINT]

`--clips` dev clips (seeded draw), no transcripts, every process a whole `wise predict --json`
(start-up included), on all the cores this process may use, taking turns `--repeats` times:

- `workers W, threads 1`: W processes (W = the cores), each with a one-thread Whisper;
- `workers 1, threads T`: one process whose Whisper computes with T threads (T = the cores);
- `workers 1, threads 1`: the baseline.

For each: wall seconds (median over the repeats) and, from the one-process runs, the median
seconds a clip took inside the process (its `seconds.total`: what a lone request waits, the
start-up left out). Run for the bundled model and, with `--model`, for a checkpoint of your
own (e.g. the paper's WISE on MFCC frames, whose transcription decodes a short window).
Writes benchmarks/results/threads.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
from bench_throughput import clip_arguments, command_line, predict_command, stage_seconds

from wise import code_version
from wise.fsutil import atomic_write_text
from wise.testing.host import machine
from wise.testing.recordings import clips_of


def timed(cmd: list[str]) -> tuple[float, list[float]]:
    """Wall seconds of `cmd` as a whole process, and each clip's seconds inside it."""
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    return wall, [s["total"] for s in stage_seconds(r.stdout) if "total" in s]


def main() -> int:
    args = clip_arguments(__doc__, "threads.json")
    cores = len(os.sched_getaffinity(0))
    clips = clips_of(args.ravdess, n=args.clips, seed=args.seed)
    splits = {f"workers {cores}, threads 1": (cores, 1), f"workers 1, threads {cores}": (1, cores),
              "workers 1, threads 1": (1, 1)}
    models = {"bundled": None} | ({} if args.model is None else {args.model.name: args.model})
    walls: dict[str, dict[str, list[float]]] = {}
    inside: dict[str, dict[str, list[float]]] = {}
    for rep in range(args.repeats):
        for model, model_path in models.items():
            for split, (workers, threads) in splits.items():
                wall, per_clip = timed(predict_command(clips, model_path, "--workers",
                                                       str(workers), "--threads", str(threads)))
                walls.setdefault(model, {}).setdefault(split, []).append(round(wall, 2))
                if workers == 1 and rep == 0:
                    inside.setdefault(model, {})[split] = per_clip
                print(model, split, round(wall, 2), flush=True)

    result = {
        "benchmark": "bench_threads", "code_version": code_version(),
        "machine": machine(platform=True), "cores": cores,
        "command": command_line("benchmarks/timing/bench_threads.py"),
        "clips": len(clips),
        "models": {model: {
            split: {"runs_s": runs, "median_s": round(float(np.median(runs)), 2),
                    **({"clip_median_ms": round(1000 * float(np.median(inside[model][split])),
                                                1)} if split in inside[model] else {})}
            for split, runs in by_split.items()} for model, by_split in walls.items()},
    }
    atomic_write_text(args.out, json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
