"""Does WISE's interaction mechanism (IM) learn the synthetic corpus's interaction third given
more data? A learning curve: the same generator at 2,000 utterances (the demo's corpus) and
at 4 and 16 times that, WISE and the rows that isolate IM, the accuracy on each kind of
utterance (docs/synthetic-interaction-design.md, "The learning curve", registered before the
runs).

    python benchmarks/studies/interaction_scale.py --measure        # one epoch per size, row
    python benchmarks/studies/interaction_scale.py --sizes 2000,8000 --rows wise,hr_dmf
    python benchmarks/studies/interaction_scale.py --table-only     # from the finished runs

Work folder (`--work`, default runs/interaction-scale): corpus-N/ (`wise synth --utterances N
--seed 0`), manifest-N.jsonl (`wise prepare iemocap`), its feature cache beside it, and
N/ROW/ (the folds of `wise cv --seeds S`: leave one session out). Every step reuses what an
earlier run finished, so the grid can be spread over several sittings, on several machines:
each finished (seed, fold) is also recorded, as soon as it ends, in
benchmarks/results/interaction_scale_runs.jsonl (its accuracy per kind of utterance, its
test/train sizes, its config's hash and the machine that trained it), which is part of the
repository. A (seed, fold) recorded there with the same config is not trained again, and the
table is made from that file alone: a work folder lost with its machine costs only the
unfinished folds (the corpora and their features are made again from the seed).

`--measure` times one training epoch of each row at each size on one torch thread (the
training rows of the first fold, as `wise cv` trains them) and writes
benchmarks/results/interaction_scale_budget.json: the budget plan in the design doc is made
from it. Without it, the script trains the asked cells and then writes
benchmarks/results/interaction_scale.json (per size and row: accuracy per utterance kind,
mean over the finished (seed, fold) runs, each run's value, and the paired difference from
WISE on the same runs with its corrected 95% interval, `wise.stats`) and the figure
docs/interaction_scale.png. Cells with unfinished folds are reported with the runs they have.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import sys
import time
from pathlib import Path

import numpy as np
from synthetic_by_type import TYPES, fold_accuracy

from wise import LABELS, code_version
from wise.cli import main as wise_main
from wise.crossval import fold_dir, plan_cv, run_jobs
from wise.fsutil import atomic_write_text
from wise.rows import load_run_config
from wise.runtime import Runtime
from wise.stats import mean_interval, paired_difference, test_over_train
from wise.testing import repo_root
from wise.testing.host import machine

RESULTS = repo_root() / "benchmarks" / "results"
LEDGER = RESULTS / "interaction_scale_runs.jsonl"
FIGURE = repo_root() / "docs" / "interaction_scale.png"
SIZES = (2000, 8000, 32000)
ROWS = ("wise", "hr_dmf", "im_dmf", "im_hr")       # WISE, then without IM, HR, DMF
REFERENCE = "wise"
CORPUS_SEED = 0


def corpus(work: Path, n: int) -> Path:
    """The manifest of the N-utterance corpus, made (and its features cached) if missing."""
    folder, manifest = work / f"corpus-{n}", work / f"manifest-{n}.jsonl"
    steps = []
    if not (folder / "synthetic_meta.jsonl").is_file():
        steps.append(["synth", str(folder), "--utterances", str(n), "--seed", str(CORPUS_SEED),
                      "--quiet"])
    if not manifest.is_file():
        steps.append(["prepare", "iemocap", str(folder), "--out", str(manifest), "--quiet"])
    steps.append(["features", str(manifest), "--quiet"])
    for step in steps:
        if wise_main(step) != 0:
            raise SystemExit(f"wise {' '.join(step)} failed")
    return manifest


def measure(work: Path, sizes: list[int], rows: list[str]) -> dict:
    """Seconds of one training epoch per (size, row): the first fold's training rows (every
    session but Ses01), one torch thread, as a fold of `wise cv` trains."""
    from wise.rows import load_run_config
    from wise.runtime import Runtime
    from wise.train import deterministic, init_seed, load_corpus, new_model, train

    deterministic(threads=1)
    out: dict = {}
    for n in sizes:
        manifest = corpus(work, n)
        loaded_by_features: dict = {}   # the rows share their features: load each set once
        for row in rows:
            run = load_run_config(row, ["max_epochs=1", "min_epochs=1"])
            key = run.features.key()
            if key not in loaded_by_features:
                loaded_by_features[key] = load_corpus(run, manifest,
                                                      Runtime(workers=1, progress=False))
            loaded = loaded_by_features[key]
            fold = [i for i, s in enumerate(loaded.sessions) if s != "Ses01"]
            model = new_model(run, loaded.store, init_seed(run.train.seed, 1))
            t = time.perf_counter()
            info = train(model, loaded.data(model), fold, run.train, n_classes=len(LABELS),
                         progress=False)
            out.setdefault(str(n), {})[row] = {
                "epoch_seconds": round(info.history[0]["seconds"], 2),
                "with_setup_seconds": round(time.perf_counter() - t, 2),
                "n_fit": info.n_fit, "n_val": info.n_val, "n_utterances": len(loaded.store)}
            print(n, row, out[str(n)][row], flush=True)
    return out


def read_ledger(path: Path = LEDGER) -> list[dict]:
    """Every finished (seed, fold) recorded so far, one dict a line."""
    if not path.is_file():
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def record(entry: dict, path: Path = LEDGER) -> None:
    """Add one finished (seed, fold) to the ledger: rewritten whole, atomically (an interrupted
    write leaves the previous file), under a lock, since two cells may train at once in two
    processes."""
    with open(path.parent / f".{path.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        lines = [json.dumps(e, sort_keys=True) for e in [*read_ledger(path), entry]]
        atomic_write_text(path, "\n".join(lines) + "\n")


def kinds_of(work: Path, n: int) -> dict[str, str]:
    """Utterance id -> its kind (lexical, acoustic, interaction), from the generator's meta."""
    with open(work / f"corpus-{n}" / "synthetic_meta.jsonl", encoding="utf-8") as f:
        return {m["id"]: m["type"] for m in map(json.loads, f)}


