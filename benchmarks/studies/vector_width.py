"""The text input's width: the `wise` row with the default 50-d GloVe 6B vectors against the
packaged 300-d vectors (`spacy-md-300d`, spaCy's en_core_web_md table; not GloVe), several
seeds, paired on the same (seed, fold) of the synthetic demo corpus.

The paper's text input is 300-d GloVe; the default here is 50-d (docs/training.md). This asks
how much the narrower text branch costs on the corpus every table here is made on. The two
vector sets differ in more than width (training text, vocabulary, pruning to 20,000 distinct
vectors, scale), so a difference is the whole swap's, not width's alone.

    python benchmarks/studies/vector_width.py --seeds 3 --jobs 2

The 50-d side is the committed demo's `wise` row (wise-demo/results/wise, from `wise demo`
then `wise reproduce --seeds 3`: the table's own runs) unless `--fresh-50d`; the 300-d side
is trained into OUT/spacy-md-300d/wise (one `wise cv --seeds` run; finished folds are reused)
after its feature pack is built. Writes benchmarks/results/vector_width.json and prints the
markdown table docs/training.md quotes. `--table-only` trains nothing.
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
from validation_split import (
    INTERVAL,
    difference,
    fold_metrics,
    write_result,
)

from wise import code_version
from wise.cli import main as wise_main
from wise.features.words import WordVectors, load_word_vectors, oov_report
from wise.testing.host import machine
from wise.text import tokenize

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = "wise-demo/manifest.jsonl"
CACHE = "wise-demo/wise-cache"
COMMITTED_50D = "wise-demo/results/wise"
CHOICES = ("glove-6b-50d", "spacy-md-300d")


def run_dir(out: Path, choice: str, fresh_50d: bool) -> Path:
    if choice == "glove-6b-50d" and not fresh_50d:
        return Path(COMMITTED_50D)
    return out / choice / "wise"


def train(out: Path, choice: str, seeds: int, jobs: int) -> None:
    """The choice's feature pack, then one `wise cv --seeds` run of the `wise` row."""
    if wise_main(["features", MANIFEST, "--cache", CACHE, "--word-vectors", choice,
                  "--workers", "1", "--quiet"]) != 0:
        raise SystemExit(f"features with {choice} failed")
    if wise_main(["cv", "--config", "wise", "--manifest", MANIFEST, "--cache", CACHE,
                  "--out", str(run_dir(out, choice, True)), "--jobs", str(jobs),
                  "--workers", "1", "--quiet", "--seeds", str(seeds),
                  "--set", f"word_vectors={choice}"]) != 0:
        raise SystemExit(f"cv with {choice} failed")


def load(where: Path, seeds: int) -> dict | None:
    """Every (seed, fold) of a finished run with its summary, or None when some is missing."""
    if not (where / "folds.json").is_file() or not (where / "summary.json").is_file():
        return None
    n_folds = len(json.loads((where / "folds.json").read_text())["folds"])
    folds = fold_metrics(where, seeds)
    if len(folds) != seeds * n_folds:
        return None
    return {"folds": [folds[k] for k in sorted(folds)],
            "summary": json.loads((where / "summary.json").read_text())}


def oov(vectors: WordVectors) -> dict:
    """How many of the corpus's word tokens the vectors know."""
    texts = [json.loads(line)["text"] for line in (ROOT / MANIFEST).read_text().splitlines()
             if line.strip()]
    r = oov_report((tokenize(t) for t in texts), vectors)
    return {k: r[k] for k in ("tokens", "types", "oov_tokens", "oov_rate", "top_oov")}


