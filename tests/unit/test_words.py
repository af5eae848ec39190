"""Word vectors: GloVe text conversion and reuse, lookup rules, OOV handling, packaged 6B-50d."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import wise.features.words as W
from wise.errors import WiseError
from wise.features.words import WordVectors, load_word_vectors, oov_report
from wise.text import tokenize

TINY = """\
the 0.1 0.2 0.3 0.4
The 1 1 1 1
happy 1 0 0 0
Paris 0 1 0 0
do 2 0 0 0
n't 0 2 0 0
ca 0 0 2 0
I 0 0 0 2
'm 4 4 4 4
we 1 2 3 4
'll 3 2 1 0
new york 0.5 0.5 0.5 0.5
the 9 9 9 9
"""


def vec(*v: float) -> np.ndarray:
    return np.array(v, dtype=np.float32)


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.4d.txt"
    path.write_text(TINY, encoding="utf-8")
    return path


@pytest.fixture
def wv(tiny: Path, tmp_path: Path) -> WordVectors:
    return load_word_vectors(str(tiny), tmp_path / "cache")


def test_conversion_reads_every_line(wv: WordVectors, tiny: Path):
    assert wv.dim == 4 and len(wv) == 12            # 13 rows, "the" duplicated
    assert wv.vectors.shape == (13, 4) and wv.vectors.dtype == np.float32
    assert wv.cased
    assert wv.name.startswith(f"glove:{tiny.name}:")
    np.testing.assert_array_equal(wv.lookup("the"), vec(0.1, 0.2, 0.3, 0.4))  # first one wins
    np.testing.assert_array_equal(wv.lookup("new york"), vec(0.5, 0.5, 0.5, 0.5))


def test_converted_once_then_memory_mapped(tiny: Path, tmp_path: Path, monkeypatch):
    cache = tmp_path / "cache"
    first = load_word_vectors(str(tiny), cache)
    (entry,) = [p for p in cache.iterdir()]
    stamp = (entry / "vectors.npy").stat().st_mtime_ns

    def no_reparse(*_a: object) -> None:
        raise AssertionError("the text file was parsed again")

    monkeypatch.setattr(W, "_convert_text_file", no_reparse)
    again = load_word_vectors(str(tiny), cache)
    assert isinstance(again.vectors, np.memmap)
    assert (entry / "vectors.npy").stat().st_mtime_ns == stamp
    assert again.name == first.name
    np.testing.assert_array_equal(np.asarray(again.vectors), np.asarray(first.vectors))
    assert [p.name for p in cache.iterdir()] == [entry.name]   # no temp dirs left behind


def test_edited_file_is_converted_again(tiny: Path, tmp_path: Path):
    cache = tmp_path / "cache"
    first = load_word_vectors(str(tiny), cache)
    tiny.write_text(TINY + "glad 1 0.1 0 0\n", encoding="utf-8")
    os.utime(tiny, ns=(1, 1))                      # a different mtime even on coarse clocks
    second = load_word_vectors(str(tiny), cache)
    assert second.name != first.name and second.lookup("glad") is not None


def test_casing_rules(wv: WordVectors):
    np.testing.assert_array_equal(wv.lookup("The"), vec(1, 1, 1, 1))      # exact first
    np.testing.assert_array_equal(wv.lookup("THE"), vec(0.1, 0.2, 0.3, 0.4))  # then lower-case
    np.testing.assert_array_equal(wv.lookup("paris"), vec(0, 1, 0, 0))    # then Capitalised
    np.testing.assert_array_equal(wv.lookup("i"), vec(0, 0, 0, 2))


def test_uncased_vocabulary_does_not_try_capitalised():
    table = WordVectors("t", np.eye(2, dtype=np.float32), {"Paris": 0, "x": 1}, cased=False)
    assert table.lookup("paris") is None


def test_contractions_split_ptb_style(wv: WordVectors):
    np.testing.assert_allclose(wv.lookup("don't"), vec(1, 1, 0, 0))       # do + n't
    np.testing.assert_allclose(wv.lookup("can't"), vec(0, 1, 1, 0))       # ca + n't
    np.testing.assert_allclose(wv.lookup("i'm"), vec(2, 2, 2, 3))         # I + 'm
    np.testing.assert_allclose(wv.lookup("we'll"), vec(2, 2, 2, 2))       # we + 'll
    np.testing.assert_allclose(wv.lookup("happy's"), vec(1, 0, 0, 0))     # 's unknown: stem only
    assert wv.lookup("xyzzy's") is None            # a lone clitic does not make a word known
    assert wv.lookup("o'clock") is None


def test_encode_marks_oov_with_zero_vectors(wv: WordVectors):
    tokens = tokenize("Happy, I DON'T like blorf!")
    assert tokens == ["happy", "i", "don't", "like", "blorf"]
    x, oov = wv.encode(tokens)
    assert x.shape == (5, 4) and x.dtype == np.float32
    assert oov.tolist() == [False, False, False, True, True]
    assert not x[oov].any() and np.abs(x[~oov]).sum(1).min() > 0
    empty, empty_oov = wv.encode([])
    assert empty.shape == (0, 4) and empty_oov.shape == (0,)


def test_oov_report(wv: WordVectors):
    rep = oov_report([["happy", "blorf", "blorf"], ["zot", "the"]], wv, top=5)
    assert rep["tokens"] == 5 and rep["types"] == 4
    assert rep["oov_tokens"] == 3 and rep["oov_types"] == 2
    assert rep["oov_rate"] == pytest.approx(0.6)
    assert rep["top_oov"] == [["blorf", 2], ["zot", 1]]
    assert rep["vectors"] == wv.name


def test_word2vec_header_line_is_skipped(tmp_path: Path):
    path = tmp_path / "w2v.txt"
    path.write_text("2 3\nhello 1 2 3\nworld 4 5 6\n", encoding="utf-8")
    table = load_word_vectors(str(path), tmp_path / "cache")
    assert table.dim == 3 and len(table) == 2


@pytest.mark.parametrize("text, line", [
    ("a 1 2 3\nb 1 2\nc 1 2 3\n", 2),       # too few values
    ("a 1 2 3\nb 1 x 3\nc 1 2 3\n", 2),     # not a number
    ("a 1 2 3\n\nc 1 2 zz\n", 3),           # blank lines are skipped, numbering is not
])
def test_malformed_file_names_the_line(tmp_path: Path, text: str, line: int):
    path = tmp_path / "bad.txt"
    path.write_text(text, encoding="utf-8")
    cache = tmp_path / "cache"
    with pytest.raises(WiseError) as err:
        load_word_vectors(str(path), cache)
    assert err.value.path == str(path) and err.value.message.startswith(f"line {line}:")
    assert list(cache.iterdir()) == []              # nothing half-written is left


def test_missing_file_is_named(tmp_path: Path):
    missing = tmp_path / "glove.840B.300d.txt"
    with pytest.raises(WiseError) as err:
        load_word_vectors(str(missing), tmp_path / "cache")
    assert err.value.path == str(missing)


# --- the packaged GloVe 6B 50-d vectors ---------------------------------------------------


@pytest.fixture(scope="module")
def glove(tmp_path_factory: pytest.TempPathFactory) -> WordVectors:
    return load_word_vectors("glove-6b-50d", tmp_path_factory.mktemp("wv"))


def test_packaged_vectors_know_common_words(glove: WordVectors):
    assert glove.name == "glove-6b-50d" and glove.dim == 50 and len(glove) == 400000
    assert isinstance(glove.vectors, np.memmap)
    for word in ("happy", "the", "sad", "angry", "don't", "i'm"):
        v = glove.lookup(word)
        assert v is not None and v.shape == (50,) and np.linalg.norm(v) > 0


def test_packaged_vectors_are_semantic(glove: WordVectors):
    def cos(a: str, b: str) -> float:
        x, y = glove.lookup(a), glove.lookup(b)
        return float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y)))

    assert cos("happy", "glad") > cos("happy", "table") + 0.1


def test_packaged_vocabulary_cache_is_reused(glove: WordVectors, tmp_path: Path, monkeypatch):
    import pyarrow.parquet as pq

    load_word_vectors("glove-6b-50d", tmp_path)

    def no_parquet(*_a: object, **_k: object) -> None:
        raise AssertionError("the parquet vocabulary was read again")

    monkeypatch.setattr(pq, "read_table", no_parquet)
    again = load_word_vectors("glove-6b-50d", tmp_path)
    np.testing.assert_array_equal(again.lookup("happy"), glove.lookup("happy"))
