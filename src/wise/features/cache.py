"""manifest -> features cache: everything the models eat, computed once, memory-mapped.

Two layers, so that a changed file or config rebuilds only what changed and an interrupted
build resumes:

1. Entries, one file per utterance: `entries/<key[:2]>/<key>.npz` holding its MFCC frames and
   its hierarchy (see `hierarchy.py`). The key hashes the audio feature config (every
   `FeatureConfig` field but the word vectors), the audio file's identity (resolved path,
   size, modification time) and the alignment. An entry is written to a temp file and renamed,
   so a killed build leaves no half-written entry; the next build redoes only missing keys.
   Entries are built in parallel worker processes, one utterance in memory per worker, or
   as Ray tasks on a cluster (`ray=`; see `wise.cluster`).
2. A pack per (set of entry keys, word vectors): `packs/<key>/`, the same data as flat arrays
   plus offsets, each a `.npy` opened with `mmap_mode="r"`, so reading a batch touches only
   its own rows:
       frames.npy        (F, 39)  float32   all utterances' MFCC frames, back to back (39 + 25
                                            with `prosody: egemaps`)
       phone_frames.npy  (P, 2)   int32     [f0, f1) per phone, relative to its utterance
       word_phones.npy   (N, 2)   int32     [p0, p1) per word, relative to its utterance
       word_frames.npy   (N, 2)   int32     [f0, f1) per word, relative to its utterance
       word_vectors.npy  (N, D)   float32   one text vector per word
       word_oov.npy      (N,)     bool      True where the word has no vector (zeros)
       offsets.npy       (U+1, 3) int64     start row of utterance u in frames/phones/words
       functionals.npy   (U, 88)  float32   utterance functionals, with `functionals: egemaps`
       index.json        ids, tokens, word-vector identity, feature config
       checksums.json    every file's size and SHA-256 (`wise.fsutil.write_checksums`)
   The pack is written into a temp folder and renamed into place as a whole.

Nothing is reused unverified. A pack is reused only when every file still has the size and
SHA-256 its checksums.json recorded (a pack without one is built again once); otherwise it is
discarded and rebuilt from its entries. An entry is checked when a pack is built from it:
every member of the .npz is read in full, so zipfile compares it with the CRC-32 np.savez
recorded, and the shapes must agree with the config; a damaged entry is computed again.
`FeatureStore`, opened by every training process, compares sizes only: the full hash was
checked by `build_features` at the start of the run.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from wise.audio import load_audio
from wise.cluster import check_shared, imap
from wise.config import ENCODER_DIMS, N_EGEMAPS_LLD, FeatureConfig
from wise.errors import Skips, WiseError
from wise.features.encoder import dim as encoder_dim
from wise.features.encoder import identity as encoder_identity
from wise.features.hierarchy import build_hierarchy
from wise.features.prosody import Prosody, frame_features, utterance_functionals
from wise.features.words import load_word_vectors, oov_report
from wise.fsutil import (
    CHECKSUMS,
    atomic_dir,
    atomic_file,
    check_checksums,
    discard_dir,
    reserve,
    write_checksums,
)
from wise.progress import progress_bar
from wise.utterance import Utterance, read_manifest

PACK_ARRAYS = ("frames", "phone_frames", "word_phones", "word_frames", "word_vectors",
               "word_oov", "offsets")


def audio_key(cfg: FeatureConfig) -> dict:
    """The config fields an entry depends on (word vectors live in the pack, not the entry)."""
    d = cfg.key_fields()
    del d["word_vectors"]
    if cfg.is_encoder:                  # which model, not only its name or folder
        d["encoder"] = encoder_identity(cfg.frames)
    return d


def entry_key(u: Utterance, cfg: FeatureConfig) -> str:
    path = Path(u.audio).resolve()
    st = path.stat()
    blob = json.dumps({
        "cfg": audio_key(cfg), "audio": str(path), "size": st.st_size, "mtime": st.st_mtime_ns,
        "words": [(w.token, w.start, w.end) for w in u.words or []],
        "phones": [(p.token, p.start, p.end) for p in u.phones or []],
    }, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:24]


@dataclass
class _Task:
    key: str
    path: str
    utt: Utterance
    cfg: FeatureConfig


_worker_prosody: dict[str, Prosody] = {}


def _prosody(cfg: FeatureConfig) -> Prosody | None:
    """This process's openSMILE extractors for `cfg` (None when it asks for none)."""
    if cfg.prosody == "none" and cfg.functionals == "none":
        return None
    if cfg.key() not in _worker_prosody:
        _worker_prosody[cfg.key()] = Prosody(cfg)
    return _worker_prosody[cfg.key()]


