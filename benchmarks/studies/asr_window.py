"""How short a window Whisper can decode a short clip from: the clip and some padding after it
in place of the whole 30-s window, in words, in time, and on audio without speech.

    python benchmarks/studies/asr_window.py RAVDESS_DIR [--pads 3 5 7 10 15] [--out ...]

Whisper encodes 30 s whatever the clip's length, and that pass is most of what transcribing a
short clip costs (docs/throughput.md). The recogniser can cut the encoder's input to the clip
and `pad` seconds of the window's padding after it (`WhisperRecognizer.window_pad_s`); a
transcription from that short window that loops (segments repeating one another or
themselves) or is not clearly speech (`wise.align.whisper`) is done again from the whole
window. Every dev clip (the four
classes) is transcribed from the whole window and with each padding, one core:

- word error rate against the sentence the clip's name gives, on the actors the bundled model
  was trained on (where the padding is chosen) and on the two it never heard; and its paired
  difference from the whole window's on the same clips, with a 95% interval from a bootstrap
  over actors (a speaker's clips are not independent of one another);
- seconds of ASR per clip; how many clips went back to the whole window; how many gave other
  words than the whole window, and how far the word times of the others moved (median and
  largest shift of a word's start);
- audio without speech (`wise.testing.nonspeech.signals`, 3 seeds): how many signals each
  setting rejects as "no speech", and what it heard in the others;
- the synthetic corpus (`--synthetic` utterances of a fresh one, espeak's voices, on which
  Whisper is far less sure): word error rate, its paired difference from the whole window's
  (bootstrap over voices), time per clip, clips decoded again.

Writes benchmarks/results/asr_window.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from wise import code_version
from wise.align.whisper import WhisperRecognizer
from wise.asr_study import word_error_rate
from wise.audio import load_audio
from wise.corpora.ravdess import parse_name
from wise.errors import WiseError
from wise.fsutil import atomic_write_text
from wise.pretrained import HELD_OUT
from wise.testing import nonspeech, repo_root
from wise.testing.host import machine, one_core
from wise.testing.recordings import clips_of
from wise.text import tokenize


def transcribe_all(r: WhisperRecognizer, clips: list[np.ndarray]) -> tuple[list, float, int]:
    """(recognitions, or None where no speech was recognised; seconds per clip; how many
    clips were decoded again from the whole window)."""
    out, again = [], 0
    t0 = time.perf_counter()
    for x in clips:
        try:
            out.append(r.recognize(x))
        except WiseError:
            out.append(None)
        # the last transcription of the clip was from the whole window
        again += not r.whole_window and r._model.window_frames is None
    return out, (time.perf_counter() - t0) / len(clips), again


def text(rec) -> str:
    """The words recognised, or "" for none."""
    return " ".join(w.token for w in rec.words) if rec is not None else ""


def clip_errors(refs: list[str], hyps: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per clip: word errors (substitutions + deletions + insertions) and reference words."""
    import jiwer

    errors, words = [], []
    for ref, hyp in zip(refs, hyps, strict=True):
        o = jiwer.process_words(" ".join(tokenize(ref)), " ".join(tokenize(hyp)) or "<none>")
        errors.append(o.substitutions + o.deletions + o.insertions)
        words.append(o.hits + o.substitutions + o.deletions)
    return np.array(errors), np.array(words)


def paired_wer_difference(a: np.ndarray, b: np.ndarray, words: np.ndarray,
                          speakers: list[str], draws: int = 2000, seed: int = 0) -> dict:
    """WER(a) - WER(b) on the same clips (per-clip error counts), with a 95% interval from
    resampling whole speakers with replacement."""
    names = sorted(set(speakers))
    rows = {n: np.flatnonzero(np.array(speakers) == n) for n in names}
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(draws):
        pick = np.concatenate([rows[n] for n in rng.choice(names, len(names))])
        diffs.append((a[pick].sum() - b[pick].sum()) / words[pick].sum())
    low, high = np.percentile(diffs, [2.5, 97.5])
    return {"mean": round(float((a.sum() - b.sum()) / words.sum()), 4),
            "ci95": [round(float(low), 4), round(float(high), 4)], "speakers": len(names),
            "verdict": ("worse" if low > 0 else "better" if high < 0
                        else "no difference shown")}


def synthetic_rows(n: int) -> list[tuple[np.ndarray, str, str]]:
    """(audio, text, speaker) of the rows of a fresh synthetic corpus of `n` utterances (seed
    0), without those whose gold text is wrong: espeak reads a full stop right after an SSML
    closing tag aloud, as benchmarks/timing/bench_align.py explains."""
    import re
    import tempfile

    from wise.corpora.iemocap import read_iemocap
    from wise.corpora.synthetic import META_FILE, generate
    from wise.errors import Skips

    if n <= 0:
        return []
    with tempfile.TemporaryDirectory(prefix="wise-asr-window-") as tmp:
        generate(tmp, n_utterances=n, seed=0, workers=1, progress=False)
        meta = [json.loads(line) for line in Path(tmp, META_FILE).read_text().splitlines()]
        bad = {m["id"] for m in meta if re.search(r"</[a-z]+>\.", m["ssml"])}
        return [(load_audio(u.audio), u.text, u.speaker) for u in read_iemocap(tmp, Skips())
                if u.id not in bad]


