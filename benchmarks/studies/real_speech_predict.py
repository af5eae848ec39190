"""Held-out speakers through `wise predict`'s path: no transcript, and with or without speaker
adaptation.

For every fold of finished `benchmarks/studies/real_speech.py` runs (one seed), the fold's
checkpoint predicts its own held-out speakers' clips the way a user's recordings are predicted:
audio only, the transcript from the default recogniser, forced alignment, features, model. Each
test speaker is either adapted to (`Predictor.adapt_speaker` with all of that speaker's clips:
statistics of the audio, no labels) or not (the training speakers' average statistics), and
the fold's UA is compared with the classic baseline's on the same fold: the mean paired
difference and its 95% interval corrected for cross-validation's overlapping training sets
(`wise.stats.paired_difference`, with the cv run's n_test/n_train).

    python benchmarks/studies/real_speech_predict.py --manifest ravdess-dev.jsonl \
        --runs runs/real-speech

Reads RUNS/ROW/seed_S/fold_K/ (the layout of `wise cv --seeds` runs and of the older one-run-
per-seed ones alike). Writes benchmarks/results/real_speech_predict_ROW_seedS.json; `--combine`
pools the finished seeds into real_speech_predict_ROW.json (paired intervals over every
(seed, fold)).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from wise import LABELS, code_version
from wise.errors import WiseError
from wise.fsutil import atomic_write_text
from wise.predict import Predictor
from wise.stats import paired_difference
from wise.utterance import read_manifest

RESULTS = Path(__file__).resolve().parents[1] / "results"


def seed_folds(row_dir: Path, seed: int) -> dict[str, Path]:
    """fold folder name -> folder, for one seed of a row's cv runs: ROW/seed_S/fold_K, where
    both `wise cv --seeds` and the older one run per seed (`--out ROW/seed_S`) put them."""
    folds = sorted((row_dir / f"seed_{seed}").glob("fold_*"),
                   key=lambda p: int(p.name.split("_")[1]))
    if not folds:
        raise SystemExit(f"no {row_dir}/seed_{seed}/fold_* folders")
    return {p.name: p for p in folds}


def fold_tests(row_dir: Path, seed: int) -> dict[str, list[str]]:
    """fold folder -> test utterance ids, from the run's per-fold predictions."""
    out = {}
    for name, fold in seed_folds(row_dir, seed).items():
        with open(fold / "predictions.jsonl", encoding="utf-8") as f:
            out[name] = [json.loads(line)["id"] for line in f if line.strip()]
    return out


def fold_metrics(row_dir: Path, seed: int) -> dict[str, dict]:
    """fold folder -> its metrics.json (UA, n, n_train, ...)."""
    return {name: json.loads((fold / "metrics.json").read_text())
            for name, fold in seed_folds(row_dir, seed).items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--runs", default="runs/real-speech",
                    help="the real_speech.py --out folder (RUNS/ROW/seed_S/fold_K)")
    ap.add_argument("--row", default="wise_plus")
    ap.add_argument("--baseline", default="egemaps_svm",
                    help="the row the unadapted condition is compared with")
    ap.add_argument("--adapted-baselines", nargs="*", default=[],
                    help="rows the adapted condition is compared with as well (rows normalised "
                         "per speaker, e.g. egemaps_svm_speaker whisper_probe_speaker)")
    ap.add_argument("--unadapted-baselines", nargs="*", default=[],
                    help="rows the unadapted condition is compared with as well")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=0, help="clips per fold (0: all)")
    ap.add_argument("--combine", action="store_true",
                    help="only pool the finished seeds' files of --row into one summary")
    args = ap.parse_args()
    if args.combine:
        return combine(args.row, Path(args.runs))
    t0 = time.perf_counter()
    rows = {u.id: u for u in read_manifest(args.manifest)}
    row_dir = Path(args.runs) / args.row
    run_dir = row_dir / f"seed_{args.seed}"
    base = fold_metrics(Path(args.runs) / args.baseline, args.seed)
    others = {"adapted": args.adapted_baselines, "unadapted": args.unadapted_baselines}
    other_metrics = {b: fold_metrics(Path(args.runs) / b, args.seed)
                     for b in {*args.adapted_baselines, *args.unadapted_baselines}}
    cv = fold_metrics(row_dir, args.seed)
    result: dict = {"row": args.row, "baseline": args.baseline, "seed": args.seed,
                    "baselines": others, "manifest": args.manifest,
                    "code_version": code_version(), "folds": {}}
    for fold, ids in fold_tests(row_dir, args.seed).items():
        ids = ids[:args.limit] if args.limit else ids
        by_speaker: dict[str, list[str]] = {}
        for i in ids:
            by_speaker.setdefault(rows[i].speaker, []).append(i)
        # n_test, n_train: the cv run's, for the interval's correction (`--limit` or not);
        # training counts the rows held out for early stopping too (the model depends on them).
        per = {"baseline_ua": float(base[fold]["ua"]), "n": len(ids),
               "n_test": cv[fold]["n"], "n_train": training_rows(cv[fold]),
               "baselines_ua": {b: float(m[fold]["ua"]) for b, m in other_metrics.items()}}
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
    summarize(result, {(args.seed, k): f for k, f in result["folds"].items()})
    result["seconds"] = round(time.perf_counter() - t0, 1)
    RESULTS.mkdir(exist_ok=True)
    atomic_write_text(RESULTS / f"real_speech_predict_{args.row}_seed{args.seed}.json",
                      json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "folds"}, indent=2))
    return 0


