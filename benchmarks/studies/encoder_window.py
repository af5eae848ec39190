"""The bundled config on the frames of the short window against the 30-s window's: does reading
the encoder pass the recogniser decodes a short clip from cost the model its ear?

    python benchmarks/studies/encoder_window.py [--runs runs/real-speech-v2]

Reads what two finished studies wrote for `wise_whisper_previous` (the config shipped then:
the encoder's last layer, the 30-s window; `wise_whisper` when these runs were made) and for the
same config on a shorter window: `wise_whisper_short_window` (`encoder_window: clip+7s`, the
first try) and `wise_whisper_short_window_15s` (`clip+15s`, the second and last), all on the
same folds and seeds:
- through `wise predict`'s path with no transcript, each held-out clip alone and adapted to its
  speaker: benchmarks/results/real_speech_predict_ROW_seedS.json
  (`benchmarks/studies/real_speech_predict.py`), the comparison the rule in docs/throughput.md
  decides on;
- cross-validation with the transcripts given: RUNS/ROW/summary.json
  (`benchmarks/studies/real_speech.py`), for the record.
For each, UA of the short window minus the 30-s window's over the (seed, fold) pairs, mean and
95% interval corrected for the overlap of the training sets (`wise.stats.paired_difference`),
and the rule's verdict for each window; the shortest window that passes ships. Writes
benchmarks/results/encoder_window.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from real_speech import load_row

from wise import code_version
from wise.fsutil import atomic_write_text
from wise.stats import paired_difference, run_scores, test_over_train
from wise.testing import repo_root

RESULTS = repo_root() / "benchmarks" / "results"
WHOLE = "wise_whisper_previous"       # the 30-s window: the config shipped when this ran
SHORT = {"wise_whisper_short_window": "clip+7s", "wise_whisper_short_window_15s": "clip+15s"}
SEEDS, FOLDS = 3, 4
LARGEST_LOSS = 0.010        # the registered rule: each mean difference at least -LARGEST_LOSS


def predict_path(row: str) -> tuple[dict, float]:
    """(seed, fold) -> that fold's record, through the predict path, and the folds' mean
    test/train ratio (the cv run's)."""
    folds = {}
    for seed in range(SEEDS):
        path = RESULTS / f"real_speech_predict_{row}_seed{seed}.json"
        if not path.is_file():
            raise SystemExit(f"{path}: missing (run benchmarks/studies/real_speech_predict.py "
                             f"--row {row} --seed {seed})")
        for name, f in json.loads(path.read_text())["folds"].items():
            folds[seed, name] = f
    return folds, float(np.mean([f["n_test"] / f["n_train"] for f in folds.values()]))


def rounded(d: dict | None) -> dict | None:
    return None if d is None else {**d, "mean": round(d["mean"], 4),
                                   "ci95": [round(x, 4) for x in d["ci95"]]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=Path, default=Path("runs/real-speech-v2"),
                    help="the real_speech.py --out folder holding both rows' cv runs")
    args = ap.parse_args()
    out: dict = {"whole": WHOLE,
                 "rule": f"a shorter window if both predict-path mean differences >= "
                         f"-{LARGEST_LOSS:.3f} (registered in docs/throughput.md); the "
                         f"shortest that passes ships",
                 "code_version": code_version(), "windows": {}}
    whole, ratio = predict_path(WHOLE)
    cv_whole = load_row(args.runs, WHOLE, SEEDS, FOLDS)
    for row, window in SHORT.items():
        short, _ = predict_path(row)
        r: dict = {"row": row, "predict_path": {}}
        for key in ("unadapted_ua", "adapted_ua"):
            a = {k: f[key] for k, f in short.items()}
            b = {k: f[key] for k, f in whole.items()}
            failed = key.replace("_ua", "_failed")
            r["predict_path"][key] = {
                "whole": round(float(np.mean(list(b.values()))), 4),
                "short": round(float(np.mean(list(a.values()))), 4),
                "short_minus_whole": rounded(paired_difference(a, b, ratio)),
                "failed": {"whole": sum(f[failed] for f in whole.values()),
                           "short": sum(f[failed] for f in short.values())}}
        r["passes"] = all(v["short_minus_whole"]["mean"] >= -LARGEST_LOSS
                          for v in r["predict_path"].values())
        cv_short = load_row(args.runs, row, SEEDS, FOLDS)
        if cv_whole and cv_short:
            r["cv_transcripts_given"] = {}
            for key in ("ua_unadapted", "ua"):
                a, b = run_scores(cv_short, key), run_scores(cv_whole, key)
                r["cv_transcripts_given"][key] = {
                    "whole": round(float(np.mean(list(b.values()))), 4),
                    "short": round(float(np.mean(list(a.values()))), 4),
                    "short_minus_whole": rounded(paired_difference(
                        a, b, test_over_train(cv_whole)))}
        out["windows"][window] = r
    out["ships"] = next((w for w, r in out["windows"].items() if r["passes"]), "30s")
    atomic_write_text(RESULTS / "encoder_window.json", json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
