"""Utterance functionals from openSMILE for the classic baseline (`egemaps_svm`), cached.

One vector per utterance: openSMILE's eGeMAPSv02 functionals (Eyben et al., IEEE TAC 2016),
88 statistics over the whole utterance of pitch, loudness, jitter, shimmer, HNR, formants,
spectral balance and MFCC 1-4, computed by `opensmile.Smile` on the audio as
`wise.audio.load_audio` returns it (16 kHz mono float32). About 0.05 s per 3-s clip on one core.

openSMILE is under audEERING's research licence (non-commercial use), so it is an optional extra
(`pip install "wise-ser[opensmile]"`) and is imported only here, only when asked for.

Cache, under the feature cache folder, two layers like `wise.features.cache`:
    functionals/entries/<k[:2]>/<k>.npy   (88,) float32, one per utterance; the key hashes the
                                          feature set, the openSMILE version, the sample rate
                                          and the audio file's resolved path, size and mtime
    functionals/<rows key>.npy            (U, 88) float32, the rows of one list of entries in
                                          order (what a cross-validation reads)
Every file is written under a temporary name and renamed, so an interrupted build resumes with
the entries it has. A clip too short for openSMILE (under ~0.1 s) gives a row of NaN: the
classifier treats it as missing and fills it with the training rows' mean.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from wise.audio import load_audio
from wise.errors import WiseError
from wise.fsutil import atomic_file
from wise.progress import progress_bar

FEATURE_SET = "eGeMAPSv02"
N_FUNCTIONALS = 88
INSTALL = 'pip install "wise-ser[opensmile]"'


def require_opensmile(what: str = "the eGeMAPS + SVM row", sklearn: bool = True) -> None:
    """Raise the one-line error naming the install command when the optional openSMILE extra
    (openSMILE, and scikit-learn for the classifier) is not installed."""
    missing = []
    needed = (("opensmile", "opensmile"), ("sklearn", "scikit-learn"))[:2 if sklearn else 1]
    for module, package in needed:
        try:
            __import__(module)
        except ImportError:
            missing.append(package)
    if missing:
        raise WiseError(None, f"{what} needs {' and '.join(missing)}, not "
                              f"installed here: {INSTALL} (openSMILE is under audEERING's "
                              "research licence, see docs/baselines.md)")


def _smile():
    import opensmile

    return opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                           feature_level=opensmile.FeatureLevel.Functionals)


def functionals(x: np.ndarray, sample_rate: int, smile=None) -> np.ndarray:
    """(88,) float32 eGeMAPSv02 functionals of mono audio `x` in [-1, 1]; NaN when openSMILE
    finds the clip too short. Pass a `smile` from an earlier call to save its 0.25 s set-up."""
    import warnings

    smile = smile or _smile()
    with warnings.catch_warnings():          # "Segment too short, filling with NaN": counted
        warnings.simplefilter("ignore", UserWarning)
        return smile.process_signal(x, sample_rate).to_numpy()[0].astype(np.float32)


def entry_key(audio: str | Path, sample_rate: int) -> str:
    path = Path(audio).resolve()
    st = path.stat()
    blob = json.dumps({"set": FEATURE_SET, "opensmile": metadata.version("opensmile"),
                       "sample_rate": sample_rate, "audio": str(path), "size": st.st_size,
                       "mtime": st.st_mtime_ns}, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:24]


@dataclass
class _Task:
    audio: str
    path: str
    sample_rate: int


_worker_smile = None


def _build_entry(task: _Task) -> str | None:
    """Worker: compute one utterance's functionals and write them. Returns an error or None."""
    global _worker_smile
    if _worker_smile is None:
        _worker_smile = _smile()
    try:
        x = load_audio(task.audio, task.sample_rate)
    except WiseError as e:
        return e.message
    with atomic_file(task.path) as tmp, open(tmp, "wb") as f:
        np.save(f, functionals(x, task.sample_rate, _worker_smile))
    return None


def build_functionals(audio: list[str], cache_root: str | Path, sample_rate: int, *,
                      workers: int | None = None, progress: bool = True) -> dict:
    """The (len(audio), 88) functionals of these files, in this order, built where missing.

    Returns {"path": the matrix's .npy, "built", "reused", "missing" (rows of NaN: too short or
    unreadable), "seconds"}."""
    require_opensmile()
    t0 = time.perf_counter()
    root = Path(cache_root) / "functionals"
    keys = [entry_key(a, sample_rate) for a in audio]
    entry = {k: root / "entries" / k[:2] / f"{k}.npy" for k in keys}
    rows_key = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:24]
    matrix = root / f"{rows_key}.npy"
    todo = list({k: _Task(a, str(entry[k]), sample_rate) for a, k in zip(audio, keys, strict=True)
                 if not entry[k].is_file()}.values())
    if todo or not matrix.is_file():
        _run(todo, workers, progress)
        x = np.full((len(keys), N_FUNCTIONALS), np.nan, np.float32)
        for i, k in enumerate(keys):
            if entry[k].is_file():
                x[i] = np.load(entry[k])
        with atomic_file(matrix) as tmp, open(tmp, "wb") as f:
            np.save(f, x)
    x = np.load(matrix, mmap_mode="r")
    return {"path": str(matrix), "built": len(todo), "reused": len(set(keys)) - len(todo),
            "missing": int(np.isnan(x).all(axis=1).sum()),
            "seconds": round(time.perf_counter() - t0, 2)}


def _run(todo: list[_Task], workers: int | None, progress: bool) -> None:
    if not todo:
        return
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo)))
    bar = progress_bar(total=len(todo), desc="eGeMAPS", unit="utt", disable=not progress)
    if workers == 1:
        for t in todo:
            _build_entry(t)
            bar.update()
    else:
        # spawn, not fork: the caller may hold torch's thread pools (see wise.features.cache).
        with mp.get_context("spawn").Pool(workers) as pool:
            for _ in pool.imap_unordered(_build_entry, todo, chunksize=8):
                bar.update()
    bar.close()
