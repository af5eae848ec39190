"""Every row tried on real speech, several seeds, paired against reference rows.

Runs `wise cv --seeds N` for each row on one manifest with speaker-independent folds
(`protocol=speaker_groups`), then compares every row with the reference rows on the same
(seed, fold) pairs: mean paired UA difference and its 95% interval, corrected for the overlap
of cross-validation's training sets (`wise.stats`: Nadeau & Bengio 2003, Bouckaert & Frank
2004). The folds are the same for every row and seed (they depend on the manifest and
`cv.split_seed` only), so a difference is measured on identical test speakers.

    python benchmarks/studies/real_speech.py --manifest ravdess-dev.jsonl --out runs/real-speech
    python benchmarks/studies/real_speech.py --manifest ravdess-dev.jsonl --table-only

Writes OUT/ROW/ (one cv run per row, every seed in it: OUT/ROW/seed_S/fold_K/; finished folds
are reused), and benchmarks/results/real_speech.json and .md (the table docs/real-speech.md
quotes). Runs made before `wise cv --seeds` (one cv run per seed, OUT/ROW/seed_S/summary.json,
each seed with its own folds) are read as they are. `--table-only` trains nothing: it builds
the table from the finished runs and stops if a row's are missing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from wise import code_version
from wise.cli import main as wise_main
from wise.fsutil import atomic_write_text
from wise.stats import compare_folds, compare_runs

RESULTS = Path(__file__).resolve().parents[1] / "results"

# name -> (shipped config, overrides, what it is)
EGEMAPS = ["functionals=egemaps", "prosody=egemaps"]
# `wise_whisper` reads layer 2 of tiny.en's encoder over the clip + 7 s window, with both views
# of each clip in training (its speaker's statistics and the training speakers' average) and
# its read-out fitted on every training speaker. Before that it read layers 2 and 4 of the same
# window with the read-out fitted on the speakers' own statistics of the rows left after
# validation (`wise_whisper_2_4`), and before that the last layer over the 30-s window
# (`wise_whisper_previous`). The variants below keep the settings of the config they were
# measured against, so that a name means what its results measured.
# The training settings of the configs shipped before the present one.
EARLIER_TRAIN = ["readout_mix=false", "val_unadapted=false", "unadapted_fraction=0",
                 "readout_rows=fit", "adapt_prior_clips=4"]
LAYERS_2_4 = ["encoder_layers=[2,4]", "encoder_window=clip+7s"]
PREVIOUS = ["encoder_layers=[]", "encoder_window=30s", *EARLIER_TRAIN]
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
    # Whisper's encoder as the frame source (docs/features.md). Adapted rows (per-speaker
    # statistics) are compared with adapted rows, corpus-normalised with corpus-normalised.
    "egemaps_svm_speaker": ("egemaps_svm", ["normalize=speaker"],
                            "eGeMAPS + SVM, each speaker standardised by his or her clips"),
    "whisper_probe": ("whisper_probe", [], "Whisper tiny.en encoder mean+std + logistic "
                                           "regression (the probe), corpus statistics"),
    "whisper_probe_speaker": ("whisper_probe", ["normalize=speaker"],
                              "the probe, each speaker standardised by his or her clips"),
    "whisper_probe_base_speaker": ("whisper_probe", ["normalize=speaker", "frames=whisper-base"],
                                   "the probe on Whisper base's encoder, per speaker"),
    "wise_whisper": ("wise_whisper", [], "WISE over Whisper tiny.en's encoder frames "
                                         "(shipped real-speech config)"),
    "wise_whisper_previous": ("wise_whisper", PREVIOUS,
                              "`wise_whisper` as shipped before: the last layer, 30-s window"),
    "wise_whisper_base": ("wise_whisper", [*PREVIOUS, "frames=whisper-base"],
                          "`wise_whisper` on Whisper base's encoder"),
    "wise_whisper_no_readout": ("wise_whisper", [*PREVIOUS, "utterance_logits=false",
                                                 "readout_first=false"],
                                "`wise_whisper` without the linear read-out of the statistics"),
    "wise_whisper_no_shrink": ("wise_whisper", [*PREVIOUS, "adapt_prior_clips=0"],
                               "`wise_whisper` with a new speaker's statistics not shrunk"),
    "wise_whisper_short_window": ("wise_whisper", [*PREVIOUS, "encoder_window=clip+7s"],
                                  "`wise_whisper` on the frames of the clip + 7 s window the "
                                  "recogniser decodes from"),
    "wise_whisper_short_window_15s": ("wise_whisper", [*PREVIOUS, "encoder_window=clip+15s"],
                                      "`wise_whisper` on the frames of the clip + 15 s "
                                      "window"),
    # Which of the encoder's layers (FeatureConfig.encoder_layers): tiny.en has 4.
    "whisper_probe_layer2": ("whisper_probe", ["encoder_layers=[2]"],
                             "the probe on layer 2 of tiny.en's 4, corpus statistics"),
    "whisper_probe_layer2_speaker": ("whisper_probe", ["encoder_layers=[2]",
                                                       "normalize=speaker"],
                                     "the probe on layer 2, per speaker"),
    "wise_whisper_layer2": ("wise_whisper", [*PREVIOUS, "encoder_layers=[2]"],
                            "`wise_whisper` on layer 2 of tiny.en's encoder"),
    "wise_whisper_layers_2_4": ("wise_whisper", [*PREVIOUS, "encoder_layers=[2,4]"],
                                "`wise_whisper` on layers 2 and 4, side by side"),
    "wise_whisper_layers_2_4_short_window": ("wise_whisper", [*PREVIOUS, *LAYERS_2_4],
                                             "`wise_whisper` on layers 2 and 4 of the clip + "
                                             "7 s window"),
    "wise_whisper_layers_2_4_corpus": ("wise_whisper", [*PREVIOUS, "encoder_layers=[2,4]",
                                                        "normalize=corpus"],
                                       "`wise_whisper` on layers 2 and 4, corpus statistics"),
    "whisper_probe_layer2_clip": ("whisper_probe", ["encoder_layers=[2]", "encoder_window=clip"],
                                  "the probe on layer 2, the clip encoded alone"),
    "whisper_probe_layer2_clip_speaker": ("whisper_probe", ["encoder_layers=[2]",
                                                            "encoder_window=clip",
                                                            "normalize=speaker"],
                                          "the probe on layer 2, the clip alone, per speaker"),
    "whisper_probe_layers_2_4": ("whisper_probe", ["encoder_layers=[2,4]"],
                                 "the probe on layers 2 and 4, corpus statistics"),
    "whisper_probe_layers_2_4_speaker": ("whisper_probe", ["encoder_layers=[2,4]",
                                                           "normalize=speaker"],
                                         "the probe on layers 2 and 4, per speaker"),
    "wise_whisper_layer2_corpus": ("wise_whisper", [*PREVIOUS, "encoder_layers=[2]",
                                                    "normalize=corpus"],
                                   "`wise_whisper` on layer 2, corpus statistics"),
    "wise_whisper_layer2_clip": ("wise_whisper", [*PREVIOUS, "encoder_layers=[2]",
                                                  "encoder_window=clip"],
                                 "`wise_whisper` on layer 2, the clip encoded alone"),
    # The config shipped before the present one, and the steps from it to the present one.
    "wise_whisper_2_4": ("wise_whisper", [*LAYERS_2_4, *EARLIER_TRAIN],
                         "`wise_whisper` as shipped before: layers 2 and 4, the read-out "
                         "fitted on the speakers' own statistics"),
    "wise_whisper_readout_all": ("wise_whisper", [*LAYERS_2_4, *EARLIER_TRAIN,
                                                  "readout_rows=all"],
                                 "`wise_whisper_2_4`, the read-out fitted on every training "
                                 "speaker (validation ones too)"),
    "wise_whisper_mixed": ("wise_whisper", [*LAYERS_2_4, *EARLIER_TRAIN, "unadapted_fraction=0.5",
                                            "readout_mix=true"],
                           "`wise_whisper_2_4`, half the training clips read as an unknown "
                           "speaker's, the read-out fitted on both views"),
    "wise_whisper_mixed_val": ("wise_whisper", [*LAYERS_2_4, *EARLIER_TRAIN,
                                                "unadapted_fraction=0.5", "readout_mix=true",
                                                "val_unadapted=true"],
                               "`wise_whisper_mixed`, each epoch judged adapted and not"),
    "wise_whisper_layer2_mixed": ("wise_whisper", [*LAYERS_2_4, *EARLIER_TRAIN,
                                                   "encoder_layers=[2]", "unadapted_fraction=0.5",
                                                   "readout_mix=true"],
                                  "`wise_whisper_mixed` on layer 2 alone"),
    "wise_whisper_layer2_mixed_val": ("wise_whisper", [*LAYERS_2_4, *EARLIER_TRAIN,
                                                       "encoder_layers=[2]",
                                                       "unadapted_fraction=0.5",
                                                       "readout_mix=true", "val_unadapted=true"],
                                      "`wise_whisper_layer2_mixed`, each epoch judged "
                                      "adapted and not (`wise_whisper_prior4` with its "
                                      "read-out fitted without the validation speakers)"),
    "wise_whisper_prior4": ("wise_whisper", ["adapt_prior_clips=4"],
                            "`wise_whisper_layer2_mixed_val`, the read-out fitted on every "
                            "training speaker (`wise_whisper` with n0 = 4, not 8)"),
    # The probe on the frames the shipped config reads.
    "whisper_probe_layer2_short_window": ("whisper_probe", ["encoder_layers=[2]",
                                                            "encoder_window=clip+7s"],
                                          "the probe on layer 2 of the clip + 7 s window, "
                                          "corpus statistics"),
    "whisper_probe_layer2_short_window_speaker": ("whisper_probe",
                                                  ["encoder_layers=[2]", "encoder_window=clip+7s",
                                                   "normalize=speaker"],
                                                  "the probe on layer 2 of the clip + 7 s "
                                                  "window, per speaker"),
    # The probe on the frames `wise_whisper_2_4` reads.
    "whisper_probe_layers_2_4_short_window": ("whisper_probe", LAYERS_2_4,
                                              "the probe on layers 2 and 4 of the clip + 7 s "
                                              "window, corpus statistics"),
    "whisper_probe_layers_2_4_short_window_speaker": ("whisper_probe",
                                                      [*LAYERS_2_4, "normalize=speaker"],
                                                      "the probe on layers 2 and 4 of the clip "
                                                      "+ 7 s window, per speaker"),
}


def load_row(out: Path, name: str, seeds: int, folds: int) -> dict | None:
    """Row `name`'s finished runs as one `wise cv` summary whose "folds" list has every
    (seed, fold) of seeds 0..`seeds`-1, or None when some are missing. Reads OUT/NAME/
    summary.json (`wise cv --seeds`), else the older layout OUT/NAME/seed_S/summary.json."""
    row_dir = out / name
    wanted = list(range(seeds))

    def complete(entries: list[dict]) -> bool:
        return all(sum(int(f["seed"]) == seed for f in entries) == folds for seed in wanted)

    if (row_dir / "summary.json").is_file():
        s = json.loads((row_dir / "summary.json").read_text())
        entries = [f for f in s["folds"] if int(f.get("seed", 0)) in wanted]
        if complete(entries):
            return {**s, "seeds": wanted, "folds": entries}
    if not all((row_dir / f"seed_{seed}" / "summary.json").is_file() for seed in wanted):
        return None
    s, entries = {}, []
    for seed in wanted:
        old = json.loads((row_dir / f"seed_{seed}" / "summary.json").read_text())
        trained = old.get("config", {}).get("train", {}).get("seed", seed)
        if trained != seed:
            raise SystemExit(f"{row_dir / f'seed_{seed}'} was trained with seed {trained}")
        s = s or old
        for f in old["folds"]:
            f = {**f, "seed": seed}          # one run per seed: its entries carry no seed
            # Shim for summaries written before their fold entries had `n_train` and `n_val`:
            # the fold's metrics.json has them, and `wise.stats.test_over_train` needs them.
            if not f.get("n_train"):
                metrics = row_dir / f"seed_{seed}" / f"fold_{f['fold']}" / "metrics.json"
                m = json.loads(metrics.read_text())
                f["n_train"], f["n_val"] = m["n_train"], m.get("n_val", 0)
            entries.append(f)
    return {**s, "seeds": wanted, "folds": entries} if complete(entries) else None


def run_row(name: str, manifest: str, out: Path, seeds: int, folds: int, jobs: int,
            validation: str) -> dict:
    """One `wise cv --seeds` run of row `name` into OUT/NAME/ (finished folds are reused)."""
    config, sets, _ = ROWS[name]
    # The first table (real_speech.md) was made before held-out speakers became the default
    # for speaker-independent protocols: `--validation rows` reproduces it.
    args = ["cv", "--config", config, "--manifest", manifest, "--out", str(out / name),
            "--jobs", str(jobs), "--quiet", "--seeds", str(seeds),
            "--set", "protocol=speaker_groups", "--set", f"folds={folds}", "--set", "seed=0",
            "--set", f"validation={validation}"]
    for s in sets:
        args += ["--set", s]
    if wise_main(args) != 0:
        raise SystemExit(f"{name} failed")
    s = load_row(out, name, seeds, folds)
    if s is None:
        raise SystemExit(f"{name}: {out / name / 'summary.json'} lacks some (seed, fold)")
    return s


ADAPTED_REFERENCES = ["egemaps_svm_speaker", "whisper_probe_speaker"]
TITLES = {"adapted": "**Adapted**: each held-out speaker standardised by the statistics of his "
                     "or her own clips (audio only), every row so.",
          "unadapted": "**Not adapted**: no statistics of the held-out speaker (corpus "
                       "statistics, or the training speakers' average for the rows normalised "
                       "per speaker: the same models as above, scored without adaptation)."}
UNADAPTED_REFERENCES = ["egemaps_svm", "whisper_probe"]


def adapted(s: dict) -> bool:
    """Whether a row normalises each speaker by his or her own clips (then its cv UA is
    adapted, and `ua_unadapted` is the same models scored without the test speakers' clips)."""
    return s["config"]["train"].get("normalize") == "speaker"


def scores_as(s: dict, condition: str | None) -> dict | None:
    """The row's summary with "ua" (and "wa") of `condition` ("adapted", "unadapted", or None:
    the cv figures as they are); None when the row has no such figure (a corpus-normalised row
    under "adapted", or an adapted row of a run made before cv scored it unadapted too)."""
    if condition is None or (condition == "unadapted") != adapted(s):
        return s
    if condition == "adapted" or not all("ua_unadapted" in f for f in s["folds"]):
        return None
    return {**s, "folds": [{**f, "ua": f["ua_unadapted"], "wa": f["wa_unadapted"]}
                           for f in s["folds"]]}


def compare(rows: dict[str, dict], references: list[str], condition: str | None = None
            ) -> dict:
    """Each row's scores and its paired differences from the reference rows: of the cv UA
    (`condition` None), or of the adapted or unadapted figures (`scores_as`), where a row
    has them."""
    out = {}
    for name, s0 in rows.items():
        s = scores_as(s0, condition)
        if s is None:
            continue
        uas = [float(f["ua"]) for f in s["folds"]]
        was = [float(f["wa"]) for f in s["folds"]]
        by_seed: dict[int, list[float]] = {}
        for f in s["folds"]:
            by_seed.setdefault(int(f["seed"]), []).append(float(f["ua"]))
        fold_std = float(np.mean([np.std(v) for v in by_seed.values()]))
        r = {"what": ROWS[name][2], "config": ROWS[name][0], "sets": ROWS[name][1],
             "source": "ua_unadapted" if s is not s0 else "ua",
             "seeds": sorted(by_seed), "n": len(uas),
             "ua_mean": round(float(np.mean(uas)), 4), "ua_std": round(float(np.std(uas)), 4),
             "fold_std": round(fold_std, 4),
             "wa_mean": round(float(np.mean(was)), 4), "wa_std": round(float(np.std(was)), 4),
             "vs": {}}
        for ref in references:
            other = scores_as(rows[ref], condition) if ref in rows else None
            if ref != name and other is not None and (v := compare_runs(s, other)) is not None:
                r["vs"][ref] = {"n_pairs": v["n_pairs"], "mean": round(v["mean"], 4),
                                "ci95": [round(x, 4) for x in v["ci95"]],
                                "verdict": v["verdict"]}
                if len(by_seed) > 1 and (w := compare_folds(s, other)) is not None:
                    r["vs"][ref]["over_folds"] = {"n_pairs": w["n_pairs"],
                                                  "ci95": [round(x, 4) for x in w["ci95"]],
                                                  "verdict": w["verdict"]}
        out[name] = r
    return out


def markdown(table: dict, references: list[str], meta: dict, title: str = "") -> str:
    def cell(v: dict | None) -> str:
        if v is None:
            return "—"
        text = f"{v['mean']:+.3f} [{v['ci95'][0]:+.3f}, {v['ci95'][1]:+.3f}]"
        if "over_folds" in v:
            lo, hi = v["over_folds"]["ci95"]
            text += f"; folds [{lo:+.3f}, {hi:+.3f}]"
        return text

    lines = [f"Manifest `{meta['manifest']}`, {meta['folds']} speaker-independent folds "
             f"(`speaker_groups`), seeds {meta['seeds']}, early stopping on held-out training "
             f"{meta.get('validation', 'rows')}; code `{meta['code_version']}`.",
             "UA mean ± std over every (seed, fold); fold std = std over the folds of one "
             "seed, averaged over seeds; Δ = paired UA difference against a reference row on "
             "the same (seed, fold), with its 95% interval corrected for the overlapping "
             "training sets of cross-validation (variance s²(1/J + n_test/n_train) over J "
             "pairs; Nadeau & Bengio 2003, `wise.stats`); \"folds\": the same interval with "
             "each fold's seeds averaged first (one pair a fold), the one to read when a row's "
             "seeds give nearly the same models (a scikit-learn row's are identical). A row is "
             "better or worse only when the interval excludes 0.", ""] if not title else [title, ""]
    lines += ["| Row | What | UA | WA | fold std | "
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
    ap.add_argument("--adapted-references", nargs="+", default=ADAPTED_REFERENCES,
                    help="the rows the adapted table compares with")
    ap.add_argument("--unadapted-references", nargs="+", default=UNADAPTED_REFERENCES,
                    help="the rows the not-adapted table compares with")
    ap.add_argument("--table-only", action="store_true",
                    help="train nothing: build the table from the finished runs in --out")
    ap.add_argument("--tag", default="real_speech", help="results file name (without .json)")
    ap.add_argument("--validation", choices=("rows", "speakers"), default="speakers",
                    help="early stopping on held-out training rows or speakers (the default "
                         "of `wise cv`); the first table used rows")
    args = ap.parse_args()
    t0 = time.perf_counter()
    out = Path(args.out)
    rows: dict[str, dict] = {}
    if args.table_only:
        missing = [n for n in args.rows if load_row(out, n, args.seeds, args.folds) is None]
        if missing:
            raise SystemExit(
                f"--table-only: no finished runs with seeds 0..{args.seeds - 1} × "
                f"{args.folds} folds for {', '.join(missing)} (looked for "
                f"{out}/ROW/summary.json and {out}/ROW/seed_S/summary.json); run without "
                "--table-only to train them")
    for name in args.rows:
        s = load_row(out, name, args.seeds, args.folds)
        if s is None:
            s = run_row(name, args.manifest, out, args.seeds, args.folds, args.jobs,
                        args.validation)
        rows[name] = s
        uas = [f["ua"] for f in s["folds"]]
        print(f"{name}: UA {np.mean(uas):.3f} ± {np.std(uas):.3f} "
              f"({len(uas)} (seed, fold) pairs)", flush=True)
    table = compare(rows, args.references)
    by_condition = {c: compare(rows, refs, c) for c, refs in
                    (("adapted", args.adapted_references),
                     ("unadapted", args.unadapted_references))}
    meta = {"manifest": args.manifest, "folds": args.folds, "seeds": list(range(args.seeds)),
            "validation": args.validation,
            "references": args.references,
            "interval": "95% corrected repeated-CV t-interval (wise.stats.paired_difference)",
            # the code that trained the runs; the table's own is table_code_version
            "code_version": ", ".join(sorted({str(s.get("code_version", "unknown"))
                                              for s in rows.values()})),
            "table_code_version": code_version(),
            "seconds": round(time.perf_counter() - t0, 1)}
    RESULTS.mkdir(exist_ok=True)
    atomic_write_text(RESULTS / f"{args.tag}.json",
                      json.dumps({**meta, "rows": table, **by_condition}, indent=2) + "\n")
    md = markdown(table, args.references, meta)
    for condition, refs in (("adapted", args.adapted_references),
                            ("unadapted", args.unadapted_references)):
        if by_condition[condition]:
            md += "\n" + markdown(by_condition[condition], refs, meta, TITLES[condition])
    atomic_write_text(RESULTS / f"{args.tag}.md", md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
