"""Nothing written earlier is reused unless it verifies: damaged cache entries, packs, converted
word vectors and functionals are built again (to the same bytes), and a damaged pack opened
directly is one clear error."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import FIXTURES, MINI_AUDIO, write_wav
from wise.config import FeatureConfig
from wise.corpora.iemocap import read_iemocap
from wise.errors import Skips, WiseError
from wise.features.cache import FeatureStore, build_features
from wise.features.words import load_word_vectors
from wise.fsutil import CHECKSUMS, check_checksums, write_checksums
from wise.prepare import prepare

CFG = FeatureConfig()


def flip(path: Path, at: int) -> None:
    """Invert one bit of the byte at `at` (negative: from the end)."""
    data = bytearray(path.read_bytes())
    data[at] ^= 0x10
    path.write_bytes(bytes(data))


def cut(path: Path, keep: int) -> None:
    with open(path, "r+b") as f:
        f.truncate(keep)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    """The IEMOCAP miniature's manifest and an undamaged cache of it, to copy from."""
    root = tmp_path_factory.mktemp("integrity")
    corpus = root / "iemocap_mini"
    shutil.copytree(FIXTURES / "iemocap_mini", corpus)
    for session, dialog, utt, seconds, sr, ch in MINI_AUDIO:
        write_wav(corpus / f"Session{session}/sentences/wav/{dialog}/{utt}.wav", seconds, sr, ch)
    manifest = root / "m.jsonl"
    prepare(read_iemocap(corpus, Skips()), manifest, Skips(), missing_alignment="skip",
            progress=False)
    s = build_features(manifest, root / "cache", CFG, Skips(), workers=1, progress=False)
    return {"manifest": manifest, "cache": root / "cache", "summary": s,
            "pack": snapshot(Path(s.pack))}


@pytest.fixture
def cache(built, tmp_path) -> Path:
    """A private copy of the undamaged cache (entry keys do not depend on where it is)."""
    shutil.copytree(built["cache"], tmp_path / "cache")
    return tmp_path / "cache"


def rebuild(built, cache: Path) -> dict:
    return build_features(built["manifest"], cache, CFG, Skips(), workers=1, progress=False)


def pack_of(built, cache: Path) -> Path:
    return cache / "packs" / Path(built["summary"].pack).name


def test_a_truncated_pack_array_is_rebuilt_to_the_same_bytes(built, cache):
    frames = pack_of(built, cache) / "frames.npy"
    cut(frames, 20000)                      # a full disk or an interrupted copy
    s = rebuild(built, cache)
    assert "frames.npy is 20000 bytes" in s.pack_damaged
    assert (s.built, s.reused, s.rebuilt_damaged) == (0, s.utterances, 0)
    assert snapshot(Path(s.pack)) == built["pack"]
    again = rebuild(built, cache)
    assert again.pack_damaged == ""      # now sound: reused, not rebuilt every time


@pytest.mark.parametrize("name", ["offsets.npy", "word_vectors.npy", "index.json",
                                  CHECKSUMS])
def test_a_changed_byte_anywhere_in_the_pack_is_found(built, cache, name):
    flip(pack_of(built, cache) / name, -3)
    s = rebuild(built, cache)
    assert s.pack_damaged
    assert snapshot(Path(s.pack)) == built["pack"]


def test_a_pack_without_checksums_is_built_again_once(built, cache):
    (pack_of(built, cache) / CHECKSUMS).unlink()       # as written before there were any
    s = rebuild(built, cache)
    assert s.pack_damaged.startswith(f"no {CHECKSUMS}")
    assert snapshot(Path(s.pack)) == built["pack"]