def run_cell(work: Path, n: int, row: str, seeds: int, jobs: int,
             ledger: Path = LEDGER) -> None:
    """Cross-validate `row` on the N-utterance corpus with `seeds` seeds, as `wise cv` does
    (same folds, same files, finished folds on disk kept), less the (seed, fold)s the ledger
    already holds for this config; record each one in the ledger as it finishes."""
    manifest = corpus(work, n)
    out = work / str(n) / row
    plan = plan_cv(load_run_config(row), manifest, out, seeds=seeds,
                   runtime=Runtime(jobs=jobs, progress=False))
    kinds = kinds_of(work, n)
    recorded = {(e["seed"], e["fold"], e["config_hash"]) for e in read_ledger(ledger)
                if e["size"] == n and e["row"] == row}

    def finished(seed: int, k: int, test: str, config_hash: str, r: dict) -> None:
        if (seed, k, config_hash) in recorded:
            return
        by_kind = fold_accuracy(fold_dir(out, seed, k) / "predictions.jsonl", kinds)
        record({"size": n, "row": row, "seed": seed, "fold": k, "test": test,
                "config_hash": config_hash, "n": r["n"],
                "n_train": r["n_train"] + r.get("n_val", 0), "ua": round(r["ua"], 4),
                "accuracy": {t: by_kind[t] for t in TYPES if t in by_kind},
                "code_version": code_version(), "machine": machine(platform=True)}, ledger)
        recorded.add((seed, k, config_hash))

    for (seed, k), r in sorted(plan.results.items()):       # on disk, perhaps not recorded
        finished(seed, k, r["test"], r["config_hash"], r)
    todo = [j for j in plan.todo if (j.run.train.seed, j.k, j.config_hash) not in recorded]
    print(f"{n} {row}: {len(recorded)} (seed, fold) runs recorded, {len(todo)} to train",
          flush=True)
    run_jobs(todo, jobs, lambda j, r: finished(j.run.train.seed, j.k, j.name, j.config_hash, r))


