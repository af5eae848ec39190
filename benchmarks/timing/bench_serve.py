"""Throughput and latency of `wise serve` under concurrent clients.

Starts the real command (`wise serve CHECKPOINT`, default workers) in a subprocess and sends
utterances of the synthetic corpus (a manifest's `audio` and `text`) from `--clients` client
threads, each with its own keep-alive connection, for two cases:

* `given_transcript`: the upload with its transcript (alignment, features, model);
* `asr`: the upload alone (offline speech recognition first, `--asr`, Whisper by default;
  then the same).

Per case: requests per second over the wall-clock time of the case, latency percentiles as
the clients saw them, the server's own per-stage seconds, and the CPU time of the server and
its workers. Clients run on the same machine as the server. The machine's load average before
and after, and the share of all cores used by the server, the clients and other processes
during each case, say whether anything else was running.

Writes benchmarks/results/serve.json. Usage:
    python benchmarks/timing/bench_serve.py [CHECKPOINT] [--manifest M] [--requests 120]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import psutil

from wise import code_version
from wise.fsutil import atomic_write_text
from wise.testing.service import start_service, stop_service

ROOT = Path(__file__).resolve().parents[2]
DEMO = Path("wise-demo")   # what `wise demo` leaves in the current folder


def tree_cpu_seconds(proc: psutil.Process) -> float:
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def machine_busy_seconds() -> float:
    t = psutil.cpu_times()
    return t.user + t.nice + t.system + getattr(t, "irq", 0) + getattr(t, "softirq", 0)


def own_cpu_seconds() -> float:
    t = psutil.Process().cpu_times()
    return t.user + t.system


def run_case(url: str, clips: list[tuple[str, bytes, str]], with_text: bool, n: int,
             clients: int, server: psutil.Process) -> dict:
    counter = itertools.count()
    lock = threading.Lock()
    latencies: list[float] = []
    stages: list[dict] = []
    statuses: dict[str, int] = {}
    errors: list[str] = []

    def client() -> None:
        with httpx.Client(timeout=120) as http:
            while True:
                with lock:
                    i = next(counter)
                if i >= n:
                    return
                name, audio, text = clips[i % len(clips)]
                files = {"audio": (name, audio, "audio/wav")}
                if with_text:
                    files["text"] = (None, text.encode())
                t0 = time.perf_counter()
                r = http.post(f"{url}/predict", files=files)
                dt = time.perf_counter() - t0
                with lock:
                    latencies.append(dt)
                    if r.status_code == 200:
                        body = r.json()
                        statuses[body["status"]] = statuses.get(body["status"], 0) + 1
                        stages.append(body["seconds"])
                    else:
                        statuses[str(r.status_code)] = statuses.get(str(r.status_code), 0) + 1
                        errors.append(r.text[:200])

    load_before = os.getloadavg()
    cpu0, busy0, own0 = tree_cpu_seconds(server), machine_busy_seconds(), own_cpu_seconds()
    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for f in [pool.submit(client) for _ in range(clients)]:
            f.result()
    wall = time.perf_counter() - t0
    server_cpu = tree_cpu_seconds(server) - cpu0
    clients_cpu = own_cpu_seconds() - own0
    # Whatever else ran on the machine meanwhile, as a share of all its cores.
    other = machine_busy_seconds() - busy0 - server_cpu - clients_cpu
    capacity = wall * (os.cpu_count() or 1)

    lat = np.asarray(latencies) * 1000
    stage_names = sorted({k for s in stages for k in s})
    return {
        "requests": n,
        "wall_seconds": round(wall, 2),
        "requests_per_second": round(n / wall, 2),
        "latency_ms": {"p50": round(float(np.percentile(lat, 50)), 1),
                       "p95": round(float(np.percentile(lat, 95)), 1),
                       "mean": round(float(lat.mean()), 1),
                       "max": round(float(lat.max()), 1)},
        "statuses": statuses,
        "error_examples": errors[:3],
        "server_stage_seconds_mean": {k: round(float(np.mean([s[k] for s in stages if k in s])),
                                               4) for k in stage_names},
        "server_cpu_seconds_per_request": round(server_cpu / n, 4),
        "cpu_share": {"server": round(server_cpu / capacity, 3),
                      "clients": round(clients_cpu / capacity, 3),
                      "other_processes": round(max(0.0, other) / capacity, 3)},
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", nargs="?", type=Path,
                    default=DEMO / "results/wise/seed_0/fold_1/model.wise")
    ap.add_argument("--manifest", type=Path, default=DEMO / "manifest.jsonl")
    ap.add_argument("--clips", type=int, default=60, help="distinct utterances, sent in turn")
    ap.add_argument("--requests", type=int, default=120, help="requests per case")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=8, help="requests per case not measured")
    ap.add_argument("--asr", choices=("whisper", "pocketsphinx"), default="whisper")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/serve.json")
    args = ap.parse_args()

    rows = [json.loads(line) for line in args.manifest.read_text().splitlines()[:args.clips]]
    clips = [(Path(r["audio"]).name, Path(r["audio"]).read_bytes(), r["text"]) for r in rows]
    audio_s = [r["duration"] for r in rows if "duration" in r]

    load_at_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="wise-bench-serve-") as tmp:
        t0 = time.perf_counter()
        proc, url = start_service([str(args.model), "--asr", args.asr],
                                  Path(tmp, "server.log"), timeout_s=600)
        startup = time.perf_counter() - t0
        try:
            health = httpx.get(f"{url}/health").json()
            server = psutil.Process(proc.pid)
            results = {}
            for case, with_text in (("given_transcript", True), ("asr", False)):
                run_case(url, clips, with_text, args.warmup, args.clients, server)
                results[case] = run_case(url, clips, with_text, args.requests, args.clients,
                                         server)
                print(case, json.dumps(results[case]), flush=True)
        finally:
            stop_service(proc)

    result = {
        "benchmark": "bench_serve",
        "code_version": code_version(),
        "config": {"model": str(args.model), "model_name": health["model"],
                   "recognizer": health["asr"],
                   "manifest": str(args.manifest), "clips": len(clips),
                   "clip_seconds_mean": round(float(np.mean(audio_s)), 2) if audio_s else None,
                   "requests_per_case": args.requests, "warmup_per_case": args.warmup,
                   "clients": args.clients, "server_workers": health["workers"],
                   "server_startup_seconds": round(startup, 2)},
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "cpu": platform.processor() or platform.machine(),
                    "load_average_at_start": [round(x, 2) for x in load_at_start],
                    "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
        "results": results,
    }
    atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
