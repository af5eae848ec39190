import numpy as np
import pytest

from wise.config import FeatureConfig
from wise.features.hierarchy import WORD_AS_PHONE, build_hierarchy
from wise.features.mfcc import frame_times
from wise.utterance import Segment as S

CFG = FeatureConfig()


def test_frames_go_to_the_phone_containing_their_centre():
    words = [S("hi", 0.10, 0.40), S("there", 0.50, 0.90)]
    phones = [S("HH", 0.10, 0.20), S("AY", 0.20, 0.40), S("DH", 0.50, 0.60),
              S("EH", 0.60, 0.80), S("R", 0.80, 0.90), S("SIL", 0.40, 0.50)]
    h = build_hierarchy(words, phones, 70, CFG)
    assert h.word_tokens == ["hi", "there"]
    # SIL lies between the words: it belongs to no word.
    assert h.phone_tokens == ["HH", "AY", "DH", "EH", "R"]
    assert h.word_phones.tolist() == [[0, 2], [2, 5]]
    centres = frame_times(70, CFG)
    for (f0, f1), (start, end) in zip(h.phone_frames, [(0.1, 0.2), (0.2, 0.4), (0.5, 0.6),
                                                      (0.6, 0.8), (0.8, 0.9)], strict=True):
        inside = np.flatnonzero((centres >= start) & (centres < end))
        assert (f0, f1) == (inside[0], inside[-1] + 1)
    # Phones tile their word: consecutive ranges, no frame shared or lost.
    assert h.phone_frames[0, 1] == h.phone_frames[1, 0]
    assert h.word_frames[0].tolist() == [h.phone_frames[0, 0], h.phone_frames[1, 1]]
    assert not h.events


def test_a_phone_shorter_than_a_frame_gets_the_nearest_frame():
    words = [S("a", 0.300, 0.310)]
    h = build_hierarchy(words, [S("AH", 0.300, 0.310)], 70, CFG)
    f0, f1 = h.phone_frames[0]
    assert f1 - f0 == 1
    assert abs(frame_times(70, CFG)[f0] - 0.305) <= CFG.hop_ms / 2000 + 1e-9
    assert h.events["phones shorter than a frame (given the nearest frame)"] == 1
    assert h.events["words shorter than a frame (given the nearest frame)"] == 1


def test_word_without_phones_becomes_one_phone():
    h = build_hierarchy([S("hello", 0.1, 0.5)], None, 50, CFG)
    assert h.phone_tokens == [WORD_AS_PHONE]
    assert h.word_phones.tolist() == [[0, 1]]
    assert h.events["words without phones (one phone spans the word)"] == 1


def _long_word(n_phones):
    phones = [S(f"P{i}", 0.1 + 0.03 * i, 0.1 + 0.03 * (i + 1)) for i in range(n_phones)]
    return [S("long", 0.1, 0.1 + 0.03 * n_phones)], phones


def test_phone_cap_truncates_by_default():
    words, phones = _long_word(20)
    h = build_hierarchy(words, phones, 100, CFG)
    assert h.word_phones.tolist() == [[0, 14]]
    assert h.phone_tokens == [f"P{i}" for i in range(14)]
    assert h.events["words over the phone cap"] == 1


def test_phone_cap_merge_folds_the_tail_into_the_last_phone():
    words, phones = _long_word(20)
    h = build_hierarchy(words, phones, 100, CFG.with_overrides(phone_overflow="merge"))
    assert h.word_phones.tolist() == [[0, 14]]
    assert h.phone_frames[13, 1] == h.word_frames[0, 1]  # the 14th phone reaches the word end


def test_frame_cap_and_word_cap():
    cfg = CFG.with_overrides(max_frames_per_phone=4, max_words=3)
    words = [S(f"w{i}", 0.2 * i, 0.2 * i + 0.15) for i in range(5)]
    h = build_hierarchy(words, None, 80, cfg)
    assert h.word_tokens == ["w0", "w1", "w2"]
    assert (h.phone_frames[:, 1] - h.phone_frames[:, 0] == 4).all()
    assert h.events["words over the cap"] == 2
    assert h.events["utterances over the word cap"] == 1
    assert h.events["phones over the frame cap"] == 3


def test_words_after_the_audio_are_dropped_and_counted():
    h = build_hierarchy([S("in", 0.0, 0.2), S("out", 5.0, 5.3)], None, 20, CFG)
    assert h.word_tokens == ["in"]
    assert h.events["words starting after the audio ends"] == 1


def test_bad_phone_overflow_value_is_refused():
    with pytest.raises(ValueError, match="phone_overflow"):
        CFG.with_overrides(phone_overflow="drop")
