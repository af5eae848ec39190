"""Live, a phrase is cut as soon as the VAD has heard its pause, before the second of padding
after its speech has all been heard (`wise.timeline.Segmenter`, `live=True`): what the model
hears instead of the padding still to come, chosen without labels and without the held-out
actors, by how often a phrase gets the label its clip gets alone through `wise predict`.

    python benchmarks/studies/live_tail.py RAVDESS_DIR [--clips 48]

48 clips of the bundled model's training actors (Actor_09 to Actor_22, seeded draw) joined with
1-3 s gaps of silence and faint noise, fed to the live `Segmenter` a quarter second at a time,
and each cut predicted (not adapted) with the padding not yet heard
- `silent`: completed with digital silence (what live mode does);
- `left out`: the heard audio only;
- `reflected`: completed with the cut's own end played backwards (numpy's `symmetric` pad);
and, for reference, the same recording cut as a file (`wise.timeline`, which waits for the
whole padding). Writes benchmarks/results/live_tail.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from wise import code_version
from wise.audio import stream_audio
from wise.fsutil import atomic_write_text
from wise.predict import Predictor
from wise.pretrained import HELD_OUT
from wise.testing import repo_root
from wise.testing.recordings import Placed, clips_of, clips_under, join_clips
from wise.timeline import Phrase, Segmenter, TimelineOptions, timeline

SR = 16000
TAILS = {
    "silent": lambda c: c.samples,
    "left out": lambda c: c.samples[:c.length],
    "reflected": lambda c: np.pad(c.samples[:c.length], (0, len(c.samples) - c.length),
                                  mode="symmetric"),
}

def agreement(spans, predictions, placed: list[Placed], alone: dict) -> dict:
    """How often a phrase that touches one clip gets that clip's label alone."""
    same, diffs = 0, []
    for (a, b), p in zip(spans, predictions, strict=True):
        ks = clips_under(placed, a, b)
        if len(ks) != 1 or p.status != "ok":
            continue
        r = alone[placed[ks[0]].clip]
        same += r.label == p.label
        diffs.append(abs(r.probabilities[r.label] - p.probabilities[r.label]))
    return {"phrases_on_one_clip": len(diffs), "same_label": same,
            "mean_abs_probability_difference": round(float(np.mean(diffs)), 3)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ravdess", type=Path)
    ap.add_argument("--clips", type=int, default=48)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path,
                    default=repo_root() / "benchmarks/results/live_tail.json")
    args = ap.parse_args()

    clips = clips_of(args.ravdess, n=args.clips, seed=args.seed, exclude=HELD_OUT)
    model, opts = Predictor(), TimelineOptions()
    alone = {c: model.predict(c) for c in clips}
    rows = []
    with tempfile.TemporaryDirectory(prefix="wise-tail-") as tmp:
        path = Path(tmp, "joined.flac")
        placed = join_clips(clips, path, gaps_s=(1.0, 3.0), seed=args.seed)
        found = [i for i in timeline(path, model, adapt=False) if isinstance(i, Phrase)]
        rows.append({"cut": "file (the whole padding heard)",
                     **agreement([(p.start, p.end) for p in found],
                                 [p.prediction for p in found], placed, alone)})
        print(json.dumps(rows[-1]), flush=True)
        x = np.concatenate(list(stream_audio(path, SR)))
        live, cuts = Segmenter(opts, SR, step_s=0.25, live=True), []
        for i in range(0, len(x), SR // 4):
            cuts += live.push(x[i:i + SR // 4])
        cuts += live.flush()
        spans = [(c.first / SR, (c.first + c.length) / SR) for c in cuts]
        completed = sum(c.length < len(c.samples) for c in cuts)
        for name, tail in TAILS.items():
            predictions = [model.predict(tail(c), sample_rate=SR) for c in cuts]
            rows.append({"cut": f"live, padding not yet heard {name}",
                         "cuts_completed": completed,
                         **agreement(spans, predictions, placed, alone)})
            print(json.dumps(rows[-1]), flush=True)
    result = {"study": "live_tail", "code_version": code_version(),
              "command": " ".join(["python", "benchmarks/studies/live_tail.py",
                                   *sys.argv[1:]]),
              "clips": args.clips, "actors": "every actor but " + ", ".join(HELD_OUT),
              "rows": rows}
    atomic_write_text(args.out, json.dumps(result, indent=1) + "\n")
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
