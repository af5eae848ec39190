"""Kill and resume: every long command, SIGKILLed at seeded random points and run again, must
end with the outputs of a run that was never interrupted.

    python benchmarks/faults/kill_resume.py [--kills 6] [--seed 0] [--references 2]
        [--size full|ci] [--commands ...] [--work DIR]
        [--out benchmarks/results/reliability/kill_resume.json]

For each command (`wise prepare` with forced alignment, `features`, `cv`, `reproduce`,
`asr-study`, `train`) on a tiny input:
1. run it uninterrupted in a fresh folder: the reference outputs, and the times at which its
   finished output files appeared (its milestones); with `--references 2`, twice, and the
   two must agree (the faster one's milestones place the kills);
2. for each kill point, in another fresh folder: start it in its own process group, wait
   until a seeded random number c of its output files exist, then a seeded random part of the
   reference's time from its c-th to its (c+1)-th file (so the kill lands mid-work however
   fast or slow the machine is; `kill_points`), SIGKILL the whole group (worker processes
   too), and run the same command again to completion;
3. compare the resumed run's outputs with the reference's: the same files, each equal (JSON
   less its wall-clock "seconds" fields, `wise.crossval.without_timings`; .npz arrays and
   checkpoint tensors exactly; anything else byte for byte), and no temporary file
   (`wise.fsutil`'s `.NAME.*.tmp`, `.tmp-*` folders) left anywhere in the output. A hash
   over files holding wall-clock fields (checksums.json, a checkpoint's content_sha256)
   differs with them: it must list the same files and match the resumed run's own.

Every command reads its inputs at absolute paths (shared by all runs, built once) and writes
its outputs at relative paths inside its own run folder, so two runs' outputs are comparable
file by file. Its command line is benchmarks/faults/kill_resume.py; the slow test
tests/slow/test_kill_resume.py runs this same code with fewer kill points. Writes one JSON row
per command (docs/reliability.md renders them).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from wise.checkpoint import DIGEST, load_checkpoint
from wise.crossval import without_timings
from wise.errors import WiseError
from wise.fsutil import CHECKSUMS, atomic_write_text, check_checksums
from wise.testing import repo_root
from wise.testing.host import machine

RAVDESS_DEV = Path("/work/shared/data/ravdess-dev")
WISE = [sys.executable, "-m", "wise"]
FAULT = "SIGKILL of the process group at a seeded random point, then the same command again"
POLL_S = 0.01


@dataclass
class Command:
    """One `wise` command as the harness runs it: argv after `wise`, with absolute inputs and
    outputs relative to the run folder it runs in."""

    name: str
    argv: list[str]
    timeout_s: float = 600.0


@dataclass
class Inputs:
    """What the commands read: built once, never written by them."""

    manifest: Path          # synthetic corpus, gold alignments
    small: Path             # a few of its rows, two per session, for the ASR study
    cache: Path             # the manifest's feature cache, already built
    ravdess: Path           # real clips without alignments, for `wise prepare` to align


SIZES = {
    # utterances of the synthetic corpus; RAVDESS dev-set clips added to the 8 of the test
    # fixtures; training epochs; folds of `cv` and `reproduce` (their --set); rows of
    # `reproduce`; sessions (two utterances each) of the ASR study
    "ci": {"utterances": 16, "ravdess_clips": 0, "epochs": 1,
           "folds": ["protocol=random", "folds=2"], "rows": ["wise", "text_only"],
           "study_sessions": 2},
    "full": {"utterances": 32, "ravdess_clips": 16, "epochs": 2, "folds": [],
             "rows": ["wise", "text_only"], "study_sessions": 3},
}


def _wise(argv: list[str], cwd: Path) -> None:
    subprocess.run([*WISE, *argv], cwd=cwd, check=True, stdout=subprocess.DEVNULL)


def make_inputs(work: Path, size: str) -> Inputs:
    """The synthetic corpus, its manifest and feature cache, a small manifest for the ASR
    study, and a RAVDESS folder (the test fixtures, plus clips of the RAVDESS dev set when
    `size` asks for some and it is on this machine)."""
    s = SIZES[size]
    inp = work / "inputs"
    inp.mkdir(parents=True, exist_ok=True)
    manifest, cache = inp / "m.jsonl", inp / "cache"
    if not (inp / "corpus" / "synthetic_meta.jsonl").is_file():
        _wise(["synth", str(inp / "corpus"), "--utterances", str(s["utterances"]), "--seed", "3",
               "--workers", "1", "--quiet"], inp)
    if not manifest.is_file():
        _wise(["prepare", "iemocap", str(inp / "corpus"), "--out", str(manifest), "--quiet"],
              inp)
    _wise(["features", str(manifest), "--cache", str(cache), "--workers", "1", "--quiet"], inp)
    rows = manifest.read_text().splitlines()
    sessions = sorted({json.loads(r)["session"] for r in rows})[:s["study_sessions"]]
    small = inp / "small.jsonl"
    small.write_text("".join(r + "\n" for ses in sessions
                             for r in [r for r in rows if json.loads(r)["session"] == ses][:2]))
    ravdess = inp / "ravdess"
    if not ravdess.is_dir():
        shutil.copytree(repo_root() / "tests" / "fixtures" / "ravdess", ravdess)
        dev = sorted(RAVDESS_DEV.glob("Actor_*/03-01-*.flac")) if RAVDESS_DEV.is_dir() else []
        for clip in dev[:s["ravdess_clips"]]:
            (ravdess / clip.parent.name).mkdir(exist_ok=True)
            shutil.copy2(clip, ravdess / clip.parent.name / clip.name)
    return Inputs(manifest, small, cache, ravdess)


def commands(inp: Inputs, size: str) -> list[Command]:
    s = SIZES[size]
    train = ["--set", f"max_epochs={s['epochs']}", "--set", "min_epochs=1",
             "--set", "batch_size=4"]
    cache = ["--cache", str(inp.cache)]
    folds = [x for f in s["folds"] for x in ("--set", f)]
    return [
        Command("prepare", ["prepare", "ravdess", str(inp.ravdess), "--out", "m.jsonl",
                            "--workers", "2", "--quiet"]),
        Command("features", ["features", str(inp.manifest), "--cache", "cache", "--workers",
                             "2", "--quiet"]),
        Command("cv", ["cv", "--config", "wise", "--manifest", str(inp.manifest), "--out",
                       "run", *cache, "--workers", "1", *train, *folds, "--quiet"]),
        # Two trainings at once, with progress: each running fold keeps a progress.json.
        Command("reproduce", ["reproduce", "--manifest", str(inp.manifest), "--corpus",
                              "synthetic", "--out", "results", "--configs", *s["rows"],
                              *cache, "--workers", "1", "--jobs", "2", *train, *folds]),
        Command("asr-study", ["asr-study", "--manifest", str(inp.small), "--out", "study",
                              *cache, "--workers", "1", *train, "--quiet"]),
        Command("train", ["train", "--config", "wise", "--manifest", str(inp.manifest),
                          "--out", "model.wise", *cache, "--workers", "1", *train,
                          "--quiet"]),
    ]


# --- what a run folder holds -------------------------------------------------------------


TEMP_DIRS = (".tmp-", ".discard-")


def is_temp(rel: str) -> bool:
    """A `wise.fsutil` temporary: a `.NAME.*.tmp` file, or anything in a `.tmp-*` folder (or
    a `.discard-*` one, a damaged folder being deleted)."""
    parts = rel.split("/")
    return any(p.startswith(TEMP_DIRS) for p in parts[:-1]) or (
        parts[-1].startswith(".") and parts[-1].endswith(".tmp"))


def listing(root: Path) -> tuple[list[str], list[str]]:
    """(finished files, temporaries) under `root`, as sorted relative paths; a `.tmp-*`
    folder counts as one temporary, whatever it holds."""
    files, temps = [], []
    for d, dirs, names in os.walk(root):
        rel = Path(d).relative_to(root)
        for sub in [x for x in dirs if x.startswith(TEMP_DIRS)]:
            temps.append(str(rel / sub))
            dirs.remove(sub)
        for n in names:
            (temps if is_temp(n) else files).append(str(rel / n))
    return sorted(files), sorted(temps)


def _n_files(root: Path) -> int:
    try:
        return len(listing(root)[0])
    except OSError:              # a folder renamed while walked: count again next time
        return -1


# --- comparing two run folders -----------------------------------------------------------


def same_value(a, b) -> bool:
    """Deep equality where tensors and arrays compare exactly (dtype, shape and every bit)."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)
                and a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
                and a.shape == b.shape and a.tobytes() == b.tobytes())
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return (type(a) is type(b) and len(a) == len(b)
                and all(same_value(x, y) for x, y in zip(a, b, strict=True)))
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True                 # NaN, e.g. the UA of a fold without some class
    return type(a) is type(b) and a == b


