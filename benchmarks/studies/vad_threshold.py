"""Which speech probability Silero VAD must reach for the timeline to call a frame speech
(`TimelineOptions.vad_threshold`), chosen on the cuts alone, without labels and without the
held-out actors.

    python benchmarks/studies/vad_threshold.py RAVDESS_DIR [--thresholds 0.5 0.4 0.3 0.2]

Every clip of the bundled model's training actors (Actor_09 to Actor_22, 392 clips, 37 min)
joined in a seeded order with 1-3 s gaps, every other one digital silence and the rest faint
noise (`wise.testing.recordings.join_clips`), and once more with the gaps filled by pink noise
at -35 dBFS, louder than any room we expect. Each threshold cuts both recordings as the
timeline does (its `Segmenter`, a window at a time) and the cuts are scored against the
clips' places (`score_cuts`): clips missed, merged, split, phrases found in the gaps. No
prediction is made: this is the detector alone. Writes benchmarks/results/vad_threshold.json.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from wise import code_version
from wise.audio import stream_audio
from wise.fsutil import atomic_write_text
from wise.pretrained import HELD_OUT
from wise.testing import repo_root
from wise.testing.recordings import Placed, join_clips, score_cuts
from wise.timeline import Segmenter, TimelineOptions

SR = 16000
PINK_DBFS = -35.0


def fill_gaps(src: Path, dst: Path, placed: list[Placed], seed: int) -> None:
    """`src` with everything outside the clips replaced by pink noise at PINK_DBFS."""
    x, _ = sf.read(str(src), dtype="float32")
    rng = np.random.default_rng(seed)
    # Pink: white noise shaped by 1/sqrt(f) in the frequency domain.
    spec = np.fft.rfft(rng.standard_normal(len(x)))
    spec /= np.sqrt(np.maximum(np.arange(len(spec)), 1))
    pink = np.fft.irfft(spec, len(x)).astype(np.float32)
    pink *= 10 ** (PINK_DBFS / 20) / np.sqrt(np.mean(pink ** 2))
    inside = np.zeros(len(x), bool)
    for c in placed:
        inside[int(c.start * SR):int(c.end * SR)] = True
    sf.write(str(dst), np.where(inside, x, pink), SR)


def cut(path: Path, opts: TimelineOptions) -> list[tuple[float, float]]:
    seg, spans = Segmenter(opts, SR, step_s=opts.window_s), []
    for block in stream_audio(path, SR):
        spans += [(s / SR, (s + len(x)) / SR) for s, x in seg.push(block)]
    spans += [(s / SR, (s + len(x)) / SR) for s, x in seg.flush()]
    return spans


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ravdess", type=Path)
    ap.add_argument("--thresholds", type=float, nargs="+", default=[0.5, 0.4, 0.3, 0.2])
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--out", type=Path,
                    default=repo_root() / "benchmarks/results/vad_threshold.json")
    args = ap.parse_args()

    clips = [str(c) for a in sorted(args.ravdess.glob("Actor_*"))
             if a.name not in HELD_OUT for c in sorted(a.glob("*.flac"))]
    random.Random(args.seed).shuffle(clips)
    rows = []
    with tempfile.TemporaryDirectory(prefix="wise-vad-") as tmp:
        quiet, noisy = Path(tmp, "quiet.flac"), Path(tmp, "noisy.flac")
        placed = join_clips(clips, quiet, gaps_s=(1.0, 3.0), seed=args.seed)
        fill_gaps(quiet, noisy, placed, args.seed)
        for threshold in args.thresholds:
            opts = TimelineOptions(vad_threshold=threshold)
            for gaps, path in (("silence and faint noise", quiet),
                               (f"pink noise at {PINK_DBFS:.0f} dBFS", noisy)):
                rows.append({"threshold": threshold, "gaps": gaps,
                             **score_cuts(cut(path, opts), placed)})
                print(json.dumps(rows[-1]), flush=True)
    result = {"study": "vad_threshold", "code_version": code_version(),
              "command": " ".join(["python", "benchmarks/studies/vad_threshold.py",
                                   *sys.argv[1:]]),
              "clips": len(clips), "audio_min": round(placed[-1].end / 60, 1),
              "actors": "every actor but " + ", ".join(HELD_OUT), "rows": rows}
    atomic_write_text(args.out, json.dumps(result, indent=1) + "\n")
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
