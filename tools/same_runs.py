"""Whether two results folders hold the same runs, bit for bit (wall-clock times aside).

    python tools/same_runs.py wise-demo/results /tmp/demo2/results [--out FILE]

For every (row, seed, fold) present in both folders (`ROW/seed_S/fold_K/`), compares the
metrics (less their `seconds` fields), the predictions file byte for byte and the checkpoint's
weights tensor by tensor. Prints one line per difference and a summary; exit status 1 when
anything differs or nothing was compared. Used to check that a fresh `wise demo` reproduces
the committed results exactly (docs/synthetic-results.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from wise.crossval import without_timings
from wise.fsutil import atomic_write_text


def same_weights(a: Path, b: Path) -> bool:
    wa, wb = (torch.load(p, weights_only=True)["state_dict"] for p in (a, b))
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def compare(a_root: Path, b_root: Path) -> dict:
    folds = sorted(p.parent.relative_to(a_root)
                   for p in a_root.glob("*/seed_*/fold_*/metrics.json"))
    shared = [f for f in folds if (b_root / f / "metrics.json").is_file()]
    diffs = []
    for f in shared:
        a, b = a_root / f, b_root / f
        ma, mb = (json.loads((d / "metrics.json").read_text()) for d in (a, b))
        if without_timings(ma) != without_timings(mb):
            diffs.append(f"{f}: metrics differ (UA {ma['ua']:.4f} vs {mb['ua']:.4f})")
        if (a / "predictions.jsonl").read_bytes() != (b / "predictions.jsonl").read_bytes():
            diffs.append(f"{f}: predictions differ")
        if (a / "model.wise").is_file() and not same_weights(a / "model.wise", b / "model.wise"):
            diffs.append(f"{f}: weights differ")
    return {"a": str(a_root), "b": str(b_root), "compared": len(shared),
            "only_in_a": len(folds) - len(shared), "differences": diffs}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("--out", type=Path, default=None, help="also write the result as JSON")
    args = ap.parse_args()
    r = compare(args.a, args.b)
    for line in r["differences"]:
        print(line)
    print(f"{r['compared']} (row, seed, fold) runs compared, {len(r['differences'])} "
          f"differences ({r['only_in_a']} runs only in {args.a})")
    if args.out:
        atomic_write_text(args.out, json.dumps(r, indent=2) + "\n")
    return 0 if r["compared"] and not r["differences"] else 1


if __name__ == "__main__":
    sys.exit(main())