def _build_entry(task: _Task) -> tuple[str, str | None, dict]:
    """Worker: compute one utterance's entry and write it atomically. Returns
    (key, error message or None, small stats); never the arrays themselves."""
    u, cfg = task.utt, task.cfg
    try:
        x = load_audio(u.audio, cfg.sample_rate)
    except WiseError as e:
        return task.key, e.message, {}
    prosody = _prosody(cfg)
    feats = frame_features(x, cfg, prosody)                              # (T, frame_dim)
    h = build_hierarchy(u.words or [], u.phones, len(feats), cfg)
    if not h.word_tokens:
        return task.key, "no word inside the audio", {}
    extra = ({"functionals": utterance_functionals(x, feats, cfg, prosody)}
             if cfg.n_functionals else {})
    with atomic_file(task.path) as tmp, open(tmp, "wb") as f:
        np.savez(f, frames=feats, phone_frames=h.phone_frames, word_phones=h.word_phones,
                 word_frames=h.word_frames, word_tokens=np.array(h.word_tokens, dtype=str),
                 phone_tokens=np.array(h.phone_tokens, dtype=str),
                 events=np.array(json.dumps(dict(h.events))), **extra)
    return task.key, None, {"seconds": len(x) / cfg.sample_rate}


def _entry_path(root: Path, key: str) -> Path:
    return root / "entries" / key[:2] / f"{key}.npz"


def cache_dir(manifest: str | Path, cache: str | Path | None) -> Path:
    """The feature cache folder: `cache`, or wise-cache/ beside the manifest."""
    return Path(cache) if cache else Path(manifest).parent / "wise-cache"


@dataclass(frozen=True)
class FeatureBuild:
    """What `build_features` hands on: the pack's folder (open it with `FeatureStore`), and
    what was built, reused, repaired and skipped, with the pack's own counts."""

    pack: str                   # the pack's folder
    utterances: int             # rows in the pack
    built: int                  # entries computed now (damaged ones included)
    reused: int                 # entries found in the cache
    rebuilt_damaged: int        # entries found damaged and computed again
    pack_damaged: str           # why an earlier pack was discarded ("": none was)
    vectors_damaged: str        # why the word-vector cache was rebuilt ("": it was not)
    skipped: int
    skipped_by_reason: dict[str, int]
    seconds: float
    real_time_factor: float | None    # seconds of work per second of audio
    audio_seconds: float        # the pack's, from here on
    frames: int
    phones: int
    words: int
    word_vectors: str           # the word vectors' identity (`WordVectors.name`)
    word_dim: int
    oov: dict                   # `oov_report`: tokens without a vector
    hierarchy_events: dict[str, int]  # what the hierarchy's caps cut, counted
    cache_bytes: int

    def to_dict(self) -> dict:
        return asdict(self)


