"""`wise timeline` on long real-speech recordings: speed and memory on one core, how well the
recording is cut, and what adapting to the speaker along the way does.

    python benchmarks/timing/bench_timeline.py RAVDESS_DIR [--minutes 10 60]
        [--out benchmarks/results/timeline.json]      (and timeline_live.json beside it)

RAVDESS_DIR holds Actor_NN folders of 16 kHz clips (the four classes). Recordings are built in
a temporary folder by joining clips with 1-3 s gaps, every other one digital silence and the
rest faint noise (`wise.testing.recordings.join_clips`), so every clip's place is known:

- `held_out`: every clip of the two actors the bundled model never heard
  (`wise.pretrained.HELD_OUT`), one actor after the other, in a seeded order;
- one recording per `--minutes` value: the clips of every actor, shuffled and cycled until it
  lasts that long.

Each goes through `wise.timeline` with the bundled model, the process pinned to one CPU and
every library on one thread: wall and CPU seconds, real-time factor (seconds of work per
second of audio), resident memory sampled every half second (at 10%, 50% and 90% of the
audio, and the peak), and the cuts against the clips' true places: clips cut out alone (one
phrase, overlapping no other clip), merged with a neighbour, split, missed; phrases found in
a gap; the offsets of the cuts from the clips' edges. On `held_out` only: UA against the true
labels with the speaker's statistics grown along the recording (a speaker change between the
actors) and without, each clip alone through `predict` for comparison, and Whisper's own
segments (faster-whisper's `transcribe` on the whole recording, with word times) cut against
the same truth, and its first `--live-seconds` streamed to `wise serve` in real time as the
web page streams a microphone: the latency from the end of each phrase's speech (where the
VAD put it in the file) to its answer.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil

from wise import code_version
from wise.corpora.label_map import map_label
from wise.corpora.ravdess import parse_name
from wise.fsutil import atomic_write_text
from wise.labels import LABELS
from wise.metrics import scores
from wise.predict import Predictor
from wise.pretrained import HELD_OUT
from wise.testing import repo_root
from wise.testing.host import machine, one_core
from wise.testing.recordings import Placed, clips_under, join_clips, score_cuts
from wise.testing.service import start_service, stop_service
from wise.timeline import Phrase, TimelineOptions, timeline

GAPS_S = (1.0, 3.0)


def label_of(clip: str) -> str:
    return map_label(parse_name(Path(clip).stem).emotion)


class Memory:
    """Resident memory sampled every half second against the audio read so far."""

    def __init__(self, stream) -> None:
        self.samples: list[tuple[float, int]] = []
        self._stream, self._stop = stream, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(0.5):
            self.samples.append((self._stream.seconds, me.memory_info().rss))

    def __enter__(self) -> Memory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def at(self, seconds: float) -> float:
        """MB resident when the audio read first reached `seconds`."""
        return next((rss for s, rss in self.samples if s >= seconds),
                    self.samples[-1][1] if self.samples else 0) / 2**20


def run(path: Path, placed: list[Placed], model: Predictor, **options) -> tuple[dict, list]:
    tl = timeline(path, model, TimelineOptions(**options))
    cpu0, t0 = time.process_time(), time.perf_counter()
    with Memory(tl.stream) as mem:
        items = list(tl)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    found = [i for i in items if isinstance(i, Phrase)]
    d = tl.duration
    return {"audio_s": round(d, 1), "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
            "rtf": round(wall / d, 4), "rss_mb": {f"at_{q}pct": round(mem.at(d * q / 100), 1)
                                                   for q in (10, 50, 90)},
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "cuts": score_cuts([(p.start, p.end) for p in found], placed)}, found


def labelled(found: list[Phrase], placed: list[Placed]) -> dict:
    """UA of the phrases cut out alone, each against its clip's true label."""
    y_true, y_pred = [], []
    for p in found:
        ks = clips_under(placed, p.start, p.end)
        if len(ks) == 1:
            y_true.append(LABELS.index(label_of(placed[ks[0]].clip)))
            y_pred.append(LABELS.index(p.label))
    s = scores(np.array(y_true), np.array(y_pred), LABELS)
    return {"n": s["n"], "wa": round(s["wa"], 4), "ua": round(s["ua"], 4)}


def whisper_cuts(path: Path, placed: list[Placed]) -> dict:
    """Whisper's own segments of the whole recording (one `transcribe` call, greedy, word
    times, no VAD, not conditioned on earlier text) against the clips."""
    from faster_whisper import WhisperModel

    from wise.align.whisper import bundled_model_dir
    from wise.audio import load_audio

    m = WhisperModel(str(bundled_model_dir()), device="cpu", compute_type="int8",
                     cpu_threads=1)
    t0 = time.perf_counter()
    segments, _ = m.transcribe(load_audio(path), language="en", beam_size=1,
                               condition_on_previous_text=False, word_timestamps=True)
    spans = [(s.start, s.end) for s in segments]
    return {"wall_s": round(time.perf_counter() - t0, 1), "cuts": score_cuts(spans, placed)}


