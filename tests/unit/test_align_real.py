"""Forced alignment on real human speech (tests/fixtures/ravdess: quiet, shouted, ordinary)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from wise.align import ForcedAligner
from wise.align.vad import speech_seconds
from wise.audio import load_audio, loudest_frame_dbfs, no_speech
from wise.errors import WiseError
from wise.text import tokenize

RAVDESS = Path(__file__).parents[1] / "fixtures" / "ravdess"
STATEMENTS = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}
QUIETEST = RAVDESS / "Actor_09" / "03-01-04-01-02-02-09.flac"
SHOUTED = RAVDESS / "Actor_18" / "03-01-05-02-01-02-18.flac"
ORDINARY = RAVDESS / "Actor_10" / "03-01-01-01-01-01-10.flac"


def text_of(path: Path) -> str:
    return STATEMENTS[path.stem.split("-")[4]]


@pytest.fixture(scope="module")
def aligner() -> ForcedAligner:
    return ForcedAligner()


@pytest.mark.parametrize("path", sorted(RAVDESS.rglob("*.flac")), ids=lambda p: p.stem)
def test_every_real_clip_aligns(aligner, path):
    x = load_audio(path)
    a = aligner.align(x, text_of(path), source=str(path))
    assert [w.token for w in a.words] == tokenize(text_of(path))
    # The words sit inside the speech, not in RAVDESS's second of silence at either end.
    assert 0.3 < a.words[0].start < a.words[-1].end < len(x) / 16000 - 0.3
    assert all(w.start <= p.start and p.end <= w.end + 1e-9
               for w in a.words for p in a.phones if w.start <= p.start < w.end)


def test_quiet_speech_is_speech(aligner):
    """Quiet sad speech was called silence at a fixed -45 dBFS threshold and dropped."""
    x = load_audio(QUIETEST)
    assert loudest_frame_dbfs(x) < -50
    assert no_speech(x) is None
    assert speech_seconds(x) > 1.5
    assert aligner.align(x, text_of(QUIETEST)).attempt == "default"


def test_level_does_not_change_the_alignment(aligner):
    """The gain is normalised before decoding: the same clip 30 or 40 dB quieter aligns to
    the same boundaries."""
    x = load_audio(ORDINARY)
    ref = aligner.align(x, text_of(ORDINARY))
    for gain_db in (-30.0, -40.0):
        y = (x * 10 ** (gain_db / 20)).astype(np.float32)
        got = aligner.align(y, text_of(ORDINARY))
        for a, b in zip(ref.words, got.words, strict=True):
            assert abs(a.start - b.start) <= 0.02 and abs(a.end - b.end) <= 0.02


def test_shouted_speech_aligns_on_the_second_attempt(aligner):
    a = aligner.align(load_audio(SHOUTED), text_of(SHOUTED))
    assert a.attempt == "wide beams"
    assert [w.token for w in a.words] == tokenize(text_of(SHOUTED))


def test_the_retry_leaves_the_default_beams_in_force(aligner):
    """The retry widens the beams of the one decoder for one search: what is aligned after
    it is aligned as a fresh aligner aligns it, and the dictionary stays shared."""
    aligner.pronunciation("wisely")       # in the dictionary; an added word must survive too
    aligner.pronunciation("zorbly")
    assert aligner.align(load_audio(SHOUTED), text_of(SHOUTED)).attempt == "wide beams"
    assert dict(aligner._decoder.config.items()) == dict(ForcedAligner()._decoder.config.items())
    x = load_audio(ORDINARY)
    after, fresh = aligner.align(x, text_of(ORDINARY)), ForcedAligner().align(x, text_of(ORDINARY))
    assert (after.words, after.phones, after.attempt) == (fresh.words, fresh.phones, "default")
    assert aligner.pronunciation("zorbly") == aligner.added_words["zorbly"]


def test_no_retry_without_speech(aligner):
    """The wide beams would place words on noise: the retry needs the detector's speech."""
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 0.1, 16000).astype(np.float32)
    assert speech_seconds(noise) == 0.0
    with pytest.raises(WiseError, match="voice-activity detector finds 0.00 s"):
        aligner.align(noise, "hello there")
    t = np.arange(48000) / 16000
    hum = (0.3 * np.sin(2 * np.pi * 100 * t)).astype(np.float32)
    assert speech_seconds(hum) == 0.0
    assert speech_seconds(np.zeros(16000, np.float32)) == 0.0
