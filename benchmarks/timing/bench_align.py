"""Forced alignment and free recognition on synthetic speech, scored against espeak's own times.

Two sets of utterances, each scored separately:

* `espeak`: generated English sentences (contractions, names missing from the pocketsphinx
  dictionary, commas that make pauses) spoken by espeak-ng with a random voice, rate and
  pitch, padded with 0.3 s of silence and mixed with white noise at 20-40 dB SNR. Gold times
  are espeak's WORD/PHONEME events, exact to the sample.
* `synthetic_corpus`: utterances of the project's synthetic emotional corpus
  (`wise.corpora.synthetic`: emotional prosody, per-word SSML prosody, pauses, 15-35 dB SNR),
  read back through the IEMOCAP reader. Gold times are its .wdseg/.phseg files: espeak's times
  rounded to 10 ms frames, i.e. exactly what training reads.

Scored per set:
- word boundaries: |aligned - gold| for every word start and end;
- phone boundaries: the same for phones, in words whose dictionary pronunciation has the same
  phones as the gold (elsewhere phones cannot be paired one to one);
- alignment real-time factor (processing seconds per audio second, wall clock and CPU;
  decoding uses one core) and failures;
- recognition (no transcript; `--asr`, Whisper by default): word error rate against the
  text, real-time factor, and the mean confidence of utterances recognised exactly and of the
  others. bench_asr.py compares the recognisers, on real speech too.

Writes benchmarks/results/align.json. Usage: python benchmarks/timing/bench_align.py [--n 120]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import jiwer
import numpy as np

from wise import code_version
from wise.align import RECOGNIZERS, ForcedAligner, Recognizer, make_recognizer
from wise.audio import load_audio
from wise.errors import Skips, WiseError
from wise.espeak import Espeak
from wise.fsutil import atomic_write_text
from wise.text import tokenize
from wise.utterance import Segment

ROOT = Path(__file__).resolve().parents[2]

SUBJECTS = ["I", "you", "we", "they", "my brother", "the teacher", "her mother", "nobody",
            "the old man", "Zorblax", "our neighbour", "everyone", "Kwabena", "the doctor",
            "your sister", "Marguerite"]
VERBS = ["never wanted", "can't believe", "would love", "really hate", "just found",
         "don't understand", "finally bought", "used to keep", "won't forget",
         "quietly opened", "is looking for", "has already sold", "didn't see", "will bring"]
OBJECTS = ["the letter", "that ridiculous car", "a cup of coffee", "the tickets for tonight",
           "this whole situation", "the red umbrella", "those photographs", "my keys",
           "the answer", "a little house by the sea", "his grandmother's piano",
           "the broken window", "every single email", "a wonderful surprise"]
TAILS = ["", "", "yesterday", "again", "after dinner", "at the station",
         "before the meeting ended", "this morning", "without telling anyone", "last summer",
         "and I'm glad", "so please be careful", "but it's fine"]
ENDS = [".", "!", "?", ", honestly.", ", you know?", ". Really."]
VOICES = ["en-us", "en-us+f3", "en-us+m3", "en-us+f2"]


def sentence(rng: random.Random) -> str:
    s = " ".join(p for p in (rng.choice(SUBJECTS), rng.choice(VERBS), rng.choice(OBJECTS),
                             rng.choice(TAILS)) if p)
    return s[0].upper() + s[1:] + rng.choice(ENDS)


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    """Word-level substitutions + deletions + insertions (the WER numerator)."""
    o = jiwer.process_words(" ".join(ref), " ".join(hyp))
    return o.substitutions + o.deletions + o.insertions


@dataclass
class Item:
    id: str
    text: str
    audio: np.ndarray
    words: list[Segment]      # gold, seconds in `audio`
    phones: list[Segment]     # gold ARPAbet phones, seconds in `audio`


def espeak_items(n: int, seed: int) -> list[Item]:
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    tts = Espeak()
    items = []
    for i in range(n):
        text = sentence(rng)
        synth = tts.synthesize(text, voice=rng.choice(VOICES), rate=rng.randint(140, 210),
                               pitch=rng.randint(30, 70), pitch_range=rng.randint(30, 80))
        pad = np.zeros(int(0.3 * 16000), np.float32)
        x = np.concatenate([pad, synth.audio, pad])
        level = np.sqrt(np.mean(synth.audio.astype(np.float64) ** 2))
        level /= 10 ** (nrng.uniform(20.0, 40.0) / 20)
        x = x + (level * nrng.standard_normal(x.size)).astype(np.float32)
        shift = len(pad) / 16000

        words = [Segment(g.token.lower(), g.start + shift, g.end + shift) for g in synth.words]
        phones = [Segment(g.token, g.start + shift, g.end + shift) for g in synth.phones]
        items.append(Item(f"espeak{i:04d}", text, x, words, phones))
    return items


# espeak reads a full stop that directly follows an SSML closing tag aloud ("meeting</prosody>."
# is spoken "meeting dot"), and the corpus's gold then counts "dot" in the last word. Such rows
# have no valid gold; they are counted and left out.
SPOKEN_STOP = re.compile(r"</[a-z]+>\.")


def corpus_items(n: int, seed: int, workers: int) -> tuple[list[Item], int]:
    """Rows of a freshly generated synthetic corpus, and how many were left out."""
    from wise.corpora.iemocap import read_iemocap
    from wise.corpora.synthetic import META_FILE, generate

    items = []
    with tempfile.TemporaryDirectory(prefix="wise-bench-align-") as tmp:
        generate(tmp, n_utterances=n, seed=seed, workers=workers, progress=False)
        meta = [json.loads(line) for line in Path(tmp, META_FILE).read_text().splitlines()]
        bad = {m["id"] for m in meta if SPOKEN_STOP.search(m["ssml"])}
        left_out = 0
        for u in read_iemocap(tmp, Skips()):
            if u.id in bad:
                left_out += 1
            elif u.words:
                items.append(Item(u.id, u.text, load_audio(u.audio), u.words, u.phones or []))
    return items, left_out


def summary_ms(errors_s: list[float]) -> dict:
    # Rounded to the microsecond so that frame-quantised errors (the corpus's gold is in
    # 10 ms frames) count as exactly 10, 20, ... ms against the thresholds.
    e = np.round(np.abs(np.asarray(errors_s)) * 1000, 3)
    if e.size == 0:
        return {"n": 0}
    return {
        "n": int(e.size),
        "median_ms": round(float(np.median(e)), 2),
        "mean_ms": round(float(e.mean()), 2),
        "p90_ms": round(float(np.percentile(e, 90)), 2),
        "within_20ms_pct": round(100 * float((e <= 20).mean()), 1),
        "within_50ms_pct": round(100 * float((e <= 50).mean()), 1),
        # Signed: negative = aligned earlier than gold.
        "signed_median_ms": round(1000 * float(np.median(errors_s)), 2),
    }


def inside(phones: list[Segment], word: Segment) -> list[Segment]:
    return [p for p in phones if word.start - 1e-6 <= p.start < word.end - 1e-6]


def lap(total: list[float], t0: tuple[float, float]) -> None:
    total[0] += time.perf_counter() - t0[0]
    total[1] += time.process_time() - t0[1]


def score(items: list[Item], aligner: ForcedAligner, recognizer: Recognizer | None) -> dict:
    word_start, word_end, phone_bounds = [], [], []
    audio_s = 0.0
    # Wall-clock and CPU seconds; on a shared machine the CPU figure is the stable one.
    align_s, asr_s = [0.0, 0.0], [0.0, 0.0]
    failures: list[dict] = []
    no_gold = phone_words = phone_words_paired = 0
    asr_edits = asr_ref_words = 0
    conf_exact: list[float] = []
    conf_other: list[float] = []
    for it in items:
        audio_s += len(it.audio) / 16000
        tokens = tokenize(it.text)
        t0 = (time.perf_counter(), time.process_time())
        try:
            al = aligner.align(it.audio, it.text, source=it.id)
        except WiseError as e:
            failures.append({"id": it.id, "text": it.text, "error": e.message})
            al = None
        lap(align_s, t0)
        if al is not None and [g.token for g in it.words] != tokens:
            no_gold += 1  # espeak spoke the words differently: no one-to-one gold
        elif al is not None:
            for w, g in zip(al.words, it.words, strict=True):
                word_start.append(w.start - g.start)
                word_end.append(w.end - g.end)
                ours, gold = inside(al.phones, w), inside(it.phones, g)
                phone_words += 1
                if [p.token for p in ours] == [p.token for p in gold]:
                    phone_words_paired += 1
                    for p, q in zip(ours, gold, strict=True):
                        phone_bounds += [p.start - q.start, p.end - q.end]
        if recognizer is not None:
            t0 = (time.perf_counter(), time.process_time())
            try:
                rec = recognizer.recognize(it.audio, source=it.id)
                hyp, conf = tokenize(rec.text), rec.confidence
            except WiseError:
                hyp, conf = [], 0.0
            lap(asr_s, t0)
            edits = edit_distance(tokens, hyp)
            asr_edits += edits
            asr_ref_words += len(tokens)
            (conf_exact if edits == 0 else conf_other).append(conf)

    out = {
        "utterances": len(items),
        "audio_seconds": round(audio_s, 1),
        "alignment": {
            "aligned": len(items) - len(failures),
            "failures": len(failures),
            "failure_examples": failures[:5],
            "scored_utterances": len(items) - len(failures) - no_gold,
            "no_one_to_one_gold": no_gold,
            "real_time_factor": round(align_s[0] / audio_s, 4),
            "real_time_factor_cpu": round(align_s[1] / audio_s, 4),
            "word_boundaries": summary_ms(word_start + word_end),
            "word_starts": summary_ms(word_start),
            "word_ends": summary_ms(word_end),
            "phone_boundaries": summary_ms(phone_bounds),
            "phone_paired_words_pct": round(100 * phone_words_paired / max(1, phone_words), 1),
        },
    }
    if recognizer is not None:
        def mean(v: list[float]) -> float | None:
            return round(float(np.mean(v)), 3) if v else None

        out["recognition"] = {
            "word_error_rate": round(asr_edits / max(1, asr_ref_words), 4),
            "reference_words": asr_ref_words,
            "real_time_factor": round(asr_s[0] / audio_s, 4),
            "real_time_factor_cpu": round(asr_s[1] / audio_s, 4),
            "utterances_exact": len(conf_exact),
            "mean_confidence_exact": mean(conf_exact),
            "mean_confidence_others": mean(conf_other),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=120, help="espeak utterances")
    ap.add_argument("--corpus-n", type=int, default=120,
                    help="synthetic corpus rows to generate (0: skip that set)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                    help="processes for generating the corpus (scoring runs on one core)")
    ap.add_argument("--no-asr", action="store_true", help="skip the recognition part")
    ap.add_argument("--asr", choices=RECOGNIZERS, default="whisper",
                    help="the recogniser (default whisper)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/align.json")
    args = ap.parse_args()

    t0 = time.perf_counter()
    aligner = ForcedAligner()
    aligner_load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    recognizer = None if args.no_asr else make_recognizer(args.asr)
    if recognizer is not None:
        recognizer.load()
    recognizer_load_s = time.perf_counter() - t0

    sets = {"espeak": score(espeak_items(args.n, args.seed), aligner, recognizer)}
    if args.corpus_n:
        items, left_out = corpus_items(args.corpus_n, args.seed, args.workers)
        sets["synthetic_corpus"] = score(items, aligner, recognizer)
        sets["synthetic_corpus"]["left_out_spoken_full_stop"] = left_out
    result = {
        "benchmark": "bench_align",
        "code_version": code_version(),
        "config": {"n_espeak": args.n, "n_corpus_generated": args.corpus_n, "seed": args.seed,
                   "espeak_voices": VOICES, "espeak_rate_wpm": [140, 210],
                   "espeak_snr_db": [20, 40], "espeak_padding_s": 0.3,
                   "recognition": None if recognizer is None else recognizer.name},
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "model_load_s": {"aligner": round(aligner_load_s, 3),
                         "recognizer": round(recognizer_load_s, 3) if recognizer else None},
        "oov_words_added": aligner.added_words,
        "sets": sets,
    }
    atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
