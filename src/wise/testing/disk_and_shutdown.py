"""Disk faults and clean shutdown, measured: every command that writes, on a full disk, in a
read-only folder and over a file-size limit; every long command, stopped by ^C or SIGTERM
mid-work; and `wise cv --jobs 2` and a small `wise demo` run to the end.

    python benchmarks/faults/disk_and_shutdown.py [--trials 2] [--stop-trials N] [--seed 0]
        [--parts disk shutdown warnings] [--commands ...] [--before SRC] [--work DIR]
        [--out benchmarks/results/reliability/disk_and_shutdown.json]

Disk faults. Each command writes into a folder that is, in turn:
- a full disk: a tmpfs whose size is drawn (seeded) below what the command's uninterrupted run
  wrote, so the disk fills at a different point each trial (ENOSPC);
- read-only: a read-only bind mount of an empty folder (EROFS);
- under a file-size limit: RLIMIT_FSIZE drawn (seeded) below the run's largest file (EFBIG;
  Python ignores SIGXFSZ, so the write fails rather than the process dying).
Every trial must end with exactly one line `wise: error: <path>: <problem>`, naming a path in
that folder and the problem in words ("no space left on the device", "read-only file system",
"file too large"), as its last line, with exit status 2, no traceback, no warning, no
temporary file left (`wise.fsutil.is_temporary`), no file under a final name that is not
whole (`whole`), and no process left behind.

The full disk and the read-only folder are mounts: the script re-runs itself in a private
mount namespace (`unshare -m`, which needs root or a user namespace); where that is not
possible those two faults are skipped, and the JSON says why.

Shutdown. Each long command is started in its own process group, and once it works (its
worker processes are up, then a seeded delay) it is sent ^C as a terminal sends it (SIGINT to
the whole group) or SIGTERM as `kill` sends it (to the command alone). It must print one line
"wise: interrupted ..." (exit 130) or "wise: terminated ..." (exit 143) last, no traceback, no
warning, leave no temporary file and no half-written one, and every process it started must
be gone within seconds (processes are found by an environment variable each trial sets, which
every descendant inherits). `wise serve` (a server: it stops on either signal) is checked for
processes left, tracebacks and warnings only.

Warnings. `wise cv --jobs 2` and a small `wise demo`, run to the end, must print no warning
(the resource tracker used to report leaked semaphores after both).

`--src DIR` runs every command from another source tree (e.g. an older commit's `src`);
`--before DIR` adds, under the JSON's "before", a few stops and the warnings part run from
such a tree: what the same checks found before.

Its command line is benchmarks/faults/disk_and_shutdown.py; the slow tests
tests/slow/test_disk_faults.py and tests/slow/test_shutdown.py run this same code on fewer
cases.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil

from wise.fsutil import CHECKSUMS, atomic_write_text, check_checksums, is_temporary
from wise.testing import repo_root
from wise.testing.host import machine

WISE = [sys.executable, "-m", "wise"]
MARK = "WISE_TRIAL_MARK"          # set in each trial's environment; every descendant has it
IN_NAMESPACE = "WISE_FAULTS_IN_MOUNT_NAMESPACE"
TINY = ["--set", "max_epochs=2", "--set", "min_epochs=1", "--set", "batch_size=8"]
LONG = ["--set", "max_epochs=60", "--set", "min_epochs=60", "--set", "batch_size=8"]
GONE_WITHIN_S = 10.0              # a process still there this long after the command: left
WORDS = {"full": "no space left on the device", "readonly": "read-only file system",
         "fsize": "file too large"}
FAULTS = {
    "full": "disk full (a tmpfs of a seeded size below what the command writes)",
    "readonly": "read-only folder (a read-only bind mount)",
    "fsize": "file-size limit (RLIMIT_FSIZE, seeded below the command's largest file)",
}
SIGNALS = {  # name: (what, signal, to the whole group, exit status, last line)
    "int": ("^C (SIGINT to the process group, as a terminal sends it) while it works",
            signal.SIGINT, True, 130, "wise: interrupted"),
    "term": ("SIGTERM to the command alone (`kill PID`) while it works", signal.SIGTERM, False,
             143, "wise: terminated"),
    "termgroup": ("SIGTERM to the process group (`timeout`, a service manager) while it works",
                  signal.SIGTERM, True, 143, "wise: terminated"),
}


# --- inputs and commands --------------------------------------------------------------------


@dataclass
class Inputs:
    """What the commands read: built once, never written by them."""

    corpus: Path            # synthetic corpus (IEMOCAP layout)
    manifest: Path          # its manifest, gold alignments
    cache: Path             # the manifest's feature cache, built
    small: Path             # two rows per session, for the ASR study
    unaligned: Path         # corpus list without alignments, for `wise prepare` to align
    transcripts: Path       # TSV audio -> text, for `wise predict`
    model: Path             # a checkpoint
    runs: list[Path]        # two finished `wise cv` runs, for `wise report`
    audio: list[str]        # a few of the corpus's recordings
    wide: Path              # a larger manifest (300 utterances): `wise features` works seconds


def _quiet_main(argv: list[str]) -> None:
    from wise.cli import main

    with contextlib.redirect_stdout(io.StringIO()):
        if main(argv) != 0:
            raise RuntimeError(f"wise {' '.join(argv)} failed")


def make_inputs(work: Path, utterances: int = 20, wide: int = 300) -> Inputs:
    inp = work / "inputs"
    corpus, manifest, cache = inp / "corpus", inp / "m.jsonl", inp / "cache"
    model, runs = inp / "model.wise", [inp / "runs" / "wise", inp / "runs" / "audio_only"]
    if not (corpus / "synthetic_meta.jsonl").is_file():
        _quiet_main(["synth", str(corpus), "--utterances", str(utterances), "--seed", "3",
                     "--workers", "1", "--quiet"])
    if not manifest.is_file():
        _quiet_main(["prepare", "iemocap", str(corpus), "--out", str(manifest), "--quiet"])
    if not cache.is_dir():
        _quiet_main(["features", str(manifest), "--cache", str(cache), "--workers", "1",
                     "--quiet"])
    if not model.is_file():
        _quiet_main(["train", "--config", "wise", "--manifest", str(manifest), "--cache",
                     str(cache), "--out", str(model), "--workers", "1", *TINY, "--quiet"])
    for run in runs:        # only read by `wise report`: two folds are enough
        if not (run / "summary.json").is_file():
            _quiet_main(["cv", "--config", run.name, "--manifest", str(manifest), "--cache",
                         str(cache), "--out", str(run), "--jobs", "1", *TINY, "--set",
                         "protocol=random", "--set", "folds=2", "--quiet"])
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    small, unaligned, transcripts = inp / "small.jsonl", inp / "unaligned.jsonl", inp / "t.tsv"
    sessions = sorted({r["session"] for r in rows})
    small.write_text("".join(json.dumps(r) + "\n" for s in sessions
                             for r in [r for r in rows if r["session"] == s][:2]))
    unaligned.write_text("".join(json.dumps({k: r[k] for k in ("audio", "text", "label",
                                                                 "speaker", "session")}) + "\n"
                                 for r in rows))
    audio = [r["audio"] for r in rows[:8]]
    transcripts.write_text("".join(f"{r['audio']}\t{r['text']}\n" for r in rows[:8]))
    wide_manifest = inp / "wide.jsonl"
    if not wide_manifest.is_file():
        _quiet_main(["synth", str(inp / "wide"), "--utterances", str(wide), "--seed", "4",
                     "--workers", "2", "--quiet"])
        _quiet_main(["prepare", "iemocap", str(inp / "wide"), "--out", str(wide_manifest),
                     "--quiet"])
    return Inputs(corpus, manifest, cache, small, unaligned, transcripts, model, runs, audio,
                  wide_manifest)


def disk_commands(inp: Inputs, out: Path) -> dict[str, list[str]]:
    """Every command that writes, writing into `out`: argv after `wise`."""
    cache = ["--cache", str(inp.cache)]
    return {
        "synth": ["synth", str(out / "corpus"), "--utterances", "20", "--seed", "3",
                  "--workers", "2", "--quiet"],
        "prepare": ["prepare", "iemocap", str(inp.corpus), "--out", str(out / "m.jsonl"),
                    "--quiet"],
        "features": ["features", str(inp.manifest), "--cache", str(out / "cache"),
                     "--workers", "2", "--quiet"],
        "cv": ["cv", "--config", "wise", "--manifest", str(inp.manifest), *cache, "--out",
               str(out / "cv"), "--jobs", "2", *TINY, "--quiet"],
        "train": ["train", "--config", "wise", "--manifest", str(inp.manifest), *cache,
                  "--out", str(out / "model.wise"), *TINY, "--quiet"],
        "reproduce": ["reproduce", "--manifest", str(inp.manifest), "--corpus", "synthetic",
                      *cache, "--out", str(out / "results"), "--configs", "wise",
                      "audio_only", "--jobs", "2", *TINY, "--quiet"],
        "predict": ["predict", str(inp.model), *inp.audio[:4], "--transcripts",
                    str(inp.transcripts), "--plot", str(out / "plots"), "--workers", "2",
                    "--quiet"],
        "asr-study": ["asr-study", "--manifest", str(inp.small), *cache, "--out",
                      str(out / "study"), "--workers", "2", "--jobs", "2", *TINY, "--quiet"],
        "report": ["report", *map(str, inp.runs), "--corpus", "synthetic", "--out",
                   str(out / "report")],
    }


def shutdown_commands(inp: Inputs, out: Path, port: int) -> dict[str, list[str]]:
    """Every long command, long enough to be stopped mid-work, writing into `out`."""
    cache = ["--cache", str(inp.cache)]
    return {
        "synth": ["synth", str(out / "corpus"), "--utterances", "2000", "--seed", "5",
                  "--workers", "2", "--quiet"],
        "prepare": ["prepare", "manifest", str(inp.unaligned), "--out", str(out / "m.jsonl"),
                    "--workers", "2", "--quiet"],
        "features": ["features", str(inp.wide), "--cache", str(out / "cache"),
                     "--workers", "2", "--quiet"],
        "cv": ["cv", "--config", "wise", "--manifest", str(inp.manifest), *cache, "--out",
               str(out / "cv"), "--jobs", "2", *LONG],
        "train": ["train", "--config", "wise", "--manifest", str(inp.manifest), *cache,
                  "--out", str(out / "model.wise"), *LONG, "--set", "max_epochs=1000",
                  "--set", "min_epochs=1000", "--quiet"],
        "reproduce": ["reproduce", "--manifest", str(inp.manifest), "--corpus", "synthetic",
                      *cache, "--out", str(out / "results"), "--configs", "wise",
                      "audio_only", "--jobs", "2", *LONG],
        "asr-study": ["asr-study", "--manifest", str(inp.small), *cache, "--out",
                      str(out / "study"), "--workers", "2", "--jobs", "2", *LONG, "--quiet"],
        "predict": ["predict", str(inp.model), *inp.audio, "--workers", "2", "--quiet"],
        "serve": ["serve", str(inp.model), "--port", str(port), "--workers", "2"],
    }


# --- running one command --------------------------------------------------------------------


@dataclass
class Run:
    """One command started in its own process group, its output read as it comes."""

    argv: list[str]
    fsize: int | None = None
    src: Path | None = None
    mark: str = field(default_factory=lambda: f"{os.getpid()}-{time.monotonic_ns()}")

    def __post_init__(self) -> None:
        env = {**os.environ, MARK: self.mark}
        if self.src is not None:
            env["PYTHONPATH"] = os.pathsep.join([str(self.src), env.get("PYTHONPATH", "")])
        fsize = self.fsize

        def child() -> None:
            # ^C must reach the command even when this harness runs with SIGINT ignored (a
            # background job); the file-size limit is the command's alone.
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            if fsize is not None:
                resource.setrlimit(resource.RLIMIT_FSIZE,
                                   (fsize, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))

        # Pipes, not files: a file-size limit does not apply to a pipe.
        self.t0 = time.perf_counter()
        self.p = subprocess.Popen([*WISE, *self.argv], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, start_new_session=True,
                                  preexec_fn=child, env=env)
        self._out: list[bytes] = []
        self._err: list[bytes] = []
        self._readers = [threading.Thread(target=self._read, args=(s, b), daemon=True)
                         for s, b in ((self.p.stdout, self._out), (self.p.stderr, self._err))]
        for t in self._readers:
            t.start()

    @staticmethod
    def _read(stream, into: list[bytes]) -> None:
        for chunk in iter(lambda: stream.read1(65536), b""):
            into.append(chunk)

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *_exc: object) -> None:
        """Whatever happened, nothing of the command's is left running."""
        if self.p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.p.pid, signal.SIGKILL)
            self.p.wait(30)
        for p in marked(self.mark):
            with contextlib.suppress(psutil.Error):
                p.kill()

    def wait(self, timeout: float) -> int | None:
        """The command's exit status, or None if it still runs after `timeout` seconds."""
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def read_to_end(self) -> None:
        """Wait for its output to end (a process left behind may hold the pipes open)."""
        for t in self._readers:
            t.join(5)

    @property
    def stderr(self) -> str:
        return b"".join(self._err).decode("utf-8", "replace")

    @property
    def stdout(self) -> str:
        return b"".join(self._out).decode("utf-8", "replace")

    def has_workers(self) -> bool:
        try:
            return any("spawn_main" in " ".join(c.cmdline())
                       for c in psutil.Process(self.p.pid).children(recursive=True))
        except psutil.Error:
            return False


