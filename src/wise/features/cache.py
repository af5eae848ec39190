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
   The pack is written into a temp folder and renamed into place as a whole.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from wise.audio import load_audio
from wise.cluster import check_shared, imap
from wise.config import FeatureConfig
from wise.errors import Skips, WiseError
from wise.features.hierarchy import build_hierarchy
from wise.features.prosody import Prosody, frame_features
from wise.features.words import load_word_vectors, oov_report
from wise.fsutil import atomic_file, new_temp_dir, publish_dir
from wise.progress import progress_bar
from wise.utterance import Utterance, read_manifest

PACK_ARRAYS = ("frames", "phone_frames", "word_phones", "word_frames", "word_vectors",
               "word_oov", "offsets")


def audio_key(cfg: FeatureConfig) -> dict:
    """The config fields an entry depends on (word vectors live in the pack, not the entry)."""
    d = cfg.key_fields()
    del d["word_vectors"]
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
    extra = {"functionals": prosody.functionals(x)} if cfg.n_functionals else {}
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


def build_features(manifest: str | Path, cache_root: str | Path, cfg: FeatureConfig,
                   skips: Skips, *, workers: int | None = None, progress: bool = True,
                   ray: str | None = None) -> dict:
    """Build (or reuse) every entry of `manifest` and the pack over them; count skipped rows in
    `skips`; return a summary with the pack's folder under "pack"."""
    t0 = time.perf_counter()
    root = Path(cache_root)
    rows = list(read_manifest(manifest))
    if not rows:
        raise WiseError(manifest, "manifest has no rows")
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
    ok = [(u, k) for u, k in keyed if k not in failed]
    if not ok:
        raise WiseError(manifest, "no utterance could be featurised (see the reasons above)")
    vectors = load_word_vectors(cfg.word_vectors, root / "vectors")
    pack_dir, pack_stats = _pack(root, ok, cfg, vectors, progress)
    seconds = time.perf_counter() - t0
    audio_s = pack_stats["audio_seconds"]
    return {
        "pack": str(pack_dir),
        "utterances": len(ok),
        "built": len(todo) - len(failed),
        "reused": len(keyed) - len(todo),
        "skipped": skips.total(),
        "skipped_by_reason": skips.as_dict(),
        "seconds": round(seconds, 2),
        "real_time_factor": round(seconds / audio_s, 5) if audio_s else None,
        **pack_stats,
    }


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


def _pack(root: Path, ok: list[tuple[Utterance, str]], cfg: FeatureConfig, vectors,
          progress: bool) -> tuple[Path, dict]:
    key = _pack_key(ok, cfg, vectors.name)
    final = root / "packs" / key
    if (final / "index.json").is_file():
        stats = json.loads((final / "index.json").read_text())["stats"]
        return final, {**stats, "cache_bytes": _dir_bytes(final)}
    # First pass: sizes only (npz members load lazily), so the arrays can be preallocated.
    sizes = np.zeros((len(ok), 3), np.int64)
    for i, (_, k) in enumerate(ok):
        with np.load(_entry_path(root, k)) as z:
            sizes[i] = (z["frames"].shape[0], z["phone_frames"].shape[0],
                        z["word_phones"].shape[0])
    offsets = np.zeros((len(ok) + 1, 3), np.int64)
    np.cumsum(sizes, axis=0, out=offsets[1:])
    n_f, n_p, n_w = offsets[-1]
    tmp = new_temp_dir(root / "packs", key)
    try:
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
        audio_s = float(n_f * cfg.hop_length / cfg.sample_rate)
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
        publish_dir(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    stats["cache_bytes"] = _dir_bytes(final)
    return final, stats


def _open(folder: Path, name: str, shape: tuple, dtype) -> np.memmap:
    return np.lib.format.open_memmap(folder / f"{name}.npy", mode="w+", dtype=dtype,
                                     shape=tuple(int(s) for s in shape))


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
        self.index = json.loads(index_file.read_text())
        self.ids: list[str] = self.index["ids"]
        self.position = {u: i for i, u in enumerate(self.ids)}
        self.config = FeatureConfig(**self.index["config"])
        self.arrays = {name: np.load(self.dir / f"{name}.npy", mmap_mode="r")
                       for name in PACK_ARRAYS}
        if self.config.n_functionals:
            self.arrays["functionals"] = np.load(self.dir / "functionals.npy", mmap_mode="r")

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
