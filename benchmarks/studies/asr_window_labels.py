"""What the short ASR window does to a model's labels: every dev clip predicted from its own
recognised words, once from Whisper's whole 30-s window and once from the short window.

    python benchmarks/studies/asr_window_labels.py RAVDESS_DIR --model M.wise [--out ...]

`--model`: a checkpoint whose features are not Whisper's 30-s-window frames (e.g. the paper's
WISE on MFCC frames, trained on the training actors only: `wise train --config wise` on a
manifest without the held-out actors), so that its recogniser decodes the short window
(docs/throughput.md). Every clip is predicted twice with no transcript, the recogniser forced
to the whole window for the first pass. Reported: clips with the same transcript and with the
same label, and UA on the held-out actors for each pass. Writes
benchmarks/results/asr_window_labels.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from wise import code_version
from wise.corpora.label_map import map_label
from wise.corpora.ravdess import parse_name
from wise.fsutil import atomic_write_text
from wise.labels import LABELS
from wise.metrics import scores
from wise.predict import Predictor
from wise.pretrained import HELD_OUT
from wise.testing import repo_root
from wise.testing.host import machine
from wise.testing.recordings import clips_of


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ravdess", type=Path)
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--out", type=Path,
                    default=repo_root() / "benchmarks/results/asr_window_labels.json")
    args = ap.parse_args()

    paths = [Path(c) for c in clips_of(args.ravdess)]
    p = Predictor(args.model)
    if p._recognizer.whole_window:
        sys.exit(f"error: {args.model}: reads the 30-s window's encoder frames, so its "
                 "recogniser always decodes the whole window")
    runs = {}
    for way in ("30s", "short"):
        p._recognizer.whole_window = way == "30s"
        runs[way] = [p.predict(path) for path in paths]
        print(way, p._recognizer.name, flush=True)
    truth = [map_label(parse_name(path.stem).emotion) for path in paths]
    held = [k for k, path in enumerate(paths) if path.parent.name in HELD_OUT]

    def ua(way: str) -> float:
        y = np.array([LABELS.index(truth[k]) for k in held])
        pred = np.array([LABELS.index(runs[way][k].label or "neu") for k in held])
        return round(scores(y, pred, LABELS)["ua"], 4)

    pairs = list(zip(runs["30s"], runs["short"], strict=True))
    result = {
        "study": "asr_window_labels", "code_version": code_version(),
        "machine": machine(platform=True),
        "command": " ".join(["python", "benchmarks/studies/asr_window_labels.py",
                             *sys.argv[1:]]),
        "model": args.model.name, "clips": len(paths),
        "same_transcript": sum(a.transcript == b.transcript for a, b in pairs),
        "same_label": sum(a.label == b.label for a, b in pairs),
        "no_label": {way: sum(r.label is None for r in rs) for way, rs in runs.items()},
        "held_out_ua": {"actors": list(HELD_OUT), "n": len(held),
                        "30s": ua("30s"), "short": ua("short")},
    }
    atomic_write_text(args.out, json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
