"""Speech recognition without a transcript: Whisper (the default) vs pocketsphinx.

Sets, each scored per recogniser:

* `real`: every clip of a manifest of real recordings (CSV `audio,text,label,speaker`, audio
  paths relative to the manifest), e.g. the 448 RAVDESS clips of the development actors;
  also scored separately for the quiet clips (loudest 25 ms below -40 dBFS);
* `espeak` and `synthetic_corpus`: the two synthetic sets of bench_align.py (espeak sentences
  with noise; rows of a generated synthetic emotional corpus), same generator and seed;
* `nonspeech`: generated audio without speech (wise.testing.nonspeech: digital silence, white,
  pink and brown noise, mains hum, music of harmonic tones at several levels; babble of 8 real
  clips at once, forwards and backwards), `--nonspeech-seeds` draws of each.

Per set: word error rate against the text (both as `wise.text.tokenize` splits them; numbers
are spelled by the Whisper recogniser), utterances recognised exactly, utterances rejected as
"no speech" (wrongly, on speech), real-time factor (processing seconds per audio second, wall
clock and CPU; one thread), mean confidence of exact and other utterances. On `nonspeech`:
how many signals of each kind were (rightly) rejected, and what was heard in the others.

Each recogniser runs in a process of its own, both at once (the machine has two cores).
Writes benchmarks/results/asr.json; a recogniser not run this time (`--asr whisper` alone)
keeps its earlier results there if they were made with the same sets, each recogniser's
results naming the code version that made them. Usage:
    python benchmarks/timing/bench_asr.py --manifest /path/to/ravdess-dev/manifest.csv
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing as mp
import os
import platform
import re
import time
from pathlib import Path

import numpy as np
from bench_align import corpus_items, edit_distance, espeak_items

from wise import code_version
from wise.align import RECOGNIZERS, make_recognizer
from wise.audio import load_audio, loudest_frame_dbfs
from wise.errors import WiseError
from wise.fsutil import atomic_write_text
from wise.testing import nonspeech
from wise.text import tokenize

ROOT = Path(__file__).resolve().parents[2]

QUIET_DBFS = -40.0
NO_SPEECH_PROB = re.compile(r"no-speech probability ([0-9.]+)")


def read_real(manifest: Path) -> list[tuple[str, str, np.ndarray]]:
    with open(manifest, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [(r["audio"], r["text"], load_audio(manifest.parent / r["audio"])) for r in rows]


def score(recognizer, items: list[tuple[str, str, np.ndarray]]) -> dict:
    """WER, exact, no-speech rejections and speed over (id, text, audio) items."""
    edits = ref_words = 0
    audio_s = wall = cpu = 0.0
    exact: list[float] = []
    other: list[float] = []
    rejected: list[dict] = []
    quiet = {"utterances": 0, "edits": 0, "reference_words": 0, "no_speech": 0}
    no_speech_prob: list[float] = []
    for item_id, text, x in items:
        audio_s += len(x) / 16000
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            rec = recognizer.recognize(x, source=item_id)
            hyp, conf = tokenize(rec.text), rec.confidence
            if rec.no_speech_prob is not None:
                no_speech_prob.append(rec.no_speech_prob)
        except WiseError as e:
            hyp, conf = [], None
            rejected.append({"id": item_id, "error": e.message})
        wall += time.perf_counter() - t0
        cpu += time.process_time() - c0
        ref = tokenize(text)
        n = edit_distance(ref, hyp)
        edits += n
        ref_words += len(ref)
        if conf is not None:
            (exact if n == 0 else other).append(conf)
        if loudest_frame_dbfs(x) < QUIET_DBFS:
            quiet["utterances"] += 1
            quiet["edits"] += n
            quiet["reference_words"] += len(ref)
            quiet["no_speech"] += conf is None

    def mean(v: list[float]) -> float | None:
        return round(float(np.mean(v)), 3) if v else None

    return {
        "utterances": len(items),
        "audio_seconds": round(audio_s, 1),
        "word_error_rate": round(edits / max(1, ref_words), 4),
        "reference_words": ref_words,
        "utterances_exact": len(exact),
        "no_speech": len(rejected),
        "no_speech_examples": rejected[:10],
        "real_time_factor": round(wall / audio_s, 4),
        "real_time_factor_cpu": round(cpu / audio_s, 4),
        "seconds_per_utterance_cpu": round(cpu / max(1, len(items)), 3),
        "mean_confidence_exact": mean(exact),
        "mean_confidence_others": mean(other),
        "confidence_lowest": round(min(exact + other), 3) if exact + other else None,
        "no_speech_prob_highest": round(max(no_speech_prob), 3) if no_speech_prob else None,
        f"quiet_below_{-QUIET_DBFS:.0f}_dbfs": {
            "utterances": quiet["utterances"], "no_speech": quiet["no_speech"],
            "word_error_rate": round(quiet["edits"] / max(1, quiet["reference_words"]), 4)},
    }


def score_nonspeech(recognizer, real: list[tuple[str, str, np.ndarray]], seeds: int) -> dict:
    """Per kind of signal (its name without the level): how many were rejected as no speech,
    and what was heard in the others."""
    kinds: dict[str, dict] = {}
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        picked = rng.choice(len(real), min(8, len(real)), replace=False) if real else []
        voices = [real[i][2] for i in picked]
        for name, x in nonspeech.signals(voices, seed=seed):
            if seed and name == "digital silence":
                continue
            kind = name.split(" -")[0]
            k = kinds.setdefault(kind, {"signals": 0, "no_speech": 0, "heard": [],
                                        "dropped_no_speech_prob_lowest": None})
            k["signals"] += 1
            try:
                k["heard"].append(f"{name}, seed {seed}: {recognizer.recognize(x).text!r}")
            except WiseError as e:
                k["no_speech"] += e.message.startswith("no speech")
                # Whisper names the no-speech probabilities of the segments it dropped.
                probs = [float(p) for p in NO_SPEECH_PROB.findall(e.message)]
                lowest = k["dropped_no_speech_prob_lowest"]
                if probs:
                    k["dropped_no_speech_prob_lowest"] = min(probs + [lowest or 1.0])
    total = sum(k["signals"] for k in kinds.values())
    rejected = sum(k["no_speech"] for k in kinds.values())
    return {"signals": total, "no_speech": rejected, "kinds": kinds}


def run_one(task: tuple[str, dict]) -> tuple[str, dict]:
    """In a worker process: every set with one recogniser."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    kind, cfg = task
    t0 = time.perf_counter()
    recognizer = make_recognizer(kind)
    recognizer.load()
    out: dict = {"name": recognizer.name, "code_version": code_version(),
                 "load_s": round(time.perf_counter() - t0, 3), "sets": {}}
    real = read_real(Path(cfg["manifest"])) if cfg["manifest"] else []
    if real:
        out["sets"]["real"] = score(recognizer, real)
    if cfg["espeak_n"]:
        items = espeak_items(cfg["espeak_n"], cfg["seed"])
        out["sets"]["espeak"] = score(recognizer, [(i.id, i.text, i.audio) for i in items])
    if cfg["corpus_n"]:
        items, _ = corpus_items(cfg["corpus_n"], cfg["seed"], 1)
        out["sets"]["synthetic_corpus"] = score(recognizer,
                                                [(i.id, i.text, i.audio) for i in items])
    if cfg["nonspeech_seeds"]:
        out["sets"]["nonspeech"] = score_nonspeech(recognizer, real, cfg["nonspeech_seeds"])
    return kind, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--manifest", type=Path, default=None,
                    help="CSV of real recordings: audio,text,label,speaker")
    ap.add_argument("--espeak-n", type=int, default=150)
    ap.add_argument("--corpus-n", type=int, default=150,
                    help="synthetic corpus rows to generate (0: skip that set)")
    ap.add_argument("--nonspeech-seeds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--asr", nargs="+", default=list(RECOGNIZERS), choices=RECOGNIZERS)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/asr.json")
    args = ap.parse_args()

    cfg = {"manifest": str(args.manifest) if args.manifest else None,
           "espeak_n": args.espeak_n, "corpus_n": args.corpus_n,
           "nonspeech_seeds": args.nonspeech_seeds, "seed": args.seed}
    t0 = time.perf_counter()
    with mp.get_context("spawn").Pool(len(args.asr)) as pool:
        results = dict(pool.map(run_one, [(kind, cfg) for kind in args.asr]))
    if args.out.is_file():
        earlier = json.loads(args.out.read_text())
        if {k: v for k, v in earlier["config"].items() if k in cfg} == cfg:
            for kind, r in earlier["recognizers"].items():
                results.setdefault(kind, r)
    result = {
        "benchmark": "bench_asr",
        "code_version": code_version(),
        "config": {**cfg, "recognizers": sorted(results), "quiet_dbfs": QUIET_DBFS},
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "load_average_after": [round(v, 2) for v in os.getloadavg()]},
        "wall_seconds": round(time.perf_counter() - t0, 1),
        "recognizers": results,
    }
    atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
