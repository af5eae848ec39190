"""Build the model that ships inside the package (`wise.pretrained`) from the RAVDESS folders,
and measure it on the two actors it never heard.

    python tools/bundled_model.py RAVDESS_DIR

RAVDESS_DIR holds Actor_09 … Actor_24 (any Actor_NN folders: every actor found is used except
the two held out). The steps, each one line of the library:
1. `wise prepare ravdess` into WORK/ravdess.jsonl (forced alignment of the two statements);
2. the rows of every actor but `wise.pretrained.HELD_OUT` into WORK/train.jsonl;
3. `wise train --config wise_whisper` on them (deterministic: the same data and code give the
   same weights, `weights_sha256` below), its `extra` told what it was trained on;
4. the held-out actors' example clips (one per class each: normal intensity, statement 1,
   repetition 1, a rule fixed before training) copied beside it, with the licence note;
5. every clip of the held-out actors through `wise predict`'s path (no transcript: Whisper
   tiny.en hears the words), each clip alone and adapted to its speaker.
Writes src/wise/pretrained/ (checkpoint, LICENSE.txt, examples/) and
benchmarks/results/bundled_model.json, whose "table" docs/models.md quotes: these figures
beside the config's dev cross-validation through the same predict path
(benchmarks/studies/real_speech_predict.py's per-seed results). `--table-only` remakes the table.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import time
from pathlib import Path

import numpy as np

from wise import LABELS, code_version
from wise.checkpoint import DIGEST, load_checkpoint, save_blob
from wise.corpora.ravdess import parse_name, read_ravdess
from wise.errors import Skips
from wise.fsutil import atomic_write_text, file_sha256
from wise.metrics import scores
from wise.predict import Predictor
from wise.prepare import prepare
from wise.pretrained import BUNDLED_NAME, HELD_OUT, LICENCE_FILE, LICENCE_LINE
from wise.rows import load_run_config
from wise.runtime import Runtime
from wise.stats import mean_interval
from wise.train import train_final
from wise.utterance import read_manifest, write_manifest

ROOT = Path(__file__).resolve().parents[1]
CONFIG = "wise_whisper"
OUT = ROOT / "src" / "wise" / "pretrained"
RESULTS = ROOT / "benchmarks" / "results" / "bundled_model.json"
CV_SEEDS = [ROOT / "benchmarks" / "results" / f"real_speech_predict_{CONFIG}_seed{s}.json"
            for s in range(3)]

LICENCE_TEXT = f"""{LICENCE_LINE}

{BUNDLED_NAME} and the clips in examples/ are derived from the Ryerson Audio-Visual Database of
Emotional Speech and Song (RAVDESS): the model's weights were trained on its speech clips of
actors 09-22, and examples/ holds unchanged copies (16 kHz mono FLAC) of eight clips of actors
23 and 24. They are licensed under the Creative Commons Attribution-NonCommercial-ShareAlike
4.0 International licence: https://creativecommons.org/licenses/by-nc-sa/4.0/

Cite: Livingstone SR, Russo FA (2018). The Ryerson Audio-Visual Database of Emotional Speech
and Song (RAVDESS): A dynamic, multimodal set of facial and vocal expressions in North American
English. PLoS ONE 13(5): e0196391. https://doi.org/10.1371/journal.pone.0196391

