"""`wise serve` under load and attack, on this machine's loopback only: a soak, then faults.

Starts the real command (`wise serve CHECKPOINT`, a token from WISE_TOKEN) on a free
127.0.0.1 port and, for `--minutes`:

* `--clients` client threads, each with its own keep-alive connection, send a seeded mix of
  good uploads (synthetic-corpus WAVs and real RAVDESS speech, mostly with their transcript,
  some without: ASR) and bad ones (random bytes, a WAV cut short, a WAV header that declares
  hours, a body over the upload limit with and without Content-Length, an empty file, a body
  that is not multipart, one that is malformed, no `audio` field, no token, a wrong token).
  Every request's status and latency is kept; each bad kind has the status it must get.
* `--slow-clients` more threads play slow clients on raw sockets: headers trickled, a body
  trickled (a byte per second, or faster than the idle timeout), a body that stalls, a
  connection that sends nothing. Each must be cut off by the server.
* The resident memory of the server and its worker processes is sampled every
  `--sample-seconds`; the slope over the second half says whether it is flat.

Then `--kills` times, a worker is SIGKILLed in the middle of a prediction (its client must get
a 503, and the next upload a prediction from a new pool), and `--fuzz-examples` random and
mutated multipart uploads (wise.testing.multipart_fuzz, Hypothesis, derandomized) are sent. The
server is stopped in any case. Every loop is bounded in time and stops by itself.

Writes benchmarks/results/reliability/service.json. Usage:
    python benchmarks/faults/soak_serve.py [CHECKPOINT] [--manifest M] [--ravdess DIR]
        [--minutes 10]
"""

from __future__ import annotations

import argparse
import datetime
import io
import itertools
import json
import os
import platform
import random
import secrets
import shlex
import signal
import socket
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import psutil
import soundfile as sf

from wise import code_version
from wise.corpora.ravdess import parse_name
from wise.fsutil import atomic_write_text
from wise.testing import multipart_fuzz
from wise.testing.service import start_service, stop_service, tree_rss_mb, workers_of

ROOT = Path(__file__).resolve().parents[2]

DEMO = Path("wise-demo")   # what `wise demo` leaves in the current folder
RAVDESS_DEV = Path("/work/shared/data/ravdess-dev")
MB = 1024 * 1024

# What each kind of request must get. Good uploads must be predicted (200); the weights are
# how often each kind is drawn.
GOOD = {"good_transcript": 55, "good_asr": 10}
BAD = {"random_bytes": 415, "truncated_wav": 400, "lying_header": 413,
       "oversized_length": 413, "oversized_chunked": 413, "empty_file": 400,
       "not_multipart": 400, "malformed_multipart": 400, "no_audio_field": 400,
       "no_token": 401, "wrong_token": 401}
BAD_WEIGHT = 3
SLOW_KINDS = ("headers_trickled", "body_trickled", "body_stalls", "silent")


def machine() -> str:
    mem = next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
               if line.startswith("MemTotal:"))
    return f"{os.cpu_count()} cores, {int(mem) / MB:.1f} GiB RAM, {platform.platform()}"


# ---------------------------------------------------------------- uploads

def load_clips(manifest: Path | None, n_manifest: int, ravdess: Path | None,
               n_ravdess: int, seed: int) -> list[tuple[str, bytes, str]]:
    """(file name, bytes, transcript) of the good uploads."""
    clips = []
    if manifest is not None:
        rows = [json.loads(line) for line in manifest.read_text().splitlines()]
        for r in [r for r in rows if r.get("text")][:n_manifest]:
            clips.append((Path(r["audio"]).name, Path(r["audio"]).read_bytes(), r["text"]))
    if ravdess is not None:
        files = sorted(ravdess.rglob("*.flac")) + sorted(ravdess.rglob("*.wav"))
        random.Random(seed).shuffle(files)
        for f in files[:n_ravdess]:
            clips.append((f.name, f.read_bytes(), parse_name(f.stem).statement))
    if not clips:
        sys.exit("no good uploads: give --manifest and/or --ravdess")
    return clips


def multipart(fields: list[tuple[str, str | None, bytes]],
              boundary: str = "soakBOUNDARY") -> tuple[dict[str, str], bytes]:
    """(headers, body) of a multipart/form-data request: fields are (name, filename, data)."""
    body = b""
    for name, filename, data in fields:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        body += (f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
                 + data + b"\r\n")
    body += f"--{boundary}--\r\n".encode()
    return {"content-type": f"multipart/form-data; boundary={boundary}"}, body


class Uploads:
    """Builds one request of each kind: (headers, body or an iterator of chunks)."""

    def __init__(self, clips: list[tuple[str, bytes, str]], token: str, limit_mb: float):
        self.clips = clips
        self.wavs = [c for c in clips if c[1][:4] == b"RIFF"] or clips
        self.auth = {"Authorization": f"Bearer {token}"}
        self.limit = int(limit_mb * MB)
        self.oversized = multipart([("audio", "big.wav", bytes(self.limit + 1))])
        self.lying = multipart_fuzz.lying_wav(3 * 3600.0)

    def build(self, kind: str, rng: random.Random):
        name, audio, text = rng.choice(self.clips)
        if kind == "good_transcript":
            headers, body = multipart([("audio", name, audio), ("text", None, text.encode())])
        elif kind == "good_asr":
            headers, body = multipart([("audio", name, audio)])
        elif kind == "random_bytes":
            headers, body = multipart([("audio", "noise.wav", rng.randbytes(4096))])
        elif kind == "truncated_wav":
            name, audio, _ = rng.choice(self.wavs)
            headers, body = multipart([("audio", name, audio[:len(audio) // 2])])
        elif kind == "lying_header":
            headers, body = multipart([("audio", "hours.wav", self.lying)])
        elif kind == "oversized_length":
            headers, body = self.oversized
        elif kind == "oversized_chunked":
            head, _ = multipart([])
            chunk = bytes(MB)
            prefix = (b'--soakBOUNDARY\r\nContent-Disposition: form-data; name="audio"; '
                      b'filename="big.wav"\r\n\r\n')
            n = self.limit // MB + 2
            headers, body = head, itertools.chain([prefix], itertools.repeat(chunk, n))
        elif kind == "empty_file":
            headers, body = multipart([("audio", name, b"")])
        elif kind == "not_multipart":
            headers, body = {"content-type": "application/json"}, b'{"audio": "clip.wav"}'
        elif kind == "malformed_multipart":
            headers, body = multipart([("audio", name, audio)], boundary="one")
            headers = {"content-type": "multipart/form-data; boundary=another"}
        elif kind == "no_audio_field":
            headers, body = multipart([("text", None, text.encode())])
        elif kind == "no_token":
            return multipart([("audio", name, audio), ("text", None, text.encode())])
        elif kind == "wrong_token":
            headers, body = multipart([("audio", name, audio), ("text", None, text.encode())])
            return {**headers, "Authorization": "Bearer " + "x" * 32}, body
        else:
            raise ValueError(kind)
        return {**headers, **self.auth}, body


# ---------------------------------------------------------------- the server

# ---------------------------------------------------------------- slow clients

def slow_client(port: int, kind: str, token: str, trickle: float, limit: float) -> dict:
    """One slow client on a raw socket; returns what the server did to it and when."""
    head = (f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n"
            ).encode()
    part = b'--b\r\nContent-Disposition: form-data; name="audio"; filename="a.wav"\r\n\r\n'
    sent_first, trickled = {"headers_trickled": (b"", head),
                            "body_trickled": (head, part + bytes(99000)),
                            "body_stalls": (head + part + bytes(1000), b""),
                            "silent": (b"", b"")}[kind]
    got, how = b"", "still open"
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=limit) as s:
        try:
            s.sendall(sent_first)
            s.settimeout(trickle)
            for i in range(len(trickled)):
                if time.monotonic() - t0 > limit:
                    break
                s.send(trickled[i:i + 1])
                try:
                    got = s.recv(65536)
                    break                   # an answer, or the server closed (b"")
                except TimeoutError:
                    pass
            s.settimeout(max(0.1, limit - (time.monotonic() - t0)))
            while chunk := s.recv(65536):
                got += chunk
            how = "closed"
        except TimeoutError:
            how = "still open"
        except OSError:
            how = "reset"
    seconds = time.monotonic() - t0
    status = got[9:12].decode() if got.startswith(b"HTTP/1.1 ") else None
    return {"kind": kind, "seconds": round(seconds, 2), "status": status,
            "outcome": how if how != "closed" or status else "closed without answer"}


# ---------------------------------------------------------------- phases

def soak(url: str, uploads: Uploads, args, server: psutil.Process, port: int,
         token: str, read_timeout: float, idle_timeout: float) -> dict:
    kinds = list(GOOD) + list(BAD)
    weights = list(GOOD.values()) + [BAD_WEIGHT] * len(BAD)
    t_start = time.monotonic()
    deadline = t_start + 60 * args.minutes
    records: list[tuple[float, str, str, float]] = []
    slow: list[dict] = []
    rss: list[tuple[float, float, float]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(i: int) -> None:
        rng = random.Random(args.seed * 1000 + i)
        with httpx.Client(timeout=300) as http:
            while time.monotonic() < deadline:
                kind = rng.choices(kinds, weights)[0]
                headers, body = uploads.build(kind, rng)
                t0 = time.monotonic()
                try:
                    r = http.post(f"{url}/predict", headers=headers, content=body)
                    status = str(r.status_code)
                    if r.status_code != 200:
                        error = r.json()["error"]
                        if "\n" in error:
                            status += " (not one line)"
                except (httpx.HTTPError, ValueError, KeyError) as e:
                    status = f"client error: {type(e).__name__}"
                with lock:
                    records.append((t0 - t_start, kind, status, time.monotonic() - t0))

    def slow_clients(i: int) -> None:
        trickle = min(1.0, idle_timeout / 4)
        limit = read_timeout + idle_timeout + 30
        for n in itertools.count(i):
            if deadline - time.monotonic() < read_timeout + idle_timeout:
                return
            result = slow_client(port, SLOW_KINDS[n % len(SLOW_KINDS)], token, trickle, limit)
            with lock:
                slow.append(result)

    def sample() -> None:
        while True:
            server_mb, children_mb = tree_rss_mb(server)
            rss.append((round(time.monotonic() - t_start, 1), round(server_mb, 1),
                        round(children_mb, 1)))
            if stop.wait(args.sample_seconds):
                return

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    load_before = os.getloadavg()
    with ThreadPoolExecutor(args.clients + args.slow_clients) as pool:
        futures = [pool.submit(client, i) for i in range(args.clients)]
        futures += [pool.submit(slow_clients, i) for i in range(args.slow_clients)]
        for f in futures:
            f.result()
    stop.set()
    sampler.join()
    return {"records": records, "slow": slow, "rss": rss, "wall": time.monotonic() - t_start,
            "load_before": load_before, "load_after": os.getloadavg()}


def kill_workers(url: str, uploads: Uploads, server: psutil.Process, kills: int) -> list[dict]:
    """SIGKILL a worker while it predicts a long upload (ASR on 30 s of speech)."""
    name, audio, text = next(c for c in uploads.clips if c[1][:4] == b"RIFF")
    x, sr = sf.read(io.BytesIO(audio), dtype="float32")
    buf = io.BytesIO()
    sf.write(buf, np.tile(x, int(np.ceil(30 * sr / len(x))))[:30 * sr], sr, format="WAV")
    long_headers, long_body = multipart([("audio", "long.wav", buf.getvalue())])
    good_headers, good_body = multipart([("audio", name, audio), ("text", None, text.encode())])
    long_headers.update(uploads.auth)
    good_headers.update(uploads.auth)
    trials = []
    for _ in range(kills):
        before = {p.pid: sum(p.cpu_times()[:2]) for p in workers_of(server)}
        with ThreadPoolExecutor(1) as pool:
            in_flight = pool.submit(httpx.post, f"{url}/predict", headers=long_headers,
                                    content=long_body, timeout=300)
            victim, deadline = None, time.monotonic() + 120
            while victim is None and time.monotonic() < deadline and not in_flight.done():
                for p in workers_of(server):
                    try:
                        if sum(p.cpu_times()[:2]) - before.get(p.pid, 0.0) > 0.3:
                            victim = p
                    except psutil.NoSuchProcess:
                        pass
                time.sleep(0.02)
            if victim is not None:
                victim.send_signal(signal.SIGKILL)
            try:
                r = in_flight.result()
                in_flight_status = str(r.status_code)
                retry_after = r.headers.get("retry-after")
            except httpx.HTTPError as e:
                in_flight_status, retry_after = f"client error: {type(e).__name__}", None
        t0 = time.monotonic()
        recovered, statuses = None, Counter()
        while time.monotonic() - t0 < 300:
            try:
                r = httpx.post(f"{url}/predict", headers=good_headers, content=good_body,
                               timeout=300)
                statuses[str(r.status_code)] += 1
                if r.status_code == 200:
                    recovered = round(time.monotonic() - t0, 2)
                    break
            except httpx.HTTPError as e:
                statuses[type(e).__name__] += 1
            time.sleep(0.5)
        trials.append({"killed_pid": victim.pid if victim else None,
                       "in_flight_status": in_flight_status, "retry_after": retry_after,
                       "next_upload_answered_after_s": recovered,
                       "statuses_until_recovered": dict(statuses),
                       "workers_after": len(workers_of(server))})
    return trials


def fuzz(url: str, uploads: Uploads, examples: int) -> dict:
    clips = [c[1] for c in uploads.wavs[:3]]
    t0 = time.monotonic()
    try:
        tally = multipart_fuzz.run(url, clips, examples, headers=uploads.auth)
        failure = None
    except Exception as e:       # a refused answer: Hypothesis's falsifying example
        tally, failure = Counter(), f"{type(e).__name__}: {str(e).splitlines()[0][:300]}"
    return {"examples": examples, "ran": sum(tally.values()), "answers": dict(sorted(
        tally.items())), "failure": failure, "seconds": round(time.monotonic() - t0, 1)}


# ---------------------------------------------------------------- summary

def percentile_ms(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(np.asarray(values) * 1000, q)), 1) if values else None


def summarise(run: dict, kills: list[dict], fuzzed: dict | None, args, read_timeout: float,
              idle_timeout: float) -> tuple[dict, list[dict]]:
    records = run["records"]
    by_kind: dict[str, Counter] = defaultdict(Counter)
    for _, kind, status, _ in records:
        by_kind[kind][status] += 1
    good = [r for r in records if r[1] in GOOD]
    good_errors = [r for r in good if r[2] != "200"]
    good_lat = [r[3] for r in good if r[2] == "200"]
    bad = [r for r in records if r[1] in BAD]
    bad_wrong = [r for r in bad if r[2] != str(BAD[r[1]])]
    statuses = Counter(r[2] for r in records)
    five = sum(n for s, n in statuses.items() if s.startswith("5"))

    rss = run["rss"]
    total = [(t, s + c) for t, s, c in rss]
    half = [(t, m) for t, m in total if t >= total[-1][0] / 2] if total else []
    slope = (float(np.polyfit([t / 60 for t, _ in half], [m for _, m in half], 1)[0])
             if len(half) >= 3 else None)
    soak_summary = {
        "minutes": args.minutes, "clients": args.clients, "slow_clients": args.slow_clients,
        "wall_seconds": round(run["wall"], 1), "requests": len(records),
        "statuses": dict(sorted(statuses.items())), "five_xx": five,
        "by_kind": {k: {"expected": 200 if k in GOOD else BAD[k], "statuses": dict(v)}
                    for k, v in sorted(by_kind.items())},
        "good": {"requests": len(good), "errors": len(good_errors),
                 "error_rate": round(len(good_errors) / len(good), 4) if good else None,
                 "latency_ms": {"p50": percentile_ms(good_lat, 50),
                                "p95": percentile_ms(good_lat, 95),
                                "max": percentile_ms(good_lat, 100)},
                 "error_examples": [r[2] for r in good_errors[:5]]},
        "bad": {"requests": len(bad), "as_expected": len(bad) - len(bad_wrong),
                "unexpected": [f"{r[1]}: {r[2]}" for r in bad_wrong[:10]]},
        "rss_mb": {"start": round(total[0][1], 1) if total else None,
                   "end": round(total[-1][1], 1) if total else None,
                   "max": round(max(m for _, m in total), 1) if total else None,
                   "slope_mb_per_min_second_half": None if slope is None else round(slope, 2),
                   "samples_seconds_server_children": rss},
        "load_average_before": [round(x, 2) for x in run["load_before"]],
        "load_average_after": [round(x, 2) for x in run["load_after"]],
    }

    def counted(kinds) -> str:
        c = Counter()
        for k in kinds:
            c.update(by_kind.get(k, {}))
        return ", ".join(f"{n} × {s}" for s, n in sorted(c.items()))

    def n_of(kinds) -> int:
        return sum(sum(by_kind.get(k, {}).values()) for k in kinds)

    rows = [{
        "fault": f"{args.clients} clients for {args.minutes:g} min mixing good uploads "
                 f"({len(GOOD)} kinds) and bad ones ({len(BAD)} kinds)",
        "target": "wise serve: POST /predict",
        "trials": len(records),
        "outcome": (f"{len(good)} good uploads: {len(good_errors)} errors, p50 "
                    f"{soak_summary['good']['latency_ms']['p50']} ms, p95 "
                    f"{soak_summary['good']['latency_ms']['p95']} ms; {len(bad)} bad: "
                    f"{len(bad) - len(bad_wrong)} refused with the expected status; "
                    f"{five} answers 5xx; RSS of server and workers "
                    f"{soak_summary['rss_mb']['start']} → {soak_summary['rss_mb']['end']} MiB "
                    f"(slope {soak_summary['rss_mb']['slope_mb_per_min_second_half']} "
                    "MiB/min over the second half)"),
        "lost": "nothing" if not good_errors else f"{len(good_errors)} good uploads failed",
    }]
    slow = run["slow"]
    cut = [s for s in slow if s["outcome"] != "still open"]
    with_408 = [s for s in slow if s["status"] == "408"]
    secs = [s["seconds"] for s in cut]
    rows.append({
        "fault": "slow clients on raw sockets during the soak: headers or body trickled "
                 f"({min(1.0, idle_timeout / 4):g} s per byte), a body that stalls, a "
                 "connection that sends nothing",
        "target": f"wise serve (read timeout {read_timeout:g} s, idle {idle_timeout:g} s)",
        "trials": len(slow),
        "outcome": (f"{len(cut)} of {len(slow)} cut off by the server after "
                    f"{min(secs) if secs else '-'}–{max(secs) if secs else '-'} s "
                    f"({len(with_408)} with a 408 answer, the silent ones closed without "
                    "one)"),
        "lost": "nothing",
    })
    for kinds, what in ((["oversized_length", "oversized_chunked"],
                         "uploads over the size limit, with and without Content-Length"),
                        (["lying_header", "truncated_wav"],
                         "WAV headers that declare 3 hours, and WAVs cut in half"),
                        (["no_token", "wrong_token"], "requests without or with a wrong token"),
                        (["random_bytes", "empty_file", "not_multipart", "malformed_multipart",
                          "no_audio_field"],
                         "random bytes, empty files, bodies not or badly multipart, no "
                         "audio field")):
        wrong = [r for r in bad_wrong if r[1] in kinds]
        rows.append({"fault": f"{what} (within the soak)", "target": "wise serve: POST /predict",
                     "trials": n_of(kinds),
                     "outcome": f"{counted(kinds)}; {len(wrong)} not as expected",
                     "lost": "nothing"})
    if kills:
        answered = [k["next_upload_answered_after_s"] for k in kills
                    if k["next_upload_answered_after_s"] is not None]
        rows.append({
            "fault": "SIGKILL a prediction worker in the middle of a prediction",
            "target": "wise serve's worker pool",
            "trials": len(kills),
            "outcome": (f"in-flight request: {counted_list(k['in_flight_status'] for k in kills)}"
                        f"; next upload answered (200) by a new pool in {len(answered)} of "
                        f"{len(kills)}, after {min(answered) if answered else '-'}–"
                        f"{max(answered) if answered else '-'} s"),
            "lost": "the killed prediction (its client is told to retry)",
        })
    if fuzzed:
        rows.append({
            "fault": "random and mutated multipart uploads (Hypothesis, derandomized)",
            "target": "wise serve: POST /predict",
            "trials": fuzzed["ran"],
            "outcome": (f"answers: {counted_dict(fuzzed['answers'])}; "
                        + (f"FAILED: {fuzzed['failure']}" if fuzzed["failure"]
                           else "no 5xx, traceback or hang")),
            "lost": "nothing",
        })
    return soak_summary, rows


def counted_list(values) -> str:
    return counted_dict(Counter(values))


def counted_dict(counts: dict) -> str:
    return ", ".join(f"{n} × {v}" for v, n in sorted(counts.items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", nargs="?", type=Path, default=DEMO / "model.wise")
    ap.add_argument("--manifest", type=Path, default=DEMO / "manifest.jsonl",
                    help="good uploads: its rows' audio and text")
    ap.add_argument("--clips", type=int, default=40, help="good uploads from the manifest")
    ap.add_argument("--ravdess", type=Path,
                    default=RAVDESS_DEV if RAVDESS_DEV.is_dir() else None,
                    help="a folder of RAVDESS clips: real speech, transcript from the name")
    ap.add_argument("--ravdess-clips", type=int, default=40)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--slow-clients", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--read-timeout", type=float, default=None,
                    help="the server's (default: its own default)")
    ap.add_argument("--idle-timeout", type=float, default=None)
    ap.add_argument("--sample-seconds", type=float, default=5.0)
    ap.add_argument("--kills", type=int, default=3)
    ap.add_argument("--fuzz-examples", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path,
                    default=ROOT / "benchmarks/results/reliability/service.json")
    args = ap.parse_args()

    clips = load_clips(args.manifest, args.clips, args.ravdess, args.ravdess_clips, args.seed)
    token = secrets.token_urlsafe(24)
    extra = []
    for flag, value in (("--read-timeout", args.read_timeout),
                        ("--idle-timeout", args.idle_timeout)):
        if value is not None:
            extra += [flag, f"{value:g}"]
    started = datetime.datetime.now().astimezone()
    with tempfile.TemporaryDirectory(prefix="wise-soak-") as tmp:
        log = Path(tmp, "server.log")
        serve_args = [str(args.model), "--workers", str(args.workers), *extra]
        proc, url = start_service(serve_args, log, token=token, timeout_s=300)
        port = int(url.rsplit(":", 1)[1])
        try:
            server = psutil.Process(proc.pid)
            health = httpx.get(f"{url}/health",
                               headers={"Authorization": f"Bearer {token}"}).json()
            limits = health["limits"]
            uploads = Uploads(clips, token, limits["max_upload_mb"])
            run = soak(url, uploads, args, server, port, token, limits["read_timeout"],
                       limits["idle_timeout"])
            print(f"soak: {len(run['records'])} requests, {len(run['slow'])} slow clients",
                  flush=True)
            kills = kill_workers(url, uploads, server, args.kills)
            fuzzed = fuzz(url, uploads, args.fuzz_examples) if args.fuzz_examples else None
            log_lines = log.read_text().splitlines()
        finally:
            stop_service(proc)

    soak_summary, rows = summarise(run, kills, fuzzed, args, limits["read_timeout"],
                                   limits["idle_timeout"])
    result = {
        "area": "service",
        "command": shlex.join(["python", "benchmarks/faults/soak_serve.py", *sys.argv[1:]]),
        "date": started.isoformat(timespec="seconds"),
        "machine": machine(),
        "code_version": code_version(),
        "rows": rows,
        "config": {"model": str(args.model), "model_name": health["model"],
                   "recognizer": health["asr"], "server_workers": health["workers"],
                   "limits": limits,
                   "server_command": shlex.join(["wise", "serve", *serve_args, "--port",
                                                 str(port)]),
                   "good_clips": len(clips),
                   "good_clips_real_speech": sum(1 for c in clips if c[1][:4] == b"fLaC"),
                   "weights": {**GOOD, **{k: BAD_WEIGHT for k in BAD}}, "seed": args.seed},
        "soak": soak_summary,
        "slow_clients": run["slow"],
        "killed_workers": kills,
        "fuzz": fuzzed,
        "server_log_lines": {"total": len(log_lines),
                             "timeouts_408": sum("(408)" in line for line in log_lines),
                             "pool_restarts": sum("starting a new pool" in line
                                                  for line in log_lines),
                             "tracebacks": sum("Traceback" in line for line in log_lines)},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("rows", "server_log_lines")}, indent=2))


if __name__ == "__main__":
    main()