def build_features(manifest: str | Path, cache_root: str | Path, cfg: FeatureConfig,
                   skips: Skips, *, workers: int | None = None, progress: bool = True,
                   ray: str | None = None) -> FeatureBuild:
    """Build (or reuse) every entry of `manifest` and the pack over them; count skipped rows in
    `skips`."""
    t0 = time.perf_counter()
    root = Path(cache_root)
    rows = list(read_manifest(manifest))
    if not rows:
        raise WiseError(manifest, "manifest has no rows")
    if cfg.is_encoder:                  # a missing or damaged model: one line, before any work
        encoder_dim(cfg.frames)
    keyed: list[tuple[Utterance, str]] = []
    for u in rows:
        if not u.words:
            skips.add("row has no word alignment (run `wise prepare` first)", u.id)
            continue
        try:
            keyed.append((u, entry_key(u, cfg)))
        except OSError:
            skips.add("no audio file", u.id)
    todo = [_Task(k, str(_entry_path(root, k)), u, cfg) for u, k in keyed
            if not _entry_path(root, k).is_file()]
    if ray is not None and todo:
        root.mkdir(parents=True, exist_ok=True)
        check_shared(ray, [manifest, root, *{Path(t.utt.audio).parent for t in todo}])
    failed = _run_tasks(todo, workers, progress, skips, ray)
    vectors = load_word_vectors(cfg.word_vectors, root / "vectors")
    damaged: list[str] = []            # entries found damaged and computed again
    pack_damaged = ""                  # why an earlier pack was discarded
    while True:
        ok = [(u, k) for u, k in keyed if k not in failed]
        if not ok:
            raise WiseError(manifest, "no utterance could be featurised (see the reasons above)")
        pack_dir = root / "packs" / _pack_key(ok, cfg, vectors.name)
        pack_damaged = _discard_if_damaged(pack_dir, cfg) or pack_damaged
        if pack_dir.is_dir():
            index = json.loads((pack_dir / "index.json").read_text())
            pack_stats = {**index["stats"], "cache_bytes": _dir_bytes(pack_dir)}
            break
        sizes, bad = _entry_sizes(root, ok, cfg)
        if not bad:
            pack_stats = _pack(pack_dir, root, ok, sizes, cfg, vectors, progress)
            break
        again = [k for k in bad if k in damaged]
        if again:
            raise WiseError(_entry_path(root, again[0]), "feature cache entry unreadable right "
                                                         "after it was written: is the disk full "
                                                         "or failing?")
        damaged += bad
        for k in bad:
            _entry_path(root, k).unlink(missing_ok=True)
        redo = {k: u for u, k in ok if k in bad}
        failed |= _run_tasks([_Task(k, str(_entry_path(root, k)), u, cfg)
                              for k, u in redo.items()], workers, progress, skips, ray)
    seconds = time.perf_counter() - t0
    audio_s = pack_stats["audio_seconds"]
    return FeatureBuild(
        pack=str(pack_dir), utterances=len(ok),
        built=len({t.key for t in todo} - failed) + len(set(damaged) - failed),
        reused=len(keyed) - len(todo) - len(damaged), rebuilt_damaged=len(damaged),
        pack_damaged=pack_damaged, vectors_damaged=vectors.damaged, skipped=skips.total(),
        skipped_by_reason=skips.as_dict(), seconds=round(seconds, 2),
        real_time_factor=round(seconds / audio_s, 5) if audio_s else None, **pack_stats)


def damage_lines(build: FeatureBuild) -> list[str]:
    """What `build_features` found damaged and built again, one line each (none: nothing)."""
    lines = []
    if build.rebuilt_damaged:
        lines.append(f"rebuilt (damaged): {build.rebuilt_damaged} cache entries")
    if build.pack_damaged:
        lines.append(f"rebuilt (damaged): the feature pack, whose earlier copy failed its "
                     f"check: {build.pack_damaged}")
    if build.vectors_damaged:
        lines.append(f"rebuilt (damaged): the word-vector cache, which failed its check: "
                     f"{build.vectors_damaged}")
    return lines