def live_latency(path: Path, seconds: float, file_phrases: list[Phrase]) -> dict:
    """The first `seconds` of `path` streamed to `wise serve` (the bundled model, one
    worker) as the web page streams a microphone: a quarter second at a time, in real time.
    Per phrase: from the end of its speech to the answer that brought it. The end of the
    speech is where the VAD put it when the file was cut (`file_phrases`: the phrase's end
    less the padding), since a live phrase's end is only what had been heard."""
    import httpx

    from wise.audio import load_audio

    x = load_audio(path)[:int(seconds * 16000)]
    pad = TimelineOptions().speech_pad_s
    step = 4000
    with tempfile.TemporaryDirectory(prefix="wise-live-") as tmp:
        proc, url = start_service(["--workers", "1"], Path(tmp, "server.log"), timeout_s=600)
        try:
            at = f"{url}/live/{httpx.post(f'{url}/live').json()['session']}"
            lags, t0 = [], time.perf_counter()
            for i in range(0, len(x), step):
                sent_until = (i + step) / 16000
                time.sleep(max(0.0, t0 + sent_until - time.perf_counter()))   # real time
                r = httpx.post(at, content=x[i:i + step].astype("<f4").tobytes(), timeout=60)
                now = time.perf_counter() - t0
                for p in r.json()["items"]:
                    same = [f for f in file_phrases if f.start < p["end"] and p["start"] < f.end]
                    if p["kind"] == "phrase" and len(same) == 1:
                        lags.append(now - (same[0].end - pad))
            httpx.delete(at, timeout=60)
        finally:
            stop_service(proc)
    return {"seconds_streamed": seconds, "chunk_s": step / 16000, "phrases": len(lags),
            "latency_s": {"median": round(float(np.median(lags)), 2),
                          "p95": round(float(np.percentile(lags, 95)), 2),
                          "max": round(float(np.max(lags)), 2)} if lags else {}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ravdess", type=Path)
    ap.add_argument("--minutes", type=float, nargs="*", default=[10, 60])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--live-seconds", type=float, default=60.0,
                    help="how much of the held-out recording to stream live, in real time")
    ap.add_argument("--out", type=Path,
                    default=repo_root() / "benchmarks/results/timeline.json")
    args = ap.parse_args()

    one_core()
    rng = random.Random(args.seed)
    actors = sorted(p for p in args.ravdess.glob("Actor_*") if p.is_dir())
    clips = {a.name: sorted(str(c) for c in a.glob("*.flac")) for a in actors}
    model = Predictor()
    model.warm_up()
    result = {"benchmark": "bench_timeline", "code_version": code_version(),
              "machine": machine(platform=True), "command": " ".join(
                  ["python", "benchmarks/timing/bench_timeline.py", *sys.argv[1:]]),
              "model": model.description, "gaps_s": list(GAPS_S), "options": {
                  k: v for k, v in vars(TimelineOptions()).items()}, "recordings": {}}
    with tempfile.TemporaryDirectory(prefix="wise-bench-timeline-") as tmp:
        held = []
        for a in HELD_OUT:
            held.append(rng.sample(clips[a], len(clips[a])))
        path = Path(tmp, "held_out.flac")
        placed = join_clips([c for h in held for c in h], path, gaps_s=GAPS_S, seed=args.seed)
        change = (placed[len(held[0]) - 1].end + placed[len(held[0])].start) / 2
        adapted, found = run(path, placed, model, speaker_changes=(change,))
        adapted["labels"] = labelled(found, placed)
        plain, found_plain = run(path, placed, model, adapt=False)
        plain["labels"] = labelled(found_plain, placed)
        t0 = time.perf_counter()
        alone = [model.predict(c.clip) for c in placed]
        y_true = [LABELS.index(label_of(c.clip)) for c in placed]
        y_alone = [LABELS.index(r.label) for r in alone]
        s = scores(np.array(y_true), np.array(y_alone), LABELS)
        by_clip = {c.clip: r.label for c, r in zip(placed, alone, strict=True)}
        same = [by_clip[placed[k].clip] == p.label for p in found_plain
                for k in clips_under(placed, p.start, p.end)[:1]]
        result["recordings"]["held_out"] = {
            "actors": list(HELD_OUT), "adapted": adapted, "not_adapted": plain,
            "clips_alone": {"n": s["n"], "wa": round(s["wa"], 4), "ua": round(s["ua"], 4),
                            "wall_s": round(time.perf_counter() - t0, 1)},
            "same_label_as_clip_alone": f"{sum(same)} of {len(same)}",
            "whisper_segments": whisper_cuts(path, placed)}
        print("held_out", json.dumps(result["recordings"]["held_out"]), flush=True)
        live = {"benchmark": "bench_timeline (live)", "code_version": code_version(),
                "machine": machine(platform=True), "command": result["command"],
                **live_latency(path, args.live_seconds, found_plain)}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.out.with_name(args.out.stem + "_live.json"),
                          json.dumps(live, indent=1) + "\n")
        print("live", json.dumps(live), flush=True)
        pool = [c for cs in clips.values() for c in cs]
        for minutes in args.minutes:
            chosen, total = [], 0.0
            while total < minutes * 60:
                batch = rng.sample(pool, len(pool))
                for c in batch:
                    chosen.append(c)
                    total += 3.7 + sum(GAPS_S) / 2          # about a clip and its gap
                    if total >= minutes * 60:
                        break
            path = Path(tmp, f"{minutes:g}min.flac")
            placed = join_clips(chosen, path, gaps_s=GAPS_S, seed=args.seed)
            r, _ = run(path, placed, model, adapt=False)
            result["recordings"][f"{minutes:g}min"] = r
            print(f"{minutes:g}min", json.dumps(r), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(result, indent=1) + "\n")
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
