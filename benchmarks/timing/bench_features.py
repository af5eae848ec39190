"""Time `wise features` from scratch on a synthetic corpus; measure memory and cache size.

    python benchmarks/timing/bench_features.py [--utterances 2000] [--workers 2]
        [--dir /tmp/wise-bench]

Generates the corpus (if absent) and its manifest, then builds the feature cache from empty and
writes benchmarks/results/features-<N>.json: wall time, real-time factor, peak RSS of the main
process and of the largest worker, cache bytes per hour of audio (entries and pack), and the
memory a batch read adds.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import psutil

from wise.config import FeatureConfig
from wise.corpora.iemocap import read_iemocap
from wise.corpora.synthetic import generate
from wise.errors import Skips
from wise.features.cache import FeatureStore, build_features
from wise.prepare import prepare

RESULTS = Path(__file__).resolve().parents[1] / "results"


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def rss_parts(pid: int | str = "self") -> dict[str, int]:
    """RssAnon and RssFile of a process in KiB (Linux)."""
    out = {"RssAnon": 0, "RssFile": 0}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:  # the process ended
        return out
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in out:
            out[key] = int(value.split()[0])
    return out


class PeakMemory(threading.Thread):
    """Polls the RSS of this process and its children (the build's workers) every 50 ms.

    Private (anonymous) memory is what a build costs; file-backed pages are the pack being
    written through its memory map, which the kernel can drop at any time."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = {"main_anon": 0, "main_total": 0, "worker_anon": 0, "worker_total": 0}
        self.running = True

    def run(self) -> None:
        me = psutil.Process()
        while self.running:
            m = rss_parts()
            self._up("main", m)
            for child in me.children(recursive=True):
                self._up("worker", rss_parts(child.pid))
            time.sleep(0.05)

    def _up(self, who: str, parts: dict[str, int]) -> None:
        self.peak[f"{who}_anon"] = max(self.peak[f"{who}_anon"], parts["RssAnon"])
        self.peak[f"{who}_total"] = max(self.peak[f"{who}_total"],
                                        parts["RssAnon"] + parts["RssFile"])

    def stop(self) -> dict[str, float]:
        self.running = False
        self.join()
        return {f"peak_rss_{k}_mib": round(v / 1024, 1) for k, v in self.peak.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--utterances", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--dir", default="/tmp/wise-bench")
    args = ap.parse_args()
    work = Path(args.dir)
    corpus, manifest, cache = work / "corpus", work / "manifest.jsonl", work / "cache"
    if not (corpus / "synthetic_meta.jsonl").is_file():
        generate(corpus, n_utterances=args.utterances, seed=0, workers=args.workers,
                 progress=False)
    skips = Skips()
    prepare(read_iemocap(corpus, skips), manifest, skips, progress=False)
    shutil.rmtree(cache, ignore_errors=True)
    sampler = PeakMemory()
    sampler.start()
    t0 = time.perf_counter()
    s = build_features(manifest, cache, FeatureConfig(), Skips(), workers=args.workers,
                       progress=False)
    wall = time.perf_counter() - t0
    peaks = sampler.stop()
    hours = s.audio_seconds / 3600
    entries_b, pack_b = dir_bytes(cache / "entries"), dir_bytes(Path(s.pack))

    store = FeatureStore(s.pack)
    before = rss_parts()
    rng = np.random.default_rng(0)
    batch = [store[int(i)] for i in rng.choice(len(store), size=32, replace=False)]
    touched = sum(float(b.frames.sum()) + float(b.word_vectors.sum()) for b in batch)
    after = rss_parts()

    result = {
        "utterances": s.utterances, "audio_hours": round(hours, 3),
        "workers": args.workers, "cpu": platform.processor() or platform.machine(),
        "cores": psutil.cpu_count(), "wall_seconds": round(wall, 2),
        "real_time_factor": round(wall / s.audio_seconds, 5),
        "x_real_time": round(s.audio_seconds / wall, 1),
        **peaks,
        "entries_mib_per_hour": round(entries_b / 2**20 / hours, 1),
        "pack_mib_per_hour": round(pack_b / 2**20 / hours, 1),
        "pack_mib": round(pack_b / 2**20, 1),
        # Reading a batch: private memory it allocates, and pages of the pack it maps in
        # (file-backed, includes the kernel's read-ahead around each touched page).
        "batch_of_32_anon_mib": round((after["RssAnon"] - before["RssAnon"]) / 1024, 2),
        "batch_of_32_file_mib": round((after["RssFile"] - before["RssFile"]) / 1024, 2),
        "batch_checksum": round(touched, 3),  # keeps the reads from being optimised away
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"features-{args.utterances}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