def marked(mark: str) -> list[psutil.Process]:
    """The live processes whose environment carries `mark`."""
    found = []
    for p in psutil.process_iter():
        try:
            if p.environ().get(MARK) == mark and p.status() != psutil.STATUS_ZOMBIE:
                found.append(p)
        except psutil.Error:
            continue
    return found


def reap(run: Run, timeout: float) -> dict:
    """Wait for the command to end, then for every process it started to be gone: the time
    that took, and the processes still there after `GONE_WITHIN_S` (killed then)."""
    rc = run.wait(timeout)
    timed_out = rc is None
    if timed_out:
        os.killpg(run.p.pid, signal.SIGKILL)
        rc = run.wait(30)
    ended = time.perf_counter()
    left: list[psutil.Process] = []
    while time.perf_counter() - ended < GONE_WITHIN_S:
        left = marked(run.mark)
        if not left:
            break
        time.sleep(0.1)
    gone_s = time.perf_counter() - ended
    names = []
    for p in left:
        with contextlib.suppress(psutil.Error):
            names.append(" ".join(p.cmdline())[:120])
            p.kill()
    run.read_to_end()
    return {"rc": rc, "timed_out": timed_out, "ended": ended,
            "seconds": round(ended - run.t0, 2),
            "descendants_gone_s": None if left else round(gone_s, 2), "left": names}


