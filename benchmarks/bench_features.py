"""Time `wise features` from scratch on a synthetic corpus; measure memory and cache size.

    python benchmarks/bench_features.py [--utterances 2000] [--workers 2] [--dir /tmp/wise-bench]

Generates the corpus (if absent) and its manifest, then builds the feature cache from empty and
writes benchmarks/results/features.json: wall time, real-time factor, peak RSS of the main
process and of the largest worker, cache bytes per hour of audio (entries and pack), and the
memory a batch read adds.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import shutil
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

RESULTS = Path(__file__).parent / "results"


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--utterances", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--dir", default="/tmp/wise-bench")
    args = ap.parse_args()
    work = Path(args.dir)
    corpus, manifest, cache = work / "corpus", work / "manifest.jsonl", work / "cache"
    if not (corpus / "synthetic_meta.jsonl").is_file():
        generate(corpus, n_utterances=args.utterances, seed=0, workers=args.workers)
    skips = Skips()
    prepare(read_iemocap(corpus, skips), manifest, skips, progress=False)
    shutil.rmtree(cache, ignore_errors=True)
    t0 = time.perf_counter()
    s = build_features(manifest, cache, FeatureConfig(), Skips(), workers=args.workers)
    wall = time.perf_counter() - t0
    hours = s["audio_seconds"] / 3600
    entries_b, pack_b = dir_bytes(cache / "entries"), dir_bytes(Path(s["pack"]))

    store = FeatureStore(s["pack"])
    proc = psutil.Process()
    before = proc.memory_info().rss
    rng = np.random.default_rng(0)
    batch = [store[int(i)] for i in rng.choice(len(store), size=32, replace=False)]
    touched = sum(float(b.frames.sum()) + float(b.word_vectors.sum()) for b in batch)
    batch_rss = proc.memory_info().rss - before

    result = {
        "utterances": s["utterances"], "audio_hours": round(hours, 3),
        "workers": args.workers, "cpu": platform.processor() or platform.machine(),
        "cores": psutil.cpu_count(), "wall_seconds": round(wall, 2),
        "real_time_factor": round(wall / s["audio_seconds"], 5),
        "x_real_time": round(s["audio_seconds"] / wall, 1),
        "peak_rss_main_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "peak_rss_largest_worker_mib":
            round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
        "entries_mib_per_hour": round(entries_b / 2**20 / hours, 1),
        "pack_mib_per_hour": round(pack_b / 2**20 / hours, 1),
        "pack_mib": round(pack_b / 2**20, 1),
        "batch_of_32_rss_increase_mib": round(batch_rss / 2**20, 2),
        "batch_checksum": round(touched, 3),  # keeps the reads from being optimised away
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "features.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