def _run_tasks(todo: list[_Task], workers: int | None, progress: bool,
               skips: Skips, ray: str | None = None) -> set[str]:
    failed: set[str] = set()
    if not todo:
        return failed
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo)))
    bar = progress_bar(total=len(todo), desc="features", unit="utt", disable=not progress)
    by_key = {t.key: t.utt.id for t in todo}

    def record(result: tuple[str, str | None, dict]) -> None:
        key, err, _ = result
        if err is not None:
            failed.add(key)
            skips.add("audio could not be featurised", f"{by_key[key]}: {err}")
        bar.update()

    # One BLAS thread per process: the MFCC's matrix products are small, and a multi-threaded
    # BLAS spends more time synchronising than computing on them (3x slower, measured).
    if workers == 1 and ray is None:
        with threadpool_limits(1):
            for t in todo:
                record(_build_entry(t))
    else:
        for _, result in imap(_build_entry, todo, workers=workers, ray=ray,
                              initializer=_one_blas_thread, chunksize=8, name="features"):
            record(result)
    bar.close()
    return failed


def _one_blas_thread() -> None:
    threadpool_limits(1)


def _pack_key(ok: list[tuple[Utterance, str]], cfg: FeatureConfig, vectors_name: str) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({"cfg": cfg.key_fields(), "vectors": vectors_name},
                        sort_keys=True).encode())
    for u, k in ok:
        h.update(f"{u.id}\t{k}\t{' '.join(w.token for w in u.words or [])}\n".encode())
    return h.hexdigest()[:24]


def _pack_files(cfg: FeatureConfig) -> list[str]:
    """The files a pack for `cfg` holds (besides checksums.json)."""
    arrays = [*PACK_ARRAYS, *(["functionals"] if cfg.n_functionals else [])]
    return [*(f"{a}.npy" for a in arrays), "index.json"]


def _discard_if_damaged(pack_dir: Path, cfg: FeatureConfig) -> str:
    """Why the pack at `pack_dir` cannot be reused (it is then deleted), or "" when it is
    sound or absent."""
    if not pack_dir.is_dir():
        return ""
    problem = check_checksums(pack_dir, _pack_files(cfg))
    if problem is None:
        return ""
    discard_dir(pack_dir)
    return problem


def _entry_sizes(root: Path, ok: list[tuple[Utterance, str]],
                 cfg: FeatureConfig) -> tuple[np.ndarray, list[str]]:
    """(U, 3) frames, phones and words of each entry, and the keys of damaged entries."""
    sizes = np.zeros((len(ok), 3), np.int64)
    bad: list[str] = []
    for i, (_, k) in enumerate(ok):
        n = _entry_size(_entry_path(root, k), cfg)
        if n is None:
            bad.append(k)
        else:
            sizes[i] = n
    return sizes, bad


def _entry_size(path: Path, cfg: FeatureConfig) -> tuple[int, int, int] | None:
    """An entry's (frames, phones, words), or None when it is damaged. Every member is read in
    full, which makes zipfile check it against the CRC-32 np.savez recorded."""
    try:
        with np.load(path) as z:
            a = {name: z[name] for name in z.files}
    except Exception:  # noqa: BLE001 - whatever cannot be read is damaged, and built again
        return None
    try:
        n_f, n_p, n_w = len(a["frames"]), len(a["phone_frames"]), len(a["word_phones"])
        shapes = {"frames": (n_f, cfg.frame_dim), "phone_frames": (n_p, 2),
                  "word_phones": (n_w, 2), "word_frames": (n_w, 2), "word_tokens": (n_w,),
                  "phone_tokens": (n_p,), "events": ()}
        if cfg.n_functionals:
            shapes["functionals"] = (cfg.n_functionals,)
        if any(a[name].shape != shape for name, shape in shapes.items()):
            return None
        json.loads(str(a["events"]))
    except (KeyError, TypeError, ValueError):
        return None
    return n_f, n_p, n_w