def training_rows(metrics: dict) -> int:
    """A fold's training rows: those fitted plus those held out for early stopping."""
    return metrics["n_train"] + metrics.get("n_val", 0)


def summarize(out: dict, folds: dict[tuple[int, str], dict]) -> None:
    """Mean UA per condition and its paired difference from the baseline over `folds`
    ((seed, fold) -> the fold's record), with the corrected 95% interval of `wise.stats`
    (test/train ratio: the cv run's n_test/n_train, averaged over the folds)."""
    ratio = float(np.mean([f["n_test"] / f["n_train"] for f in folds.values()]))
    base = {k: f["baseline_ua"] for k, f in folds.items()}

    def versus(key: str, ref: dict) -> dict | None:
        v = paired_difference({k: f[key] for k, f in folds.items()}, ref, ratio)
        return None if v is None else {
            "n_pairs": v["n_pairs"], "mean": round(v["mean"], 4),
            "ci95": [round(x, 4) for x in v["ci95"]], "verdict": v["verdict"]}

    for key in ("adapted_ua", "unadapted_ua"):
        out[key] = round(float(np.mean([f[key] for f in folds.values()])), 4)
        out[f"{key}_vs_baseline"] = versus(key, base)
        condition = key.removesuffix("_ua")
        refs = sorted({b for f in folds.values() for b in f.get("baselines_ua", {})
                       if b in out.get("baselines", {}).get(condition, [])})
        if refs:
            out[f"{key}_vs"] = {b: versus(key, {k: f["baselines_ua"][b]
                                                for k, f in folds.items()}) for b in refs}
    out["baseline_ua"] = round(float(np.mean(list(base.values()))), 4)
    out["test_over_train"] = round(ratio, 4)


def combine(row: str, runs: Path) -> int:
    """real_speech_predict_ROW.json from every finished seed's file: all (seed, fold) pairs."""
    seeds = sorted(RESULTS.glob(f"real_speech_predict_{row}_seed*.json"))
    if not seeds:
        raise SystemExit(f"no real_speech_predict_{row}_seed*.json in {RESULTS}")
    runs_ = [json.loads(p.read_text()) for p in seeds]
    folds = {}
    for r in runs_:
        cv = None
        for name, f in r["folds"].items():
            # Shim for seed files written before they kept the cv run's n_test and n_train:
            # read them from the fold's metrics.json in the runs folder.
            if "n_train" not in f:
                cv = cv or fold_metrics(runs / row, r["seed"])
                f = {**f, "n_test": cv[name]["n"], "n_train": training_rows(cv[name])}
            folds[r["seed"], name] = f
    out = {"row": row, "seeds": [r["seed"] for r in runs_], "baseline": runs_[0]["baseline"],
           "baselines": runs_[0].get("baselines", {}),
           "manifest": runs_[0]["manifest"], "code_version": code_version()}
    if notes := [r["note"] for r in runs_ if r.get("note")]:
        out["notes"] = notes
    summarize(out, folds)
    atomic_write_text(RESULTS / f"real_speech_predict_{row}.json",
                      json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
