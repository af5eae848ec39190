"""Held-out speakers through `wise predict`'s path: no transcript, and with or without speaker
adaptation.

For every fold of finished `benchmarks/real_speech.py` runs (one seed), the fold's checkpoint
predicts its own held-out speakers' clips the way a user's recordings are predicted: audio
only, the transcript from the default recogniser, forced alignment, features, model. Each test
speaker is either adapted to (`Predictor.adapt_speaker` with all of that speaker's clips:
statistics of the audio, no labels) or not (the training speakers' average statistics), and
the fold's UA is compared with the classic baseline's on the same fold.

    python benchmarks/real_speech_predict.py --manifest ravdess-dev.jsonl --runs runs/real-speech

Writes benchmarks/results/real_speech_predict_ROW_seedS.json; `--combine` pools the finished
seeds into real_speech_predict_ROW.json (paired intervals over every (seed, fold)).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from wise import LABELS, code_version  # noqa: E402
from wise.errors import WiseError  # noqa: E402
from wise.fsutil import atomic_write_text  # noqa: E402
from wise.predict import Predictor  # noqa: E402
from wise.utterance import read_manifest  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def fold_tests(run_dir: Path) -> dict[str, list[str]]:
    """fold folder -> test utterance ids, from the run's per-fold predictions."""
    out = {}
    for fold in sorted(run_dir.glob("fold_*")):
        with open(fold / "predictions.jsonl", encoding="utf-8") as f:
            out[fold.name] = [json.loads(line)["id"] for line in f if line.strip()]
    return out


def fold_ua(run_dir: Path) -> dict[str, float]:
    return {f"fold_{f['fold']}": float(f["ua"]) for f in
            json.loads((run_dir / "summary.json").read_text())["folds"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--runs", default="runs/real-speech")
    ap.add_argument("--row", default="wise_plus")
    ap.add_argument("--baseline", default="egemaps_svm")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=0, help="clips per fold (0: all)")
    ap.add_argument("--combine", action="store_true",
                    help="only pool the finished seeds' files of --row into one summary")
    args = ap.parse_args()
    if args.combine:
        return combine(args.row)
    t0 = time.perf_counter()
    rows = {u.id: u for u in read_manifest(args.manifest)}
    run_dir = Path(args.runs) / args.row / f"seed_{args.seed}"
    base = fold_ua(Path(args.runs) / args.baseline / f"seed_{args.seed}")
    result: dict = {"row": args.row, "baseline": args.baseline, "seed": args.seed,
                    "manifest": args.manifest, "code_version": code_version(), "folds": {}}
    for fold, ids in fold_tests(run_dir).items():
        ids = ids[:args.limit] if args.limit else ids
        by_speaker: dict[str, list[str]] = {}
        for i in ids:
            by_speaker.setdefault(rows[i].speaker, []).append(i)
        per = {"baseline_ua": base[fold], "n": len(ids)}
        for adapt in (False, True):
            p = Predictor(run_dir / fold / "model.wise")
            y_true, y = [], []
            for mine in by_speaker.values():
                if adapt:
                    p.adapt_speaker([rows[i].audio for i in mine])
                for i in mine:
                    y_true.append(LABELS.index(rows[i].label))
                    try:
                        r = p.predict(rows[i].audio)          # no transcript: ASR
                        y.append(LABELS.index(r.label) if r.label else -1)
                    except WiseError:                          # counted wrong
                        y.append(-1)
            t, y = np.array(y_true), np.array(y)
            # A failed clip (-1) is wrong for its class (no confusion-matrix column for it).
            ua = np.mean([np.mean(y[t == c] == c) for c in sorted(set(y_true))])
            key = "adapted" if adapt else "unadapted"
            per[f"{key}_ua"] = round(float(ua), 4)
            per[f"{key}_failed"] = int(sum(v < 0 for v in y))
        result["folds"][fold] = per
        print(fold, per, flush=True)
    summarize(result, list(result["folds"].values()))
    result["seconds"] = round(time.perf_counter() - t0, 1)
    RESULTS.mkdir(exist_ok=True)
    atomic_write_text(RESULTS / f"real_speech_predict_{args.row}_seed{args.seed}.json",
                      json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "folds"}, indent=2))
    return 0


def summarize(out: dict, folds: list[dict]) -> None:
    """Mean UA per condition and its paired difference from the baseline over `folds`, with
    the 95% t-interval over those (seed, fold) pairs."""
    for key in ("adapted_ua", "unadapted_ua"):
        d = np.array([f[key] - f["baseline_ua"] for f in folds])
        half = float(stats.t.ppf(0.975, len(d) - 1)) * float(d.std(ddof=1)) / math.sqrt(len(d))
        out[key] = round(float(np.mean([f[key] for f in folds])), 4)
        out[f"{key}_vs_baseline"] = {"n_pairs": len(d), "mean": round(float(d.mean()), 4),
                                     "ci95": [round(float(d.mean()) - half, 4),
                                              round(float(d.mean()) + half, 4)]}
    out["baseline_ua"] = round(float(np.mean([f["baseline_ua"] for f in folds])), 4)


def combine(row: str) -> int:
    """real_speech_predict_ROW.json from every finished seed's file: all (seed, fold) pairs."""
    seeds = sorted(RESULTS.glob(f"real_speech_predict_{row}_seed*.json"))
    if not seeds:
        raise SystemExit(f"no real_speech_predict_{row}_seed*.json in {RESULTS}")
    runs = [json.loads(p.read_text()) for p in seeds]
    out = {"row": row, "seeds": [r["seed"] for r in runs], "baseline": runs[0]["baseline"],
           "manifest": runs[0]["manifest"], "code_version": code_version()}
    summarize(out, [f for r in runs for f in r["folds"].values()])
    atomic_write_text(RESULTS / f"real_speech_predict_{row}.json",
                      json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
