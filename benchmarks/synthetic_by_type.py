"""Accuracy per utterance type of the synthetic corpus, for every finished CV run.

    python benchmarks/synthetic_by_type.py CORPUS_DIR RUNS_DIR [--out FILE]

The synthetic corpus records how each utterance carries its emotion (`synthetic_meta.jsonl`:
type acoustic / lexical / interaction). Joining that with the runs' out-of-fold predictions
shows which kind of evidence each model uses. Writes benchmarks/results/synthetic_by_type.json.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from wise.fsutil import atomic_write_text

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", type=Path)
    ap.add_argument("runs", type=Path, help="folder holding one folder per run")
    ap.add_argument("--out", type=Path, default=RESULTS / "synthetic_by_type.json")
    args = ap.parse_args()
    meta = {}
    with open(args.corpus / "synthetic_meta.jsonl", encoding="utf-8") as f:
        for line in f:
            m = json.loads(line)
            meta[m["id"]] = m["type"]
    table = {}
    for run in sorted(p for p in args.runs.iterdir() if (p / "summary.json").is_file()):
        hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for preds in sorted(run.glob("fold_*/predictions.jsonl")):
            for line in preds.read_text(encoding="utf-8").splitlines():
                p = json.loads(line)
                h = hits[meta[p["id"]]]
                h[0] += p["pred"] == p["label"]
                h[1] += 1
        table[run.name] = {t: {"accuracy": round(a / n, 3), "n": n}
                           for t, (a, n) in sorted(hits.items())}
    atomic_write_text(args.out, json.dumps(table, indent=2) + "\n")
    width = max(map(len, table))
    for name, row in table.items():
        print(f"{name:{width}s}  " + "  ".join(f"{t} {v['accuracy']:.3f}" for t, v in row.items()))


if __name__ == "__main__":
    main()
