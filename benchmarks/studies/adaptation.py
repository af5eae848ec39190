"""Speaker adaptation with few or unbalanced clips: does adapting ever cost accuracy?

A model trained with `normalize: speaker` standardises a new speaker with statistics of his
or her own clips (`Predictor.adapt_speaker`, `wise predict --same-speaker`): audio only, no
labels. A user's clips of one speaker are rarely many, and rarely span the emotions. For every
(seed, fold) of a finished `wise cv` run, this takes the fold's checkpoint and, for each held-out
speaker, adapts on a subset of that speaker's clips, then scores *all* of the speaker's clips:

- `none`: no adaptation (the training speakers' average statistics);
- `all`: every clip of the speaker (what cross-validation does);
- `random N` (N = 2, 4, 8): N clips of any emotions, 5 draws;
- `one class`: 4 clips of a single emotion, each of the 4 emotions in turn;
- `two classes`: 2 clips of each of two emotions, 3 draws of the pair;
- `the clip itself`: each clip adapted on itself alone, as `wise predict` could do with a
  single clip of an unknown speaker (with n0 = 4, a fifth of the way to its own statistics).

The labels are read only to draw the subsets, as a user's unlucky choice of clips would be;
the statistics never see them. Each condition is tried with every estimator of `METHODS`
(`wise.normalize.Normalizer`: plain statistics, or shrunk towards the training speakers'
average as if it were n0 more clips), set on the checkpoint's normaliser at test time. Features come
from the feature cache with the manifest's transcripts (the predict path computes the same
arrays: tests/integration/test_wise_plus.py and test_wise_whisper.py). Each condition's UA
is pooled over a fold's held-out clips and averaged over its draws; Δ against `none` is
paired over the (seed, fold)s with the corrected interval of `wise.stats`.

    python benchmarks/studies/adaptation.py --manifest ravdess-dev.jsonl --run runs/real-speech/ROW

Writes benchmarks/results/adaptation_RUN.json and .md (RUN: the run folder's name);
`--table-only` rewrites the .md from the .json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from wise import code_version
from wise.checkpoint import load_checkpoint
from wise.fsutil import atomic_write_text
from wise.runtime import Runtime
from wise.stats import paired_difference, test_over_train
from wise.train import UNKNOWN_SPEAKER, Batches, evaluate, load_corpus

RESULTS = Path(__file__).resolve().parents[1] / "results"


def conditions(rows: list[int], labels: list[int], rng: np.random.Generator
               ) -> dict[str, list[list[int]]]:
    """Condition name -> its draws, each a list of adaptation rows (see the docstring)."""
    by_class: dict[int, list[int]] = {}
    for i in rows:
        by_class.setdefault(labels[i], []).append(i)
    out: dict[str, list[list[int]]] = {"none": [[]], "all": [list(rows)]}
    for n in (2, 4, 8):
        out[f"random {n}"] = [sorted(rng.choice(rows, n, replace=False).tolist())
                              for _ in range(5)]
    out["one class"] = [sorted(rng.choice(v, min(4, len(v)), replace=False).tolist())
                        for _, v in sorted(by_class.items())]
    classes = sorted(by_class)
    pairs = [tuple(rng.choice(classes, 2, replace=False)) for _ in range(3)]
    out["two classes"] = [sorted(rng.choice(by_class[a], 2, replace=False).tolist()
                                 + rng.choice(by_class[b], 2, replace=False).tolist())
                          for a, b in pairs]
    return out


METHODS = {"plain": 0.0, "shrink 4": 4.0, "shrink 8": 8.0, "shrink 16": 16.0}
"""How a new speaker's statistics are estimated: TrainConfig.adapt_prior_clips, set on a
checkpoint's normaliser at test time (it changes nothing in training)."""


def fold_uas(fold: Path, d, inputs, methods: dict[str, float]) -> dict[str, dict[str, float]]:
    """method -> condition -> the fold's UA (mean over the condition's draws)."""
    model, _, trained, _ = load_checkpoint(fold / "model.wise")
    position = {u: i for i, u in enumerate(d.store.ids)}
    with open(fold / "predictions.jsonl", encoding="utf-8") as f:
        test = [position[json.loads(line)["id"]] for line in f if line.strip()]
    by_speaker: dict[str, list[int]] = {}
    for i in test:
        by_speaker.setdefault(d.speakers[i], []).append(i)
    seed, k = int(fold.parent.name.split("_")[1]), int(fold.name.split("_")[1])
    rng = np.random.default_rng([seed, k])
    draws = {s: conditions(rows, d.labels, rng) for s, rows in by_speaker.items()}
    y_true = np.array([d.labels[i] for i in test])

    def ua(probs: np.ndarray) -> float:
        p = probs.argmax(1)
        return float(np.mean([np.mean(p[y_true == c] == c) for c in np.unique(y_true)]))

    # Unadapted: every test speaker unknown.
    unknown = list(d.speakers)
    for i in test:
        unknown[i] = UNKNOWN_SPEAKER
    first, _ = evaluate(model, Batches(d.store, d.labels, unknown, inputs), test, trained)
    out: dict[str, dict[str, float]] = {}
    for method, prior in methods.items():
        norm = replace(trained, prior_clips=prior)
        out[method] = {"none": ua(first)}
        for name in next(iter(draws.values())):
            if name == "none":
                continue
            uas = []
            for j in range(max(len(draws[s][name]) for s in by_speaker)):
                # Each speaker under a key of its own, with statistics from its subset only.
                speakers, subset = list(d.speakers), []
                for s, rows in by_speaker.items():
                    for i in rows:
                        speakers[i] = f"{s}#{name}#{j}"
                    subset += draws[s][name][j % len(draws[s][name])]
                adapted = norm.adapt(d.store, subset, speakers)
                probs, _ = evaluate(model, Batches(d.store, d.labels, speakers, inputs), test,
                                    adapted)
                uas.append(ua(probs))
            out[method][name] = float(np.mean(uas))
        alone = list(d.speakers)             # every test clip a speaker of its own
        for i in test:
            alone[i] = f"clip#{i}"
        probs, _ = evaluate(model, Batches(d.store, d.labels, alone, inputs), test,
                            norm.adapt(d.store, test, alone))
        out[method]["the clip itself"] = ua(probs)
    return out


