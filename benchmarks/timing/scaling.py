"""How the cost of each pipeline stage grows with corpus size (utterances and audio hours).

    python benchmarks/timing/scaling.py [--sizes 2000,8000,32000] [--work runs/scaling]
        [--engines local-1,local-2] [--ray ADDRESS] [--skip-real] [--torch-threads 1]
        [--out benchmarks/results/scaling.json] [--plot docs/scaling.png]

For synthetic corpora of each size (`wise synth`, generated once into WORK/synthetic-N/ and
reused) and for the real-speech dev set (/work/shared/data/ravdess-dev, 448 RAVDESS clips),
measures, each step in its own process so that its time and memory are its own:

- `wise synth` (synthetic only; timed when it generates, then reused). It writes the corpus in
  the IEMOCAP layout with gold alignments but no manifest, so `wise prepare iemocap` is timed
  as a separate step (it only reads: nothing to align, so once, engine "local"); for the real
  set `wise prepare ravdess` force-aligns every clip, once per engine when this version's
  `wise prepare` takes `--workers` (else once, "local");
- `wise features` into a fresh cache, once per engine: `local-N` is `--workers N`, `ray-*`
  (`ray-2node` unless `--engines` names another) is `--ray ADDRESS`; the packs (and the real
  set's manifests) of every engine are compared byte for byte with the first engine's;
- one training epoch of the `wise` row on the whole corpus (10% held out for validation, as
  `wise train` does), through the library in a child process: the epoch's own seconds
  (forward, backward, Adam, validation pass), the set-up before it, and model-only batched
  inference per utterance over the corpus. On one torch thread by default, as each fold of
  `wise cv`: on a 2-core machine that other jobs share, two threads made the same epoch 8-10x
  slower and its time erratic (`--torch-threads 0` gives torch's default, as `wise train`);
- one prediction from a wav file through `wise.Predictor` (checkpoint of that epoch): load,
  then the median over a few utterances with the transcript given and with ASR;
- the cache on disk: entries and pack, MiB and MiB per audio hour;
- peak RSS, sampled every 50 ms, of each step's main process and of each of its worker
  processes (spawned pools; for a Ray engine, the Ray workers on this machine that ran one of
  the step's tasks, not those on other nodes), to show whether a worker's memory stays flat
  as the corpus grows.

Fits each stage's growth exponent: the slope of log seconds against log audio hours over the
synthetic sizes (1 = linear), and the same slope between consecutive sizes, which tends to
the marginal exponent once a stage's fixed start-up cost is amortised. Writes OUT (after each
corpus, so an interrupted run keeps what it measured), prints markdown tables and draws PLOT.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil

from wise import code_version
from wise.fsutil import atomic_write_text

ROOT = Path(__file__).resolve().parents[2]
RAVDESS_DEV = Path("/work/shared/data/ravdess-dev")
ROW = "wise"                 # the row whose epoch and prediction are timed
PREDICT_CLIPS = 5            # utterances per prediction mode (median reported)
SAMPLE_EVERY = 0.05          # seconds between RSS samples
MIB = 2 ** 20


# ---------------------------------------------------------------------------------------------
# Measuring one step: wall time and peak RSS of its process tree


def _anon_kib(pid: int) -> int:
    """RssAnon of a process in KiB (private memory; Linux), 0 once it has ended."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _is_helper(p: psutil.Process) -> bool:
    """A child of the step that is not one of its workers: multiprocessing's resource tracker,
    or a program other than Python (`git describe` for the code version)."""
    try:
        return (not p.name().startswith("python")
                or any("resource_tracker" in part for part in p.cmdline()))
    except psutil.Error:
        return True


def _ray_workers() -> list[tuple[psutil.Process, bool]]:
    """Ray's worker processes on this machine, each with whether it is running one of our tasks
    now (its title is `ray::wise:NAME` then, `ray::IDLE` between tasks). Started by the
    raylet, not by the step, so outside its process tree; a worker on another node is not
    seen."""
    out = []
    for p in psutil.process_iter(["cmdline"]):
        title = (p.info["cmdline"] or [""])[0]
        if title.startswith("ray::"):
            out.append((p, title.startswith("ray::wise:")))
    return out