def cell_table(n: int, rows: list[str], ledger: Path = LEDGER) -> dict:
    """Per row with recorded runs: accuracy per kind of utterance (mean, each (seed, fold)'s,
    the interval of the mean), and the paired difference from WISE on the same runs, those
    of a (seed, fold) whose two runs were trained on the same machine."""
    acc: dict[str, dict[str, dict[tuple[int, int], float]]] = {}
    runs: dict[str, list[dict]] = {}
    machines: dict[str, dict[tuple[int, int], str]] = {}
    for e in read_ledger(ledger):
        if e["size"] == n and e["row"] in rows:
            for kind, v in e["accuracy"].items():
                acc.setdefault(e["row"], {}).setdefault(kind, {})[e["seed"], e["fold"]] = v
            runs.setdefault(e["row"], []).append(e)
            machines.setdefault(e["row"], {})[e["seed"], e["fold"]] = e["machine"]
    # An entry's n_train already counts the rows held out for early stopping.
    ratio = {row: test_over_train({"folds": r}) for row, r in runs.items()}
    out = {}
    for row in [r for r in rows if r in acc]:
        by_type = acc[row]
        cell: dict = {}
        for kind in TYPES:
            scores = by_type.get(kind, {})
            if not scores:
                continue
            values = list(scores.values())
            entry: dict = {"mean": round(float(np.mean(values)), 4), "n_runs": len(values),
                           "runs": {f"seed {s}, fold {k}": round(v, 4)
                                    for (s, k), v in sorted(scores.items())}}
            if len(values) >= 2:
                _, ci = mean_interval(values, ratio[row])
                entry["ci95"] = [round(x, 4) for x in ci]
            if row != REFERENCE and REFERENCE in acc:
                ref = {key: v for key, v in acc[REFERENCE].get(kind, {}).items()
                       if machines[REFERENCE][key] == machines[row].get(key)}
                d = paired_difference(scores, ref, ratio[row])
                if d is not None:
                    entry["vs_wise"] = {**d, "mean": round(d["mean"], 4),
                                        "ci95": [round(x, 4) for x in d["ci95"]]}
            cell[kind] = entry
        out[row] = cell
    return out


def _num(x: float, sign: bool = False) -> str:
    """.285, or +.008 / −.067 with `sign` (a difference)."""
    text = f"{abs(x):.3f}".lstrip("0")
    return ("−" if x < 0 else "+" if sign else "") + text


def markdown(table: dict) -> str:
    """The table docs/synthetic-results.md quotes: per size and row, the runs finished, each
    kind's mean accuracy, the interaction third's interval and its difference from WISE."""
    lines = ["| utterances | row | (seed, fold) runs | acoustic | lexical | interaction "
             "[95% interval] | interaction, minus `wise` on the same runs [95% interval] |",
             "|---|---|---|---|---|---|---|"]
    for n, cells in table.items():
        for row, c in cells.items():
            i, v = c["interaction"], c["interaction"].get("vs_wise")
            ci = i.get("ci95")
            lines.append(
                f"| {int(n):,} | `{row}` | {i['n_runs']} | {_num(c['acoustic']['mean'])} | "
                f"{_num(c['lexical']['mean'])} | {_num(i['mean'])}"
                + (f" [{_num(ci[0])}, {_num(ci[1])}]" if ci else "") + " | "
                + (f"{_num(v['mean'], True)} [{_num(v['ci95'][0], True)}, "
                   f"{_num(v['ci95'][1], True)}]" if v else "—") + " |")
    return "\n".join(lines)


