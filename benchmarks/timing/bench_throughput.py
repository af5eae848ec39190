"""`wise predict` over many short clips against the plainest way to transcribe them, in one run:
the ratio of their times survives a machine whose speed varies between runs.

    python benchmarks/timing/bench_throughput.py RAVDESS_DIR [--clips 64] [--repeats 2]
        [--model CHECKPOINT]

`--clips` dev clips (seeded draw). Two whole processes, both pinned to the same one CPU, taking
turns `--repeats` times:

- `reference`: a script that loads Whisper tiny.en (the bundled CTranslate2 model, int8, one
  thread) with faster-whisper and runs `transcribe` on each clip (greedy, English, word
  times), nothing else;
- `wise predict`: `wise predict --workers 1 --json` on the same clips, no transcripts: ASR,
  forced alignment, features and the bundled model (it reads the encoder frames of the
  30-s window its transcription decoded);
- `wise predict --model`: the same with `--model CHECKPOINT` when given, e.g. the paper's WISE
  on MFCC frames (`wise train --config wise ...`), whose transcription decodes a short window.

Reports each process's wall time (start-up included; median over the repeats), the ratio of
each `wise predict` to the reference, and the per-stage medians from its JSON. Writes
benchmarks/results/throughput.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from wise import code_version
from wise.align.whisper import bundled_model_dir
from wise.fsutil import atomic_write_text
from wise.testing import repo_root
from wise.testing.host import machine
from wise.testing.recordings import clips_of

REFERENCE = """
import sys
from faster_whisper import WhisperModel
m = WhisperModel(sys.argv[1], device="cpu", compute_type="int8", cpu_threads=1)
for path in sys.argv[2:]:
    segments, _ = m.transcribe(path, language="en", beam_size=1, word_timestamps=True)
    print(" ".join(s.text for s in segments), flush=True)
"""


def timed(cmd: list[str], cpu: int) -> tuple[float, str]:
    """Wall seconds of `cmd` as a whole process pinned to `cpu`, and its stdout."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True,
                       preexec_fn=lambda: os.sched_setaffinity(0, {cpu}))
    return time.perf_counter() - t0, r.stdout


def clip_arguments(doc: str, results: str) -> argparse.Namespace:
    """The command line of a benchmark that runs whole `wise predict` processes over a seeded
    draw of dev clips (this one and bench_threads.py); `results`: the default JSON's name."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("ravdess", type=Path)
    ap.add_argument("--clips", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", type=Path, help="also time `wise predict --model` with it")
    ap.add_argument("--out", type=Path, default=repo_root() / "benchmarks/results" / results)
    return ap.parse_args()


def predict_command(clips: list[str], model: Path | None, *options: str) -> list[str]:
    """`wise predict --json --quiet [--model M] OPTIONS CLIPS` as this Python runs it."""
    chosen = [] if model is None else ["--model", str(model)]
    return [sys.executable, "-m", "wise.cli", "predict", *chosen, "--json", "--quiet",
            *options, *clips]


def stage_seconds(stdout: str) -> list[dict[str, float]]:
    """Each result line's seconds per stage (a file that failed has none)."""
    return [json.loads(line).get("seconds", {}) for line in stdout.splitlines()]


def command_line(script: str) -> str:
    """How this benchmark was run, with absolute paths cut to their names."""
    return " ".join(["python", script, *(Path(a).name if a.startswith("/") else a
                                         for a in sys.argv[1:])])


def main() -> int:
    args = clip_arguments(__doc__, "throughput.json")
    clips = clips_of(args.ravdess, n=args.clips, seed=args.seed)
    cpu = min(os.sched_getaffinity(0))
    runs: dict[str, list[float]] = {}
    stages: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="wise-throughput-") as tmp:
        script = Path(tmp, "reference.py")
        script.write_text(REFERENCE)
        reference = [sys.executable, str(script), str(bundled_model_dir()), *clips]
        procs = {"reference": reference, "wise": predict_command(clips, None, "--workers", "1")}
        if args.model is not None:
            procs["wise_model"] = predict_command(clips, args.model, "--workers", "1")
        for rep in range(args.repeats):
            for name, cmd in procs.items():
                seconds, out = timed(cmd, cpu)
                runs.setdefault(name, []).append(round(seconds, 2))
                if name != "reference" and rep == 0:
                    for clip in stage_seconds(out):
                        for stage, v in clip.items():
                            stages.setdefault(name, {}).setdefault(stage, []).append(v)
                print(name, round(seconds, 2), flush=True)
    median = {k: round(float(np.median(v)), 2) for k, v in runs.items()}
    result = {
        "benchmark": "bench_throughput", "code_version": code_version(),
        "machine": machine(platform=True),
        "command": command_line("benchmarks/timing/bench_throughput.py"),
        "clips": len(clips), "model": None if args.model is None else args.model.name,
        "runs_s": runs, "median_s": median,
        "ratio_to_reference": {k: round(median[k] / median["reference"], 3)
                               for k in stages},
        "stage_median_ms": {k: {stage: round(1000 * float(np.median(v)), 1)
                                for stage, v in by_stage.items()}
                            for k, by_stage in stages.items()},
    }
    atomic_write_text(args.out, json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