def _pack(final: Path, root: Path, ok: list[tuple[Utterance, str]], sizes: np.ndarray,
          cfg: FeatureConfig, vectors, progress: bool) -> dict:
    """Write the pack of entries `ok` (of `sizes` frames, phones, words) into `final`."""
    offsets = np.zeros((len(ok) + 1, 3), np.int64)
    np.cumsum(sizes, axis=0, out=offsets[1:])
    n_f, n_p, n_w = offsets[-1]
    with atomic_dir(final) as tmp:
        out = {
            "frames": _open(tmp, "frames", (n_f, cfg.frame_dim), np.float32),
            "phone_frames": _open(tmp, "phone_frames", (n_p, 2), np.int32),
            "word_phones": _open(tmp, "word_phones", (n_w, 2), np.int32),
            "word_frames": _open(tmp, "word_frames", (n_w, 2), np.int32),
            "word_vectors": _open(tmp, "word_vectors", (n_w, vectors.dim), np.float32),
            "word_oov": _open(tmp, "word_oov", (n_w,), np.bool_),
        }
        if cfg.n_functionals:
            out["functionals"] = _open(tmp, "functionals", (len(ok), cfg.n_functionals),
                                       np.float32)
        words: list[list[str]] = []
        phones: list[list[str]] = []
        events: Counter = Counter()
        packing = progress_bar(ok, desc="packing", unit="utt", disable=not progress)
        for i, (_, k) in enumerate(packing):
            f0, p0, w0 = offsets[i]
            f1, p1, w1 = offsets[i + 1]
            with np.load(_entry_path(root, k)) as z:
                out["frames"][f0:f1] = z["frames"]
                out["phone_frames"][p0:p1] = z["phone_frames"]
                out["word_phones"][w0:w1] = z["word_phones"]
                out["word_frames"][w0:w1] = z["word_frames"]
                words.append(z["word_tokens"].tolist())
                phones.append(z["phone_tokens"].tolist())
                events.update(json.loads(str(z["events"])))
                if cfg.n_functionals:
                    out["functionals"][i] = z["functionals"]
            vec, oov = vectors.encode(words[-1])
            out["word_vectors"][w0:w1] = vec
            out["word_oov"][w0:w1] = oov
        for arr in out.values():
            arr.flush()
        del out
        np.save(tmp / "offsets.npy", offsets)
        audio_s = float(n_f * cfg.frame_hop_s)
        stats = {
            "audio_seconds": round(audio_s, 2),
            "frames": int(n_f), "phones": int(n_p), "words": int(n_w),
            "word_vectors": vectors.name, "word_dim": int(vectors.dim),
            "oov": oov_report(words, vectors),
            "hierarchy_events": dict(sorted(events.items())),
        }
        index = {"ids": [u.id for u, _ in ok], "entry_keys": [k for _, k in ok],
                 "word_tokens": words, "phone_tokens": phones, "config": asdict(cfg),
                 "stats": stats}
        (tmp / "index.json").write_text(json.dumps(index))
        write_checksums(tmp, _pack_files(cfg))
    stats["cache_bytes"] = _dir_bytes(final)
    return stats


def _open(folder: Path, name: str, shape: tuple, dtype) -> np.memmap:
    path = folder / f"{name}.npy"
    array = np.lib.format.open_memmap(path, mode="w+", dtype=dtype,
                                      shape=tuple(int(s) for s in shape))
    reserve(path)          # a full disk: ENOSPC here, not SIGBUS at a write into the map
    return array


def _dir_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


@dataclass
class UtteranceFeatures:
    id: str
    frames: np.ndarray        # (T, 39)
    phone_frames: np.ndarray  # (P, 2) [f0, f1) into frames
    word_phones: np.ndarray   # (N, 2) [p0, p1) into phone_frames
    word_frames: np.ndarray   # (N, 2) [f0, f1) into frames
    word_vectors: np.ndarray  # (N, D)
    word_oov: np.ndarray      # (N,)
    words: list[str]
    phones: list[str]
    functionals: np.ndarray | None = None   # (K,) utterance functionals, when configured


