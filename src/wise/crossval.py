"""Speaker-independent cross-validation: one model per fold, scored on the held-out fold only.

Protocols (SPEC §4): "session" (default) holds out one session per fold — both of its speakers
— so no speaker is in training and test at once; "random" is stratified random k-fold, which
does put every speaker in both (it is what some papers mean by "5-fold CV"; say so when you
compare). Model selection (early stopping) uses a validation part of the training folds only.

Each fold writes `fold_K/metrics.json`, `fold_K/predictions.jsonl` and `fold_K/model.wise`;
a fold whose metrics exist for the same config is not redone, so an interrupted run resumes.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from wise import LABELS, code_version
from wise.checkpoint import save_checkpoint
from wise.config import RunConfig
from wise.errors import Skips, WiseError
from wise.features.cache import FeatureStore, build_features
from wise.fsutil import atomic_write_text
from wise.metrics import scores
from wise.models.build import batch_needs, build_model
from wise.models.wise import n_params
from wise.train import Data, predict, train
from wise.utterance import read_manifest


def make_folds(rows: list[int], labels: list[int], sessions: list[str], protocol: str,
               k: int, seed: int) -> list[tuple[str, list[int]]]:
    """[(fold name, test rows)] covering every row once."""
    if protocol == "session":
        names = sorted({sessions[i] for i in rows})
        if len(names) < 2:
            raise WiseError(None, "leave-one-session-out needs at least 2 sessions; "
                                  "use --set protocol=random")
        return [(s, [i for i in rows if sessions[i] == s]) for s in names]
    rng = np.random.default_rng(seed)
    folds: list[list[int]] = [[] for _ in range(k)]
    offset = 0
    for c in sorted({labels[i] for i in rows}):
        idx = np.array([i for i in rows if labels[i] == c])
        rng.shuffle(idx)
        for j, i in enumerate(idx):          # deal round-robin, continuing across classes
            folds[(j + offset) % k].append(int(i))
        offset += len(idx)
    return [(f"fold{j + 1}", sorted(f)) for j, f in enumerate(folds)]


def _config_hash(run: RunConfig, manifest_rows: list[str]) -> str:
    blob = json.dumps({"run": run.to_dict(), "rows": manifest_rows}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass
class Loaded:
    """A manifest's features and per-row facts, in feature-store order."""

    store: FeatureStore
    feats: dict
    labels: list[int]
    speakers: list[str]
    sessions: list[str]
    improvised: list[bool]

    def data(self, model: nn.Module) -> Data:
        return data_for(model, self.store, self.labels, self.speakers)


def data_for(model: nn.Module, store: FeatureStore, labels: list[int],
             speakers: list[str]) -> Data:
    """Batches carrying what `model` reads (see `wise.models.build.batch_needs`)."""
    needs = batch_needs(model)
    return Data(store, labels, speakers, word_frames=needs["with_word_frames"],
                utterance=needs["with_utterance"])


def load(run: RunConfig, manifest: str | Path, cache: str | Path | None, *,
         workers: int | None, progress: bool) -> Loaded:
    """Build (or reuse) the feature cache of `manifest` and line its rows up with the store."""
    cache = Path(cache) if cache else Path(manifest).parent / "wise-cache"
    feats = build_features(manifest, cache, run.features, Skips(), workers=workers,
                           progress=progress)
    store = FeatureStore(feats["pack"])
    meta = {u.id: u for u in read_manifest(manifest)}
    rows = [meta[i] for i in store.ids]
    return Loaded(store, feats, [LABELS.index(u.label) for u in rows],
                  [u.speaker for u in rows], [u.session for u in rows],
                  [bool(u.improvised) for u in rows])


def new_model(run: RunConfig, store: FeatureStore) -> nn.Module:
    return build_model(run.model, run.model_args, text_dim=store.text_dim,
                       frame_dim=store.frame_dim)


def train_final(run: RunConfig, manifest: str | Path, out: str | Path, *,
                cache: str | Path | None = None, workers: int | None = None,
                progress: bool = True) -> dict:
    """Train one model on every row of `manifest` (validation carved from them) and write a
    self-contained checkpoint to `out`."""
    d = load(run, manifest, cache, workers=workers, progress=progress)
    rows = _subset(run, d, manifest)
    model = new_model(run, d.store)
    info = train(model, d.data(model), rows, run.train, n_classes=len(LABELS),
                 progress=progress, desc=run.name)
    save_checkpoint(out, model, run, info["normalizer"], word_vectors=d.feats["word_vectors"],
                    extra={"trained_on": str(manifest), "n_train": info["n_fit"],
                           "n_val": info["n_val"], "best_epoch": info["best_epoch"],
                           "best_val_ua": info["best_val_ua"], "code_version": code_version()})
    return {"out": str(out), "n_params": n_params(model), **{
        k: info[k] for k in ("n_fit", "n_val", "best_epoch", "best_val_ua")}}


def _subset(run: RunConfig, d: Loaded, manifest: str | Path) -> list[int]:
    rows = list(range(len(d.store)))
    if run.cv.subset == "improvised":
        rows = [i for i in rows if d.improvised[i]]
        if not rows:
            raise WiseError(manifest, "no improvised utterances (subset=improvised)")
    return rows


@dataclass
class FoldJob:
    """Everything one fold needs, picklable, so folds can train in worker processes."""

    run: RunConfig
    pack: str
    labels: list[int]
    speakers: list[str]
    rows: list[int]
    test_rows: list[int]
    k: int
    n_folds: int
    name: str
    fold_dir: str
    config_hash: str
    word_vectors: str
    threads: int = 0          # torch threads in this fold's process; 0 leaves torch's default
    progress: bool = False


