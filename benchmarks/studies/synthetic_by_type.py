"""Accuracy per utterance type of the synthetic corpus, for every finished CV run, with each
row's paired difference from a reference row per type.

    python benchmarks/studies/synthetic_by_type.py CORPUS_DIR RUNS_DIR [--reference wise]
        [--out FILE]

The synthetic corpus records how each utterance carries its emotion (`synthetic_meta.jsonl`:
type acoustic / lexical / interaction). Joining that with the runs' out-of-fold predictions
shows which kind of evidence each model uses. Each (seed, fold) gives one accuracy per type;
a row is compared with the reference row on the same (seed, fold) pairs with the corrected
interval of `wise.stats` (a row is better or worse only when its interval excludes 0).
Writes benchmarks/results/synthetic_by_type.json and .md.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from wise.fsutil import atomic_write_text
from wise.report import format_delta
from wise.stats import paired_difference, test_over_train

RESULTS = Path(__file__).resolve().parents[1] / "results"
TYPES = ("acoustic", "lexical", "interaction")


def fold_accuracy(preds: Path, meta: dict[str, str]) -> dict[str, float]:
    """type -> accuracy on one (seed, fold)'s utterances of that type (its predictions.jsonl)."""
    hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for line in preds.read_text(encoding="utf-8").splitlines():
        p = json.loads(line)
        h = hits[meta[p["id"]]]
        h[0] += p["pred"] == p["label"]
        h[1] += 1
    return {t: a / n for t, (a, n) in hits.items()}


def type_accuracy(run: Path, meta: dict[str, str]) -> dict[str, dict[tuple[int, int], float]]:
    """type -> {(seed, fold): accuracy on that fold's utterances of that type}."""
    out: dict[str, dict[tuple[int, int], float]] = defaultdict(dict)
    for preds in sorted(run.glob("seed_*/fold_*/predictions.jsonl")):
        key = (int(preds.parent.parent.name[5:]), int(preds.parent.name[5:]))
        for t, acc in fold_accuracy(preds, meta).items():
            out[t][key] = acc
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", type=Path)
    ap.add_argument("runs", type=Path, help="folder holding one folder per run")
    ap.add_argument("--reference", default="wise", help="the row every other is paired with")
    ap.add_argument("--out", type=Path, default=RESULTS / "synthetic_by_type.json")
    args = ap.parse_args()
    with open(args.corpus / "synthetic_meta.jsonl", encoding="utf-8") as f:
        meta = {m["id"]: m["type"] for m in map(json.loads, f)}
    runs = sorted(p for p in args.runs.iterdir() if (p / "summary.json").is_file())
    acc = {run.name: type_accuracy(run, meta) for run in runs}
    ratio = {run.name: test_over_train(json.loads((run / "summary.json").read_text()))
             for run in runs}
    ref = acc.get(args.reference)
    table = {}
    for name, by_type in acc.items():
        row = {}
        for t in TYPES:
            scores = by_type.get(t, {})
            if not scores:
                continue
            row[t] = {"accuracy": round(float(np.mean(list(scores.values()))), 4),
                      "std": round(float(np.std(list(scores.values()))), 4),
                      "n_runs": len(scores)}
            if ref is not None and name != args.reference:
                v = paired_difference(scores, ref.get(t, {}), ratio[name])
                if v is not None:
                    row[t]["vs_reference"] = {**v, "mean": round(v["mean"], 4),
                                              "ci95": [round(x, 4) for x in v["ci95"]]}
        table[name] = row
    doc = {"reference": args.reference, "corpus": str(args.corpus), "rows": table}
    atomic_write_text(args.out, json.dumps(doc, indent=2) + "\n")
    md = markdown(doc)
    atomic_write_text(args.out.with_suffix(".md"), md)
    print(md)


def markdown(doc: dict) -> str:
    ref = doc["reference"]

    def cell(v: dict) -> str:
        d = v.get("vs_reference")
        return (f"{v['accuracy']:.3f} ± {v['std']:.3f}"
                + (f" ({format_delta(d)})" if d else ""))

    lines = [f"Accuracy per utterance type, mean ± std over (seed, fold) runs; in brackets the "
             f"paired difference from `{ref}` on the same runs with its corrected 95% interval "
             f"(`wise.stats`).", "",
             "| run | " + " | ".join(TYPES) + " |", "|---|" + "---|" * len(TYPES)]
    for name, row in doc["rows"].items():
        lines.append(f"| `{name}` | " + " | ".join(cell(row[t]) if t in row else "—"
                                                  for t in TYPES) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