def describe(run: dict, choice: str, where: Path) -> dict:
    f, s = run["folds"], run["summary"]
    ua = [x["ua"] for x in f]
    vectors = load_word_vectors(choice, ROOT / CACHE / "vectors")
    norms = np.linalg.norm(np.asarray(vectors.vectors, dtype=np.float32), axis=1)
    return {"run": str(where), "n": len(f), "word_vectors": s.get("word_vectors"),
            "word_dim": s.get("word_dim"), "n_params": s.get("n_params"),
            "validation": s["config"]["train"].get("validation", "rows"),
            "ua_mean": round(float(np.mean(ua)), 4), "ua_std": round(float(np.std(ua)), 4),
            "wa_mean": round(float(np.mean([x["wa"] for x in f])), 4),
            "wa_std": round(float(np.std([x["wa"] for x in f])), 4),
            "ua_by_seed": [round(float(np.mean([x["ua"] for x in f if x["seed"] == k])), 4)
                           for k in sorted({x["seed"] for x in f})],
            "best_epoch_mean": round(float(np.mean([x["best_epoch"] for x in f])), 2),
            "train_seconds": round(float(sum(x["seconds"] for x in f)), 1),
            "vector_norm_median": round(float(np.median(norms)), 2),
            "code_version": s.get("code_version"), "oov": oov(vectors)}


def markdown(result: dict) -> str:
    def d(v: dict, fmt: str = "+.3f") -> str:
        return f"{v['mean']:{fmt}} [{v['ci95'][0]:{fmt}}, {v['ci95'][1]:{fmt}}]"

    lines = ["| Word vectors | text input | parameters | UA | WA | best epoch | OOV tokens |",
             "|---|---|---|---|---|---|---|"]
    for choice in CHOICES:
        r = result["choices"][choice]
        lines.append(f"| `{choice}` | {r['word_dim']}-d | {r['n_params']:,} | "
                     f"{r['ua_mean']:.3f} ± {r['ua_std']:.3f} | {r['wa_mean']:.3f} ± "
                     f"{r['wa_std']:.3f} | {r['best_epoch_mean']:.1f} | "
                     f"{100 * r['oov']['oov_rate']:.2f}% |")
    delta = result["300d_minus_50d"]
    lines.append(f"| Δ 300-d − 50-d ({delta['ua']['n_pairs']} pairs) | | | {d(delta['ua'])} | "
                 f"{d(delta['wa'])} | {d(delta['best_epoch'], '+.1f')} | |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/vector-width")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--fresh-50d", action="store_true",
                    help="train the 50-d side into --out too, instead of reading the demo's")
    ap.add_argument("--table-only", action="store_true",
                    help="train nothing: build the figures from the finished runs")
    args = ap.parse_args()
    os.chdir(ROOT)                       # the corpus's paths are the checkout's
    out = Path(args.out)
    t0 = time.perf_counter()
    runs = {}
    for choice in CHOICES:
        where = run_dir(out, choice, args.fresh_50d)
        if not args.table_only and where.is_relative_to(out) and load(where, args.seeds) is None:
            train(out, choice, args.seeds, args.jobs)
    for choice in CHOICES:
        where = run_dir(out, choice, args.fresh_50d)
        run = load(where, args.seeds)
        if run is None:
            raise SystemExit(f"{where}: no finished run with seeds 0..{args.seeds - 1}")
        runs[choice] = run
    a, b = runs["spacy-md-300d"], runs["glove-6b-50d"]
    if a["summary"]["config"]["train"] != b["summary"]["config"]["train"]:
        raise SystemExit("the two runs were trained with different training settings")
    result = {
        "command": "python " + shlex.join(["benchmarks/studies/vector_width.py", *sys.argv[1:]]),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(platform=True), "table_code_version": code_version(),
        "jobs": args.jobs,
        "corpus": "synthetic demo corpus, leave one session out (5 folds, 2 speakers each)",
        "manifest": MANIFEST, "config": "wise", "seeds": list(range(args.seeds)),
        "interval": INTERVAL,
        "seconds": round(time.perf_counter() - t0, 1),
        "choices": {c: describe(runs[c], c, run_dir(out, c, args.fresh_50d)) for c in CHOICES},
        "300d_minus_50d": {key: difference(a, b, key) for key in ("ua", "wa", "best_epoch")},
    }
    write_result("vector_width.json", result, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
