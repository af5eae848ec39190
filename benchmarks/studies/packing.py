"""Short clips sharing Whisper's 30-s window: what packing them costs in words and in labels,
and what it saves in time, before `wise predict` packs anything.

    python benchmarks/studies/packing.py RAVDESS_DIR [--gap 1.0] [--out ...]

Whisper encodes 30 s whatever the clip's length, and that pass is most of a short clip's cost
(docs/alignment.md). Every dev clip (the four classes) is transcribed three ways with the bundled
Whisper tiny.en and `wise`'s decoding options (greedy, temperature 0, word times, gain
normalised per clip):

- `alone`: one `transcribe` per clip, as `wise predict` does today;
- `packed`: clips in a seeded order, each gain-normalised, laid end to end with `--gap`
  seconds of digital silence between them into windows of at most 29 s, one `transcribe` per
  window; each of Whisper's segments goes to the clip it overlaps most;
- `joined`: all of them laid out so in one recording, one `transcribe` call (faster-whisper
  starts each window where the last segment ended), the segments given out as above.

Reported: WER of each against the sentence the clip's name gives; seconds of ASR per clip;
and, with the encoder frames of `alone` and `packed` (the clip's own frames cut out of the
packed window's encoding), the bundled model's label on every clip (the transcript given, so
that only the frames differ): how often the two agree, and UA on the actors the model never
heard.
Writes benchmarks/results/packing.json.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

from wise import code_version
from wise.align.whisper import MEL_HOP
from wise.asr_study import word_error_rate
from wise.audio import load_audio, normalize_gain
from wise.corpora.label_map import map_label
from wise.corpora.ravdess import parse_name
from wise.fsutil import atomic_write_text
from wise.labels import LABELS
from wise.metrics import scores
from wise.predict import Predictor, utterance_features
from wise.pretrained import HELD_OUT
from wise.testing import repo_root
from wise.testing.host import machine, one_core
from wise.testing.recordings import clips_of

SR = 16000
WINDOW_S = 29.0
OPTIONS = dict(language="en", beam_size=1, temperature=0.0, condition_on_previous_text=False,
               word_timestamps=True, no_speech_threshold=None, log_prob_threshold=None)


def windows(n_samples: list[int], gap: int) -> list[list[int]]:
    """Clip indices per window, in order, each window at most WINDOW_S long."""
    out, current, length = [], [], 0
    for k, n in enumerate(n_samples):
        need = n + (gap if current else 0)
        if current and length + need > WINDOW_S * SR:
            out.append(current)
            current, length, need = [], 0, n
        current.append(k)
        length += need
    return out + ([current] if current else [])


def transcribe(model, x: np.ndarray):
    """(segments as (start, end, words as (text, start, end)), the encoder's output over the
    first window)."""
    model.first_window = None
    segments, _ = model.transcribe(x, **OPTIONS)
    out = [(s.start, s.end, [(w.word, w.start, w.end) for w in (s.words or [])])
           for s in segments]
    return out, np.array(model.first_window)[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ravdess", type=Path)
    ap.add_argument("--gap", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path,
                    default=repo_root() / "benchmarks/results/packing.json")
    args = ap.parse_args()
    one_core()

    paths = clips_of(args.ravdess)
    random.Random(args.seed).shuffle(paths)
    clips = [normalize_gain(load_audio(p)) for p in paths]
    truth = [parse_name(Path(p).stem).statement for p in paths]
    m = Predictor()
    m.warm_up()
    model = m._recognizer._model
    aligner = m._aligner_tool()

    t0 = time.perf_counter()
    alone = [transcribe(model, x) for x in clips]
    alone_s = time.perf_counter() - t0
    alone = [([w for _, _, ws in segments for w in ws], enc) for segments, enc in alone]

    gap = int(args.gap * SR)

    def lay(group: list[int]) -> tuple[np.ndarray, list[int]]:
        """The clips of `group` end to end with `gap` samples of silence between them, and
        where each starts."""
        starts, pieces, at = [], [], 0
        for k in group:
            if pieces:
                pieces.append(np.zeros(gap, np.float32))
                at += gap
            starts.append(at)
            pieces.append(clips[k])
            at += len(clips[k])
        return np.concatenate(pieces), starts

    def assign(segments, group: list[int], starts: list[int], into: list[list]) -> None:
        # Whisper's word times in a packed window stray by up to a second (a sentence's last
        # word stretched over the pause), its segments far less: each segment goes to the
        # clip it overlaps most.
        spans = [(s / SR, (s + len(clips[k])) / SR) for s, k in zip(starts, group, strict=True)]
        for a, b, words in segments:
            j = max(range(len(group)),
                    key=lambda i: min(b, spans[i][1]) - max(a, spans[i][0]))
            into[group[j]] += [(t, u - spans[j][0], v - spans[j][0]) for t, u, v in words]

    packed_words: list[list] = [[] for _ in clips]
    packed_frames: list[np.ndarray | None] = [None] * len(clips)
    groups = windows([len(x) for x in clips], gap)
    t0 = time.perf_counter()
    for group in groups:
        x, starts = lay(group)
        segments, enc = transcribe(model, x)
        assign(segments, group, starts, packed_words)
        for s, k in zip(starts, group, strict=True):
            first = s // (2 * MEL_HOP)
            packed_frames[k] = enc[first:first + (len(clips[k]) // MEL_HOP + 1) // 2]
    packed_s = time.perf_counter() - t0

    # Every clip in one recording and one `transcribe` call: faster-whisper then starts each
    # window where the last segment ended, so no clip is cut at a window's edge.
    joined_words: list[list] = [[] for _ in clips]
    t0 = time.perf_counter()
    everything = list(range(len(clips)))
    x, starts = lay(everything)
    assign(transcribe(model, x)[0], everything, starts, joined_words)
    joined_s = time.perf_counter() - t0

    def text_of(words) -> str:
        return " ".join(w for w, _, _ in words)

    wer_alone = word_error_rate(truth, [text_of(w) for w, _ in alone])
    wer_packed = word_error_rate(truth, [text_of(w) for w in packed_words])
    wer_joined = word_error_rate(truth, [text_of(w) for w in joined_words])

    labels: dict[str, list[int]] = {"alone": [], "packed": []}
    diffs = []
    for k, x in enumerate(clips):
        alignment = aligner.align(x, truth[k])
        probs = {}
        for way, enc in (("alone", alone[k][1]), ("packed", packed_frames[k])):
            frames = enc[:(len(x) // MEL_HOP + 1) // 2].astype(np.float32)
            frames, functionals = m.audio_features(x, frames)
            feats, _ = utterance_features(frames, alignment.words, alignment.phones,
                                          m.features, m.vectors, functionals)
            probs[way] = m.score(feats)[0]
            labels[way].append(int(np.argmax(probs[way])))
        diffs.append(float(np.abs(probs["alone"] - probs["packed"]).max()))
    y = [LABELS.index(map_label(parse_name(Path(p).stem).emotion)) for p in paths]
    held = [k for k, p in enumerate(paths) if Path(p).parent.name in HELD_OUT]

    def ua(way: str) -> float:
        s = scores(np.array([y[k] for k in held]),
                   np.array([LABELS.index(m.labels[labels[way][k]]) for k in held]), LABELS)
        return round(s["ua"], 4)

    agree = sum(a == b for a, b in zip(labels["alone"], labels["packed"], strict=True))
    result = {
        "study": "packing", "code_version": code_version(), "machine": machine(platform=True),
        "command": " ".join(["python", "benchmarks/studies/packing.py", *sys.argv[1:]]),
        "clips": len(clips), "gap_s": args.gap, "windows": len(groups),
        "clips_per_window": round(len(clips) / len(groups), 2),
        "asr_ms_per_clip": {"alone": round(1000 * alone_s / len(clips), 1),
                            "packed": round(1000 * packed_s / len(clips), 1),
                            "joined": round(1000 * joined_s / len(clips), 1)},
        "wer": {"alone": wer_alone, "packed": wer_packed, "joined": wer_joined},
        "labels": {"same_label": agree, "of": len(clips),
                   "max_probability_difference": {
                       "median": round(float(np.median(diffs)), 3),
                       "p95": round(float(np.percentile(diffs, 95)), 3)},
                   "held_out_ua": {"actors": list(HELD_OUT), "n": len(held),
                                   "alone": ua("alone"), "packed": ua("packed")}},
    }
    atomic_write_text(args.out, json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