def _json_lines(text: str) -> list:
    return [json.loads(line) for line in text.splitlines()]


def same_file(a: Path, b: Path) -> bool:
    """Whether two outputs hold the same result: wall-clock fields aside, exactly. Records
    of hashes over files that hold wall-clock fields (a folder's checksums.json, a
    checkpoint's content_sha256) differ with them: those must list the same files and match
    the files beside them (`b`'s are checked)."""
    if a.name == CHECKSUMS:
        listed = [set(json.loads(p.read_text())["sha256"]) for p in (a, b)]
        return listed[0] == listed[1] and check_checksums(b.parent) is None
    if a.read_bytes() == b.read_bytes():
        return True
    suffix = a.suffix
    try:
        if suffix == ".json":
            return same_value(*(without_timings(json.loads(p.read_text())) for p in (a, b)))
        if suffix == ".jsonl":
            return same_value(*(without_timings(_json_lines(p.read_text())) for p in (a, b)))
        if suffix == ".npz":        # a zip: its members' dates differ, their arrays must not
            with np.load(a) as za, np.load(b) as zb:
                return same_value({k: za[k] for k in za.files}, {k: zb[k] for k in zb.files})
        if suffix in (".wise", ".pt"):  # tensors exactly, a checkpoint's history less timings
            blobs = [without_timings(torch.load(p, weights_only=True)) for p in (a, b)]
            if DIGEST in blobs[1]:
                load_checkpoint(b)  # it loads, and its contents match its content_sha256
            return same_value(*({k: v for k, v in x.items() if k != DIGEST} for x in blobs))
    except (ValueError, OSError, RuntimeError, WiseError):
        return False
    return False


