"""Speaker-independent cross-validation: one model per fold, scored on the held-out fold only.

Protocols (docs/evaluation.md): "session" (default) holds out one session per fold — both of
its speakers — so no speaker is in training and test at once; "random" is stratified random
k-fold, which does put every speaker in both (it is what some papers mean by "5-fold CV"; say
so when you compare). Model selection (early stopping) uses a validation part of the training
folds only.

Several seeds (`seeds`) train every fold once per seed on the same folds. Each (seed, fold)
writes `seed_S/fold_K/metrics.json`, `predictions.jsonl` and `model.wise` (a scikit-learn row,
`wise.models.build.CLASSIC`, writes no checkpoint), then `checksums.json`, the sizes and
SHA-256 of those files. A (seed, fold) whose files all match their checksums and whose metrics
are for the same config is not redone, so an interrupted run resumes; one with a missing,
cut-short or changed file (or none recorded) is trained again.

Determinism: a (seed, fold) gives the same bits whichever process trains it, whatever ran
before it in that process and however many run at once (`jobs`): its initial weights come from
a generator seeded with (seed, fold) (`init_seed`), training reseeds every generator it uses,
and every fold trains on one torch thread with torch's deterministic algorithms, since the
order in which several threads add up a sum changes its last bits.

Folds trained at once (`jobs` > 1, or on a Ray cluster) report in order: a finished fold's
line waits for the folds before it. Meanwhile each running fold writes its last epoch to
`progress.json` in its folder (on the shared path under Ray), which this process reads every
few seconds to show them (`wise.progress.LiveTasks`); the file goes when the fold ends.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from wise.checkpoint import save_checkpoint
from wise.cluster import check_shared, imap
from wise.config import RunConfig
from wise.errors import WiseError
from wise.features.cache import FeatureStore, cache_dir, damage_lines
from wise.features.functionals import build_functionals
from wise.features.prosody import pooled
from wise.fsutil import atomic_file, atomic_write_text, check_checksums, write_checksums
from wise.labels import LABELS
from wise.metrics import scores
from wise.models.build import CLASSIC, build_classic, is_classic, require_classic
from wise.models.wise import n_params
from wise.progress import LiveTasks
from wise.results import CVSummary, FoldResult, PooledScores
from wise.runtime import DEFAULT_RUNTIME, Runtime
from wise.train import (
    data_for,
    deterministic,
    evaluate,
    init_seed,
    load_corpus,
    new_model,
    subset_rows,
    train,
)
from wise.utterance import read_manifest
from wise.version import code_version


def make_folds(rows: list[int], labels: list[int], sessions: list[str], protocol: str,
               k: int, seed: int, *, speakers: list[str] | None = None,
               genders: list[str | None] | None = None) -> list[tuple[str, list[int]]]:
    """[(fold name, test rows)] covering every row once. "speaker_groups" needs `speakers`
    (and balances `genders` when given); see `speaker_group_folds`."""
    if protocol == "speaker_groups":
        if speakers is None:
            raise ValueError("protocol speaker_groups needs the rows' speakers")
        return speaker_group_folds(rows, labels, speakers, genders, k, seed)
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


def speaker_group_folds(rows: list[int], labels: list[int], speakers: list[str],
                        genders: list[str | None] | None, k: int,
                        seed: int) -> list[tuple[str, list[int]]]:
    """k folds of whole speakers, for corpora whose sessions do not make folds (RAVDESS,
    CREMA-D, a user's list): no speaker is in two folds.

    Each fold gets floor(n/k) or ceil(n/k) of the n speakers of each sex (speakers of unknown
    sex are one more group), the remainders spread so that fold sizes in speakers differ by at
    most one. Within that, speakers are placed so that every fold's class counts come as close
    to 1/k of the corpus's as whole speakers allow: largest speakers first, each into the fold
    it brings closest to the target (cost: sum over folds and classes of the squared relative
    shortfall or excess), then swaps of same-sex speakers between folds while any lowers the
    cost. `seed` only breaks ties between equally large speakers; the same seed gives the same
    folds.
    """
    by_speaker: dict[str, list[int]] = {}
    for i in rows:
        by_speaker.setdefault(speakers[i], []).append(i)
    names = sorted(by_speaker)
    if len(names) < k:
        raise WiseError(None, f"speaker_groups with {k} folds needs at least {k} speakers, the "
                              f"manifest has {len(names)}; lower it with --set folds=N")
    n_classes = max(labels[i] for i in rows) + 1
    counts = np.array([np.bincount([labels[i] for i in by_speaker[s]], minlength=n_classes)
                       for s in names], dtype=float)                     # (S, C)
    sex = [next((genders[i] for i in by_speaker[s] if genders and genders[i]), "unknown")
           for s in names]
    target = counts.sum(0) / k                                            # (C,)
    weight = np.divide(1.0, target ** 2, out=np.zeros_like(target), where=target > 0)

    def cost(fold_counts: np.ndarray) -> np.ndarray:                      # (..., C) -> (...)
        return ((fold_counts - target) ** 2 * weight).sum(-1)

    # sex -> (k,) how many more speakers of that sex each fold takes; the remainders of the
    # sexes go to successive folds, so fold sizes differ by at most one speaker.
    room: dict[str, np.ndarray] = {}
    start = 0
    for g in sorted(set(sex)):
        n = sex.count(g)
        room[g] = np.full(k, n // k)
        room[g][(start + np.arange(n % k)) % k] += 1
        start += n % k
    rng = np.random.default_rng(seed)
    tie = rng.permutation(len(names))
    order = sorted(range(len(names)), key=lambda s: (-counts[s].sum(), tie[s]))
    fold_of = np.zeros(len(names), dtype=int)
    fold_counts = np.zeros((k, n_classes))
    for s in order:
        open_folds = np.flatnonzero(room[sex[s]] > 0)
        gain = cost(fold_counts[open_folds] + counts[s]) - cost(fold_counts[open_folds])
        j = int(open_folds[np.argmin(gain)])
        fold_of[s] = j
        room[sex[s]][j] -= 1
        fold_counts[j] += counts[s]
    improved = True  # swap pairs of same-sex speakers while a swap lowers the cost
    while improved:
        improved = False
        for a in order:
            same = np.array([b for b in order if sex[b] == sex[a] and fold_of[b] != fold_of[a]])
            if not len(same):
                continue
            fa, fb = fold_of[a], fold_of[same]
            diff = counts[same] - counts[a]                               # (B, C)
            change = (cost(fold_counts[fa] + diff) + cost(fold_counts[fb] - diff)
                      - cost(fold_counts[fa]) - cost(fold_counts[fb]))
            best = int(np.argmin(change))
            if change[best] < -1e-12:
                b = int(same[best])
                fold_counts[fa] += diff[best]
                fold_counts[fold_of[b]] -= diff[best]
                fold_of[a], fold_of[b] = fold_of[b], fa
                improved = True
    return [(f"fold{j + 1}", sorted(i for s in np.flatnonzero(fold_of == j)
                                    for i in by_speaker[names[s]])) for j in range(k)]


def _config_hash(run: RunConfig, manifest_rows: list[str]) -> str:
    blob = json.dumps({"run": run.to_dict(), "rows": manifest_rows}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def fold_dir(run_dir: str | Path, seed: int, k: int) -> Path:
    """Where (seed, fold k) of a `wise cv` run keeps its metrics, predictions and checkpoint."""
    return Path(run_dir) / f"seed_{seed}" / f"fold_{k}"


@dataclass(kw_only=True)
class FoldJob:
    """Everything one fold needs, picklable, so folds can train in worker processes."""

    run: RunConfig
    pack: str
    labels: list[int]
    speakers: list[str]
    rows: list[int]             # the store rows of the cross-validation: training and test
    test_rows: list[int]        # this fold's
    k: int                      # the fold's number, 1..n_folds
    n_folds: int
    name: str                   # what the fold tests, e.g. "Ses01"
    fold_dir: str
    config_hash: str            # of the run and its rows: a finished fold is reused only if equal
    word_vectors: str
    progress: bool = False
    functionals: str = ""     # scikit-learn rows: the store rows' utterance functionals (.npy)
    progress_file: str = ""   # where to write each finished epoch (folds trained elsewhere)


PROGRESS_FILE = "progress.json"
"""A running fold's last finished epoch, in its folder: {"epoch", "epochs", "val_ua"}."""


def run_fold(job: FoldJob) -> FoldResult:
    """Train on every row but the fold's, score the fold, write its files; return metrics."""
    try:
        return _run_fold(job)
    finally:
        if job.progress_file:
            Path(job.progress_file).unlink(missing_ok=True)


def _run_fold(job: FoldJob) -> FoldResult:
    deterministic(threads=1)
    run = job.run
    on_epoch = None
    if job.progress_file:
        def on_epoch(entry: dict) -> None:
            atomic_write_text(job.progress_file, json.dumps(
                {"epoch": entry["epoch"], "epochs": run.train.max_epochs,
                 "val_ua": entry["val_ua"]}) + "\n")

        on_epoch({"epoch": 0, "val_ua": None})               # started
    store = FeatureStore(job.pack)
    model = new_model(run, store, init_seed(run.train.seed, job.k))
    data = data_for(model, store, job.labels, job.speakers)
    test_set = set(job.test_rows)
    t0 = time.perf_counter()
    t = train(model, data, [i for i in job.rows if i not in test_set], run.train,
              n_classes=len(LABELS), progress=job.progress,
              desc=f"{run.name} fold {job.k}/{job.n_folds}", on_epoch=on_epoch)
    # Under normalize=speaker the held-out speakers get their own statistics from their own
    # frames (never their labels); other modes are unchanged by `adapt`. They are also scored
    # unadapted (the training speakers' average statistics), as a new speaker's single clip is
    # (when no test speaker was trained on: a speaker-independent protocol).
    normalizer = t.normalizer
    y_true = [job.labels[i] for i in job.test_rows]
    unadapted = {}
    if normalizer.mode == "speaker" and not any(job.speakers[i] in normalizer.mean
                                                for i in job.test_rows):
        first, _ = evaluate(model, data, job.test_rows, normalizer)
        u = scores(np.array(y_true), first.argmax(1), LABELS)
        unadapted = {"wa_unadapted": u["wa"], "ua_unadapted": u["ua"]}
    adapted = normalizer.adapt(store, job.test_rows, job.speakers)
    probs, alphas = evaluate(model, data, job.test_rows, adapted)
    y_pred = probs.argmax(1).tolist()
    s = {**scores(np.array(y_true), np.array(y_pred), LABELS), **unadapted}
    result: FoldResult = {"seed": run.train.seed, "fold": job.k, "test": job.name, **s,
              "n_train": t.n_fit, "n_val": t.n_val, **t.validation_note(),
              "best_epoch": t.best_epoch, "best_val_ua": t.best_val_ua, "history": t.history,
              "seconds": round(time.perf_counter() - t0, 1), "config_hash": job.config_hash,
              "y_true": y_true, "y_pred": y_pred}
    if job.progress_file:      # gone before the fold's files: a kill after them leaves none
        Path(job.progress_file).unlink(missing_ok=True)
    save_checkpoint(Path(job.fold_dir) / "model.wise", model, run, t.normalizer,
                    word_vectors=job.word_vectors, extra={"fold": job.k, "test": job.name})
    return _write_fold(job, store, y_pred, probs, alphas, result)


def run_classic_fold(job: FoldJob) -> FoldResult:
    """`run_fold` for a scikit-learn row (`wise.models.build.CLASSIC`): fit on every row but
    the fold's utterance functionals, score the fold; the same files but no checkpoint."""
    store = FeatureStore(job.pack)
    x = np.load(job.functionals)                                 # (U, K): one vector per row
    if job.run.train.normalize == "speaker":
        x = per_speaker(x, job.speakers, job.rows)
    y = np.array(job.labels)
    test_set = set(job.test_rows)
    train_rows = [i for i in job.rows if i not in test_set]
    t0 = time.perf_counter()
    try:
        model = build_classic(job.run.model, job.run.model_args).fit(x[train_rows],
                                                                     y[train_rows])
    except WiseError as e:
        raise WiseError(None, f"fold {job.k} ({job.name}): {e.message}") from None
    y_pred, probs = model.predict(x[job.test_rows])
    y_true = y[job.test_rows].tolist()
    s = scores(np.array(y_true), y_pred, LABELS)
    result: FoldResult = {"seed": job.run.train.seed, "fold": job.k, "test": job.name, **s,
              "n_train": len(train_rows), "n_val": 0,
              "best_epoch": None, "best_val_ua": None, "history": [],
              "n_params": model.n_params(), "seconds": round(time.perf_counter() - t0, 1),
              "config_hash": job.config_hash, "y_true": y_true, "y_pred": y_pred.tolist()}
    # It weighs no words: uniform weights over the real words, like the neural baselines.
    alphas = [np.full(n, 1.0 / n) for n in map(store.n_words, job.test_rows)]
    return _write_fold(job, store, y_pred, probs, alphas, result)


def per_speaker(x: np.ndarray, speakers: list[str], rows: list[int]) -> np.ndarray:
    """`x` (U, K) with each speaker's rows among `rows` standardised by that speaker's own
    mean and std (NaN-aware; a missing value stays NaN), as `normalize: speaker` does for the
    neural rows: a test speaker's statistics come from his or her clips, never their labels."""
    out = np.array(x, np.float64)
    groups: dict[str, list[int]] = {}
    for i in rows:
        groups.setdefault(speakers[i], []).append(i)
    with warnings.catch_warnings():          # a column that is NaN throughout
        warnings.simplefilter("ignore", RuntimeWarning)
        for idx in groups.values():
            v = out[idx]
            sd = np.nanstd(v, 0)
            out[idx] = (v - np.nanmean(v, 0)) / np.where(sd > 0, sd, 1.0)
    return out


def _write_fold(job: FoldJob, store: FeatureStore, y_pred, probs: np.ndarray, alphas: list,
                result: FoldResult) -> FoldResult:
    fdir = Path(job.fold_dir)
    preds = [json.dumps({"id": store.ids[i], "label": LABELS[job.labels[i]],
                         "pred": LABELS[p], "probs": [round(float(x), 5) for x in pr],
                         "attention": [round(float(x), 4) for x in al]})
             for i, p, pr, al in zip(job.test_rows, y_pred, probs, alphas, strict=True)]
    atomic_write_text(fdir / "predictions.jsonl", "\n".join(preds) + "\n")
    atomic_write_text(fdir / "metrics.json", json.dumps(result) + "\n")
    # Written last: when every file matches it, the fold is done (see `_done_earlier`).
    write_checksums(fdir, _fold_files(job.run))
    return result


def _fold_files(run: RunConfig) -> list[str]:
    """The files a finished (seed, fold) of `run` holds, besides its checksums."""
    checkpoint = [] if is_classic(run.model) else ["model.wise"]
    return ["predictions.jsonl", "metrics.json", *checkpoint]


def _done_earlier(where: Path, run: RunConfig,
                  config_hash: str) -> tuple[FoldResult | None, str]:
    """(the metrics of a (seed, fold) finished earlier with this config, or None; why its
    files cannot be reused, "" when there were none or they are for another config)."""
    if not (where / "metrics.json").is_file():
        return None, ""
    problem = check_checksums(where, _fold_files(run))
    if problem:
        return None, problem
    done = json.loads((where / "metrics.json").read_text())
    return (done, "") if done.get("config_hash") == config_hash else (None, "")


def _classic_inputs(run: RunConfig, manifest: str | Path, store: FeatureStore,
                    runtime: Runtime) -> str:
    """Scikit-learn rows: the .npy of one vector per store row that the row's model reads
    (`inputs`), built once for every fold: openSMILE's functionals, or the frame statistics."""
    log = runtime.log
    if CLASSIC[run.model][1].inputs == "frame_stats":
        # Computed anew each run (one pass over the pack's frames, seconds even for IEMOCAP):
        # nothing to verify or go stale. On disk only for the fold processes to read.
        path = cache_dir(manifest, runtime.cache) / "frame_stats" / f"{store.dir.name}.npy"
        stats = np.stack([pooled(store[i].frames) for i in range(len(store))])
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(path) as tmp, open(tmp, "wb") as f:
            np.save(f, stats)
        log(f"  frame statistics of {len(store)} utterances ({store.frame_dim}-d frames)")
        return str(path)
    audio = {u.id: u.audio for u in read_manifest(manifest)}
    f = build_functionals([audio[i] for i in store.ids], cache_dir(manifest, runtime.cache),
                          run.features.sample_rate, workers=runtime.workers,
                          progress=runtime.progress)
    log(f"  eGeMAPS functionals of {len(store)} utterances: {f.built} built, "
        f"{f.reused} reused ({f.seconds:.1f} s)"
        + (f"; {f.missing} too short, set to the training mean" if f.missing else ""))
    return f.path


@dataclass(kw_only=True)
class CVPlan:
    """One row's cross-validation, ready to train: the (seed, fold) jobs left to do, those
    finished earlier, and what the summary needs. `run_cv` trains one plan;
    `wise.pipeline.reproduce` trains several rows' jobs in one pool of processes, so that no
    core waits for the last fold of a row while the next row's could start."""

    run: RunConfig
    manifest: str
    out: Path
    seeds: int
    n_folds: int
    n_rows: int
    n_params: int | None          # the neural rows' (a scikit-learn row's comes from its folds)
    word_vectors: str
    word_dim: int                 # their width, which sets the text branch's (text_dim)
    todo: list[FoldJob]
    results: dict[tuple[int, int], FoldResult]
    log: Callable[[str], object]
    t_start: float

    def finished(self, r: FoldResult) -> None:
        self.results[r["seed"], r["fold"]] = r
        epoch = "" if r["best_epoch"] is None else f"best epoch {r['best_epoch']}, "
        self.log(f"  {self.run.name} {_pair(r['seed'], r['fold'], self.n_folds, self.seeds)} "
                 f"({r['test']}): WA {r['wa']:.3f} UA {r['ua']:.3f} "
                 f"({epoch}{r['seconds']:.0f} s)")
        if "why" in (r.get("validation") or {}):             # validation=speakers fell back
            self.log(f"    {r['validation']['why']}")

    def summary(self) -> CVSummary:
        """Write and return `summary.json` from every (seed, fold)'s result."""
        results = [self.results[key] for key in sorted(self.results)]
        run = self.run
        summary: CVSummary = {
            "name": run.name, "config": run.to_dict(), "code_version": code_version(),
            "manifest": self.manifest, "n_utterances": self.n_rows,
            "protocol": run.cv.protocol, "subset": run.cv.subset,
            "n_params": (self.n_params if self.n_params is not None
                         else int(round(np.mean([r["n_params"] for r in results])))),
            "labels": list(LABELS), "word_vectors": self.word_vectors,
            "word_dim": self.word_dim,
            **summarize(results),
            "seconds": round(time.perf_counter() - self.t_start, 1),
        }
        atomic_write_text(self.out / "summary.json", json.dumps(summary, indent=2) + "\n")
        return summary


def plan_cv(run: RunConfig, manifest: str | Path, out_dir: str | Path, *, seeds: int = 1,
            runtime: Runtime = DEFAULT_RUNTIME) -> CVPlan:
    """Build (or reuse) the features, make the folds, write `folds.json`, and list the
    (seed, fold) jobs of `run` not finished earlier with the same config."""
    log = runtime.log
    if seeds < 1:
        raise WiseError(None, f"--seeds must be at least 1, not {seeds}")
    out = Path(out_dir)
    classic = is_classic(run.model)
    if classic:
        require_classic(run.model, run.name)   # before the features: a missing extra fails now
    d = load_corpus(run, manifest, runtime)
    for line in damage_lines(d.feats):
        log(f"  {line}")
    store, labels = d.store, d.labels
    rows = subset_rows(run, d, manifest)
    folds = make_folds(rows, labels, d.sessions, run.cv.protocol, run.cv.folds,
                       run.cv.split_seed, speakers=d.speakers, genders=d.genders)
    # Which speakers each fold tests on, so a reader can check the protocol.
    atomic_write_text(out / "folds.json", json.dumps({"protocol": run.cv.protocol, "folds": {
        name: sorted({d.speakers[i] for i in test}) for name, test in folds}}, indent=2) + "\n")
    functionals = _classic_inputs(run, manifest, store, runtime) if classic else ""
    plan = CVPlan(run=run, manifest=str(manifest), out=out, seeds=seeds, n_folds=len(folds),
                  n_rows=len(rows),
                  n_params=None if classic else n_params(new_model(run, store)),
                  word_vectors=d.feats.word_vectors, word_dim=store.text_dim, todo=[],
                  results={}, log=log, t_start=time.perf_counter())
    for seed in range(run.train.seed, run.train.seed + seeds):
        seed_run = replace(run, train=replace(run.train, seed=seed))
        chash = _config_hash(seed_run, [store.ids[i] for i in rows])
        for k, (name, test_rows) in enumerate(folds, 1):
            where = fold_dir(out, seed, k)
            done, problem = _done_earlier(where, seed_run, chash)
            if done is not None:
                log(f"  {run.name} {_pair(seed, k, len(folds), seeds)} ({name}): done "
                    f"earlier, WA {done['wa']:.3f} UA {done['ua']:.3f}")
                plan.results[seed, k] = done
                continue
            if problem:
                log(f"  {run.name} {_pair(seed, k, len(folds), seeds)} ({name}): trained "
                    f"again, its earlier files are damaged ({problem})")
            plan.todo.append(FoldJob(
                run=seed_run, pack=str(store.dir), labels=labels, speakers=d.speakers,
                rows=rows, test_rows=test_rows, k=k, n_folds=len(folds), name=name,
                fold_dir=str(where), config_hash=chash, word_vectors=d.feats.word_vectors,
                progress=runtime.progress, functionals=functionals))
    return plan


def train_job(job: FoldJob) -> FoldResult:
    """Train and score one (seed, fold): a neural row or a scikit-learn row."""
    return run_classic_fold(job) if is_classic(job.run.model) else run_fold(job)


def run_jobs(todo: list[FoldJob], jobs: int,
             on_result: Callable[[FoldJob, FoldResult], object], ray: str | None = None) -> None:
    """Train `todo`, `jobs` at a time in worker processes (here, one after the other, when
    `jobs` is 1), or as Ray tasks on the cluster at `ray` (as many at once as it has CPUs),
    calling `on_result(job, result)` for each in the order of `todo`: as soon as it and every
    job before it have finished. Every fold trains on one torch thread anyway (see the
    module's note on determinism), so on a small CPU `jobs` is how to use its cores, and
    where a fold trains does not change its result."""
    for job in todo:        # an interrupted run's, however that run and this one train
        (Path(job.fold_dir) / PROGRESS_FILE).unlink(missing_ok=True)
    jobs = max(1, min(jobs, len(todo)))
    if jobs == 1 and ray is None:
        threads = torch.get_num_threads()      # run_fold sets one; give the caller its own back
        try:
            for job in todo:
                on_result(job, train_job(job))
        finally:
            torch.set_num_threads(threads)
        return
    live = _LiveFolds(todo) if any(job.progress for job in todo) else None
    for job in todo:
        job.progress = False                   # the workers' own bars would be noise
    if ray is not None:
        check_shared(ray, sorted({job.pack for job in todo} | {job.functionals for job in todo
                                                               if job.functionals}
                                 | {str(Path(job.fold_dir).parent.parent) for job in todo}))
    finished: dict[int, dict] = {}             # results waiting for an earlier job's
    reported = 0

    def report() -> None:
        nonlocal reported
        with live.writing() if live else contextlib.nullcontext():
            while reported in finished:
                on_result(todo[reported], finished.pop(reported))
                reported += 1

    try:
        for i, r in imap(train_job, todo, workers=jobs, ray=ray, name="train",
                         idle=live.poll if live else None):
            finished[i] = r
            if live:
                live.done.add(i)
                live.poll()
            report()
    except Exception:
        for i in sorted(finished):             # what did finish is on disk: say so, in order
            on_result(todo[i], finished.pop(i))
        raise
    finally:
        if live:
            live.close()


class _LiveFolds:
    """The running folds of `run_jobs` as `LiveTasks`, from their progress files."""

    def __init__(self, todo: list[FoldJob]) -> None:
        self.todo = todo
        self.done: set[int] = set()
        seeds = len({job.run.train.seed for job in todo}) > 1
        self.names = [f"{j.run.name} " + (f"seed {j.run.train.seed} " if seeds else "")
                      + f"fold {j.k}/{j.n_folds}" for j in todo]
        for job in todo:
            if not is_classic(job.run.model):
                job.progress_file = str(Path(job.fold_dir) / PROGRESS_FILE)
        self.tasks = LiveTasks("training", "epoch")

    def poll(self) -> None:
        states = {}
        for i, job in enumerate(self.todo):
            if i in self.done or not job.progress_file:
                continue
            try:
                p = json.loads(Path(job.progress_file).read_text())
            except (OSError, ValueError):       # not started, or just ended
                continue
            ua = p["val_ua"]
            states[self.names[i]] = (p["epoch"], p["epochs"],
                                     "" if ua is None else f"val UA {ua:.3f}")
        self.tasks.update(states)

    def writing(self) -> contextlib.AbstractContextManager[None]:
        return self.tasks.writing()

    def close(self) -> None:
        self.tasks.close()


def run_cv(run: RunConfig, manifest: str | Path, out_dir: str | Path, *, seeds: int = 1,
           runtime: Runtime = DEFAULT_RUNTIME) -> CVSummary:
    """Cross-validate `run` on `manifest` into `out_dir`, once per training seed `run.train.seed`,
    `+1`, ... (`seeds` of them) on the same folds, `jobs` (seed, fold) pairs at a time; write
    and return the summary."""
    plan = plan_cv(run, manifest, out_dir, seeds=seeds, runtime=runtime)
    run_jobs(plan.todo, runtime.jobs, lambda _, r: plan.finished(r), ray=runtime.ray)
    return plan.summary()


def _pair(seed: int, k: int, n_folds: int, seeds: int) -> str:
    return f"fold {k}/{n_folds}" + (f", seed {seed}" if seeds > 1 else "")


def without_timings(x):
    """A summary or metrics dict less its wall-clock fields ("seconds"): what a rerun of the
    same (seed, fold) must repeat bit for bit."""
    if isinstance(x, dict):
        return {k: without_timings(v) for k, v in x.items() if k != "seconds"}
    if isinstance(x, list):
        return [without_timings(v) for v in x]
    return x


def summarize(pairs: list[FoldResult]) -> PooledScores:
    """The summary's scores from every (seed, fold)'s metrics: WA and UA mean ± std over all
    pairs, the UA std split into its two sources (`ua_fold_std`: over folds of each fold's
    mean over seeds — which speakers are tested; `ua_seed_std`: over seeds within a fold,
    averaged over folds — training noise), and the confusion pooled over every pair."""
    wa = np.array([f["wa"] for f in pairs])
    ua = np.array([f["ua"] for f in pairs])
    by_fold: dict[int, list[float]] = {}
    for f in pairs:
        by_fold.setdefault(f["fold"], []).append(f["ua"])
    pooled = scores(np.array([y for f in pairs for y in f["y_true"]]),
                    np.array([p for f in pairs for p in f["y_pred"]]), LABELS)
    # Rows normalised per speaker were also scored unadapted (`run_fold`).
    extra = ("wa_unadapted", "ua_unadapted") if all("ua_unadapted" in f for f in pairs) else ()
    unadapted = ({"ua_unadapted_mean": float(np.mean([f["ua_unadapted"] for f in pairs])),
                  "ua_unadapted_std": float(np.std([f["ua_unadapted"] for f in pairs]))}
                 if extra else {})
    return {
        "seeds": sorted({f["seed"] for f in pairs}),
        "folds": [{k: f.get(k) for k in ("seed", "fold", "test", "wa", "ua", "recall", "n",
                                          "n_train", "n_val", "best_epoch", "seconds", *extra)}
                  for f in pairs],
        **unadapted,
        "wa_mean": float(wa.mean()), "wa_std": float(wa.std()),
        "ua_mean": float(ua.mean()), "ua_std": float(ua.std()),
        "ua_fold_std": float(np.std([np.mean(v) for v in by_fold.values()])),
        "ua_seed_std": float(np.mean([np.std(v) for v in by_fold.values()])),
        "pooled_wa": pooled["wa"], "pooled_ua": pooled["ua"], "confusion": pooled["confusion"],
    }
