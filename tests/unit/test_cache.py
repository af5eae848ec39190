import os

import numpy as np
import pytest

from wise.audio import load_audio
from wise.config import FeatureConfig
from wise.corpora.iemocap import read_iemocap
from wise.errors import Skips, WiseError
from wise.features.cache import FeatureStore, build_features
from wise.features.hierarchy import build_hierarchy
from wise.features.mfcc import mfcc
from wise.prepare import prepare
from wise.utterance import read_manifest

CFG = FeatureConfig()


@pytest.fixture
def manifest(iemocap_mini, tmp_path):
    out = tmp_path / "m.jsonl"
    prepare(read_iemocap(iemocap_mini, Skips()), out, Skips(), missing_alignment="skip",
            progress=False)
    return out


def _build(manifest, cache, cfg=CFG, workers=1):
    skips = Skips()
    s = build_features(manifest, cache, cfg, skips, workers=workers, progress=False)
    return s, skips


def test_pack_holds_exactly_what_the_pieces_compute(manifest, tmp_path):
    s, skips = _build(manifest, tmp_path / "cache")
    assert skips.total() == 0
    store = FeatureStore(s.pack)
    rows = {u.id: u for u in read_manifest(manifest)}
    assert sorted(store.ids) == sorted(rows)
    for uid in store.ids:
        u, f = rows[uid], store.by_id(uid)
        frames = mfcc(load_audio(u.audio), CFG)
        h = build_hierarchy(u.words, u.phones, len(frames), CFG)
        np.testing.assert_array_equal(f.frames, frames)
        np.testing.assert_array_equal(f.phone_frames, h.phone_frames)
        np.testing.assert_array_equal(f.word_phones, h.word_phones)
        assert f.words == [w.token for w in u.words]
        assert f.word_vectors.shape == (len(u.words), 50)
        assert not f.word_oov.any()
        assert np.abs(f.word_vectors).sum(axis=1).min() > 0


def test_store_reads_through_memory_maps(manifest, tmp_path):
    s, _ = _build(manifest, tmp_path / "cache")
    store = FeatureStore(s.pack)
    assert isinstance(store.arrays["frames"], np.memmap)
    assert isinstance(store[0].frames, np.memmap)  # a view: nothing copied until used


def test_second_build_reuses_everything_and_a_touched_file_is_rebuilt(manifest, tmp_path):
    cache = tmp_path / "cache"
    first, _ = _build(manifest, cache)
    again, _ = _build(manifest, cache)
    assert (again.built, again.reused) == (0, first.utterances)
    assert again.pack == first.pack
    wav = next(read_manifest(manifest)).audio
    st = os.stat(wav)
    os.utime(wav, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    third, _ = _build(manifest, cache)
    assert (third.built, third.reused) == (1, first.utterances - 1)
    assert third.pack != first.pack


def test_word_vector_change_repacks_without_recomputing_frames(manifest, tmp_path):
    cache = tmp_path / "cache"
    first, _ = _build(manifest, cache)
    glove = tmp_path / "tiny.txt"
    glove.write_text("excuse 1 0 0\nme 0 1 0\n")
    second, _ = _build(manifest, cache, CFG.with_overrides(word_vectors=str(glove)))
    assert second.built == 0 and second.pack != first.pack
    store = FeatureStore(second.pack)
    assert store.arrays["word_vectors"].shape[1] == 3
    assert 0 < second.oov["oov_rate"] < 1


def test_interrupted_build_resumes(manifest, tmp_path):
    cache = tmp_path / "cache"
    first, _ = _build(manifest, cache)
    entries = sorted((cache / "entries").rglob("*.npz"))
    entries[0].unlink()                                   # never written
    (entries[1].parent / ".tmp-killed.npz").write_bytes(b"half")  # killed mid-write
    again, _ = _build(manifest, cache)
    assert again.built == 1
    assert again.pack == first.pack


def test_audio_gone_bad_after_prepare_is_skipped_with_reason(manifest, tmp_path):
    rows = list(read_manifest(manifest))
    with open(rows[0].audio, "wb") as f:
        f.write(b"RIFF\x00\x00\x00\x00WAVEjunk")
    os.remove(rows[1].audio)
    s, skips = _build(manifest, tmp_path / "cache")
    assert s.utterances == len(rows) - 2
    assert skips.counts["no audio file"] == 1
    assert skips.counts["audio could not be featurised"] == 1
    assert "not a readable audio file" in skips.examples["audio could not be featurised"][0]


def test_parallel_build_equals_serial(manifest, tmp_path):
    a, _ = _build(manifest, tmp_path / "a", workers=1)
    b, _ = _build(manifest, tmp_path / "b", workers=2)
    sa, sb = FeatureStore(a.pack), FeatureStore(b.pack)
    assert sa.ids == sb.ids
    for name in sa.arrays:
        np.testing.assert_array_equal(sa.arrays[name], sb.arrays[name])


def test_not_a_pack_is_a_clear_error(tmp_path):
    with pytest.raises(WiseError, match="not a feature pack"):
        FeatureStore(tmp_path)
