"""Whether batching pays for Whisper on this CPU: the encoder and greedy decoding over short
clips one at a time, against the same clips in batches, one thread (as a service worker has).

    python benchmarks/studies/asr_batch.py RAVDESS_DIR [--clips 64] [--batches 1 2 4 8]
        [--whole-window]

A service that gathers concurrent requests and runs them together saves time only if Whisper
does a batch of k clips in less than k times one clip's time. Every clip is cut to the short
window the recogniser decodes (the clip and `WINDOW_PAD_S` of padding; a batch is padded to
its longest clip; `--whole-window`: every clip padded to Whisper's 30 s, as the bundled
model's recogniser decodes it), encoded by CTranslate2 and decoded greedily (English, no
timestamps, at most `--max-tokens` tokens), first one clip per call and then `k` per call;
clips in a batch are sorted by length, as a server would group them. Reports milliseconds per
clip for each batch size (median of `--repeats` passes over all clips) and how many
transcripts differ from batch size 1's. Writes benchmarks/results/asr_batch.json
(`asr_batch_whole.json` with `--whole-window`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from wise import code_version
from wise.align.whisper import (
    MEL_HOP,
    SAMPLE_RATE,
    WINDOW_MEL_FRAMES,
    WINDOW_PAD_S,
    bundled_model_dir,
)
from wise.audio import load_audio, normalize_gain
from wise.fsutil import atomic_write_text
from wise.testing import repo_root
from wise.testing.host import machine
from wise.testing.recordings import clips_of


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ravdess", type=Path)
    ap.add_argument("--clips", type=int, default=64)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 2, 4, 8])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--whole-window", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    out = args.out or repo_root() / ("benchmarks/results/asr_batch_whole.json" if args.whole_window
                                     else "benchmarks/results/asr_batch.json")
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})       # one core

    import ctranslate2
    from faster_whisper import WhisperModel
    from faster_whisper.tokenizer import Tokenizer

    model = WhisperModel(str(bundled_model_dir()), device="cpu", compute_type="int8",
                         cpu_threads=1, local_files_only=True)
    tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe",
                          language="en")
    prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
    pad = round(WINDOW_PAD_S * SAMPLE_RATE / MEL_HOP)
    mels = []
    for path in clips_of(args.ravdess, n=args.clips, seed=args.seed):
        x = normalize_gain(load_audio(path))
        mels.append(model.feature_extractor(x)[:, :len(x) // MEL_HOP])
    order = sorted(range(len(mels)), key=lambda k: mels[k].shape[1])

    def run(k: int) -> tuple[float, dict[int, str]]:
        """Seconds for all clips in batches of k, and each clip's text."""
        texts = {}
        t0 = time.perf_counter()
        for i in range(0, len(order), k):
            batch = order[i:i + k]
            frames = max(mels[j].shape[1] for j in batch) + pad
            frames = WINDOW_MEL_FRAMES if args.whole_window else min(WINDOW_MEL_FRAMES,
                                                                      frames + frames % 2)
            x = np.stack([np.pad(mels[j], ((0, 0), (0, frames - mels[j].shape[1])))
                          for j in batch]).astype(np.float32)
            encoded = model.model.encode(ctranslate2.StorageView.from_array(x))
            results = model.model.generate(encoded, [prompt] * len(batch), beam_size=1,
                                           max_length=len(prompt) + args.max_tokens)
            for j, r in zip(batch, results, strict=True):
                texts[j] = tokenizer.decode([t for t in r.sequences_ids[0]
                                             if t < tokenizer.eot]).strip()
        return time.perf_counter() - t0, texts

    run(1)                                                          # warm up
    rows, first = {}, None
    for k in args.batches:
        times, texts = [], {}
        for _ in range(args.repeats):
            seconds, texts = run(k)
            times.append(seconds)
        first = first or texts
        rows[str(k)] = {"ms_per_clip": round(1000 * float(np.median(times)) / len(mels), 1),
                        "texts_unlike_batch_1": sum(texts[j] != first[j] for j in texts)}
        print(k, rows[str(k)], flush=True)
    result = {
        "study": "asr_batch", "code_version": code_version(), "machine": machine(platform=True),
        "command": " ".join(["python", "benchmarks/studies/asr_batch.py",
                             *(Path(a).name if a.startswith("/") else a
                               for a in sys.argv[1:])]),
        "clips": len(mels), "window": "30 s" if args.whole_window else f"clip + {WINDOW_PAD_S:g} s",
        "threads": 1,
        "batch_size": rows,
    }
    atomic_write_text(out, json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