def synthetic_row(r: WhisperRecognizer, rows: list[tuple[np.ndarray, str, str]],
                  whole_errors: np.ndarray | None) -> dict:
    """WER and time on the synthetic rows; against the whole window's per-clip errors when
    given, else with the per-clip errors under "errors"."""
    recs, seconds, again = transcribe_all(r, [x for x, _, _ in rows])
    errors, words = clip_errors([t for _, t, _ in rows], [text(rec) for rec in recs])
    out = {"utterances": len(rows), "ms_per_clip": round(1000 * seconds, 1),
           "wer": round(float(errors.sum() / words.sum()), 4)}
    if whole_errors is None:
        return out | {"errors": errors}
    return out | {"back_to_whole_window": again,
                  "wer_minus_30s": paired_wer_difference(errors, whole_errors, words,
                                                         [v for _, _, v in rows])}


def rejected(r: WhisperRecognizer, voices: list[np.ndarray], seeds: int) -> dict:
    """Signals without speech rejected as no speech, and what was heard in the others."""
    total, heard = 0, []
    for seed in range(seeds):
        for name, x in nonspeech.signals(voices, seed=seed):
            if seed and name == "digital silence":
                continue
            total += 1
            try:
                heard.append(f"{name}, seed {seed}: {r.recognize(x).text!r}")
            except WiseError:
                pass
    return {"signals": total, "no_speech": total - len(heard), "heard": heard}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ravdess", type=Path)
    ap.add_argument("--pads", type=float, nargs="+", default=[3.0, 5.0, 7.0, 10.0, 15.0])
    ap.add_argument("--nonspeech-seeds", type=int, default=3)
    ap.add_argument("--synthetic", type=int, default=150)
    ap.add_argument("--out", type=Path,
                    default=repo_root() / "benchmarks/results/asr_window.json")
    args = ap.parse_args()
    one_core()

    paths = [Path(c) for c in clips_of(args.ravdess)]
    if not paths:
        sys.exit(f"error: {args.ravdess}: no Actor_*/*.flac clips")
    clips = [load_audio(p) for p in paths]
    truth = [parse_name(p.stem).statement for p in paths]
    held = [p.parent.name in HELD_OUT for p in paths]
    voices = [clips[k] for k in range(0, len(clips), max(1, len(clips) // 8))][:8]

    synthetic = synthetic_rows(args.synthetic)
    r = WhisperRecognizer()
    r.load()
    r.recognize(clips[0])                                          # warm up

    def wer(hyps: list[str], want_held: bool) -> dict:
        pick = [k for k in range(len(clips)) if held[k] == want_held]
        return word_error_rate([truth[k] for k in pick], [hyps[k] for k in pick])

    training = [k for k in range(len(clips)) if not held[k]]
    speakers = [paths[k].parent.name for k in training]

    settings: dict[str, dict] = {}
    whole = whole_synthetic = None
    for pad in [None, *args.pads]:
        r.whole_window = pad is None
        if pad is not None:
            r.window_pad_s = pad
        recs, seconds, again = transcribe_all(r, clips)
        hyps = [text(rec) for rec in recs]
        row = {"asr": r.name, "ms_per_clip": round(1000 * seconds, 1),
               "wer_training_actors": wer(hyps, False), "wer_held_out_actors": wer(hyps, True),
               "no_speech_on_speech": sum(rec is None for rec in recs)}
        errors, words = clip_errors([truth[k] for k in training], [hyps[k] for k in training])
        if whole is None:
            whole, whole_errors = recs, errors
        else:
            row["wer_training_actors_minus_30s"] = paired_wer_difference(
                errors, whole_errors, words, speakers)
            same = [(a, b) for a, b in zip(whole, recs, strict=True)
                    if text(a) == text(b) and a is not None]
            shifts = [abs(u.start - v.start) for a, b in same
                      for u, v in zip(a.words, b.words, strict=True)]
            row.update(
                back_to_whole_window=again,
                other_words_than_whole_window=len(clips) - len(same),
                word_start_shift_s={"median": round(float(np.median(shifts)), 3),
                                    "max": round(float(np.max(shifts)), 3)},
                examples=[f"{text(a)!r} -> {text(b)!r}"
                          for a, b in zip(whole, recs, strict=True) if text(a) != text(b)][:6])
        row["nonspeech"] = rejected(r, voices, args.nonspeech_seeds)
        if synthetic:
            row["synthetic"] = synthetic_row(r, synthetic, whole_synthetic)
            if whole_synthetic is None:
                whole_synthetic = row["synthetic"].pop("errors")
        settings["30s" if pad is None else f"clip+{pad:g}s"] = row
        print(json.dumps({k: v for k, v in row.items() if k != "nonspeech"}), flush=True)

    result = {
        "study": "asr_window", "code_version": code_version(), "machine": machine(platform=True),
        "command": " ".join(["python", "benchmarks/studies/asr_window.py", *sys.argv[1:]]),
        "clips": len(clips), "held_out_actors": list(HELD_OUT), "settings": settings,
    }
    atomic_write_text(args.out, json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