# --- what the command printed, and what it left ---------------------------------------------


def lines(text: str) -> list[str]:
    return [x for x in re.split(r"[\r\n]+", text) if x.strip()]


def warnings_in(text: str) -> list[str]:
    return [x for x in lines(text)
            if re.search(r"warning|warn\(|leaked|resource_tracker", x, re.IGNORECASE)]


def error_line(stderr: str, folder: Path, fault: str) -> dict:
    """Is the last line `wise: error: <a path in folder>: <the fault in words>`, and the only
    error line? The path must be one the user asked for, not a temporary of the write."""
    ls = lines(stderr)
    errors = [x for x in ls if x.startswith("wise: error: ")]
    last = ls[-1] if ls else ""
    path, _, words = last.removeprefix("wise: error: ").rpartition(": ")
    inside = bool(path) and (Path(path) == folder or Path(path).is_relative_to(folder)) \
        and not any(is_temporary(part) for part in Path(path).parts)
    return {"last_line": last, "error_lines": len(errors),
            "one_line": len(errors) == 1 and last.startswith("wise: error: ") and inside
            and words == WORDS[fault]}


PNG = b"\x89PNG\r\n\x1a\n"


def whole(path: Path, ref: Path | None) -> bool | None:
    """Is `path` a whole file: the same bytes as the uninterrupted run's `ref`; listed with
    its size and SHA-256 in its folder's checksums record (`wise.fsutil.check_checksums`); or
    a file of its kind that reads to its end (JSON, JSON lines, zip archives, i.e. .npz and
    checkpoints, .npy, PNG, WAV). Text of no such kind must have the reference's number of
    lines; without a reference, None: cannot tell."""
    data = path.read_bytes()
    same = ref is not None and ref.is_file()
    if same and ref.read_bytes() == data:
        return True
    record = path.parent / CHECKSUMS
    with contextlib.suppress(OSError, ValueError, AttributeError):
        if path.name in json.loads(record.read_text()).get("sha256", {}):
            return check_checksums(path.parent, [path.name]) is None
    kind = path.suffix.lower()
    try:
        if kind == ".json":
            json.loads(data)
        elif kind == ".jsonl":
            if data and not data.endswith(b"\n"):
                return False
            for line in data.decode("utf-8").splitlines():
                json.loads(line)
        elif kind in (".npz", ".wise", ".pt"):
            with zipfile.ZipFile(path) as z:
                return z.testzip() is None
        elif kind == ".npy":
            a = np.load(path, mmap_mode="r")
            return path.stat().st_size >= a.offset + a.nbytes
        elif kind == ".png":
            return data.startswith(PNG) and data.endswith(b"IEND\xaeB`\x82")
        elif kind == ".wav":
            return data[:4] == b"RIFF" and int.from_bytes(data[4:8], "little") + 8 == len(data)
        elif same:
            ref_data = ref.read_bytes()
            return (data.count(b"\n") == ref_data.count(b"\n")
                    and data.endswith(b"\n") == ref_data.endswith(b"\n"))
        else:
            return None
    except (ValueError, UnicodeDecodeError, zipfile.BadZipFile, OSError, EOFError):
        return False
    return True