class FeatureStore:
    """Read side of a pack: memory-mapped arrays, one utterance's views at a time."""

    def __init__(self, pack_dir: str | Path):
        self.dir = Path(pack_dir)
        index_file = self.dir / "index.json"
        if not index_file.is_file():
            raise WiseError(self.dir, "not a feature pack (no index.json): run `wise features`")
        # Sizes against the pack's checksums (when it has them: a pack made by other means,
        # as the benchmarks do, has none), then the arrays' shapes against each other: a cheap
        # check for every process that opens it; `build_features` checked the hashes.
        problem = (check_checksums(self.dir, full=False)
                   if (self.dir / CHECKSUMS).is_file() else None)
        try:
            if problem is None:
                self.index = json.loads(index_file.read_text())
                self.ids: list[str] = self.index["ids"]
                self.config = FeatureConfig(**self.index["config"])
                if self.config.is_encoder and self.config.frames not in ENCODER_DIMS:
                    # A folder's width: the pack's own, without loading the model.
                    width = np.load(self.dir / "frames.npy", mmap_mode="r").shape[1]
                    lld = N_EGEMAPS_LLD if self.config.prosody == "egemaps" else 0
                    layers = max(len(self.config.encoder_layers), 1)
                    ENCODER_DIMS[self.config.frames] = (width - lld) // layers
                names = [*PACK_ARRAYS, *(["functionals"] if self.config.n_functionals else [])]
                self.arrays = {name: np.load(self.dir / f"{name}.npy", mmap_mode="r")
                               for name in names}
                problem = self._shape_problem()
        except Exception as e:  # noqa: BLE001 - any failure to open a pack means damage
            problem = f"it cannot be read ({str(e).splitlines()[0][:120] if str(e) else e!r})"
        if problem:
            raise WiseError(self.dir, f"feature pack damaged: {problem}; run `wise features` "
                                      "again to rebuild it")
        self.position = {u: i for i, u in enumerate(self.ids)}

    def _shape_problem(self) -> str | None:
        a, n = self.arrays, len(self.ids)
        o = a["offsets"]
        if o.shape != (n + 1, 3) or (o[0] != 0).any() or (np.diff(o, axis=0) < 0).any():
            return "offsets.npy does not match index.json"
        n_f, n_p, n_w = (int(x) for x in o[-1])
        want = {"frames": (n_f, self.config.frame_dim), "phone_frames": (n_p, 2),
                "word_phones": (n_w, 2), "word_frames": (n_w, 2), "word_oov": (n_w,),
                "word_vectors": (n_w, a["word_vectors"].shape[-1])}
        if self.config.n_functionals:
            want["functionals"] = (n, self.config.n_functionals)
        bad = [name for name, shape in want.items() if a[name].shape != shape]
        return f"{bad[0]}.npy has the wrong shape" if bad else None

    def __len__(self) -> int:
        return len(self.ids)

    def n_words(self, i: int) -> int:
        o = self.arrays["offsets"]
        return int(o[i + 1, 2] - o[i, 2])

    @property
    def frame_dim(self) -> int:
        return int(self.arrays["frames"].shape[1])

    @property
    def text_dim(self) -> int:
        return int(self.arrays["word_vectors"].shape[1])

    @property
    def n_functionals(self) -> int:
        return self.config.n_functionals

    def __getitem__(self, i: int) -> UtteranceFeatures:
        a, o = self.arrays, self.arrays["offsets"]
        (f0, p0, w0), (f1, p1, w1) = o[i], o[i + 1]
        return UtteranceFeatures(
            id=self.ids[i], frames=a["frames"][f0:f1], phone_frames=a["phone_frames"][p0:p1],
            word_phones=a["word_phones"][w0:w1], word_frames=a["word_frames"][w0:w1],
            word_vectors=a["word_vectors"][w0:w1], word_oov=a["word_oov"][w0:w1],
            words=self.index["word_tokens"][i], phones=self.index["phone_tokens"][i],
            functionals=a["functionals"][i] if "functionals" in a else None)

    def by_id(self, utt_id: str) -> UtteranceFeatures:
        return self[self.position[utt_id]]
