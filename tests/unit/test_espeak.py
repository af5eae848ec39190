"""The espeak-ng wrapper: audio, word/phone times, determinism, ARPAbet pronunciations."""

from __future__ import annotations

import numpy as np
import pytest

from wise.errors import WiseError
from wise.espeak import (
    ESPEAK_TO_ARPABET,
    Espeak,
    espeak_to_arpabet,
    phonemize_arpabet,
)
from wise.phones import ARPABET
from wise.text import tokenize


@pytest.fixture(scope="module")
def tts() -> Espeak:
    return Espeak()


def _check_times(res, text_words: list[str]) -> None:
    dur = len(res.audio) / res.sample_rate
    assert [w.token.lower() for w in res.words] == text_words
    for w in res.words:
        assert 0.0 <= w.start < w.end <= dur + 1e-6
    for a, b in zip(res.words, res.words[1:], strict=False):
        assert a.end <= b.start + 1e-9
    assert res.phones, "no phones"
    for p in res.phones:
        assert 0.0 <= p.start < p.end <= dur + 1e-6
    for a, b in zip(res.phones, res.phones[1:], strict=False):
        assert a.end <= b.start + 1e-9
    # Every phone lies inside the word it belongs to; every word has a phone.
    assert len(res.phone_word) == len(res.phones)
    for p, k in zip(res.phones, res.phone_word, strict=True):
        w = res.words[k]
        assert w.start - 1e-9 <= p.start and p.end <= w.end + 1e-9
    assert sorted(set(res.phone_word)) == list(range(len(res.words)))


def test_synthesize_gives_16k_audio_and_ordered_times_covering_every_word(tts):
    text = "Hello there, I think this is a wonderful day."
    res = tts.synthesize(text)
    assert res.sample_rate == 16000
    assert res.audio.dtype == np.float32 and res.audio.ndim == 1
    assert 1.0 < res.duration < 5.0
    assert 0.01 < float(np.abs(res.audio).max()) <= 1.0
    _check_times(res, tokenize(text))
    assert res.merged == []


def test_phone_events_are_reported_as_arpabet(tts):
    res = tts.synthesize("The quick brown fox jumps over the lazy dog.", voice="en-us+m3")
    assert all(p.token in ARPABET for p in res.phones)
    first = [p.token for p, k in zip(res.phones, res.phone_word, strict=True) if k == 0]
    assert first == ["DH", "AH"]


def test_words_espeak_speaks_as_one_unit_get_their_own_times(tts):
    # espeak speaks "for a", "with the", "I am" as single dictionary entries.
    text = "We were delighted with the movie and I am sure we talked for a while."
    res = tts.synthesize(text)
    _check_times(res, tokenize(text))


def test_ssml_prosody_changes_only_the_wrapped_word(tts):
    plain = tts.synthesize("<speak>The movie was great and the food was fine.</speak>",
                           ssml=True)
    slow = tts.synthesize('<speak>The movie was <prosody rate="50%">great</prosody> and the '
                          "food was fine.</speak>", ssml=True)
    words = tokenize("The movie was great and the food was fine.")
    _check_times(plain, words)
    _check_times(slow, words)
    dur = [[w.end - w.start for w in r.words] for r in (plain, slow)]
    assert dur[1][3] > 1.6 * dur[0][3]                      # "great" about twice as long
    assert abs(dur[1][1] - dur[0][1]) < 0.3 * dur[0][1]      # "movie" much the same


def test_synthesis_does_not_depend_on_what_came_before(tts):
    a = ('<speak>I thought the idea looked <prosody pitch="70%" range="20%">dreadful'
         "</prosody>.</speak>")
    first = tts.synthesize(a, voice="en-us+f5", rate=150, ssml=True).audio
    tts.synthesize("Something else entirely, said loudly.", voice="en+m3", rate=260, volume=180)
    again = tts.synthesize(a, voice="en-us+f5", rate=150, ssml=True).audio
    assert first.tobytes() == again.tobytes()


def test_unknown_voice_is_a_wise_error(tts):
    with pytest.raises(WiseError, match="no voice"):
        tts.synthesize("hello", voice="xx-nonexistent")


def test_phonemize_arpabet_known_words():
    assert phonemize_arpabet("hello") == ["HH", "AH", "L", "OW"]
    assert phonemize_arpabet("world") == ["W", "ER", "L", "D"]
    assert phonemize_arpabet("cheers") == ["CH", "IH", "R", "Z"]
    assert phonemize_arpabet("Button") == ["B", "AH", "T", "AH", "N"]


@pytest.mark.parametrize("word", ["zorblax", "kwabena", "marguerite", "don't", "o'clock",
                                  "television", "admiralty", "croissant", "xyzzq", "rhythm",
                                  "schadenfreude", "iemocap", "okay"])
def test_phonemize_arpabet_returns_only_valid_phones(word):
    phones = phonemize_arpabet(word)
    assert phones and all(p in ARPABET for p in phones), phones


def test_phonemize_arpabet_of_nothing_is_empty():
    assert phonemize_arpabet("") == []
    assert phonemize_arpabet("...") == []


def test_mapping_table_targets_are_arpabet_and_fallback_never_invents():
    for name, phones in ESPEAK_TO_ARPABET.items():
        assert phones and all(p in ARPABET for p in phones), name
    assert espeak_to_arpabet("'oU") == ("OW",)
    assert espeak_to_arpabet("aI@3") == ("AY", "AH")   # unlisted: falls back to aI@
    assert espeak_to_arpabet("_:") == ()
    assert espeak_to_arpabet("Q!") == ()