def compare_runs(ref: Path, other: Path) -> list[str]:
    """What differs between two run folders' finished outputs, one line each."""
    fa, fb = listing(ref)[0], listing(other)[0]
    diffs = [f"missing: {f}" for f in sorted(set(fa) - set(fb))]
    diffs += [f"extra: {f}" for f in sorted(set(fb) - set(fa))]
    diffs += [f"differs: {f}" for f in sorted(set(fa) & set(fb))
              if not same_file(ref / f, other / f)]
    return diffs


# --- running, killing, resuming ------------------------------------------------------------


@dataclass
class Run:
    rc: int
    seconds: float
    milestones: list[float] = field(default_factory=list)  # when file 1, 2, ... appeared


def _start(cmd: Command, cwd: Path, log: Path) -> subprocess.Popen:
    cwd.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as f:
        # Its own session, so one killpg reaches every process it starts.
        return subprocess.Popen([*WISE, *cmd.argv], cwd=cwd, stdout=f, stderr=f,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def _kill_group(p: subprocess.Popen) -> None:
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    p.wait()


def run_to_end(cmd: Command, cwd: Path, log: Path) -> Run:
    """Run `cmd` uninterrupted, noting when each of its output files appeared."""
    t0 = time.perf_counter()
    p = _start(cmd, cwd, log)
    milestones: list[float] = []
    try:
        while p.poll() is None:
            if time.perf_counter() - t0 > cmd.timeout_s:
                _kill_group(p)
                return Run(-1, time.perf_counter() - t0, milestones)
            n = _n_files(cwd)
            while len(milestones) < n:
                milestones.append(time.perf_counter() - t0)
            time.sleep(POLL_S)
    finally:
        if p.poll() is None:
            _kill_group(p)
    seconds = time.perf_counter() - t0
    while len(milestones) < max(0, _n_files(cwd)):   # written in its last instants
        milestones.append(seconds)
    return Run(p.returncode, seconds, milestones)


@dataclass
class KillPoint:
    files: int          # kill once this many output files exist ...
    delay: float        # ... and this many seconds more


def kill_points(ref: Run, n: int, seed: int, name: str) -> list[KillPoint]:
    """`n` seeded kill points, drawn on the reference's timeline and anchored to its files (so
    a kill lands in the same phase of the work on a slower or faster machine): after c of its
    files plus some of the time until its next one. Even draws pick c uniformly in 0..N-1
    (the moments between writes, where a kill leaves a half-written file), odd ones a moment
    uniformly in its running time (the long computations)."""
    rng = random.Random(f"{seed}/{name}")
    times = [0.0, *ref.milestones]
    points = []
    for i in range(n):
        if i % 2 == 0:
            c = rng.randrange(max(1, len(ref.milestones)))
            gap = times[c + 1] - times[c] if c + 1 < len(times) else ref.seconds - times[c]
            delay = rng.uniform(0.0, max(gap, POLL_S))
        else:
            t = rng.uniform(0.0, ref.seconds)
            c = sum(m <= t for m in ref.milestones)
            delay = t - times[c]
        points.append(KillPoint(c, round(delay, 3)))
    return points


def kill_then_resume(cmd: Command, cwd: Path, log: Path, point: KillPoint) -> dict:
    """Start `cmd`, SIGKILL its process group at `point`, run it again to the end."""
    t0 = time.perf_counter()
    p = _start(cmd, cwd, log)
    try:
        while p.poll() is None and _n_files(cwd) < point.files:
            if time.perf_counter() - t0 > cmd.timeout_s:
                break
            time.sleep(POLL_S)
        deadline = time.perf_counter() + point.delay
        while p.poll() is None and time.perf_counter() < deadline:
            time.sleep(min(POLL_S, max(0.0, deadline - time.perf_counter())))
        mid_run = p.poll() is None
        files_at_kill, temps_at_kill = listing(cwd)
        _kill_group(p)
    finally:
        if p.poll() is None:
            _kill_group(p)
    killed_at = time.perf_counter() - t0
    resumed = run_to_end(cmd, cwd, log)
    return {"kill_after_files": point.files, "kill_delay_s": point.delay,
            "killed_at_s": round(killed_at, 2), "mid_run": mid_run,
            "files_at_kill": len(files_at_kill), "temps_at_kill": len(temps_at_kill),
            "resume_rc": resumed.rc, "resume_s": round(resumed.seconds, 2)}


def study(cmd: Command, work: Path, kills: int, seed: int, *, references: int = 1,
          log_line=print) -> dict:
    """`references` uninterrupted runs (with two, they must agree, and the faster one's
    timeline places the kills: on a shared machine a slow reference would place kills after
    a faster trial has finished), then `kills` kill-and-resume trials of `cmd`; every
    observation."""
    t0 = time.perf_counter()
    base = work / cmd.name
    shutil.rmtree(base, ignore_errors=True)
    logs = base / "logs"
    logs.mkdir(parents=True)
    refs = []
    for j in range(references):
        name = "reference" if j == 0 else f"reference_{j}"
        r = run_to_end(cmd, base / name, logs / f"{name}.log")
        if r.rc != 0:
            raise RuntimeError(f"{cmd.name}: the uninterrupted run failed (exit {r.rc}); "
                               f"see {logs / name}.log")
        refs.append(r)
    ref = min(refs, key=lambda r: r.seconds)
    uninterrupted = [d for j in range(1, references)
                     for d in compare_runs(base / "reference", base / f"reference_{j}")]
    log_line(f"{cmd.name}: uninterrupted {' and '.join(f'{r.seconds:.1f} s' for r in refs)}, "
             f"{len(ref.milestones)} files"
             + (f"; they differ: {'; '.join(uninterrupted)}" if uninterrupted else ""))
    trials = []
    for i, point in enumerate(kill_points(ref, kills, seed, cmd.name)):
        cwd = base / f"kill_{i}"
        t = kill_then_resume(cmd, cwd, logs / f"kill_{i}.log", point)
        t["differences"] = (compare_runs(base / "reference", cwd) if t["resume_rc"] == 0
                            else [f"the rerun failed (exit {t['resume_rc']})"])
        t["leftover_temps"] = listing(cwd)[1]
        t["identical"] = not t["differences"] and not t["leftover_temps"]
        trials.append(t)
        log_line(f"  kill {i}: after {point.files} files + {point.delay:.2f} s "
                 f"({'mid-run' if t['mid_run'] else 'after it finished'}, "
                 f"{t['files_at_kill']} files, {t['temps_at_kill']} temporaries) -> "
                 + ("identical" if t["identical"] else
                    "; ".join(t["differences"] + [f"left {x}" for x in t["leftover_temps"]])))
    return {"command": cmd.name, "argv": ["wise", *cmd.argv],
            "reference_s": [round(r.seconds, 2) for r in refs],
            "reference_files": len(ref.milestones),
            "uninterrupted_differences": uninterrupted, "trials": trials,
            "seconds": round(time.perf_counter() - t0, 1)}


def row(r: dict) -> dict:
    """The docs table's row for one command's study, counted from its trials."""
    t = r["trials"]
    n = len(t)
    same = sum(x["identical"] for x in t)
    mid = sum(x["mid_run"] for x in t)
    partial = sum(x["mid_run"] and x["files_at_kill"] > 0 for x in t)
    outcome = (f"{same}/{n} resumed runs identical to the uninterrupted run ({mid} kills "
               f"mid-run, {partial} of them with part of the output written; {n - mid} after "
               f"it had finished)")
    n_refs = len(r["reference_s"])
    if n_refs > 1:
        outcome += (f"; its {n_refs} uninterrupted runs "
                    + ("differ" if r["uninterrupted_differences"] else "identical"))
    bad = [x for x in t if not x["identical"]]
    lost = "nothing" if not bad else "; ".join(sorted({
        d for x in bad for d in x["differences"] + [f"leftover {y}"
                                                     for y in x["leftover_temps"]]}))
    return {"fault": FAULT, "target": f"wise {r['command']}", "trials": n, "outcome": outcome,
            "lost": lost}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=6, help="kill points per command (default 6)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--references", type=int, default=2,
                    help="uninterrupted runs per command, which must agree (default 2)")
    ap.add_argument("--size", choices=sorted(SIZES), default="full")
    ap.add_argument("--commands", nargs="+", default=None,
                    help="only these (prepare features cv reproduce asr-study train)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/wise-kill-resume"))
    ap.add_argument("--out", type=Path,
                    default=repo_root() / "benchmarks/results/reliability/kill_resume.json")
    args = ap.parse_args()
    # Stopped itself, it still stops the command it runs (its own session): `finally` blocks.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    t0 = time.perf_counter()
    inp = make_inputs(args.work, args.size)
    todo = [c for c in commands(inp, args.size)
            if args.commands is None or c.name in args.commands]
    results = [study(c, args.work, args.kills, args.seed, references=args.references)
               for c in todo]
    rows = [row(r) for r in results]
    out = {
        "area": "kill_resume",
        "command": shlex.join(["python", "benchmarks/faults/kill_resume.py", *sys.argv[1:]]),
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "rows": rows,
        "size": {"name": args.size, **SIZES[args.size]},
        "seed": args.seed,
        "differences": sum(len(x["differences"]) + len(x["leftover_temps"])
                           for r in results for x in r["trials"])
        + sum(len(r["uninterrupted_differences"]) for r in results),
        "seconds": round(time.perf_counter() - t0, 1),
        "commands": results,
    }
    atomic_write_text(args.out, json.dumps(out, indent=2) + "\n")
    for r in rows:
        print(f"{r['target']}: {r['outcome']}; lost: {r['lost']}")
    print(f"wrote {args.out} ({out['seconds']:.0f} s)")
    return 0 if out["differences"] == 0 else 1

