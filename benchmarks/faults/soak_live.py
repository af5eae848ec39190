"""`wise serve`'s live sessions under a soak, on loopback: clients that finish, clients that
vanish mid-phrase, clients that drop the connection in the middle of a chunk, bad chunks. What
must be left afterwards: no session, no extra worker, no temporary file, no descriptor, and
memory that does not climb.

    python benchmarks/faults/soak_live.py RAVDESS_DIR [--minutes 5] [--clients 4]

RAVDESS_DIR holds Actor_NN folders of 16 kHz clips. Ten of them (`--clips`), joined with 1-3 s
gaps of silence and faint noise (`wise.testing.recordings.join_clips`), make the recording each
client streams, a quarter second per chunk at four times real time. The server is the real command
(`wise serve`, the bundled model, `--live-idle` seconds before an idle session is dropped) on
a free 127.0.0.1 port, with its own empty TMPDIR. Each client, for `--minutes`, opens a
session and does one of (seeded draw):

- `complete`: streams the whole recording, then ends the session (DELETE); every clip must
  come back as a phrase;
- `vanish`: streams up to a random point inside a clip's speech and goes away;
- `drop_mid_chunk`: as `vanish`, then on a raw socket sends half of a chunk's body and closes
  the connection;
- `bad_chunks`: a chunk that is not whole float32 samples and one with a NaN (each must get
  a 400), then completes as `complete`.

One complete session comes first, so that what the server loads once is in the baseline. Then
every few seconds: resident memory of the server and its workers, the worker count, open
sessions (GET /health), the server's open file descriptors, files in its TMPDIR. After the
last client, the soak waits `--live-idle` and the server's reaping interval, then takes the
final sample. Writes benchmarks/results/reliability/live.json (the reliability table's rows).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import socket
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np
import psutil

from wise import code_version
from wise.audio import stream_audio
from wise.fsutil import atomic_write_text
from wise.testing import repo_root
from wise.testing.host import machine
from wise.testing.recordings import Placed, clips_of, join_clips
from wise.testing.service import start_service, stop_service, tree_rss_mb, workers_of

SR = 16000
CHUNK = SR // 4
SPEED = 4.0                         # times real time
KINDS = {"complete": 4, "vanish": 3, "drop_mid_chunk": 2, "bad_chunks": 1}


class Client:
    """One live client: what it did and what it got."""

    def __init__(self, url: str, x: np.ndarray, placed: list[Placed]) -> None:
        self.url, self.x, self.placed = url, x, placed

    def open(self, deadline: float) -> str | None:
        while time.monotonic() < deadline:
            r = httpx.post(f"{self.url}/live", timeout=30)
            if r.status_code == 200:
                return r.json()["session"]
            time.sleep(1.0)                 # 503: all sessions busy
        return None

    def stream(self, at: str, upto: int) -> tuple[list[dict], list[int]]:
        items, statuses = [], []
        t0 = time.perf_counter()
        for i in range(0, upto, CHUNK):
            time.sleep(max(0.0, t0 + i / SR / SPEED - time.perf_counter()))
            r = httpx.post(at, content=self.x[i:min(i + CHUNK, upto)].astype("<f4").tobytes(),
                           timeout=60)
            statuses.append(r.status_code)
            if r.status_code == 200:
                items += r.json()["items"]
        return items, statuses

    def run(self, kind: str, rng: random.Random, deadline: float) -> dict:
        sid = self.open(deadline)
        if sid is None:
            return {"kind": kind, "opened": False}
        at = f"{self.url}/live/{sid}"
        out: dict = {"kind": kind, "opened": True}
        if kind in ("complete", "bad_chunks"):
            if kind == "bad_chunks":
                out["bad_statuses"] = [
                    httpx.post(at, content=b"abc", timeout=30).status_code,
                    httpx.post(at, content=np.array([0.0, np.nan], "<f4").tobytes(),
                               timeout=30).status_code]
            items, statuses = self.stream(at, len(self.x))
            end = httpx.delete(at, timeout=60)
            statuses.append(end.status_code)
            items += end.json().get("items", []) if end.status_code == 200 else []
            out["statuses"] = dict(Counter(statuses))
            out["phrases"] = sum(1 for i in items if i["kind"] == "phrase")
            return out
        clip = rng.choice(self.placed)      # stop inside its speech (RAVDESS: ~1 s silence)
        upto = int(rng.uniform(clip.start + 1.2, clip.end - 1.0) * SR)
        _, statuses = self.stream(at, upto)
        out["statuses"] = dict(Counter(statuses))
        if kind == "drop_mid_chunk":
            body = self.x[upto:upto + CHUNK].astype("<f4").tobytes()
            port = int(self.url.rsplit(":", 1)[1])
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.sendall(f"POST /live/{sid} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:len(body) // 2])
        return out


def descriptors(server: psutil.Process) -> dict[str, int]:
    """The server's open file descriptors by kind (socket, pipe, anon_inode:[eventfd], a
    file's path)."""
    kinds: Counter = Counter()
    for fd in Path(f"/proc/{server.pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        kinds[target.split(":[")[0] if ":[" in target and not target.startswith("anon")
              else target] += 1
    return dict(sorted(kinds.items()))


def held(url: str, server: psutil.Process, tmp: Path) -> dict:
    """A sample, with what the server holds named: its descriptors by kind (taken before the
    sample's own request) and the files in its TMPDIR."""
    kinds = descriptors(server)
    return {**sample(url, server, tmp), "fd_kinds": kinds,
            "tmp_names": sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*"))}


def sample(url: str, server: psutil.Process, tmp: Path) -> dict:
    # Descriptors first: the /health request below holds a socket of the server's open
    # until it has seen the connection close.
    fds = server.num_fds()
    own, children = tree_rss_mb(server)
    return {"t": time.monotonic(), "rss_mb": round(own + children, 1),
            "workers": len(workers_of(server)),
            "sessions": httpx.get(f"{url}/health", timeout=30).json()["live_sessions"],
            "fds": fds, "tmp_files": sum(1 for _ in tmp.rglob("*"))}


def slope_mb_per_min(samples: list[dict]) -> float:
    half = samples[len(samples) // 2:]
    if len(half) < 3:
        return 0.0
    t = np.array([s["t"] for s in half]) / 60
    return round(float(np.polyfit(t - t[0], [s["rss_mb"] for s in half], 1)[0]), 2)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ravdess", type=Path)
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--clips", type=int, default=10, help="clips in the streamed recording")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--live-idle", type=float, default=5.0)
    ap.add_argument("--sample-seconds", type=float, default=5.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path,
                    default=repo_root() / "benchmarks/results/reliability/live.json")
    args = ap.parse_args()

    clips = clips_of(args.ravdess, n=args.clips, seed=args.seed)
    runs: list[dict] = []
    samples: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="wise-soak-live-") as work:
        work = Path(work)
        tmp = work / "server-tmp"
        tmp.mkdir()
        placed = join_clips(clips, work / "joined.flac", gaps_s=(1.0, 3.0), seed=args.seed)
        x = np.concatenate(list(stream_audio(work / "joined.flac", SR)))
        proc, url = start_service(["--workers", str(args.workers), "--live-sessions",
                                   str(args.clients), "--live-idle", str(args.live_idle)],
                                  work / "server.log", env={"TMPDIR": str(tmp)},
                                  timeout_s=600)
        server = psutil.Process(proc.pid)
        try:
            # One session first: what the server loads once (the VAD, and the files and
            # descriptors onnxruntime opens with it) is in the baseline.
            warm = Client(url, x, placed).run("complete", random.Random(0), time.monotonic() + 600)
            time.sleep(1.0)             # the server sees the warm-up's last connection close
            baseline = held(url, server, tmp)
            samples.append(baseline)
            deadline = time.monotonic() + 60 * args.minutes
            stop = threading.Event()

            def client(i: int) -> None:
                rng, c = random.Random(args.seed * 1000 + i), Client(url, x, placed)
                kind = list(KINDS)[1 + i % 3]     # each client first does one of the faults
                while time.monotonic() < deadline:
                    runs.append(c.run(kind, rng, deadline))
                    kind = rng.choices(list(KINDS), weights=list(KINDS.values()))[0]

            def sampler() -> None:
                while not stop.wait(args.sample_seconds):
                    samples.append(sample(url, server, tmp))

            threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
            watch = threading.Thread(target=sampler, daemon=True)
            watch.start()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            stop.set()
            watch.join()
            last_client = time.monotonic()
            time.sleep(args.live_idle + min(5.0, args.live_idle / 2) + 2.0)
            after = held(url, server, tmp)
            after["seconds_after_last_client"] = round(time.monotonic() - last_client, 1)
            after["connections"] = [str(c.status) for c in server.net_connections()]
        finally:
            status = stop_service(proc)
        log = (work / "server.log").read_text()

    done = [r for r in runs if r["opened"]]
    by_kind = Counter(r["kind"] for r in done)
    complete = [r for r in done if r["kind"] in ("complete", "bad_chunks")]
    whole = sum(r["phrases"] == len(placed) for r in complete)
    bad = [s for r in done for s in r.get("bad_statuses", [])]
    five = sum(n for r in done for s, n in r["statuses"].items() if int(s) >= 500)
    first = samples[0]
    rows = [{
        "fault": f"{args.clients} live clients for {args.minutes:g} min streaming real speech "
                 f"at {SPEED:g}x real time: sessions ended properly, abandoned mid-phrase, "
                 "or dropped in the middle of a chunk",
        "target": f"wise serve: /live (--live-idle {args.live_idle:g} s, "
                  f"--workers {args.workers})",
        "trials": len(done),
        "outcome": (f"{', '.join(f'{n} {k}' for k, n in sorted(by_kind.items()))}; "
                    f"{whole} of {len(complete)} finished sessions got all {len(placed)} "
                    f"phrases; {five} answers 5xx; {after['seconds_after_last_client']:g} s "
                    f"after the last client: {after['sessions']} sessions open (peak "
                    f"{max(s['sessions'] for s in samples)}), {after['workers']} workers "
                    f"({first['workers']} at the start), {after['tmp_files']} files in its "
                    f"TMPDIR ({first['tmp_files']} at the start), {after['fds']} file "
                    f"descriptors ({first['fds']} at the start), "
                    f"RSS of server and workers {first['rss_mb']} → {after['rss_mb']} MiB "
                    f"(slope {slope_mb_per_min(samples)} MiB/min over the second half)"),
        "lost": "the unfinished phrase of each abandoned session (by design)",
    }, {
        "fault": "live chunks that are not whole float32 samples, or hold a NaN",
        "target": "wise serve: POST /live/{session}",
        "trials": len(bad),
        "outcome": ", ".join(f"{n} × {s}" for s, n in sorted(Counter(bad).items())),
        "lost": "nothing: the session goes on",
    }]
    result = {"area": "live", "command": "python benchmarks/faults/soak_live.py " + " ".join(
                  a if not a.startswith("/") else Path(a).name for a in sys.argv[1:]),
              "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
              "machine": machine(platform=True), "code_version": code_version(), "rows": rows,
              "warm_up": warm, "baseline": baseline, "runs": runs, "samples": samples,
              "after": after, "server_exit": status,
              "server_log_tracebacks": log.count("Traceback")}
    atomic_write_text(args.out, json.dumps(result, indent=1) + "\n")
    for row in rows:
        print(f"{row['fault']}\n  {row['outcome']}")
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