def run_fold(job: FoldJob) -> dict:
    """Train on every row but the fold's, score the fold, write its files; return metrics."""
    if job.threads:
        torch.set_num_threads(job.threads)
    run = job.run
    store = FeatureStore(job.pack)
    model = new_model(run, store)
    data = data_for(model, store, job.labels, job.speakers)
    test_set = set(job.test_rows)
    t0 = time.perf_counter()
    info = train(model, data, [i for i in job.rows if i not in test_set], run.train,
                 n_classes=len(LABELS), progress=job.progress,
                 desc=f"{run.name} fold {job.k}/{job.n_folds}")
    probs, alphas = predict(model, data, job.test_rows, info["normalizer"])
    y_true = [job.labels[i] for i in job.test_rows]
    y_pred = probs.argmax(1).tolist()
    s = scores(np.array(y_true), np.array(y_pred), LABELS)
    result = {"fold": job.k, "test": job.name, **s, "n_train": info["n_fit"],
              "n_val": info["n_val"], "best_epoch": info["best_epoch"],
              "best_val_ua": info["best_val_ua"], "history": info["history"],
              "seconds": round(time.perf_counter() - t0, 1), "config_hash": job.config_hash,
              "y_true": y_true, "y_pred": y_pred}
    fdir = Path(job.fold_dir)
    save_checkpoint(fdir / "model.wise", model, run, info["normalizer"],
                    word_vectors=job.word_vectors, extra={"fold": job.k, "test": job.name})
    preds = [json.dumps({"id": store.ids[i], "label": LABELS[job.labels[i]],
                         "pred": LABELS[p], "probs": [round(float(x), 5) for x in pr],
                         "attention": [round(float(x), 4) for x in al]})
             for i, p, pr, al in zip(job.test_rows, y_pred, probs, alphas, strict=True)]
    atomic_write_text(fdir / "predictions.jsonl", "\n".join(preds) + "\n")
    # Written last: its presence marks the fold as done (see resume in run_cv).
    atomic_write_text(fdir / "metrics.json", json.dumps(result) + "\n")
    return result


def run_cv(run: RunConfig, manifest: str | Path, out_dir: str | Path, *,
           cache: str | Path | None = None, workers: int | None = None, jobs: int = 1,
           progress: bool = True, log=print) -> dict:
    """Cross-validate `run` on `manifest` into `out_dir`. `jobs` > 1 trains that many folds
    at once in worker processes with one torch thread each: on small CPUs that beats one
    fold with several threads (these models' operations are too small to split well)."""
    out = Path(out_dir)
    d = load(run, manifest, cache, workers=workers, progress=progress)
    store, labels = d.store, d.labels
    rows = _subset(run, d, manifest)
    folds = make_folds(rows, labels, d.sessions, run.cv.protocol, run.cv.folds, run.train.seed)
    chash = _config_hash(run, [store.ids[i] for i in rows])
    results: dict[int, dict] = {}
    todo: list[FoldJob] = []
    for k, (name, test_rows) in enumerate(folds, 1):
        metrics_file = out / f"fold_{k}" / "metrics.json"
        if metrics_file.is_file():
            done = json.loads(metrics_file.read_text())
            if done.get("config_hash") == chash:
                log(f"  fold {k}/{len(folds)} ({name}): done earlier, "
                    f"WA {done['wa']:.3f} UA {done['ua']:.3f}")
                results[k] = done
                continue
        todo.append(FoldJob(run, str(store.dir), labels, d.speakers, rows, test_rows, k,
                            len(folds), name, str(out / f"fold_{k}"), chash,
                            d.feats["word_vectors"], progress=progress and jobs <= 1))

    def finished(r: dict) -> None:
        results[r["fold"]] = r
        log(f"  fold {r['fold']}/{len(folds)} ({r['test']}): WA {r['wa']:.3f} "
            f"UA {r['ua']:.3f} (best epoch {r['best_epoch']}, {r['seconds']:.0f} s)")

    t_start = time.perf_counter()
    jobs = max(1, min(jobs, len(todo)))
    if jobs == 1:
        for job in todo:
            finished(run_fold(job))
    else:
        for job in todo:
            job.threads = 1
        # spawn: a forked child would inherit this process's torch thread pools.
        with mp.get_context("spawn").Pool(jobs) as pool:
            for r in pool.imap_unordered(run_fold, todo):
                finished(r)
    fold_results = [results[k] for k in sorted(results)]
    y_all = [y for f in fold_results for y in f["y_true"]]
    p_all = [p for f in fold_results for p in f["y_pred"]]
    wa = np.array([f["wa"] for f in fold_results])
    ua = np.array([f["ua"] for f in fold_results])
    pooled = scores(np.array(y_all), np.array(p_all), LABELS)
    summary = {
        "name": run.name, "config": run.to_dict(), "code_version": code_version(),
        "manifest": str(manifest), "n_utterances": len(rows),
        "protocol": run.cv.protocol, "subset": run.cv.subset,
        "n_params": n_params(new_model(run, store)), "labels": list(LABELS),
        "word_vectors": d.feats["word_vectors"],
        "folds": [{k: f[k] for k in ("fold", "test", "wa", "ua", "recall", "n", "best_epoch",
                                      "seconds")} for f in fold_results],
        "wa_mean": float(wa.mean()), "wa_std": float(wa.std()),
        "ua_mean": float(ua.mean()), "ua_std": float(ua.std()),
        "pooled_wa": pooled["wa"], "pooled_ua": pooled["ua"],
        "confusion": pooled["confusion"],
        "seconds": round(time.perf_counter() - t_start, 1),
    }
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary
