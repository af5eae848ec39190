"""Speed of the synthetic corpus generator (`wise.corpora.synthetic.generate`).

Generates N utterances (default 2000, the corpus's default size) with 2 worker processes
into a temporary folder, which is removed afterwards, and reports utterances per second,
hours of audio and seconds taken. The machine's load average is recorded with the result,
because other work on the same cores slows the generator down in proportion.

Writes benchmarks/results/synth.json. Usage: python benchmarks/timing/bench_synth.py [--n 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
from pathlib import Path

from wise import code_version
from wise.corpora.synthetic import generate
from wise.fsutil import atomic_write_text

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="utterances")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/synth.json")
    args = ap.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="wise-bench-synth-"))
    try:
        load_before = os.getloadavg()
        summary = generate(folder / "corpus", n_utterances=args.n, seed=args.seed,
                           workers=args.workers, progress=False)
        load_after = os.getloadavg()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    seconds = summary["elapsed_seconds"]
    result = {
        "benchmark": "bench_synth",
        "code_version": code_version(),
        "config": {"n_utterances": args.n, "workers": args.workers, "seed": args.seed},
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "load_average_1min_before_after": [round(load_before[0], 2),
                                                       round(load_after[0], 2)]},
        "seconds": seconds,
        "utterances_per_second": round(args.n / seconds, 1),
        "audio_hours": summary["audio_hours"],
        "audio_seconds_per_second": round(summary["audio_seconds"] / seconds, 1),
        "labels": summary["labels"],
        "types": summary["types"],
    }
    atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