class TreeSampler(threading.Thread):
    """Peak RSS (total and anonymous) of a process and, separately, of each descendant.

    Total RSS includes file-backed pages (the pack written through its memory map, shared
    libraries), which the kernel can drop; anonymous RSS is what the process itself holds."""

    def __init__(self, pid: int, ray_workers: bool = False) -> None:
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.ray_workers = ray_workers
        self.peaks: dict[int, list[int]] = {}        # pid -> [peak rss bytes, peak anon KiB]
        self.helpers: set[int] = set()
        self.ray_busy: set[int] = set()              # Ray workers seen running our tasks
        self.tree_peak = 0                           # the sum over the tree at one instant
        self.running = True

    def run(self) -> None:
        while self.running:
            try:
                procs = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                break
            ray_procs = _ray_workers() if self.ray_workers else []
            self.ray_busy |= {p.pid for p, busy in ray_procs if busy}
            ray_pids = {p.pid for p, _ in ray_procs}
            procs = ([p for p in procs if p.pid not in ray_pids]
                     + [p for p, _ in ray_procs if p.pid in self.ray_busy])
            tree = 0
            for p in procs:
                try:
                    rss = p.memory_info().rss
                except psutil.Error:
                    continue
                if p.pid not in self.peaks:
                    self.peaks[p.pid] = [0, 0]
                    if p.pid not in (self.root.pid, *ray_pids) and _is_helper(p):
                        self.helpers.add(p.pid)
                peak = self.peaks[p.pid]
                peak[0], peak[1] = max(peak[0], rss), max(peak[1], _anon_kib(p.pid))
                tree += rss
            self.tree_peak = max(self.tree_peak, tree)
            time.sleep(SAMPLE_EVERY)

    def stop(self) -> dict:
        self.running = False
        self.join()
        main = self.peaks.get(self.root.pid, [0, 0])
        workers = [v for pid, v in self.peaks.items()
                   if pid != self.root.pid and pid not in self.helpers]
        out = {"peak_rss_main_mib": round(main[0] / MIB, 1),
               "peak_anon_main_mib": round(main[1] / 1024, 1),
               "peak_rss_tree_mib": round(self.tree_peak / MIB, 1),
               "workers_seen": len(workers)}
        if workers:
            out |= {"peak_rss_worker_mib": sorted(round(v[0] / MIB, 1) for v in workers),
                    "peak_anon_worker_mib": sorted(round(v[1] / 1024, 1) for v in workers),
                    "peak_rss_worker_max_mib": round(max(v[0] for v in workers) / MIB, 1),
                    "peak_anon_worker_max_mib": round(max(v[1] for v in workers) / 1024, 1)}
        return out


