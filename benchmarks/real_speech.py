"""Every row tried on real speech, several seeds, paired against reference rows.

Runs `wise cv` for each row and seed on one manifest with speaker-independent folds
(`protocol=speaker_groups`), then compares every row with the reference rows on the same
(seed, fold) pairs: mean paired UA difference and its 95% t-interval over those pairs. The
folds of one seed are the same for every row (they depend on the seed and the manifest only),
so a difference is measured on identical test speakers.

    python benchmarks/real_speech.py --manifest ravdess-dev.jsonl --out runs/real-speech

Writes OUT/ROW/seed_S/ (the usual cv run folders; finished ones are reused), and
benchmarks/results/real_speech.json and .md (the table docs/real-speech.md quotes).
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

from wise import code_version  # noqa: E402
from wise.cli import main as wise_main  # noqa: E402
from wise.fsutil import atomic_write_text  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"

# name -> (shipped config, overrides, what it is)
EGEMAPS = ["functionals=egemaps", "prosody=egemaps"]
ROWS: dict[str, tuple[str, list[str], str]] = {
    "egemaps_svm": ("egemaps_svm", [], "eGeMAPS functionals + RBF SVM (classic baseline)"),
    "wise_plus": ("wise_plus", [], "WISE+ (shipped config: librosa functionals)"),
    "wise": ("wise", [], "WISE, the paper's model"),
    "audio_only": ("audio_only", [], "WISE's audio branch alone (paper's Table 1)"),
    "wise_speaker_norm": ("wise", ["normalize=speaker"], "WISE + per-speaker normalisation"),
    "wise_plus_egemaps": ("wise_plus", EGEMAPS,
                          "WISE+ with openSMILE's eGeMAPS: 88 functionals, 25 descriptors "
                          "per frame"),
    "wise_plus_egemaps_no_prosody": ("wise_plus", ["functionals=egemaps"],
                                     "  the same without the descriptors per frame"),
    "wise_plus_egemaps_no_functionals": ("wise_plus", ["prosody=egemaps", "functionals=none"],
                                         "  the same without the functionals (frame "
                                         "statistics only)"),
    "wise_plus_egemaps_no_utterance": ("wise_plus", ["prosody=egemaps", "functionals=none",
                                                     "utterance_stats=false"],
                                       "  the same without any utterance-level input"),
    "wise_plus_egemaps_corpus_norm": ("wise_plus", [*EGEMAPS, "normalize=corpus"],
                                      "  the same with corpus instead of per-speaker "
                                      "normalisation"),
    "wise_plus_egemaps_audio": ("wise_plus", [*EGEMAPS, "modality=audio", "interaction=false"],
                                "  the same, audio branch alone"),
}
def run_row(name: str, manifest: str, out: Path, seed: int, folds: int, jobs: int) -> dict:
    config, sets, _ = ROWS[name]
    run_dir = out / name / f"seed_{seed}"
    args = ["cv", "--config", config, "--manifest", manifest, "--out", str(run_dir),
            "--jobs", str(jobs), "--quiet", "--set", "protocol=speaker_groups",
            "--set", f"folds={folds}", "--set", f"seed={seed}"]
    for s in sets:
        args += ["--set", s]
    if wise_main(args) != 0:
        raise SystemExit(f"{name} seed {seed} failed")
    return json.loads((run_dir / "summary.json").read_text())


def fold_uas(summary: dict) -> dict[str, float]:
    return {str(f["test"]): float(f["ua"]) for f in summary["folds"]}


def paired(a: dict[int, dict], b: dict[int, dict]) -> dict | None:
    """Mean UA difference a - b over the (seed, fold) pairs both have, with its 95% t-interval
    (None with fewer than 2 pairs)."""
    diffs = []
    for seed, s in a.items():
        if seed in b:
            x, y = fold_uas(s), fold_uas(b[seed])
            diffs += [x[k] - y[k] for k in x if k in y]
    if len(diffs) < 2:
        return None
    d = np.array(diffs)
    half = float(stats.t.ppf(0.975, len(d) - 1)) * float(d.std(ddof=1)) / math.sqrt(len(d))
    return {"n_pairs": len(d), "mean": round(float(d.mean()), 4),
            "ci95": [round(float(d.mean()) - half, 4), round(float(d.mean()) + half, 4)]}


def compare(rows: dict[str, dict[int, dict]], references: list[str]) -> dict:
    out = {}
    for name, by_seed in rows.items():
        uas = [u for s in by_seed.values() for u in fold_uas(s).values()]
        was = [float(f["wa"]) for s in by_seed.values() for f in s["folds"]]
        fold_std = float(np.mean([np.std(list(fold_uas(s).values())) for s in by_seed.values()]))
        r = {"what": ROWS[name][2], "config": ROWS[name][0], "sets": ROWS[name][1],
             "seeds": sorted(by_seed), "n": len(uas),
             "ua_mean": round(float(np.mean(uas)), 4), "ua_std": round(float(np.std(uas)), 4),
             "fold_std": round(fold_std, 4),
             "wa_mean": round(float(np.mean(was)), 4), "wa_std": round(float(np.std(was)), 4),
             "vs": {}}
        for ref in references:
            if ref != name and ref in rows and (v := paired(by_seed, rows[ref])) is not None:
                r["vs"][ref] = v
        out[name] = r
    return out


def markdown(table: dict, references: list[str], meta: dict) -> str:
    def cell(v: dict | None) -> str:
        return "—" if v is None else f"{v['mean']:+.3f} [{v['ci95'][0]:+.3f}, {v['ci95'][1]:+.3f}]"

    lines = [f"Manifest `{meta['manifest']}`, {meta['folds']} speaker-independent folds "
             f"(`speaker_groups`), seeds {meta['seeds']}; code `{meta['code_version']}`.",
             "UA mean ± std over every (seed, fold); fold std = std over the folds of one "
             "seed, averaged over seeds; Δ = paired UA difference against a reference row on "
             "the same (seed, fold), with its 95% t-interval. A row is better or worse only "
             "when the interval excludes 0.", "",
             "| Row | What | UA | WA | fold std | "
             + " | ".join(f"Δ UA vs `{r}` [95% CI]" for r in references) + " |",
             "|---|---|---|---|---|" + "---|" * len(references)]
    for name, r in table.items():
        lines.append(f"| `{name}` | {r['what']} | {r['ua_mean']:.3f} ± {r['ua_std']:.3f} | "
                     f"{r['wa_mean']:.3f} ± {r['wa_std']:.3f} | {r['fold_std']:.3f} | "
                     + " | ".join(cell(r["vs"].get(ref)) for ref in references) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--out", default="runs/real-speech")
    ap.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--references", nargs="+",
                    default=["egemaps_svm", "wise_plus", "wise_plus_egemaps"],
                    help="rows every other row is compared with, pair by pair")
    ap.add_argument("--tag", default="real_speech", help="results file name (without .json)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    rows: dict[str, dict[int, dict]] = {}
    for name in args.rows:
        for seed in range(args.seeds):
            s = run_row(name, args.manifest, Path(args.out), seed, args.folds, args.jobs)
            rows.setdefault(name, {})[seed] = s
            print(f"{name} seed {seed}: UA {s['ua_mean']:.3f} ± {s['ua_std']:.3f}", flush=True)
    table = compare(rows, args.references)
    meta = {"manifest": args.manifest, "folds": args.folds, "seeds": list(range(args.seeds)),
            "references": args.references, "code_version": code_version(),
            "seconds": round(time.perf_counter() - t0, 1)}
    RESULTS.mkdir(exist_ok=True)
    atomic_write_text(RESULTS / f"{args.tag}.json",
                      json.dumps({**meta, "rows": table}, indent=2) + "\n")
    md = markdown(table, args.references, meta)
    atomic_write_text(RESULTS / f"{args.tag}.md", md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