The rest of the wise package (its code) is under the MIT licence.
"""


def example_rule(stem: str) -> bool:
    """The clips shipped as examples: normal intensity, statement 1, repetition 1."""
    n = parse_name(stem)
    return (n.intensity, n.statement.startswith("Kids"), n.repetition) == ("normal", True, 1)


def weights_sha256(path: Path) -> str:
    """A digest of the weights alone (the file's own digest also covers the code version)."""
    state = load_checkpoint(path)[0].state_dict()
    h = hashlib.sha256()
    for k in sorted(state):
        h.update(k.encode())
        h.update(state[k].contiguous().numpy().tobytes())
    return h.hexdigest()


def build(manifest: Path, work: Path, out: Path) -> dict:
    train_rows = [u for u in read_manifest(manifest) if u.speaker not in HELD_OUT]
    actors = sorted({u.speaker for u in train_rows})
    train_manifest = work / "train.jsonl"
    write_manifest(train_manifest, train_rows)
    run = load_run_config(CONFIG)
    t = time.perf_counter()
    tmp = work / BUNDLED_NAME
    s = train_final(run, train_manifest, tmp, runtime=Runtime(cache=work / "wise-cache"))
    seconds = time.perf_counter() - t
    # Say what it was trained on in words, not as this machine's path.
    blob = load_checkpoint(tmp)[3]
    blob = {k: v for k, v in blob.items() if k != DIGEST}
    blob["extra"] = {**blob["extra"], "trained_on": f"RAVDESS speech, {len(actors)} actors "
                     f"({actors[0]} to {actors[-1]}), 4 classes, {len(train_rows)} clips",
                     "held_out": list(HELD_OUT), "licence": "CC BY-NC-SA 4.0"}
    out.mkdir(parents=True, exist_ok=True)
    save_blob(out / BUNDLED_NAME, blob)
    return {"config": CONFIG, "actors": actors, "clips": len(train_rows),
            "n_fit": s.n_fit, "n_val": s.n_val, "best_epoch": s.best_epoch,
            "best_val_ua": round(s.best_val_ua, 4), "n_params": s.n_params,
            "train_seconds": round(seconds, 1)}


def copy_examples(manifest: Path, out: Path) -> list[str]:
    examples = out / "examples"
    shutil.rmtree(examples, ignore_errors=True)
    examples.mkdir(parents=True)
    names = []
    for u in read_manifest(manifest):
        src = Path(u.audio)
        if u.speaker in HELD_OUT and example_rule(src.stem):
            if src.suffix.lower() != ".flac":
                raise SystemExit(f"{src}: examples ship as FLAC (the dev set's 16 kHz FLAC)")
            shutil.copyfile(src, examples / src.name)
            names.append(src.name)
    if len(names) != len(HELD_OUT) * len(LABELS):
        raise SystemExit(f"expected one clip per class per held-out actor, found {names}")
    atomic_write_text(out / LICENCE_FILE, LICENCE_TEXT)
    return sorted(names)


def held_out_scores(checkpoint: Path, manifest: Path) -> dict:
    """Every held-out clip through the predict path, alone and adapted to its speaker."""
    rows = [u for u in read_manifest(manifest) if u.speaker in HELD_OUT]
    out: dict = {"clips": len(rows)}
    for mode in ("unadapted", "adapted"):
        preds, t = [], time.perf_counter()
        for actor in HELD_OUT:
            clips = [u for u in rows if u.speaker == actor]
            p = Predictor(checkpoint, speaker_audio=[u.audio for u in clips]
                          if mode == "adapted" else None)
            for u in clips:
                r = p.predict(u.audio)
                if r.label is None:          # no clip of the dev set is silent: say so loudly
                    raise SystemExit(f"{u.audio}: no label ({r.message})")
                preds.append({"file": Path(u.audio).name, "actor": actor, "label": u.label,
                              "predicted": r.label, "p": r.probabilities.get(r.label)})
        y = np.array([LABELS.index(x["label"]) for x in preds])
        yhat = np.array([LABELS.index(x["predicted"]) for x in preds])
        per_actor = {a: scores(y[m], yhat[m], LABELS) for a in HELD_OUT
                     for m in [np.array([x["actor"] == a for x in preds])]}
        out[mode] = {**_rounded(scores(y, yhat, LABELS)),
                     "per_actor": {a: _rounded(v) for a, v in per_actor.items()},
                     "seconds": round(time.perf_counter() - t, 1), "predictions": preds}
    return out


def _rounded(s: dict) -> dict:
    return {**s, "wa": round(s["wa"], 4), "ua": round(s["ua"], 4),
            "recall": {k: round(v, 4) for k, v in s["recall"].items() if v is not None}}


def card_table(result: dict) -> str:
    """The model card's table: dev cross-validation through the predict path (UA with its
    corrected 95% interval over the folds, each fold's seeds averaged first: a config whose
    seeds give nearly the same models has as many independent runs as folds), then the
    bundled model itself on the two actors it never heard."""
    runs = [json.loads(p.read_text()) for p in CV_SEEDS]
    folds = [f for r in runs for f in r["folds"].values()]
    ratio = float(np.mean([f["n_test"] / f["n_train"] for f in folds]))

    def by_fold(key: str) -> list[float]:
        return [float(np.mean([r["folds"][k][key] for r in runs])) for k in runs[0]["folds"]]

    h = result["held_out_predict"]
    lines = ["| Measured on | Speaker | UA [95% CI] | WA |", "|---|---|---|---|"]
    for mode, what in (("unadapted", "each clip alone (not adapted)"),
                       ("adapted", "adapted to the speaker (audio of all 28 clips)")):
        mean, (lo, hi) = mean_interval(by_fold(f"{mode}_ua"), ratio)
        lines.append(f"| dev cross-validation: 16 actors, 4 folds of 4 actors × "
                     f"{len(runs)} seeds, {folds[0]['n']} clips a fold | {what} | "
                     f"{mean:.3f} [{lo:.3f}, {hi:.3f}] | — |")
    for mode, what in (("unadapted", "each clip alone (not adapted)"),
                       ("adapted", "adapted to the speaker (audio of all 28 clips)")):
        per = ", ".join(f"{a} {v['ua']:.3f}" for a, v in h[mode]["per_actor"].items())
        lines.append(f"| the bundled model: {' + '.join(result['held_out'])}, never heard, "
                     f"{h['clips']} clips | {what} | {h[mode]['ua']:.3f} ({per}) | "
                     f"{h[mode]['wa']:.3f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("ravdess", nargs="?",
                    help="RAVDESS folder (Actor_NN/ folders of 16 kHz FLAC or WAV)")
    ap.add_argument("--work", default="runs/bundled", help="manifest and feature cache")
    ap.add_argument("--out", default=str(OUT), help="package folder to write into")
    ap.add_argument("--results", default=str(RESULTS))
    ap.add_argument("--table-only", action="store_true",
                    help="remake the results' table from the JSON files; train nothing")
    args = ap.parse_args()
    if args.table_only:
        result = json.loads(Path(args.results).read_text())
        result["table"] = card_table(result)
        atomic_write_text(args.results, json.dumps(result, indent=1) + "\n")
        print(result["table"])
        return
    if args.ravdess is None:
        ap.error("give the RAVDESS folder (or --table-only)")
    version = code_version()          # now: the files this writes into the tree are no change
    work, out = Path(args.work), Path(args.out)
    work.mkdir(parents=True, exist_ok=True)
    manifest = work / "ravdess.jsonl"
    if not manifest.is_file():
        skips = Skips()
        prepare(read_ravdess(args.ravdess, skips), manifest, skips)
    info = build(manifest, work, out)
    checkpoint = out / BUNDLED_NAME
    result = {
        "code_version": version, "held_out": list(HELD_OUT), "train": info,
        "checkpoint": {"file": BUNDLED_NAME, "bytes": checkpoint.stat().st_size,
                       "sha256": file_sha256(checkpoint),
                       "weights_sha256": weights_sha256(checkpoint)},
        "examples": copy_examples(manifest, out),
        "held_out_predict": held_out_scores(checkpoint, manifest),
    }
    result["table"] = card_table(result)
    atomic_write_text(args.results, json.dumps(result, indent=1) + "\n")
    h = result["held_out_predict"]
    print(f"wrote {checkpoint} ({result['checkpoint']['bytes'] / 2**20:.2f} MiB, "
          f"{info['n_params']:,} parameters) and {args.results}")
    print(f"held-out actors {', '.join(HELD_OUT)}: UA {h['unadapted']['ua']:.3f} each clip "
          f"alone, {h['adapted']['ua']:.3f} adapted to its speaker ({h['clips']} clips)")


if __name__ == "__main__":
    main()
