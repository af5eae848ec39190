"""How much audio to keep around an utterance cut from a recording (`TimelineOptions.
speech_pad_s`), chosen without labels and without the held-out actors: the padding with which a
cut utterance gets the label its clip gets alone through `wise predict`.

    python benchmarks/studies/timeline_pad.py RAVDESS_DIR [--pads 0.2 0.5 0.8 1.0 1.5]

48 clips of the bundled model's training actors (Actor_09 to Actor_22, seeded draw) joined with
1-3 s gaps of silence and faint noise; each padding runs `wise.timeline` (not adapted) on it,
and every phrase that touches one clip is compared with that clip predicted alone: same label
or not, and the mean absolute difference of the clip-alone label's probability. Writes
benchmarks/results/timeline_pad.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from wise import code_version
from wise.fsutil import atomic_write_text
from wise.predict import Predictor
from wise.pretrained import HELD_OUT
from wise.testing import repo_root
from wise.testing.recordings import clips_of, clips_under, join_clips
from wise.timeline import Phrase, timeline


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ravdess", type=Path)
    ap.add_argument("--pads", type=float, nargs="+", default=[0.2, 0.5, 0.8, 1.0, 1.5])
    ap.add_argument("--clips", type=int, default=48)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path,
                    default=repo_root() / "benchmarks/results/timeline_pad.json")
    args = ap.parse_args()

    clips = clips_of(args.ravdess, n=args.clips, seed=args.seed, exclude=HELD_OUT)
    model = Predictor()
    alone = {c: model.predict(c) for c in clips}
    rows = []
    with tempfile.TemporaryDirectory(prefix="wise-pad-") as tmp:
        path = Path(tmp, "joined.flac")
        placed = join_clips(clips, path, gaps_s=(1.0, 3.0), seed=args.seed)
        for pad in args.pads:
            found = [i for i in timeline(path, model, adapt=False, speech_pad_s=pad)
                     if isinstance(i, Phrase)]
            same, diffs = 0, []
            for p in found:
                ks = clips_under(placed, p.start, p.end)
                if len(ks) != 1:
                    continue
                r = alone[placed[ks[0]].clip]
                same += r.label == p.label
                diffs.append(abs(r.probabilities[r.label] - p.prediction.probabilities[r.label]))
            rows.append({"pad_s": pad, "phrases_on_one_clip": len(diffs), "same_label": same,
                         "mean_abs_probability_difference": round(float(np.mean(diffs)), 3)})
            print(json.dumps(rows[-1]), flush=True)
    result = {"study": "timeline_pad", "code_version": code_version(),
              "command": " ".join(["python", "benchmarks/studies/timeline_pad.py",
                                   *sys.argv[1:]]),
              "clips": args.clips, "actors": "every actor but " + ", ".join(HELD_OUT),
              "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(result, indent=1) + "\n")
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
