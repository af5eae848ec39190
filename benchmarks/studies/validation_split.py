"""Early stopping on held-out rows or on held-out speakers: the `wise` row cross-validated both
ways, several seeds, paired on the same (seed, fold).

`validation=rows` holds out a stratified tenth of the training rows, so under a
speaker-independent protocol the epoch is chosen on speakers the model trains on;
`validation=speakers` (the default under those protocols) holds out whole training speakers
instead (docs/training.md). Both run
with the same seeds on the same folds; the difference speakers − rows per (seed, fold) gives a
mean and a 95% interval corrected for the overlap of cross-validation's training sets
(`wise.stats.compare_runs`, as the report's Δ columns).

    python benchmarks/studies/validation_split.py --out runs/validation-split --seeds 3 --jobs 1

Corpora: the synthetic demo corpus (wise-demo/, leave one session out, as `wise demo`) and the
real-speech dev set (runs/real-speech/ravdess-dev.jsonl, 4 speaker-independent folds, as
benchmarks/studies/real_speech.py). Writes OUT/CORPUS-CHOICE/wise/ (one `wise cv --seeds` run each;
finished folds are reused) and benchmarks/results/validation_split.json; prints the markdown
table docs/training.md quotes. `--table-only` trains nothing and reads the finished runs.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from wise import code_version
from wise.cli import main as wise_main
from wise.crossval import without_timings
from wise.fsutil import atomic_write_text
from wise.stats import compare_runs
from wise.testing.host import machine

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
CHOICES = ("rows", "speakers")
INTERVAL = ("95% corrected repeated-CV t-interval over (seed, fold) pairs "
            "(wise.stats.compare_runs; Nadeau & Bengio 2003)")

# name -> (manifest, feature cache, --set items beyond validation=..., what it is)
CORPORA: dict[str, tuple[str, str, list[str], str]] = {
    "synthetic": ("wise-demo/manifest.jsonl", "wise-demo/wise-cache", [],
                  "synthetic demo corpus, leave one session out (5 folds, 2 speakers each)"),
    "ravdess-dev": ("runs/real-speech/ravdess-dev.jsonl", "runs/real-speech/wise-cache",
                    ["protocol=speaker_groups", "folds=4", "seed=0"],
                    "RAVDESS dev set (16 actors), 4 speaker-independent folds of 4 actors"),
}
# Committed runs of a corpus's `wise` row (choice, folder) at the default, with the same
# settings and seeds: with `--from-committed`, the (seed, fold)s of that choice not trained
# afresh in OUT are read from them, and every one trained afresh must match its committed twin
# (metrics less timings, predictions byte for byte) or the script stops.
COMMITTED = {"synthetic": ("speakers", "wise-demo/results/wise")}


def run_dir(out: Path, corpus: str, choice: str) -> Path:
    return out / f"{corpus}-{choice}" / "wise"


def run_choice(corpus: str, choice: str, out: Path, seeds: int, jobs: int) -> None:
    """One `wise cv --seeds` run of the `wise` row (finished folds are reused)."""
    manifest, cache, sets, _ = CORPORA[corpus]
    args = ["cv", "--config", "wise", "--manifest", manifest, "--cache", cache,
            "--out", str(run_dir(out, corpus, choice)), "--jobs", str(jobs), "--workers", "1",
            "--quiet", "--seeds", str(seeds), "--set", f"validation={choice}"]
    for s in sets:
        args += ["--set", s]
    if wise_main(args) != 0:
        raise SystemExit(f"{corpus} {choice} failed")


def fold_metrics(where: Path, seeds: int, checked: bool = True) -> dict[tuple[int, int], dict]:
    """Every finished (seed, fold)'s metrics.json under a `wise cv` folder, seeds < `seeds`:
    with `checked`, those whose checksums.json (written last) is there."""
    found = {}
    for m in sorted(where.glob("seed_*/fold_*/metrics.json")):
        seed, fold = int(m.parts[-3][5:]), int(m.parts[-2][5:])
        if seed < seeds and (not checked or (m.parent / "checksums.json").is_file()):
            found[seed, fold] = json.loads(m.read_text())
    return found


def load(out: Path, corpus: str, choice: str, seeds: int, committed: bool) -> dict | None:
    """{"folds": every (seed, fold)'s metrics, "from_committed": how many came from the
    committed run, "reproduced": how many trained afresh were compared with it} or None when
    some (seed, fold) is missing."""
    where = run_dir(out, corpus, choice)
    if not (where / "folds.json").is_file():
        return None
    n_folds = len(json.loads((where / "folds.json").read_text())["folds"])
    fresh = fold_metrics(where, seeds)
    folds, taken, compared = dict(fresh), 0, 0
    if committed and corpus in COMMITTED and choice == COMMITTED[corpus][0]:
        twin = Path(COMMITTED[corpus][1])
        for key, m in fold_metrics(twin, seeds, checked=False).items():
            if key not in fresh:
                folds[key], taken = m, taken + 1
                continue
            part = f"seed_{key[0]}/fold_{key[1]}"
            if (without_timings(m) != without_timings(fresh[key])
                    or (twin / part / "predictions.jsonl").read_bytes()
                    != (where / part / "predictions.jsonl").read_bytes()):
                raise SystemExit(f"{where / part} differs from {twin / part}: the committed "
                                 "run cannot stand in for a fresh one")
            compared += 1
    if len(folds) != seeds * n_folds:
        return None
    for m in folds.values():
        # How far the validation UA that chose the epoch overstates the test UA.
        m["val_minus_test_ua"] = m["best_val_ua"] - m["ua"]
    summary = where / "summary.json"
    version = json.loads(summary.read_text()).get("code_version") if summary.is_file() else None
    return {"folds": [folds[k] for k in sorted(folds)], "from_committed": taken,
            "reproduced": compared, "code_version": version}


def describe(s: dict) -> dict:
    """Means over every (seed, fold) of one choice."""
    f = s["folds"]

    def mean(key: str) -> float:
        return round(float(np.mean([x[key] for x in f])), 4)

    notes = [x["validation"] for x in f if x.get("validation")]
    return {"n": len(f), "ua_mean": mean("ua"), "ua_std": round(float(np.std(
                [x["ua"] for x in f])), 4),
            "wa_mean": mean("wa"), "wa_std": round(float(np.std([x["wa"] for x in f])), 4),
            "ua_by_seed": [round(float(np.mean([x["ua"] for x in f if x["seed"] == k])), 4)
                           for k in sorted({x["seed"] for x in f})],
            "best_epoch_mean": mean("best_epoch"), "n_val_mean": mean("n_val"),
            "best_val_ua_mean": mean("best_val_ua"),
            "val_minus_test_ua_mean": mean("val_minus_test_ua"),
            "fell_back_to_rows": sum(n["split"] == "rows" for n in notes),
            "validation_speakers_per_fold": (round(float(np.mean([len(n["speakers"])
                                                                  for n in notes])), 2)
                                             if notes else None),
            "train_seconds": round(float(sum(x["seconds"] for x in f)), 1),  # one at a time
            "code_version": s["code_version"],
            "from_committed_run": s["from_committed"],
            "trained_afresh_and_identical_to_committed": s["reproduced"]}


def difference(a: dict, b: dict, key: str) -> dict:
    v = compare_runs(a, b, key)
    return {"n_pairs": v["n_pairs"], "mean": round(v["mean"], 4),
            "ci95": [round(x, 4) for x in v["ci95"]], "verdict": v["verdict"]}


def markdown(result: dict) -> str:
    def d(v: dict, fmt: str = "+.3f") -> str:
        return f"{v['mean']:{fmt}} [{v['ci95'][0]:{fmt}}, {v['ci95'][1]:{fmt}}]"

    lines = ["| Corpus | validation | UA | WA | best epoch | val UA − test UA |",
             "|---|---|---|---|---|---|"]
    for name, c in result["corpora"].items():
        for choice in CHOICES:
            r = c["choices"][choice]
            lines.append(f"| {name} | `{choice}` | {r['ua_mean']:.3f} ± {r['ua_std']:.3f} | "
                         f"{r['wa_mean']:.3f} ± {r['wa_std']:.3f} | {r['best_epoch_mean']:.1f} | "
                         f"{r['val_minus_test_ua_mean']:+.3f} |")
        delta = c["speakers_minus_rows"]
        lines.append(f"| {name} | Δ speakers − rows ({delta['ua']['n_pairs']} pairs) | "
                     f"{d(delta['ua'])} | {d(delta['wa'])} | {d(delta['best_epoch'], '+.1f')} "
                     f"| {d(delta['val_minus_test_ua'])} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/validation-split")
    ap.add_argument("--corpora", nargs="+", default=list(CORPORA), choices=list(CORPORA))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--seeds-for", action="append", default=[], metavar="CORPUS=N",
                    help="another number of seeds for one corpus (e.g. ravdess-dev=10)")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--from-committed", action="store_true",
                    help="read the (seed, fold)s of the default choice not trained in --out "
                         "from the committed demo results, and check those trained in --out "
                         "against them (see COMMITTED)")
    ap.add_argument("--table-only", action="store_true",
                    help="train nothing: build the figures from the finished runs in --out")
    args = ap.parse_args()
    os.chdir(ROOT)                       # the corpora's paths are the checkout's
    out = Path(args.out)
    t0 = time.perf_counter()
    seeds = {name: args.seeds for name in args.corpora}
    for item in args.seeds_for:
        name, _, n = item.partition("=")
        if name not in seeds or not n.isdigit() or int(n) < 2:
            raise SystemExit(f"--seeds-for {item!r}: expected CORPUS=N, N >= 2, CORPUS one of "
                             f"{', '.join(seeds)}")
        seeds[name] = int(n)
    corpora = {}
    for name in args.corpora:
        runs = {}
        for choice in CHOICES:
            committed = args.from_committed
            s = load(out, name, choice, seeds[name], committed)
            if s is None and not args.table_only:
                run_choice(name, choice, out, seeds[name], args.jobs)
                s = load(out, name, choice, seeds[name], committed)
            if s is None:
                raise SystemExit(f"{run_dir(out, name, choice)}: no finished run with seeds "
                                 f"0..{seeds[name] - 1}")
            runs[choice] = s
        manifest, cache, sets, what = CORPORA[name]
        corpora[name] = {
            "what": what, "manifest": manifest, "cache": cache, "config": "wise", "sets": sets,
            "seeds": list(range(seeds[name])),
            "protocol": json.loads((run_dir(out, name, "rows") / "folds.json")
                                   .read_text())["protocol"],
            "choices": {c: describe(runs[c]) for c in CHOICES},
            "speakers_minus_rows": {key: difference(runs["speakers"], runs["rows"], key)
                                    for key in ("ua", "wa", "best_epoch", "best_val_ua",
                                                "val_minus_test_ua")},
        }
    result = {
        "command": "python " + shlex.join(["benchmarks/studies/validation_split.py",
                                           *sys.argv[1:]]),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(platform=True), "table_code_version": code_version(),
        "jobs": args.jobs,
        "interval": INTERVAL,
        "seconds": round(time.perf_counter() - t0, 1),
        "corpora": corpora,
    }
    write_result("validation_split.json", result, markdown(result))
    return 0


def write_result(name: str, result: dict, table: str) -> None:
    """benchmarks/results/NAME: `result` with its markdown `table` (also printed)."""
    result["table"] = table
    RESULTS.mkdir(exist_ok=True)
    atomic_write_text(RESULTS / name, json.dumps(result, indent=2) + "\n")
    print(table)


if __name__ == "__main__":
    sys.exit(main())
