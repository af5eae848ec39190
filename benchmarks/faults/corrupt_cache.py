"""Damage what wise reuses, run the command that reuses it, and record what happened.

    python benchmarks/faults/corrupt_cache.py [--trials 5] [--seed 0] [--utterances 40]
        [--work DIR] [--out benchmarks/results/reliability/integrity.json]

On a small synthetic corpus (`wise synth`, then `wise prepare`), an undamaged `wise features`
and `wise cv` (2 random folds, 1 epoch) make the reference. Then, for each kind of file that a
later run reuses, each fault below is applied to a fresh copy of the reference (faults drawn
at random — a cut length, a byte and a bit mask, a cache entry — are drawn `--trials` times
from `--seed`; the others are the same every time, so they run once), and the command that
reuses that file runs in this process through `wise.cli.main`, as the console script runs it.
A user's checkpoint also meets crafted files: an audio file given as the model, a dict holding
a pickled object, another format tag, a feature config from another feature set.
Each trial is classified from what the command did:
- "traceback": an exception came out of `main` (a user would see a traceback);
- "refused with one line": exit 2 and one line `wise: error: ...` on stderr;
- "rebuilt, said so": exit 0 and the output says what was damaged and built again;
- "built again as missing": exit 0, the work redone as for a file never written (a deleted
  cache entry is built, a fold without metrics is trained), no word of damage;
- "ran without a word": exit 0, nothing redone and no word of damage (then only an unchanged
  result is fine: a byte changed where it carries no data, e.g. a zip member's date);
and whether the command's final outputs equal the undamaged reference (the pack and the
converted vectors byte for byte, cache entries array by array, a fold's predictions byte for
byte, its metrics and the summary less their timings, a checkpoint by the SHA-256 of its
contents, a prediction less its timings). Writes one row per group of files (all faults
together; an outcome only some faults gave names them) and per crafted checkpoint, which the
docs table renders (benchmarks/faults/reliability_table.py), and every trial under "studies".
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import json
import os
import re
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from wise.checkpoint import save_blob
from wise.cli import main as wise
from wise.crossval import without_timings
from wise.features.cache import FeatureStore
from wise.fsutil import atomic_write_text
from wise.testing.host import machine
from wise.utterance import read_manifest

ROOT = Path(__file__).resolve().parents[2]

FAULTS = {
    "truncate": "cut to a random length",
    "flip": "one random byte changed",
    "delete": "deleted",
    "empty": "replaced by an empty file",
    "zeros": "every byte set to zero",
}
DRAWN = {"truncate", "flip"}
# Files made to look like a checkpoint, given to `wise predict` as the model (once each).
CRAFTED = {
    "wav": "a WAV file given as the model",
    "pickle": "a checkpoint dict that also holds a pickled Python object",
    "format": "the format tag changed (as another program's file)",
    "features": "the feature config swapped for another feature set's (20 cepstra)",
}
PACK_FILES = ["frames.npy", "phone_frames.npy", "word_phones.npy", "word_frames.npy",
              "word_vectors.npy", "word_oov.npy", "offsets.npy", "index.json", "checksums.json"]
FOLD_FILES = ["predictions.jsonl", "metrics.json", "model.wise", "checksums.json"]
VECTOR_FILES = ["vocab.txt", "meta.json", "checksums.json"]
CV = ["--config", "wise", "--set", "protocol=random", "--set", "folds=2", "--set",
      "max_epochs=1", "--set", "min_epochs=1", "--set", "batch_size=8", "--workers", "1",
      "--jobs", "1", "--quiet"]
DAMAGE_WORDS = ("rebuilt (damaged)", "trained again, its earlier files are damaged")


def run(argv: list[str]) -> dict:
    """`wise ARGV` in this process: exit code, stdout, stderr, or the exception that came out
    of it (what the console script would print as a traceback)."""
    out, err = io.StringIO(), io.StringIO()
    escaped = None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = wise(argv)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        except Exception as e:  # noqa: BLE001 - the very thing this harness counts
            code, escaped = None, f"{type(e).__name__}: {str(e)[:200]}"
    return {"code": code, "out": out.getvalue(), "err": err.getvalue(), "traceback": escaped}


def classify(r: dict) -> str:
    if r["traceback"]:
        return "traceback"
    lines = r["err"].strip().splitlines()
    if r["code"] == 2 and len(lines) == 1 and lines[0].startswith("wise: error: "):
        return "refused with one line"
    if r["code"] != 0:
        return f"failed otherwise (exit {r['code']})"
    if any(w in r["out"] for w in DAMAGE_WORDS):
        return "rebuilt, said so"
    built = re.search(r"\((\d+) built, ", r["out"])
    if (built and int(built[1])) or re.search(r"fold 1/\d+ \([^)]*\): WA", r["out"]):
        return "built again as missing"
    return "ran without a word"


class Payload:
    """Stands for any class a pickle could name: unpickling it would run its code."""


def craft(path: Path, fault: str, clip: Path) -> None:
    blob = torch.load(path, weights_only=True)
    if fault == "wav":
        shutil.copy(clip, path)
    elif fault == "pickle":
        torch.save({**blob, "extra": {"hook": Payload()}}, path)
    elif fault == "format":
        save_blob(path, {**blob, "format": "other-program-2"})
    elif fault == "features":
        blob["run"]["features"] = {**blob["run"]["features"], "n_ceps": 20}
        save_blob(path, blob)


def damage(path: Path, fault: str, rng: np.random.Generator, clip: Path) -> dict:
    """Apply `fault` to `path`; return what was drawn."""
    size = path.stat().st_size
    if fault in CRAFTED:
        craft(path, fault, clip)
        return {"bytes": size}
    if fault == "truncate":
        keep = int(rng.integers(0, size))
        with open(path, "r+b") as f:
            f.truncate(keep)
        return {"bytes": size, "kept": keep}
    if fault == "flip":
        at, mask = int(rng.integers(0, size)), int(rng.integers(1, 256))
        data = bytearray(path.read_bytes())
        data[at] ^= mask
        path.write_bytes(bytes(data))
        return {"bytes": size, "at": at, "mask": mask}
    if fault == "delete":
        path.unlink()
    elif fault == "empty":
        path.write_bytes(b"")
    elif fault == "zeros":
        path.write_bytes(bytes(size))
    return {"bytes": size}


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def entries_of(cache: Path) -> dict[str, dict[str, np.ndarray]]:
    out = {}
    for p in sorted((cache / "entries").rglob("*.npz")):
        with np.load(p) as z:
            out[p.name] = {k: z[k] for k in z.files}
    return out


def same_entries(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        a[k].keys() == b[k].keys() and all(np.array_equal(a[k][m], b[k][m]) for m in a[k])
        for k in a)


def digest(checkpoint: Path) -> str | None:
    try:
        return torch.load(checkpoint, weights_only=True)["content_sha256"]
    except Exception:  # noqa: BLE001 - no checkpoint, or not one: not the reference's
        return None


@dataclass
class Reference:
    manifest: Path
    cache: Path            # features and vectors of an undamaged `wise features`
    cv: Path               # an undamaged `wise cv` over it
    pack: str              # the pack's folder name
    vectors: str           # the converted vectors' folder name
    files: dict            # packs/ and vectors/ byte for byte
    entries: dict
    fold: dict             # fold_1: predictions bytes, metrics less timings, model digest
    summary: dict
    clip: Path             # an utterance for `wise predict`
    text: str
    prediction: dict


def reference(work: Path, utterances: int, seed: int) -> Reference:
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    corpus, manifest, cache = work / "corpus", work / "m.jsonl", work / "cache"
    for argv in (["synth", str(corpus), "--utterances", str(utterances), "--seed", str(seed),
                  "--workers", "1", "--quiet"],
                 ["prepare", "iemocap", str(corpus), "--out", str(manifest), "--quiet"],
                 ["features", str(manifest), "--cache", str(cache), "--workers", "1",
                  "--quiet"],
                 ["cv", "--manifest", str(manifest), "--cache", str(cache), "--out",
                  str(work / "cv"), *CV]):
        r = run(argv)
        if r["code"] != 0:
            raise SystemExit(f"reference run failed: wise {' '.join(argv)}\n{r}")
    fold = work / "cv" / "seed_0" / "fold_1"
    u = next(iter(read_manifest(manifest)))
    ref = Reference(manifest, cache, work / "cv", next((cache / "packs").iterdir()).name,
                    next((cache / "vectors").iterdir()).name,
                    {**_prefixed(cache, "packs"), **_prefixed(cache, "vectors")},
                    entries_of(cache), fold_state(fold),
                    without_timings(json.loads((work / "cv" / "summary.json").read_text())),
                    Path(u.audio), u.text, {})
    r = run(["predict", str(fold / "model.wise"), u.audio, "--text", u.text, "--json"])
    if r["code"] != 0:
        raise SystemExit(f"reference prediction failed: {r}")
    ref.prediction = without_timings(json.loads(r["out"]))
    return ref


def _prefixed(cache: Path, sub: str) -> dict[str, bytes]:
    return {f"{sub}/{k}": v for k, v in files_of(cache / sub).items()}


def fold_state(fold: Path) -> dict:
    def read(name: str) -> bytes | None:
        p = fold / name
        return p.read_bytes() if p.is_file() else None

    metrics = read("metrics.json")
    return {"predictions": read("predictions.jsonl"),
            "metrics": without_timings(json.loads(metrics)) if metrics else None,
            "model": digest(fold / "model.wise")}


@dataclass
class Target:
    group: str                                # the docs row it counts in, in words
    kind: str                                 # the file damaged
    command: str                              # the command it runs, in words
    prepare: Callable[[Path, np.random.Generator], Path]   # fresh copy -> the file to damage
    check: Callable[[Path, dict], bool]       # did it end with the reference's outputs?
    argv: Callable[[Path, Path], list[str]]   # (trial folder, damaged file) -> wise argv


def copy_cache(trial: Path, ref: Reference) -> Path:
    shutil.copytree(ref.cache, trial / "cache")
    return trial / "cache"


def targets(ref: Reference) -> list[Target]:
    def features(trial: Path, _: Path) -> list[str]:
        return ["features", str(ref.manifest), "--cache", str(trial / "cache"), "--workers",
                "1", "--quiet"]

    def cache_sound(trial: Path, _: dict) -> bool:
        cache = trial / "cache"
        if {**_prefixed(cache, "packs"), **_prefixed(cache, "vectors")} != ref.files:
            return False
        FeatureStore(cache / "packs" / ref.pack)
        return same_entries(entries_of(cache), ref.entries)

    def pack_file(name: str) -> Callable[[Path, np.random.Generator], Path]:
        return lambda trial, _: copy_cache(trial, ref) / "packs" / ref.pack / name

    def vector_file(name: str) -> Callable[[Path, np.random.Generator], Path]:
        return lambda trial, _: copy_cache(trial, ref) / "vectors" / ref.vectors / name

    def entry(trial: Path, rng: np.random.Generator) -> Path:
        cache = copy_cache(trial, ref)
        shutil.rmtree(cache / "packs")       # so the pack is built again from the entries
        entries = sorted((cache / "entries").rglob("*.npz"))
        return entries[int(rng.integers(0, len(entries)))]

    def cv_fresh(trial: Path, _: Path) -> list[str]:
        return ["cv", "--manifest", str(ref.manifest), "--cache", str(trial / "cache"),
                "--out", str(trial / "cv"), *CV]

    def cv_same_as_reference(trial: Path, _: dict) -> bool:
        summary = trial / "cv" / "summary.json"
        return (summary.is_file()
                and without_timings(json.loads(summary.read_text())) == ref.summary
                and fold_state(trial / "cv" / "seed_0" / "fold_1") == ref.fold)

    def fold_file(name: str) -> Callable[[Path, np.random.Generator], Path]:
        def prepare(trial: Path, _: np.random.Generator) -> Path:
            copy_cache(trial, ref)
            shutil.copytree(ref.cv, trial / "cv")
            return trial / "cv" / "seed_0" / "fold_1" / name
        return prepare

    def user_checkpoint(trial: Path, _: np.random.Generator) -> Path:
        shutil.copy(ref.cv / "seed_0" / "fold_1" / "model.wise", trial / "model.wise")
        return trial / "model.wise"

    def predict(trial: Path, model: Path) -> list[str]:
        return ["predict", str(model), str(ref.clip), "--text", ref.text, "--json"]

    def prediction_same(_: Path, r: dict) -> bool:
        # Refused: nothing was predicted, so nothing wrong was; loaded: the same prediction.
        if r["code"] != 0:
            return r["traceback"] is None
        return without_timings(json.loads(r["out"])) == ref.prediction

    pack = f"a feature pack's file (each of its {len(PACK_FILES)})"
    vectors = f"a converted word-vector cache's file (each of {', '.join(VECTOR_FILES)})"
    fold = f"a finished fold's file (each of {', '.join(FOLD_FILES)})"
    out = [Target("a feature cache entry (.npz, a random one), read when a pack is built",
                  "entry", "wise features", entry, cache_sound, features)]
    out += [Target(pack, n, "wise features", pack_file(n), cache_sound, features)
            for n in PACK_FILES]
    out.append(Target("the feature pack's frames.npy, then straight to `wise cv` as in the "
                      "issue", "frames.npy", "wise cv", pack_file("frames.npy"),
                      cv_same_as_reference, cv_fresh))
    out += [Target(vectors, n, "wise features", vector_file(n), cache_sound, features)
            for n in VECTOR_FILES]
    out += [Target(fold, n, "wise cv", fold_file(n), cv_same_as_reference,
                   lambda trial, _: ["cv", "--manifest", str(ref.manifest), "--cache",
                                     str(trial / "cache"), "--out", str(trial / "cv"), *CV])
            for n in FOLD_FILES]
    out.append(Target("a user's checkpoint (a fold's model.wise)", "model.wise", "wise predict",
                      user_checkpoint, prediction_same, predict))
    return out


def study(t: Target, fault: str, trials: int, rng: np.random.Generator, work: Path,
          clip: Path) -> dict:
    n = trials if fault in DRAWN else 1
    results = []
    for i in range(n):
        trial = work / "trial"
        if trial.exists():
            shutil.rmtree(trial)
        trial.mkdir()
        path = t.prepare(trial, rng)
        drawn = damage(path, fault, rng, clip)
        r = run(t.argv(trial, path))
        try:
            same = t.check(trial, r)
        except Exception as e:  # noqa: BLE001 - a check that cannot even read the outputs
            same = False
            r["err"] += f"\ncheck: {type(e).__name__}: {e}"
        said = (r["err"].strip().splitlines() or [""])[-1] if r["code"] else \
            next((line.strip() for line in r["out"].splitlines()
                  if any(w in line for w in DAMAGE_WORDS)), "")
        results.append({"trial": i, "file": str(path.relative_to(trial)), **drawn,
                        "outcome": classify(r), "same_as_reference": same,
                        "said": said[:300], "traceback": r["traceback"]})
    return {"group": t.group, "file": t.kind, "command": t.command, "fault": fault,
            "trials": results}


def rows_of(studies: list[dict], draws: int) -> list[dict]:
    """One docs row per file group and its damage faults together, and one per crafted
    checkpoint; each trial keeps its fault, so an outcome that only some faults gave names
    them."""
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for s in studies:
        key = (s["group"], s["command"], s["fault"] if s["fault"] in CRAFTED else "damage")
        groups.setdefault(key, []).extend({**x, "fault": s["fault"]} for x in s["trials"])
    return [row(group, command, fault, trials, draws)
            for (group, command, fault), trials in groups.items()]


def row(group: str, command: str, fault: str, trials: list[dict], draws: int) -> dict:
    n = len(trials)
    counts = Counter(x["outcome"] for x in trials)
    parts = []
    for i, (outcome, k) in enumerate(counts.most_common()):
        faults = {x["fault"] for x in trials if x["outcome"] == outcome}
        which = f" ({', '.join(FAULTS[f] for f in FAULTS if f in faults)})" if i else ""
        parts.append(f"{outcome} {k}/{n}{which}")
    same = sum(x["same_as_reference"] for x in trials)
    refused = counts["refused with one line"]
    if command == "wise predict":
        loaded = n - refused - counts["traceback"]
        if loaded:
            parts.append(f"loaded ones predicted as the undamaged model {same - refused}/"
                         f"{loaded}")
        said = Counter(x["said"].split(": ", 3)[-1] for x in trials
                       if x["outcome"] == "refused with one line")
        parts += [f"said \"{m}\" {k}/{n}" for m, k in said.most_common()]
    else:
        parts.append(f"outputs equal the undamaged run's {same}/{n}")
    bad = []
    if counts["traceback"]:
        bad.append(f"{counts['traceback']} tracebacks")
    if same < n:
        bad.append(f"{n - same} runs ended with outputs unlike the undamaged run's")
    what = CRAFTED[fault] if fault in CRAFTED else (
        f"{FAULTS['truncate']} or {FAULTS['flip']} ({draws} draws each per file), "
        f"{', '.join(FAULTS[f] for f in FAULTS if f not in DRAWN)}")
    return {"fault": what, "target": f"{group} (`{command}`)", "trials": n,
            "outcome": "; ".join(parts), "lost": "; ".join(bad) or "nothing"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=5,
                    help="draws per random fault and file kind (default 5)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--utterances", type=int, default=40)
    ap.add_argument("--work", type=Path, default=Path("/tmp/wise-corrupt-cache"))
    ap.add_argument("--out", type=Path,
                    default=ROOT / "benchmarks/results/reliability/integrity.json")
    args = ap.parse_args()
    t0 = time.perf_counter()
    os.environ["WISE_CACHE"] = str(args.work / "predict-cache")   # `wise predict`'s vectors
    ref = reference(args.work / "reference", args.utterances, args.seed)
    rng = np.random.default_rng(args.seed)
    studies = []
    for t in targets(ref):
        for fault in [*FAULTS, *(CRAFTED if t.command == "wise predict" else [])]:
            studies.append(study(t, fault, args.trials, rng, args.work, ref.clip))
            print(f"{t.group}: {t.kind} / {fault}: "
                  f"{rows_of(studies[-1:], args.trials)[0]['outcome']}", flush=True)
    rows = rows_of(studies, args.trials)
    out = {
        "area": "integrity",
        "command": "python benchmarks/faults/corrupt_cache.py " + " ".join(sys.argv[1:]),
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "rows": rows,
        "seed": args.seed,
        "utterances": args.utterances,
        "trials_per_drawn_fault": args.trials,
        "tracebacks": sum(x["outcome"] == "traceback" for s in studies for x in s["trials"]),
        "unlike_reference": sum(not x["same_as_reference"] for s in studies
                                for x in s["trials"]),
        "seconds": round(time.perf_counter() - t0, 1),
        "studies": studies,
    }
    atomic_write_text(args.out, json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}: {sum(r['trials'] for r in rows)} trials, {out['tracebacks']} "
          f"tracebacks, {out['unlike_reference']} unlike the reference "
          f"({out['seconds']:.0f} s)")
    return 0 if out["tracebacks"] == 0 and out["unlike_reference"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