def leftovers(folder: Path, ref: Path | None) -> dict:
    """The temporaries left in `folder`, its files under a final name that are not whole
    (compared with the same path under `ref`), and those of which that cannot be told."""
    temps, half, unknown = [], [], []
    if not folder.is_dir():
        return {"temporaries": temps, "half_written": half, "unverified": unknown}
    for d, dirs, names in os.walk(folder):
        rel = Path(d).relative_to(folder)
        for sub in [x for x in dirs if is_temporary(x)]:
            temps.append(str(rel / sub))
            dirs.remove(sub)
        for n in names:
            if is_temporary(n):
                temps.append(str(rel / n))
            else:
                ok = whole(Path(d) / n, ref / rel / n if ref else None)
                (unknown if ok is None else half if not ok else []).append(str(rel / n))
    return {"temporaries": sorted(temps), "half_written": sorted(half),
            "unverified": sorted(unknown)}


def listing_bytes(folder: Path) -> tuple[int, int]:
    """(bytes the files in `folder` take on a tmpfs, in whole 4 KiB pages; the largest file)"""
    sizes = [(Path(d) / n).stat().st_size for d, _, ns in os.walk(folder) for n in ns]
    return sum(-(-s // 4096) * 4096 for s in sizes), max(sizes, default=0)


# --- mounts ---------------------------------------------------------------------------------


def why_no_mounts() -> str | None:
    """None when this process may mount (it runs in its own mount namespace, see `main`)."""
    if os.environ.get(IN_NAMESPACE) != "1":
        return ("not in a private mount namespace: `unshare -m` is not available or not "
                "permitted here (it needs root or user namespaces)")
    return None


def can_unshare() -> bool:
    return (shutil.which("unshare") is not None and shutil.which("mount") is not None
            and subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode == 0)


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


@contextlib.contextmanager
def fault_folder(folder: Path, fault: str, size: int | None) -> Iterator[None]:
    """`folder`, empty, as a full disk (a tmpfs of `size` bytes) or read-only, for the block;
    under a file-size limit it is an ordinary folder (the limit is the process's)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    if fault == "full":
        _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder))
    elif fault == "readonly":
        _mount("--bind", str(folder), str(folder))
        _mount("-o", "remount,bind,ro", str(folder))
    try:
        yield
    finally:
        if fault in ("full", "readonly"):
            subprocess.run(["umount", str(folder)], check=True)
        shutil.rmtree(folder, ignore_errors=True)


# --- the trials -----------------------------------------------------------------------------


def reference(inp: Inputs, work: Path, name: str, src: Path | None = None) -> dict:
    """An uninterrupted run of disk command `name`: its output folder, the bytes it wrote
    (tmpfs pages), its largest file and its time."""
    out = work / "ref" / name
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    with Run(disk_commands(inp, out)[name], src=src) as run:
        r = reap(run, 900)
    if r["rc"] != 0:
        raise RuntimeError(f"reference run of {name} failed:\n{run.stderr[-3000:]}")
    total, largest = listing_bytes(out)
    return {"out": out, "bytes": total, "largest": largest, "seconds": r["seconds"]}


def draw(fault: str, ref: dict, rng: random.Random) -> int | None:
    """The fault's size, seeded: the tmpfs's bytes below what the reference run wrote, or the
    file-size limit below its largest file."""
    if fault == "full":       # whole pages: a tmpfs rounds its size up to one
        return rng.randrange(1, max(ref["bytes"] // 4096, 2)) * 4096
    if fault == "fsize":
        return rng.randrange(1, max(ref["largest"], 2))
    return None


def disk_trial(inp: Inputs, work: Path, name: str, fault: str, size: int | None,
               ref_out: Path | None = None, src: Path | None = None) -> dict:
    """Run disk command `name` once with its output on `fault` (`size`: the tmpfs's bytes, or
    the file-size limit); what it printed and left (files compared with `ref_out`, the
    uninterrupted run's folder, when given)."""
    folder = work / "fault"
    fsize = size if fault == "fsize" else None
    with fault_folder(folder, fault, size if fault == "full" else None):
        with Run(disk_commands(inp, folder)[name], fsize=fsize, src=src) as run:
            r = reap(run, 900)
        r.pop("ended")
        left = leftovers(folder, ref_out)
    stderr = run.stderr
    return {"part": "disk", "command": name, "fault": fault,
            "tmpfs_bytes": size if fault == "full" else None, "fsize_limit": fsize, **r,
            **error_line(stderr, folder, fault), **left,
            "traceback": "Traceback (most recent call last)" in stderr,
            "warnings": warnings_in(stderr), "completed": r["rc"] == 0,
            "stderr_tail": "" if t_ok(r, stderr) else stderr[-3000:]}


def t_ok(r: dict, stderr: str) -> bool:
    """A trial whose output need not be kept: exit 2, no traceback, no warning."""
    return (r["rc"] == 2 and "Traceback (most recent call last)" not in stderr
            and not warnings_in(stderr))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serving(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def shutdown_trial(inp: Inputs, work: Path, name: str, how: str, delay: float,
                   src: Path | None = None, start_timeout: float = 240) -> dict:
    """Start long command `name`, wait until it works (its worker processes are up, or for
    `train`, which has none, 3 s; for `serve` until it answers), then `delay` seconds more,
    and stop it as `how` (a key of SIGNALS) says."""
    _, sig, group, want_rc, want_line = SIGNALS[how]
    out = work / "shutdown" / name
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    port = free_port()
    with Run(shutdown_commands(inp, out, port)[name], src=src) as run:
        ready = {"serve": lambda: _serving(port),
                 "train": lambda: time.perf_counter() - run.t0 > 3}.get(name, run.has_workers)
        t_end = time.perf_counter() + start_timeout
        while run.p.poll() is None and not ready() and time.perf_counter() < t_end:
            time.sleep(0.05)
        time.sleep(delay)
        finished_first = run.p.poll() is not None
        if not finished_first:
            signalled = time.perf_counter()
            if group:
                os.killpg(run.p.pid, sig)
            else:
                os.kill(run.p.pid, sig)
        r = reap(run, 120)
    stderr = run.stderr
    last = (lines(stderr) or [""])[-1]
    # The signal can land in the last milliseconds, when the command has done its work and
    # Python is exiting: it exits 0, or dies of the signal itself, at once and silently. (A
    # signal lost mid-work would show as a command that went on working, and exited 0 later.)
    late = (not finished_first and name != "serve" and r["rc"] in (0, -sig)
            and not lines(stderr) and not r["left"] and r["ended"] - signalled < 0.2)
    return {"part": "shutdown", "command": name, "signal": how, "delay_s": delay,
            "finished_first": finished_first, "late": late, **r,
            "exit_s": None if finished_first else round(r.pop("ended") - signalled, 2),
            "last_line": last,
            "message_ok": name == "serve" or (r["rc"] == want_rc
                                              and last.startswith(want_line)),
            "traceback": "Traceback (most recent call last)" in stderr,
            "warnings": warnings_in(stderr), **leftovers(out, None),
            "stderr_tail": stderr[-1500:]}


def warnings_trial(inp: Inputs, work: Path, name: str, src: Path | None = None) -> dict:
    """Run `wise cv --jobs 2` or a small `wise demo` to the end; the warnings it printed."""
    out = work / "warnings" / name
    shutil.rmtree(out, ignore_errors=True)
    argv = {"cv --jobs 2": ["cv", "--config", "wise", "--manifest", str(inp.manifest),
                            "--cache", str(inp.cache), "--out", str(out), "--jobs", "2",
                            *TINY],
            "demo": ["demo", "--dir", str(out), "--utterances", "20", "--rows", "wise",
                     "audio_only", "--set", "max_epochs=1", "--set", "min_epochs=1",
                     "--set", "batch_size=8"]}[name]
    with Run(argv, src=src) as run:
        r = reap(run, 900)
    r.pop("ended")
    stderr = run.stderr
    return {"part": "warnings", "command": name, **r, "warnings": warnings_in(stderr),
            "leaked_semaphore_lines": sum("leaked semaphore" in x for x in lines(stderr)),
            "no_such_file_lines": sum("No such file or directory" in x
                                      for x in lines(stderr)),
            "traceback": "Traceback (most recent call last)" in stderr,
            "stderr_tail": stderr[-1500:]}


# --- rows -----------------------------------------------------------------------------------


def _count(trials: list[dict], key: str) -> int:
    return sum(1 for t in trials if t[key])


def disk_row(name: str, fault: str, trials: list[dict]) -> dict:
    n = len(trials)
    failed = [t for t in trials if not t["completed"]]
    ok = sum(1 for t in failed if t["one_line"] and t["rc"] == 2)
    half = sum(len(t["half_written"]) for t in trials)
    parts = [f"one line naming the path, exit 2: {ok}/{len(failed)}"]
    if len(failed) < n:
        parts.append(f"finished (the fault was not reached): {n - len(failed)}")
    parts += [f"tracebacks {_count(trials, 'traceback')}",
              f"warnings {_count(trials, 'warnings')}",
              f"half-written files {half}",
              f"temporaries left {sum(len(t['temporaries']) for t in trials)}",
              f"processes left {sum(len(t['left']) for t in trials)}"]
    unverified = sum(len(t["unverified"]) for t in trials)
    if unverified:
        parts.append(f"text files that no check applies to {unverified}")
    return {"fault": FAULTS[fault], "target": f"wise {name}", "trials": n,
            "outcome": "; ".join(parts),
            "lost": "nothing" if half == 0 else f"{half} half-written files"}


def shutdown_row(name: str, how: str, trials: list[dict]) -> dict:
    n = len(trials)
    stopped = [t for t in trials if not t["finished_first"] and not t["late"]]
    _, _, _, rc, line = SIGNALS[how]
    gone = [t["descendants_gone_s"] for t in stopped if t["descendants_gone_s"] is not None]
    exits = [t["exit_s"] for t in stopped if t["exit_s"] is not None]
    parts = ([f"{line!r} last, exit {rc}: {sum(t['message_ok'] for t in stopped)}/"
              f"{len(stopped)}"] if name != "serve" else
             [f"stopped, exit {sorted({t['rc'] for t in stopped})}"])
    if _count(trials, "finished_first"):
        parts.append(f"finished before the signal: {_count(trials, 'finished_first')}")
    if _count(trials, "late"):
        parts.append(f"signal as it exited, its work done: {_count(trials, 'late')}")
    parts += [f"processes left {sum(len(t['left']) for t in trials)}",
              f"tracebacks {_count(trials, 'traceback')}",
              f"warnings {_count(trials, 'warnings')}",
              f"temporaries left {sum(len(t['temporaries']) for t in trials)}",
              f"half-written files {sum(len(t['half_written']) for t in trials)}"]
    unverified = sum(len(t["unverified"]) for t in trials)
    if unverified:
        parts.append(f"text files that no check applies to {unverified}")
    if exits:
        parts.append(f"exited {min(exits):.1f}-{max(exits):.1f} s after the signal")
    if gone:
        parts.append(f"last descendant gone {max(gone):.1f} s after that")
    half = sum(len(t["half_written"]) for t in trials)
    temps = sum(len(t["temporaries"]) for t in trials)
    in_progress = "the requests in progress" if name == "serve" else "the work in progress"
    return {"fault": SIGNALS[how][0], "target": f"wise {name}", "trials": n,
            "outcome": "; ".join(parts),
            "lost": f"{in_progress} only (no half-written file, no temporary)"
            if half == temps == 0 else f"{half} half-written files, {temps} temporaries"}


def warnings_row(name: str, trials: list[dict]) -> dict:
    n = len(trials)
    return {"fault": "none: run to the end", "target": f"wise {name}", "trials": n,
            "outcome": f"exit 0: {sum(t['rc'] == 0 for t in trials)}/{n}; runs with warnings "
                       f"{_count(trials, 'warnings')} (leaked-semaphore lines "
                       f"{sum(t['leaked_semaphore_lines'] for t in trials)}, 'No such file or "
                       f"directory' lines {sum(t['no_such_file_lines'] for t in trials)}); "
                       f"tracebacks {_count(trials, 'traceback')}",
            "lost": "nothing"}


def shutdown_part(inp: Inputs, work: Path, names: list[str], signals: list[str],
                  trials: int, rng: random.Random, src: Path | None, log) -> list[dict]:
    rows = []
    for name in names:
        print(f"shutdown: {name}", flush=True)
        for how in signals:
            got = [shutdown_trial(inp, work, name, how,
                                  round(rng.uniform(0.0, MAX_DELAY_S.get(name, 3.0)), 2), src)
                   for _ in range(trials)]
            for t in got:
                log(t)
            rows.append(shutdown_row(name, how, got))
    return rows


def warnings_part(inp: Inputs, work: Path, trials: int, src: Path | None, log) -> list[dict]:
    rows = []
    for name in ("cv --jobs 2", "demo"):
        print(f"warnings: {name}", flush=True)
        got = [warnings_trial(inp, work, name, src) for _ in range(trials)]
        for t in got:
            log(t)
        rows.append(warnings_row(name, got))
    return rows


BEFORE_COMMANDS = ["features", "cv", "predict"]     # what `--before` stops
# Seconds, at most, from a command's workers being up to the signal (default 3): `prepare`
# aligns its 20 utterances in about a second after that, `features` its 300 in under two.
MAX_DELAY_S = {"prepare": 0.5, "features": 1.2}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=2,
                    help="trials per command and fault (read-only: 1, it fails at one point)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--parts", nargs="+", default=["disk", "shutdown", "warnings"],
                    choices=["disk", "shutdown", "warnings"])
    ap.add_argument("--commands", nargs="+", default=None, help="only these commands")
    ap.add_argument("--faults", nargs="+", default=list(FAULTS), choices=list(FAULTS))
    ap.add_argument("--cases", nargs="+", default=None, metavar="COMMAND:FAULT:BYTES",
                    help="run only these disk trials, without reference runs (the tests do): "
                    "e.g. features:full:1048576 cv:fsize:4096 report:readonly:0")
    ap.add_argument("--stop-trials", type=int, default=None,
                    help="trials per long command and signal (default: --trials)")
    ap.add_argument("--src", type=Path, default=None,
                    help="run the commands from this source tree (its `src` folder)")
    ap.add_argument("--before", type=Path, default=None, metavar="SRC",
                    help="also stop a few commands and run the warnings part, once each, from "
                    "this source tree (e.g. the previous commit's `src`): the JSON's `before`")
    ap.add_argument("--work", type=Path, default=Path("/tmp/wise-disk-and-shutdown"))
    ap.add_argument("--out", type=Path,
                    default=repo_root() / "benchmarks/results/reliability/disk_and_shutdown.json")
    args = ap.parse_args()
    cases = [(c, f, int(b)) for c, f, b in (x.split(":") for x in args.cases or [])]
    if cases:
        args.parts, args.faults = ["disk"], sorted({f for _, f, _ in cases})
    if ("disk" in args.parts and os.environ.get(IN_NAMESPACE) != "1"
            and {"full", "readonly"} & set(args.faults) and can_unshare()):
        os.environ[IN_NAMESPACE] = "1"          # mounts made in there vanish with it
        os.execvp("unshare", ["unshare", "-m", "--propagation", "private", sys.executable,
                              *sys.argv])
    signal.signal(signal.SIGINT, signal.default_int_handler)
    t0 = time.perf_counter()
    rng = random.Random(args.seed)
    inp = make_inputs(args.work)
    trials: list[dict] = []
    rows: list[dict] = []
    skipped: list[str] = []

    def log(t: dict) -> None:
        trials.append(t)
        keys = ("command", "fault", "signal", "rc", "last_line", "seconds")
        print("  " + json.dumps({k: t[k] for k in keys if k in t}), flush=True)

    faults = list(args.faults)
    why = why_no_mounts()
    if why and "disk" in args.parts:
        skipped += [f"{FAULTS[f]}: {why}" for f in faults if f != "fsize"]
        faults = [f for f in faults if f == "fsize"]
    for name, fault, size in cases:
        if fault in faults:
            log(disk_trial(inp, args.work, name, fault, size))
    if "disk" in args.parts and not cases:
        for name in [n for n in disk_commands(inp, args.work) if n in (args.commands or [n])]:
            ref = reference(inp, args.work, name, args.src)
            print(f"disk: {name} (writes {ref['bytes']} bytes, largest file "
                  f"{ref['largest']}, {ref['seconds']} s)", flush=True)
            for fault in faults:
                got = [disk_trial(inp, args.work, name, fault, draw(fault, ref, rng),
                                  ref["out"], args.src)
                       for _ in range(1 if fault == "readonly" else args.trials)]
                for t in got:
                    log(t)
                rows.append(disk_row(name, fault, got))
    names = [n for n in shutdown_commands(inp, args.work, 0) if n in (args.commands or [n])]
    if "shutdown" in args.parts:
        rows += shutdown_part(inp, args.work, names, list(SIGNALS),
                              args.stop_trials or args.trials, rng, args.src, log)
    if "warnings" in args.parts:
        rows += warnings_part(inp, args.work, args.trials, args.src, log)
    before = None
    if args.before:
        print(f"the same, from {args.before}:", flush=True)
        before_trials: list[dict] = []
        before = {"src": str(args.before),
                  "rows": shutdown_part(inp, args.work, BEFORE_COMMANDS, ["int", "term"], 1,
                                        rng, args.before, before_trials.append)
                  + warnings_part(inp, args.work, 1, args.before, before_trials.append),
                  "trials": before_trials}
    result = {"area": "disk_and_shutdown",
              "command": "python benchmarks/faults/disk_and_shutdown.py " + " ".join(sys.argv[1:]),
              "date": datetime.date.today().isoformat(), "machine": machine(),
              "rows": rows, "skipped": skipped, "seed": args.seed,
              "src": str(args.src) if args.src else None,
              "seconds": round(time.perf_counter() - t0, 1), "trials": trials,
              "before": before}
    atomic_write_text(args.out, json.dumps(result, indent=1, default=str) + "\n")
    print(f"wrote {args.out}")
    return 0