def markdown(out: dict) -> str:
    """The conditions as rows, the estimators as columns: UA, and Δ against no adaptation
    with its interval (marked when the interval excludes 0)."""
    methods = list(out["conditions"])
    conditions = list(out["conditions"][methods[0]])
    lines = [f"`{out['row']}`, {out['pairs']} (seed, fold) checkpoints of `{out['run']}`; "
             "UA of all the held-out speakers' clips, each speaker adapted on the subset; "
             "Δ vs none with the corrected 95% interval (**bold**: it excludes 0).", "",
             "| adapted on | " + " | ".join(f"{m} (n0 = {out['methods'][m]['prior_clips']:g})"
                                            for m in methods) + " |",
             "|---|" + "---|" * len(methods)]
    for c in conditions:
        cells = []
        for m in methods:
            r = out["conditions"][m][c]
            v = r["vs_none"]
            if v is None:
                cells.append(f"{r['ua']:.3f}")
                continue
            d = f"{v['mean']:+.3f} [{v['ci95'][0]:+.3f}, {v['ci95'][1]:+.3f}]"
            cells.append(f"{r['ua']:.3f}, " + (f"**{d}**" if v["verdict"] != "no difference "
                                                "shown" else d))
        lines.append(f"| {c} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--run", required=True, help="a finished `wise cv` folder (seed_S/fold_K)")
    ap.add_argument("--cache", default=None)
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS),
                    help="the estimators to try (each one more pass over every condition)")
    ap.add_argument("--table-only", action="store_true",
                    help="score nothing: write the .md from the run's finished .json")
    args = ap.parse_args()
    t0 = time.perf_counter()
    run_dir = Path(args.run)
    if args.table_only:
        out = json.loads((RESULTS / f"adaptation_{run_dir.name}.json").read_text())
        atomic_write_text(RESULTS / f"adaptation_{run_dir.name}.md", markdown(out))
        print(markdown(out))
        return 0
    summary = json.loads((run_dir / "summary.json").read_text())
    methods = {m: METHODS[m] for m in args.methods}
    folds = sorted(run_dir.glob("seed_*/fold_*"))
    _, run, _, _ = load_checkpoint(folds[0] / "model.wise")
    d = load_corpus(run, args.manifest, Runtime(cache=args.cache, progress=False))
    model, _, _, _ = load_checkpoint(folds[0] / "model.wise")
    inputs = model.batch_inputs()
    per: dict[tuple[int, int], dict[str, dict[str, float]]] = {}
    for fold in folds:
        seed, k = int(fold.parent.name.split("_")[1]), int(fold.name.split("_")[1])
        per[seed, k] = fold_uas(fold, d, inputs, methods)
        print(fold, {m: {n: round(v, 3) for n, v in c.items()} for m, c in per[seed, k].items()},
              flush=True)
    ratio = test_over_train(summary)
    none = {k: next(iter(v.values()))["none"] for k, v in per.items()}   # any method's
    table: dict[str, dict] = {}
    for method in methods:
        table[method] = {}
        for name in per[next(iter(per))][method]:
            vals = {k: v[method][name] for k, v in per.items()}
            diff = paired_difference(vals, none, ratio) if name != "none" else None
            table[method][name] = {"ua": round(float(np.mean(list(vals.values()))), 4),
                                   "vs_none": None if diff is None else {
                                       "mean": round(diff["mean"], 4),
                                       "ci95": [round(x, 4) for x in diff["ci95"]],
                                       "verdict": diff["verdict"]}}
    out = {"run": str(run_dir), "row": summary["name"], "config": summary["config"],
           "manifest": args.manifest, "pairs": len(per), "test_over_train": round(ratio, 4),
           "code_version": code_version(),
           "methods": {m: {"prior_clips": p} for m, p in methods.items()},
           "conditions": table,
           "seconds": round(time.perf_counter() - t0, 1)}
    RESULTS.mkdir(exist_ok=True)
    atomic_write_text(RESULTS / f"adaptation_{run_dir.name}.json", json.dumps(out, indent=2)
                      + "\n")
    atomic_write_text(RESULTS / f"adaptation_{run_dir.name}.md", markdown(out))
    for method, rows in table.items():
        print(method)
        for name, r in rows.items():
            v = r["vs_none"]
            print(f"  {name:12s} UA {r['ua']:.3f}" + ("" if v is None else
                  f"  Δ vs none {v['mean']:+.3f} [{v['ci95'][0]:+.3f}, {v['ci95'][1]:+.3f}] "
                  f"({v['verdict']})"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