def run_step(cmd: list[str], log: Path, ray_workers: bool = False) -> dict:
    """Run `cmd`, its output into `log`; wall seconds, exit status, peak RSS of its tree
    (and, with `ray_workers`, of the Ray workers on this machine)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    with log.open("w") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT)
        sampler = TreeSampler(proc.pid, ray_workers)
        sampler.start()
        rc = proc.wait()
        wall = time.perf_counter() - t0
    out = {"seconds": round(wall, 2), "load_average_1min": round(load, 2), **sampler.stop()}
    if rc != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-3:]
        out["error"] = f"exit {rc}: " + " | ".join(tail)
        print(f"    FAILED ({log}): {out['error']}", flush=True)
    return out


def wise_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "wise.cli", *args]


def dir_bytes(path: Path) -> tuple[int, int]:
    """Bytes and number of files under `path`."""
    files = [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), len(files)


def pack_digest(pack: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(pack.iterdir()):
        h.update(p.name.encode())
        with p.open("rb") as f:
            while chunk := f.read(1 << 22):
                h.update(chunk)
    return h.hexdigest()[:16]


def engine_args(engine: str, ray: str | None) -> list[str]:
    if engine.startswith("local-"):
        return ["--workers", engine.removeprefix("local-")]
    return ["--ray", str(ray)]


# ---------------------------------------------------------------------------------------------
# Child processes: one training epoch, one prediction (run as `scaling.py --child ...`)


def child_train(d: Path, threads: int) -> None:
    """The steps of `wise.train.train_final` with one epoch, timed, on `threads` torch
    threads (0: torch's default, as `wise train`); writes d/train.json and the checkpoint
    d/model.wise for the prediction step."""
    import torch

    from wise import LABELS
    from wise.checkpoint import save_checkpoint
    from wise.models.wise import n_params
    from wise.rows import load_run_config
    from wise.runtime import Runtime
    from wise.train import deterministic, evaluate, init_seed, load_corpus, new_model, train

    run = load_run_config(ROW, ["max_epochs=1", "min_epochs=1"])
    t = time.perf_counter()
    loaded = load_corpus(run, d / "manifest.jsonl",
                         Runtime(cache=d / "cache", workers=1, progress=False))
    load_s = time.perf_counter() - t
    deterministic(threads=threads or None)
    model = new_model(run, loaded.store, init_seed(run.train.seed, 0))
    data = loaded.data(model)
    rows = list(range(len(loaded.store)))
    t = time.perf_counter()
    info = train(model, data, rows, run.train, n_classes=len(LABELS), progress=False)
    train_s = time.perf_counter() - t
    epoch_s = info.history[0]["seconds"]
    save_checkpoint(d / "model.wise", model, run, info.normalizer,
                    word_vectors=loaded.feats.word_vectors,
                    extra={"trained_on": str(d / "manifest.jsonl"), "n_train": info.n_fit,
                           "n_val": info.n_val, "best_epoch": info.best_epoch,
                           "best_val_ua": info.best_val_ua, "code_version": code_version()})
    with torch.no_grad():
        t = time.perf_counter()
        evaluate(model, data, rows, info.normalizer)
        batched_s = time.perf_counter() - t
    atomic_write_text(d / "train.json", json.dumps({
        "row": ROW, "torch_threads": torch.get_num_threads(), "n_params": n_params(model),
        "n_fit": info.n_fit, "n_val": info.n_val,
        "load_features_seconds": round(load_s, 2),
        "epoch_seconds": epoch_s,
        "setup_seconds": round(train_s - epoch_s, 2),     # split, normaliser fit, batch plan
        "batched_inference_ms_per_utterance": round(1000 * batched_s / len(rows), 3),
    }, indent=2) + "\n")


def child_predict(d: Path, threads: int) -> None:
    """Load the checkpoint, then predict a few utterances from their audio files, with the
    transcript and with ASR; writes d/predict.json."""
    import torch

    from wise.predict import Predictor
    from wise.utterance import read_manifest

    if threads:
        torch.set_num_threads(threads)
    clips = [(u.audio, u.text) for u in read_manifest(d / "manifest.jsonl")][:PREDICT_CLIPS]
    t = time.perf_counter()
    p = Predictor(d / "model.wise")
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    p.warm_up()
    warm_s = time.perf_counter() - t
    out: dict = {"clips": len(clips), "load_checkpoint_seconds": round(load_s, 3),
                 "warm_up_seconds": round(warm_s, 3)}
    for mode in ("with_transcript", "with_asr"):
        totals, stages = [], {}
        for audio, text in clips:
            t = time.perf_counter()
            r = p.predict(audio, text=text if mode == "with_transcript" else None)
            totals.append(time.perf_counter() - t)
            for k, v in r.seconds.items():
                stages.setdefault(k, []).append(v)
        out[mode] = {"seconds_median": round(float(np.median(totals)), 4),
                     "stage_seconds_median": {k: round(float(np.median(v)), 4)
                                              for k, v in stages.items()}}
    atomic_write_text(d / "predict.json", json.dumps(out, indent=2) + "\n")


# ---------------------------------------------------------------------------------------------
# One corpus, every stage


def _json_after(prefix: str, text: str) -> dict | None:
    for line in text.splitlines():
        if line.startswith(prefix):
            try:
                return json.loads(line.split(": ", 1)[1])
            except (IndexError, json.JSONDecodeError):
                return None
    return None


def synth(d: Path, n: int) -> dict:
    """Generate the corpus once (timed); later runs reuse it and its recorded timing."""
    corpus, record = d / "corpus", d / "synth.json"
    if (corpus / "synthetic_meta.jsonl").is_file():
        if record.is_file():
            return {**json.loads(record.read_text()), "reused": True}
        return {"stage": "synth", "engine": "local-2", "reused": True,
                "error": "corpus found without synth.json: not timed"}
    print(f"  synth {n} utterances", flush=True)
    log = d / "logs" / "synth.log"
    row = {"stage": "synth", "engine": "local-2",
           **run_step(wise_cmd("synth", str(corpus), "--utterances", str(n), "--seed", "0",
                               "--workers", "2", "--quiet"), log)}
    s = _json_after("wrote ", log.read_text())
    if s:
        row |= {"utterances": s["n_utterances"], "audio_hours": s["audio_hours"],
                "inner_seconds": s["elapsed_seconds"]}
    if "error" not in row:
        atomic_write_text(record, json.dumps(row, indent=2) + "\n")
    return {**row, "reused": False}


def prepare(d: Path, kind: str, source: Path, engine: str, ray: str | None) -> dict:
    """`wise prepare` into d/manifest-ENGINE.jsonl. Engine "local" passes neither `--workers`
    nor `--ray` (a corpus with its own alignments has nothing to spread)."""
    manifest = d / f"manifest-{engine}.jsonl"
    cmd = wise_cmd("prepare", kind, str(source), "--out", str(manifest), "--quiet")
    if engine != "local":
        cmd += engine_args(engine, ray)
    print(f"  prepare ({engine})", flush=True)
    row = {"stage": "prepare", "engine": engine,
           **run_step(cmd, d / "logs" / f"prepare-{engine}.log",
                      ray_workers=engine.startswith("ray-"))}
    summary = Path(f"{manifest}.summary.json")
    if "error" not in row and summary.is_file():
        s = json.loads(summary.read_text())
        row |= {"inner_seconds": s.get("seconds"), "alignment": s.get("alignment"),
                "manifest_digest": hashlib.sha256(manifest.read_bytes()).hexdigest()[:16]}
    return row


def prepare_all(d: Path, kind: str, source: Path, engines: list[str],
                ray: str | None) -> list[dict]:
    """Prepare once per engine; the first that succeeds becomes d/manifest.jsonl."""
    rows = [prepare(d, kind, source, e, ray) for e in engines]
    ok = [r for r in rows if "error" not in r]
    for r in ok[1:]:
        r["manifest_identical_to"] = {ok[0]["engine"]: r["manifest_digest"]
                                      == ok[0]["manifest_digest"]}
    if ok:
        first = d / f"manifest-{ok[0]['engine']}.jsonl"
        shutil.copy(first, d / "manifest.jsonl")
        shutil.copy(f"{first}.summary.json", d / "manifest.jsonl.summary.json")
    return rows


def prepare_has_workers() -> bool:
    """Whether this version's `wise prepare` spreads alignment over processes (`--workers`)."""
    out = subprocess.run(wise_cmd("prepare", "ravdess", "--help"), capture_output=True,
                         text=True, cwd=ROOT)
    return "--workers" in out.stdout


FEATURES_LINE = re.compile(r"(\d+) utterances \((\d+) built, (\d+) reused\), .* ([\d.]+) s$")


def features(d: Path, engine: str, ray: str | None) -> dict:
    """`wise features` into a fresh cache d/cache-ENGINE; cache size on disk."""
    cache = d / f"cache-{engine}"
    shutil.rmtree(cache, ignore_errors=True)
    print(f"  features ({engine})", flush=True)
    log = d / "logs" / f"features-{engine}.log"
    row = {"stage": "features", "engine": engine,
           **run_step(wise_cmd("features", str(d / "manifest.jsonl"), "--cache", str(cache),
                               "--quiet", *engine_args(engine, ray)), log,
                      ray_workers=engine.startswith("ray-"))}
    if "error" in row:
        return row
    for line in log.read_text().splitlines():
        if m := FEATURES_LINE.search(line):
            row |= {"built": int(m[2]), "reused": int(m[3]), "inner_seconds": float(m[4])}
    packs = sorted((cache / "packs").iterdir()) if (cache / "packs").is_dir() else []
    entries_b, n_entries = dir_bytes(cache / "entries")
    pack_b = dir_bytes(packs[-1])[0] if packs else 0
    row["cache"] = {"entries": n_entries, "entries_mib": round(entries_b / MIB, 2),
                    "pack_mib": round(pack_b / MIB, 2),
                    "vectors_mib": round(dir_bytes(cache / "vectors")[0] / MIB, 2),
                    "pack_digest": pack_digest(packs[-1]) if packs else None}
    return row


def train_and_predict(d: Path, cache: Path, threads: int) -> list[dict]:
    """Run the two library children on d (cache linked as d/cache)."""
    link = d / "cache"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(cache.name)
    rows = []
    for stage in ("train", "predict"):
        print(f"  {stage}", flush=True)
        result = d / f"{stage}.json"
        result.unlink(missing_ok=True)
        step = run_step([sys.executable, __file__, "--child", stage, "--work", str(d),
                         "--torch-threads", str(threads)], d / "logs" / f"{stage}.log")
        row = {"stage": "train_epoch" if stage == "train" else "predict", "engine": "local",
               "step_seconds": step.pop("seconds"), **step}
        if "error" in row:
            rows.append(row)
            break
        r = json.loads(result.read_text())
        if stage == "train":
            row["seconds"] = r["epoch_seconds"]
        else:
            row["seconds"] = r["with_transcript"]["seconds_median"]
        rows.append({**row, "detail": r})
    return rows


def measure(name: str, d: Path, engines: list[str], ray: str | None, n_synth: int | None,
            threads: int) -> dict:
    """Every stage on one corpus: WORK/NAME holds its corpus, manifest, caches and logs."""
    print(f"{name}", flush=True)
    t0 = time.perf_counter()
    d.mkdir(parents=True, exist_ok=True)
    (d / "manifest.jsonl").unlink(missing_ok=True)
    rows: list[dict] = []
    if n_synth is not None:
        rows.append(synth(d, n_synth))
        if "error" in rows[-1] and not rows[-1]["reused"]:
            return {"corpus": name, "rows": rows}
        rows += prepare_all(d, "iemocap", d / "corpus", ["local"], ray)
    else:         # forced alignment of every clip: once per engine where prepare can spread it
        rows += prepare_all(d, "ravdess", RAVDESS_DEV,
                            engines if prepare_has_workers() else ["local"], ray)
    if not (d / "manifest.jsonl").is_file():
        return {"corpus": name, "rows": rows}
    summary = json.loads((d / "manifest.jsonl.summary.json").read_text())
    utterances, hours = summary["utterances"], summary["hours"]
    first_ok, digest = None, None
    for engine in engines:
        row = features(d, engine, ray)
        if "error" not in row:
            if first_ok is None:
                first_ok, digest = engine, row["cache"]["pack_digest"]
            else:
                row["pack_identical_to"] = {first_ok: row["cache"]["pack_digest"] == digest}
                shutil.rmtree(d / f"cache-{engine}")      # keep one cache on disk
        rows.append(row)
    if first_ok is not None:
        rows += train_and_predict(d, d / f"cache-{first_ok}", threads)
    for r in rows:
        if r["stage"] != "synth":
            r.setdefault("utterances", utterances)
            r.setdefault("audio_hours", hours)
    return {"corpus": name, "utterances": utterances, "audio_hours": hours,
            "wall_seconds": round(time.perf_counter() - t0, 1), "rows": rows}


# ---------------------------------------------------------------------------------------------
# Growth, tables, plot


def _slope(x: list[float], y: list[float]) -> float:
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def growth(corpora: list[dict]) -> dict:
    """Per (stage, engine) over the synthetic corpora: exponent of seconds against audio
    hours, overall and between consecutive sizes; of the time the command reports itself
    (where it does); and of the largest worker's peak RSS (0 = flat)."""
    series: dict[str, list[tuple[float, float, float | None, float | None]]] = {}
    for c in corpora:
        if not c["corpus"].startswith("synthetic"):
            continue
        for r in c["rows"]:
            if "error" in r or not r.get("seconds"):
                continue
            key = f"{r['stage']}/{r['engine']}"
            series.setdefault(key, []).append((r["audio_hours"], r["seconds"],
                                               r.get("inner_seconds"),
                                               r.get("peak_rss_worker_max_mib")))
    out = {}
    for key, pts in series.items():
        pts.sort()
        if len(pts) < 2:
            continue
        h, s, inner, w = zip(*pts, strict=True)
        g = {"points": len(pts), "hours": list(h), "seconds": list(s),
             "time_exponent": round(_slope(h, s), 3),
             "time_exponent_between_sizes": [round(_slope(h[i:i + 2], s[i:i + 2]), 3)
                                             for i in range(len(pts) - 1)]}
        if all(inner):        # the command's own time, without interpreter and imports
            g["inner_time_exponent"] = round(_slope(h, inner), 3)
        if all(w):
            g["worker_rss_exponent"] = round(_slope(h, w), 3)
        out[key] = g
    return out


def _fmt(v: object, nd: int = 1) -> str:
    return "—" if v is None else f"{v:.{nd}f}" if isinstance(v, float) else str(v)


def markdown(result: dict) -> str:
    lines = ["| corpus | utterances | audio h | stage | engine | seconds | s per audio h | "
             "main peak RSS MiB | workers | worker peak RSS MiB (max) | load |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    caches = []
    for c in result["corpora"]:
        for r in c["rows"]:
            hours = r.get("audio_hours")
            secs = None if "error" in r else r.get("seconds")
            per_h = secs / hours if secs and hours and r["stage"] != "predict" else None
            note = " (reused, timed earlier)" if r.get("reused") and secs else ""
            lines.append(
                f"| {c['corpus']} | {_fmt(r.get('utterances'))} | {_fmt(hours, 3)} | "
                f"{r['stage']}{note} | {r['engine']} | "
                f"{'error' if 'error' in r else _fmt(secs, 2)} | {_fmt(per_h)} | "
                f"{_fmt(r.get('peak_rss_main_mib'))} | {r.get('workers_seen', '—')} | "
                f"{_fmt(r.get('peak_rss_worker_max_mib'))} | "
                f"{_fmt(r.get('load_average_1min'), 2)} |")
            if r["stage"] == "features" and "cache" in r and hours:
                k = r["cache"]
                caches.append(f"| {c['corpus']} | {r['engine']} | {k['entries']} | "
                              f"{k['entries_mib']:.1f} | {k['pack_mib']:.1f} | "
                              f"{k['entries_mib'] / hours:.1f} | {k['pack_mib'] / hours:.1f} |")
    lines += ["", "Seconds: wall time of the step's process, except train_epoch (the epoch "
              "itself) and predict (median of one utterance with its transcript).", "",
              "| corpus | engine | entries | entries MiB | pack MiB | entries MiB/h | "
              "pack MiB/h |", "|---|---|---|---|---|---|---|", *caches, "",
              "| stage/engine | sizes | time exponent | between sizes | "
              "command's own time exponent | worker RSS exponent |",
              "|---|---|---|---|---|---|"]
    for key, g in result["growth"].items():
        lines.append(f"| {key} | {g['points']} | {g['time_exponent']:.2f} | "
                     + ", ".join(f"{x:.2f}" for x in g["time_exponent_between_sizes"])
                     + f" | {_fmt(g.get('inner_time_exponent'), 2)} | "
                     f"{_fmt(g.get('worker_rss_exponent'), 2)} |")
    return "\n".join(lines) + "\n"


def plot(result: dict, out_png: Path) -> None:
    """Left: seconds against audio hours per stage (log-log; hollow markers: the real set).
    Right: peak RSS of the main process (features, epoch) and of the largest worker of every
    stage that has workers, against audio hours."""
    from matplotlib.figure import Figure

    from wise.plots import save_figure

    fig = Figure(figsize=(11, 4.6))
    ax_t, ax_m = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    colours: dict[str, str] = {}
    labelled: set[str] = set()

    def draw(ax, key: str, label: str, h, y, real: bool, worker: bool = False) -> None:
        style = {"marker": "s" if worker else "o", "mfc": "none" if real else None,
                 "ls": "none" if real else "--" if worker else "-",
                 "alpha": 0.6 if worker else 1.0}
        first = label not in labelled          # one legend entry per series, real or not
        labelled.add(label)
        ax.plot(h, y, color=colours.setdefault(key, f"C{len(colours) % 10}"),
                label=label if first else None, **style)

    for real in (False, True):
        series: dict[str, list[tuple[float, float, float | None, float | None]]] = {}
        for c in result["corpora"]:
            if c["corpus"].startswith("synthetic") == real:
                continue
            for r in c["rows"]:
                if "error" in r or not r.get("seconds") or not r.get("audio_hours"):
                    continue
                series.setdefault(f"{r['stage']}/{r['engine']}", []).append(
                    (r["audio_hours"], r["seconds"], r.get("peak_anon_main_mib"),
                     r.get("peak_anon_worker_max_mib")))
        for key, pts in sorted(series.items()):
            pts.sort()
            h, s, main, worker = zip(*pts, strict=True)
            draw(ax_t, key, key, h, s, real)
            if key.startswith(("features/", "train_epoch/")):
                draw(ax_m, key, f"{key} main", h, main, real)
            if all(worker):
                draw(ax_m, key, f"{key} per worker (max)", h, worker, real, worker=True)
    for ax in (ax_t, ax_m):
        ax.set_xscale("log")
        ax.set_xlabel("audio hours")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7, frameon=False)
    ax_t.set_yscale("log")
    ax_t.set_ylabel("seconds")
    has_real = any(not c["corpus"].startswith("synthetic") for c in result["corpora"])
    ax_t.set_title("time per stage" + (" (hollow: RAVDESS dev set, whose prepare aligns)"
                                       if has_real else ""), fontsize=9)
    ax_m.set_ylim(bottom=0)
    ax_m.set_ylabel("peak anonymous RSS (MiB)")
    # Anonymous memory: the total also counts the memory-mapped cache's file pages, which the
    # kernel reclaims under pressure.
    ax_m.set_title("peak memory (anonymous): main process and largest worker", fontsize=9)
    fig.tight_layout()
    save_figure(fig, out_png)


# ---------------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="2000,8000,32000", help="synthetic corpus sizes")
    ap.add_argument("--work", type=Path, default=ROOT / "runs/scaling",
                    help="corpora, manifests, caches and logs (corpora are reused)")
    ap.add_argument("--engines", default="local-1,local-2",
                    help="engines for features (and the real set's prepare): local-N "
                    "(--workers N), ray-NAME (--ray ADDRESS; default label ray-2node)")
    ap.add_argument("--ray", metavar="ADDRESS", default=None,
                    help="a Ray cluster: adds engine ray-2node for features (and the real "
                    "set's prepare), passing --ray ADDRESS")
    ap.add_argument("--skip-real", action="store_true", help="synthetic corpora only")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/scaling.json")
    ap.add_argument("--plot", type=Path, default=ROOT / "docs/scaling.png")
    ap.add_argument("--replot", action="store_true",
                    help="measure nothing: redraw --plot and print the tables from --out")
    ap.add_argument("--torch-threads", type=int, default=1,
                    help="torch threads for the epoch and the prediction (default 1, as each "
                    "fold of `wise cv`; 0: torch's default, as `wise train`)")
    ap.add_argument("--child", choices=("train", "predict"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.replot:
        result = json.loads(args.out.read_text())
        plot(result, args.plot)
        print(markdown(result))
        return 0
    if args.child:
        {"train": child_train, "predict": child_predict}[args.child](args.work,
                                                                     args.torch_threads)
        return 0

    sizes = sorted(int(s) for s in args.sizes.split(",") if s.strip())
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if args.ray and not any(e.startswith("ray-") for e in engines):
        engines.append("ray-2node")
    for e in engines:
        if not (re.fullmatch(r"local-[1-9]\d*", e) or e.startswith("ray-")):
            ap.error(f"unknown engine {e!r} (local-N or ray-...)")
        if e.startswith("ray-") and not args.ray:
            ap.error(f"engine {e} needs --ray ADDRESS")
    if not args.skip_real and not RAVDESS_DEV.is_dir():
        ap.error(f"{RAVDESS_DEV} not found (use --skip-real)")

    t0 = time.perf_counter()
    result = {
        "benchmark": "scaling", "code_version": code_version(),
        "config": {"sizes": sizes, "engines": engines, "ray": args.ray,
                   "real": None if args.skip_real else str(RAVDESS_DEV), "row": ROW,
                   "predict_clips": PREDICT_CLIPS, "torch_threads": args.torch_threads,
                   "work": str(args.work)},
        "machine": {"platform": platform.platform(),
                    "cpu": platform.processor() or platform.machine(),
                    "cpus": os.cpu_count(), "memory_gib": round(psutil.virtual_memory().total
                                                                / 2**30, 1),
                    "load_average_at_start": [round(x, 2) for x in os.getloadavg()]},
        "complete": False, "corpora": [], "growth": {},
    }
    todo: list[tuple[str, int | None]] = [(f"synthetic-{n}", n) for n in sizes]
    if not args.skip_real:
        todo.append(("ravdess-dev", None))
    for name, n in todo:
        result["corpora"].append(measure(name, args.work / name, engines, args.ray, n,
                                         args.torch_threads))
        result["growth"] = growth(result["corpora"])
        result["seconds"] = round(time.perf_counter() - t0, 1)
        atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    result["complete"] = True
    result["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    plot(result, args.plot)
    print(markdown(result))
    print(f"wrote {args.out} and {args.plot} ({result['seconds']:.0f} s)")
    failed = [f"{c['corpus']}/{r['stage']}/{r['engine']}" for c in result["corpora"]
              for r in c["rows"] if "error" in r and not r.get("reused")]
    if failed:
        print("failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
