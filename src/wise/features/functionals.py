"""Utterance functionals from openSMILE for the classic baseline (`egemaps_svm`), cached.

One vector per utterance: openSMILE's eGeMAPSv02 functionals (Eyben et al., IEEE TAC 2016),
88 statistics over the whole utterance of pitch, loudness, jitter, shimmer, HNR, formants,
spectral balance and MFCC 1-4, computed by `opensmile.Smile` on the audio as
`wise.audio.load_audio` returns it (16 kHz mono float32). About 0.05 s per 3-s clip on one core.

openSMILE is under audEERING's research licence (non-commercial use), so it is an optional extra
(`pip install "wise-ser[opensmile]"`) and is imported only here, only when asked for.

Cache, under the feature cache folder, two layers like `wise.features.cache`:
    functionals/entries/<k[:2]>/<k>.npz   (88,) float32, one per utterance; the key hashes the
                                          feature set, the openSMILE version, the sample rate
                                          and the audio file's resolved path, size and mtime
    functionals/<rows key>.npy            (U, 88) float32, the rows of one list of entries in
                                          order (what a cross-validation reads)
    functionals/<rows key>.checksums.json its size and SHA-256 (`wise.fsutil.write_checksums`)
Every file is written under a temporary name and renamed, so an interrupted build resumes with
the entries it has. Nothing is reused unverified: the matrix only while it matches its
checksums, an entry only when it reads back whole (an .npz, so zipfile checks the CRC-32 each
member was written with; entries were .npy, with no checksum, before, and are computed again
once). A damaged file is computed again. A clip too short for openSMILE (under ~0.1 s)
gives a row of NaN: the classifier treats it as missing and fills it with the training rows'
mean.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from wise.audio import load_audio
from wise.cluster import imap
from wise.errors import WiseError
from wise.fsutil import atomic_file, check_checksums, write_checksums
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
        np.savez(f, functionals=functionals(x, task.sample_rate, _worker_smile))
    return None


def _read_entry(path: Path) -> np.ndarray | None:
    """An entry's (88,) functionals, or None when it is damaged (reading the member in full
    checks its CRC-32)."""
    try:
        with np.load(path) as z:
            x = z["functionals"]
    except Exception:  # noqa: BLE001 - whatever cannot be read is damaged, and built again
        return None
    return x if x.shape == (N_FUNCTIONALS,) and x.dtype == np.float32 else None


@dataclass(frozen=True)
class FunctionalsBuild:
    """What `build_functionals` hands back: where the matrix is, and what it took."""

    path: str                   # the (len(audio), 88) float32 matrix, a .npy
    built: int                  # entries computed now, the damaged ones included
    reused: int
    rebuilt_damaged: int        # entries found damaged and computed again
    missing: int                # rows of NaN: too short or unreadable
    seconds: float


def build_functionals(audio: list[str], cache_root: str | Path, sample_rate: int, *,
                      workers: int | None = None, progress: bool = True) -> FunctionalsBuild:
    """The (len(audio), 88) functionals of these files, in this order, built where missing."""
    require_opensmile()
    t0 = time.perf_counter()
    root = Path(cache_root) / "functionals"
    keys = [entry_key(a, sample_rate) for a in audio]
    entry = {k: root / "entries" / k[:2] / f"{k}.npz" for k in keys}
    rows_key = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:24]
    matrix = root / f"{rows_key}.npy"
    record = f"{rows_key}.checksums.json"
    tasks = {k: _Task(a, str(entry[k]), sample_rate) for a, k in zip(audio, keys, strict=True)}
    todo = [t for k, t in tasks.items() if not entry[k].is_file()]
    damaged: list[str] = []
    if todo or check_checksums(root, [matrix.name], record=record) is not None:
        _run(todo, workers, progress)
        rows = {k: _read_entry(entry[k]) for k in tasks if entry[k].is_file()}
        damaged = [k for k, x in rows.items() if x is None]
        for k in damaged:
            entry[k].unlink()
        _run([tasks[k] for k in damaged], workers, progress)
        rows.update({k: _read_entry(entry[k]) for k in damaged if entry[k].is_file()})
        x = np.full((len(keys), N_FUNCTIONALS), np.nan, np.float32)
        for i, k in enumerate(keys):
            if rows.get(k) is None and entry[k].is_file():
                raise WiseError(entry[k], "functionals entry unreadable right after it was "
                                          "written: is the disk full or failing?")
            if rows.get(k) is not None:
                x[i] = rows[k]
        with atomic_file(matrix) as tmp, open(tmp, "wb") as f:
            np.save(f, x)
        write_checksums(root, [matrix.name], record=record)
    x = np.load(matrix, mmap_mode="r")
    return FunctionalsBuild(path=str(matrix), built=len(todo) + len(damaged),
                            reused=len(set(keys)) - len(todo) - len(damaged),
                            rebuilt_damaged=len(damaged),
                            missing=int(np.isnan(x).all(axis=1).sum()),
                            seconds=round(time.perf_counter() - t0, 2))


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
        # spawned, not forked: the caller may hold torch's thread pools (wise.cluster.imap).
        for _ in imap(_build_entry, todo, workers=workers, chunksize=8):
            bar.update()
    bar.close()
