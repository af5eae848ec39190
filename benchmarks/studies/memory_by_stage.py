"""Which stage of a prediction holds on to memory: each stage run alone over many different
real clips, resident memory measured after glibc has handed back what it can (`malloc_trim`).

    python benchmarks/studies/memory_by_stage.py RAVDESS_DIR [--clips 180]

Stages, each in a fresh process: `vad` (Silero VAD as the timeline runs it), `asr` (Whisper
tiny.en), `align` (pocketsphinx forced alignment of the clip's own sentence), `features` (the
bundled model's frames and functionals), `predict` (all of it). After 20 warm-up clips, the
growth over `--clips` more, in MB. What loads once on first use is loaded in the warm-up
(the VAD that the aligner asks before its rare wide-beam retry, as the timeline has it loaded
from its first window), so that what is left is growth with the number of clips. Writes
benchmarks/results/memory_by_stage.json.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import subprocess
import sys
from pathlib import Path

STAGES = ("vad", "asr", "align", "features", "predict")


def growth(stage: str, ravdess: Path, n: int) -> float:
    """MB of resident memory `stage` keeps over `n` clips after 20 to warm up."""
    import numpy as np
    import psutil

    from wise.audio import load_audio
    from wise.corpora.ravdess import parse_name
    from wise.predict import Predictor
    from wise.testing.recordings import clips_of

    libc, me = ctypes.CDLL("libc.so.6"), psutil.Process()

    def rss() -> float:
        libc.malloc_trim(0)
        return me.memory_info().rss / 2**20

    paths = clips_of(ravdess, n=20 + n, seed=0)
    clips = [(load_audio(p), parse_name(Path(p).stem).statement) for p in paths]
    m = Predictor()
    m.warm_up()
    from wise.align.vad import speech_seconds

    speech_seconds(clips[0][0])
    if stage == "vad":
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        pad = np.zeros(16000, np.float32)
        options = VadOptions(min_silence_duration_ms=500, speech_pad_ms=1000)

        def run(x, _):
            get_speech_timestamps(np.concatenate([pad, x, pad]), options)
    elif stage == "asr":
        def run(x, _):
            m._recognizer.recognize(x)
    elif stage == "align":
        aligner = m._aligner_tool()

        def run(x, text):
            aligner.align(x, text)
    elif stage == "features":
        def run(x, _):
            m.audio_features(x)
    else:
        def run(x, _):
            m.predict(x, sample_rate=16000)
    for x, text in clips[:20]:
        run(x, text)
    base = rss()
    for x, text in clips[20:]:
        run(x, text)
    return round(rss() - base, 1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ravdess", type=Path)
    ap.add_argument("--clips", type=int, default=180)
    ap.add_argument("--stage", choices=STAGES, help=argparse.SUPPRESS)  # one, in a child
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    if args.stage:
        print(json.dumps(growth(args.stage, args.ravdess, args.clips)))
        return 0
    from wise import code_version
    from wise.fsutil import atomic_write_text
    from wise.testing import repo_root

    rows = []
    for stage in STAGES:
        out = subprocess.run([sys.executable, __file__, str(args.ravdess), "--clips",
                              str(args.clips), "--stage", stage], check=True,
                             capture_output=True, text=True).stdout.strip().splitlines()[-1]
        rows.append({"stage": stage, "clips": args.clips, "growth_mb": float(out)})
        print(json.dumps(rows[-1]), flush=True)
    path = args.out or repo_root() / "benchmarks/results/memory_by_stage.json"
    atomic_write_text(path, json.dumps({"study": "memory_by_stage",
                                        "code_version": code_version(),
                                        "command": " ".join(["python",
                                                             "benchmarks/studies/"
                                                             "memory_by_stage.py",
                                                             *sys.argv[1:]]),
                                        "rows": rows}, indent=1) + "\n")
    print(f"-> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
