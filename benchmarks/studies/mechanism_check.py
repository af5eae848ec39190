"""A controlled check of the interaction mechanism (IM): does WISE learn a label that is, by
construction, one word's identity combined with that same word's acoustics, and does the same
model without IM (the `hr_dmf` row) fail? The task is `wise.testing.mechanism`'s: utterances
of tensors, no audio, every pattern on as many words as every other, each modality alone
balanced against the other's factor by minimal sets.

    python benchmarks/studies/mechanism_check.py --jobs 2

Trains each row (with tiny widths, `wise.testing.mechanism.TINY`) on every task, with several
seeds, the same data for all, and scores it on held-out minimal sets:

- tasks: rule "latin" (an exclusive or of pivot word and pattern: neither alone says
  anything) and rule "product" (the four classes, word x pattern: the words give the word
  factor), each with the pivot among 4 words and alone (1 word: nothing to find);
- rows: `wise` (HR, IM, DMF), `hr_dmf` (no IM), `im_dmf` (a word's audio is its mean frame,
  no HR) and `im_dmf` without IM (neither);
- the oracle: a small network told which word is the pivot (`told_the_pivot`);
- a larger budget for the two rows the question is about on the latin task with 4 words:
  4x the training sets, twice the epochs;
- the same two rows on the latin tasks without dropout and weight decay, at the base budget
  and at a learning rate of 1e-2: is their failure a failure to fit the training sets at all
  (an optimisation plateau), or a failure to generalise?

Every run is seeded and single-threaded, so `--jobs` changes only the wall time. Writes
benchmarks/results/mechanism_check.json (with the markdown table docs/synthetic-results.md
quotes) and prints the table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from wise import code_version
from wise.fsutil import atomic_write_text
from wise.testing.host import machine
from wise.testing.mechanism import TINY, MechanismSpec, fit_and_score, make_task, told_the_pivot

OUT = Path(__file__).resolve().parents[1] / "results" / "mechanism_check.json"
TASKS = (("latin", 4), ("latin", 1), ("product", 4), ("product", 1))
ROWS = {"wise": (), "hr_dmf": (), "im_dmf": (), "im_dmf, interaction=false": ("interaction=false",)}
TRAIN_SEED, TEST_SEED = 1000, 2000   # the data's draws: the same for every row and seed
LEARNED = 0.9                        # a run "learned" the task at this test accuracy or more
# Variants of the base runs for the plateau question: name -> (extra `--set` items, lr)
UNREGULARISED = ("dropout=0", "weight_decay=0")
VARIANTS = {"no dropout or weight decay": (UNREGULARISED, 3e-3),
            "no dropout or weight decay, lr 1e-2": (UNREGULARISED, 1e-2)}


def one_run(job: dict) -> dict:
    """Train one (task, row, seed, budget) and score it; in a worker process of one thread."""
    torch.set_num_threads(1)
    spec = MechanismSpec(rule=job["rule"], n_words=job["n_words"])
    train = make_task(spec, job["train_sets"], TRAIN_SEED)
    test = make_task(spec, job["test_sets"], TEST_SEED)
    t0 = time.perf_counter()
    if job["row"] == "told the pivot":
        score = told_the_pivot(train, test, seed=job["seed"], epochs=job["epochs"])
    else:
        name = job["row"].split(",")[0]
        extra, lr = VARIANTS.get(job["variant"], ((), 3e-3))
        score = fit_and_score(name, train, test, spec=spec, seed=job["seed"],
                              epochs=job["epochs"], sets=(*ROWS[job["row"]], *extra), lr=lr)
    return {**job, **asdict(score), "seconds": round(time.perf_counter() - t0, 1)}


def cell(runs: list[dict]) -> str:
    """Test accuracy per seed, then how many learned the task."""
    accs = " ".join(f"{r['test_accuracy']:.2f}".lstrip("0") for r in runs)
    return f"{accs} ({sum(r['test_accuracy'] >= LEARNED for r in runs)}/{len(runs)})"


def table(runs: list[dict], train_sets: int, epochs: int) -> str:
    def pick(rule: str, n: int, row: str, sets: int, variant: str = "") -> list[dict]:
        return sorted((r for r in runs if (r["rule"], r["n_words"], r["row"], r["train_sets"],
                                           r["variant"]) == (rule, n, row, sets, variant)),
                      key=lambda r: r["seed"])

    head = ["row", *(f"{rule}, {n} word{'s' * (n > 1)}" for rule, n in TASKS)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in [*ROWS, "told the pivot"]:
        name = f"`{row}`" if row in ROWS else row
        lines.append("| " + " | ".join([name, *(cell(pick(rule, n, row, train_sets))
                                                for rule, n in TASKS)]) + " |")
    big = [r for r in runs if r["train_sets"] != train_sets]
    for variant in VARIANTS:
        these = [r for r in runs if r["variant"] == variant]
        if these:
            lines.append("")
            lines.append(f"Latin, {variant} ({train_sets} training sets, {epochs} epochs):")
            for row in sorted({r["row"] for r in these}, key=list(ROWS).index):
                lines.append(f"- `{row}`: " + "; ".join(
                    f"{n} word{'s' * (n > 1)} {cell(pick('latin', n, row, train_sets, variant))}"
                    for n in (4, 1)))
    latin = [r for r in runs if r["rule"] == "latin" and r["row"] in ("wise", "hr_dmf")]
    if latin:
        lo, hi = (f"{f(r['train_accuracy'] for r in latin):.2f}".lstrip("0")
                  for f in (min, max))
        lines.append("")
        lines.append(f"Training accuracy of these {len(latin)} latin runs of `wise` and "
                     f"`hr_dmf` (all budgets and variants): "
                     + (f"{lo} in every one" if lo == hi else f"{lo} to {hi}"))
    if big:
        lines.append("")
        lines.append(f"Larger budget, latin, 4 words ({big[0]['train_sets']} training sets, "
                     f"{big[0]['epochs']} epochs; {train_sets} and {epochs} above):")
        for row in sorted({r["row"] for r in big}, key=list(ROWS).index):
            lines.append(f"- `{row}`: {cell(pick('latin', 4, row, big[0]['train_sets']))}")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--train-sets", type=int, default=64, help="minimal sets to train on")
    ap.add_argument("--test-sets", type=int, default=64, help="held-out minimal sets")
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--big-seeds", type=int, default=2,
                    help="seeds of the larger budget (0: skip it)")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes, one thread each")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    base = {"train_sets": args.train_sets, "test_sets": args.test_sets, "epochs": args.epochs}
    jobs = [{"rule": rule, "n_words": n, "row": row, "seed": seed, "variant": "", **base}
            for rule, n in TASKS for row in [*ROWS, "told the pivot"]
            for seed in range(args.seeds)]
    jobs += [{"rule": "latin", "n_words": 4, "row": row, "seed": seed, "variant": "",
              "test_sets": args.test_sets, "train_sets": 4 * args.train_sets,
              "epochs": 2 * args.epochs}
             for row in ("wise", "hr_dmf") for seed in range(args.big_seeds)]
    jobs += [{"rule": "latin", "n_words": n, "row": row, "seed": seed, "variant": variant,
              **base}
             for variant in VARIANTS for n in (4, 1) for row in ("wise", "hr_dmf")
             for seed in range(args.big_seeds)]
    # The long runs first, so that the workers finish together.
    jobs.sort(key=lambda j: -j["train_sets"] * j["epochs"] * j["n_words"])
    t0 = time.perf_counter()
    runs = []
    with ProcessPoolExecutor(args.jobs) as pool:
        for r in pool.map(one_run, jobs):
            runs.append(r)
            print(json.dumps(r), flush=True)
    md = table(runs, args.train_sets, args.epochs)
    spec = asdict(MechanismSpec())
    del spec["rule"], spec["n_words"]
    result = {
        "study": "mechanism_check", "code_version": code_version(),
        "machine": machine(platform=True), "torch": torch.__version__, "threads": 1,
        "command": " ".join(["python", "benchmarks/studies/mechanism_check.py", *sys.argv[1:]]),
        "task": spec, "widths": list(TINY), "lr": 3e-3, "batch_size": 32,
        "train_seed": TRAIN_SEED, "test_seed": TEST_SEED, "learned_at": LEARNED,
        "seconds": round(time.perf_counter() - t0, 1),
        "mean_test_accuracy": {
            f"{rule}, {n} word{'s' * (n > 1)}, {row}": round(float(np.mean(
                [r["test_accuracy"] for r in runs if (r["rule"], r["n_words"], r["row"],
                 r["train_sets"], r["variant"]) == (rule, n, row, args.train_sets, "")])), 3)
            for rule, n in TASKS for row in [*ROWS, "told the pivot"]},
        "variants": {k: {"sets": list(v[0]), "lr": v[1]} for k, v in VARIANTS.items()},
        "runs": sorted(runs, key=lambda r: (r["train_sets"], r["variant"], TASKS.index(
            (r["rule"], r["n_words"])), r["row"], r["seed"])),
        "table": md,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(result, indent=1) + "\n")
    print(md)
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