def test_damaged_entries_are_computed_again(built, cache):
    entries = sorted((cache / "entries").rglob("*.npz"))
    cut(entries[0], entries[0].stat().st_size // 2)
    flip(entries[1], 200)                   # inside the first member's data: its CRC-32 fails
    entries[2].write_bytes(b"")
    shutil.rmtree(pack_of(built, cache))    # entries are read when a pack is built
    s = rebuild(built, cache)
    assert (s.rebuilt_damaged, s.built) == (3, 3)
    assert s.reused == s.utterances - 3
    assert snapshot(Path(s.pack)) == built["pack"]


def test_a_damaged_pack_opened_directly_is_one_clear_error(built, cache):
    pack = pack_of(built, cache)
    cut(pack / "word_oov.npy", 100)
    with pytest.raises(WiseError, match=r"word_oov\.npy is 100 bytes.*run `wise features`"):
        FeatureStore(pack)
    (pack / CHECKSUMS).unlink()             # no sizes to compare: the shapes still disagree
    with pytest.raises(WiseError, match="feature pack damaged"):
        FeatureStore(pack)


def test_checksums_name_the_problem(tmp_path):
    (tmp_path / "a").write_bytes(b"abcdef")
    assert check_checksums(tmp_path).startswith(f"no {CHECKSUMS}")
    write_checksums(tmp_path, ["a"])
    assert check_checksums(tmp_path, ["a"]) is None
    assert check_checksums(tmp_path, ["a", "b"]) == f"{CHECKSUMS} does not list b"
    (tmp_path / "a").write_bytes(b"abcdeF")
    assert check_checksums(tmp_path, full=False) is None    # same size: only a hash finds it
    assert "SHA-256 differs" in check_checksums(tmp_path)
    (tmp_path / "a").write_bytes(b"abc")
    assert check_checksums(tmp_path, full=False) == "a is 3 bytes, 6 were written (cut short)"
    (tmp_path / "a").unlink()
    assert check_checksums(tmp_path) == "a is missing"
    (tmp_path / CHECKSUMS).write_text('{"sha256": [1, 2')
    assert check_checksums(tmp_path) == f"{CHECKSUMS} is damaged"


@pytest.mark.parametrize("fault", ["cut", "flip", "record"])
def test_a_damaged_word_vector_cache_is_converted_again(tmp_path, fault):
    glove = tmp_path / "tiny.txt"
    glove.write_text("hello 1 2 3\nworld 4 5 6\nthe 7 8 9\n")
    want = np.array(load_word_vectors(str(glove), tmp_path / "vectors").vectors)
    (entry,) = (tmp_path / "vectors").iterdir()
    if fault == "cut":
        cut(entry / "vectors.npy", 140)
    elif fault == "flip":
        flip(entry / "vectors.npy", -2)
    else:
        (entry / CHECKSUMS).unlink()
    again = load_word_vectors(str(glove), tmp_path / "vectors")
    assert again.damaged
    np.testing.assert_array_equal(np.asarray(again.vectors), want)
    assert load_word_vectors(str(glove), tmp_path / "vectors").damaged == ""


def test_damaged_functionals_are_computed_again(tmp_path):
    from wise.features.functionals import build_functionals

    clips = sorted((Path(__file__).resolve().parents[1] / "fixtures" / "ravdess")
                   .rglob("*.flac"))[:2]
    audio = [str(c) for c in clips]
    a = build_functionals(audio, tmp_path, 16000, workers=1, progress=False)
    want = np.load(a.path)
    flip(Path(a.path), -5)               # the matrix: rebuilt from its entries
    entry = sorted((tmp_path / "functionals" / "entries").rglob("*.npz"))[0]
    cut(entry, entry.stat().st_size - 30)   # an entry: computed again
    b = build_functionals(audio, tmp_path, 16000, workers=1, progress=False)
    assert (b.built, b.reused, b.rebuilt_damaged) == (1, 1, 1)
    np.testing.assert_array_equal(np.load(b.path), want)
    record = json.loads((tmp_path / "functionals" / f"{Path(a.path).stem}.checksums.json")
                        .read_text())
    assert list(record["sha256"]) == [Path(a.path).name]


def test_a_transcript_line_that_changed_is_redone(tmp_path):
    from wise.asr_study import LINE_CHECK, _line_check, _read_done

    rows = [{"id": f"u{i}", "asr": "whisper", "text": f"hello {i}"} for i in range(3)]
    lines = [json.dumps({**r, LINE_CHECK: _line_check(r)}) for r in rows]
    lines[1] = lines[1].replace("hello 1", "jello 1")       # parses, but is not what was written
    lines.append('{"id": "u3", "asr": "whis')                # cut short by a kill
    lines.append("[1, 2]")                                   # not a row at all
    lines.append(json.dumps({"id": "u4", "asr": "whisper"}))  # no checksum
    lines.append(json.dumps({"id": "u5", LINE_CHECK: _line_check({"id": "u5"})}))  # no "asr"
    (tmp_path / "t.jsonl").write_text("\n".join(lines) + "\n")
    done = _read_done(tmp_path / "t.jsonl", "whisper")
    assert sorted(done) == ["u0", "u2"] and done["u0"] == rows[0]