def plot(table: dict, out: Path) -> None:
    """The interaction third's accuracy against corpus size, a line per row, the interval
    of each mean as a bar, a cell with fewer than its 15 (seed, fold) runs marked with its
    count; chance (.25) and the third's majority share (.31) dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for k, row in enumerate(ROWS):
        pts = [(int(n), c[row]["interaction"]) for n, c in table.items()
               if row in c and "interaction" in c[row]]
        if not pts:
            continue
        x = np.array([n for n, _ in pts]) * (1 + 0.03 * (k - 1.5))   # side by side
        y = np.array([e["mean"] for _, e in pts])
        lo = np.array([e.get("ci95", [e["mean"]] * 2)[0] for _, e in pts])
        hi = np.array([e.get("ci95", [e["mean"]] * 2)[1] for _, e in pts])
        ax.errorbar(x, y, yerr=[y - lo, hi - y], marker="o", capsize=3, label=row)
        for xi, yi, (_, e) in zip(x, y, pts, strict=True):     # an unfinished cell says so
            if e["n_runs"] < 15:
                ax.annotate(f"{e['n_runs']} runs", (xi, yi), textcoords="offset points",
                            xytext=(4, -10), fontsize=7)
    ax.axhline(0.25, ls="--", color="grey", lw=1, label="chance")
    ax.axhline(0.31, ls=":", color="grey", lw=1, label="majority class of the third")
    ax.set_xscale("log")
    ax.set_xticks([int(n) for n in table], [f"{int(n):,}" for n in table])
    ax.minorticks_off()
    ax.set_xlabel("utterances in the synthetic corpus")
    ax.set_ylabel("accuracy on the interaction third")
    ax.set_title("Does more data teach the word-pattern binding?")
    ax.legend(fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=120)
    tmp.replace(out)
    plt.close(fig)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("runs/interaction-scale"))
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)))
    ap.add_argument("--rows", default=",".join(ROWS))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2, help="trainings at once, one thread each")
    ap.add_argument("--measure", action="store_true",
                    help="only time one epoch per size and row (the budget)")
    ap.add_argument("--table-only", action="store_true", help="train nothing")
    args = ap.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    rows = args.rows.split(",")
    unknown = sorted(set(rows) - set(ROWS))
    if unknown:
        raise SystemExit(f"--rows: not a row of this study: {', '.join(unknown)}")
    envelope = {"code_version": code_version(), "machine": machine(platform=True),
                "command": " ".join(["python", "benchmarks/studies/interaction_scale.py",
                                     *sys.argv[1:]])}
    if args.measure:
        result = {**envelope, "torch_threads": 1, "epochs": measure(args.work, sizes, rows)}
        atomic_write_text(RESULTS / "interaction_scale_budget.json",
                          json.dumps(result, indent=2) + "\n")
        return 0
    if not args.table_only:
        for n in sizes:
            for row in rows:
                run_cell(args.work, n, row, args.seeds, args.jobs)
    table = {str(n): cell_table(n, list(ROWS)) for n in SIZES}
    table = {n: c for n, c in table.items() if c}
    result = {**envelope, "reference": REFERENCE, "corpus_seed": CORPUS_SEED,
              "metric": "accuracy on the test fold's utterances of each kind, per (seed, fold)",
              "interval": "95% corrected repeated-CV t-interval (wise.stats)", "sizes": table,
              "table": markdown(table)}
    atomic_write_text(RESULTS / "interaction_scale.json", json.dumps(result, indent=2) + "\n")
    if table:
        plot(table, FIGURE)
    for n, cells in table.items():
        for row, c in cells.items():
            i = c.get("interaction", {})
            print(f"{n:>6} {row:<8} interaction {i.get('mean')} ({i.get('n_runs')} runs) "
                  f"vs wise {i.get('vs_wise', {}).get('ci95')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
