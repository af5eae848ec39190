"""The Whisper recogniser: real speech (the RAVDESS fixture clips, quiet ones included), audio
without speech, the mapping of Whisper's words to tokens, and bad model folders (~10 s)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import jiwer
import numpy as np
import pytest

from conftest import FIXTURES
from wise.align import make_recognizer
from wise.align.whisper import WhisperRecognizer
from wise.audio import load_audio
from wise.errors import WiseError
from wise.testing import nonspeech
from wise.text import tokenize

STATEMENTS = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}
CLIPS = sorted((FIXTURES / "ravdess").glob("Actor_*/*.flac"))
QUIET = FIXTURES / "ravdess/Actor_09/03-01-04-01-02-02-09.flac"     # loudest 25 ms: -55 dBFS


def said(path: Path) -> str:
    """The sentence of a RAVDESS clip, from the statement field of its name."""
    return STATEMENTS[path.stem.split("-")[4]]


@pytest.fixture(scope="module")
def whisper() -> WhisperRecognizer:
    r = make_recognizer()
    assert isinstance(r, WhisperRecognizer)     # the default
    return r


def test_real_speech_is_recognised_quiet_clips_included(whisper):
    assert len(CLIPS) == 8
    refs, hyps, short = [], [], 0
    for path in CLIPS:
        x = load_audio(path)
        rec = whisper.recognize(x, source=str(path))
        short += whisper._model.window_frames is not None     # not decoded again
        assert [w.token for w in rec.words] == tokenize(rec.text)
        assert 0.5 <= rec.confidence <= 1.0
        seconds = len(x) / 16000
        assert all(0 <= w.start <= w.end <= seconds for w in rec.words)
        assert all(a.end <= b.start for a, b in zip(rec.words, rec.words[1:], strict=False))
        refs.append(" ".join(tokenize(said(path))))
        hyps.append(" ".join(w.token for w in rec.words))
        assert jiwer.wer(refs[-1], hyps[-1]) <= 2 / 6, (path.name, rec.text)
    assert jiwer.wer(refs, hyps) <= 0.1
    assert short >= 7          # the short window is what real speech costs (3 of 448 went back)


def test_the_level_of_the_recording_does_not_matter(whisper):
    x = load_audio(FIXTURES / "ravdess/Actor_10/03-01-01-01-01-01-10.flac")
    words = {tuple(w.token for w in whisper.recognize(x * gain).words)
             for gain in (0.02, 1.0, 3.0)}
    assert words == {("kids", "are", "talking", "by", "the", "door")}


def test_same_audio_same_transcript(whisper):
    x = load_audio(QUIET)
    assert whisper.recognize(x).text == whisper.recognize(x.copy()).text


@pytest.mark.parametrize("name,make", [
    ("digital silence", lambda: np.zeros(3 * 16000, np.float32)),
    ("white noise", lambda: nonspeech.white_noise(3, -20)),
    ("pink noise", lambda: nonspeech.pink_noise(3, -40, seed=1)),
    ("hum", lambda: nonspeech.hum(3, -20, 50.0)),
    ("music", lambda: nonspeech.music(5, -15)),
    ("backwards babble", lambda: nonspeech.babble([load_audio(p) for p in CLIPS], 4, -20,
                                                  backwards=True)),
])
def test_audio_without_speech_is_no_speech(whisper, name, make):
    with pytest.raises(WiseError) as e:
        whisper.recognize(make(), source=name)
    assert e.value.message.startswith("no speech"), e.value.message


Words = list[tuple[str, float, float, float]]     # (word, start, end, probability)


def segments_of(*segments: tuple[float, Words]) -> list[SimpleNamespace]:
    """faster-whisper's segments from (no_speech_prob, words)."""
    return [SimpleNamespace(
        no_speech_prob=nsp, compression_ratio=1.0, text="".join(w[0] for w in words),
        words=[SimpleNamespace(word=w, start=s, end=e, probability=p)
               for w, s, e, p in words]) for nsp, words in segments]


def fake_model(*segments: tuple[float, Words], short: list[tuple[float, Words]] | None = None):
    """A stand-in for faster-whisper's model: these segments of (no_speech_prob, words) from
    the whole window, and `short`'s (default: the same) from a window cut short. `windows`
    lists the encoder input asked for by each call (None: the whole window); the encoder's
    output it keeps (`first_window`) is 1.0 everywhere for a short window, 2.0 for a whole one."""
    model = SimpleNamespace(window_frames=None, windows=[])

    def transcribe(audio, **options):
        assert options["beam_size"] == 1 and options["temperature"] == 0.0
        model.windows.append(model.window_frames)
        model.first_window = np.full((1, (model.window_frames or 3000) // 2, 2),
                                     2.0 if model.window_frames is None else 1.0, np.float32)
        cut = model.window_frames is not None and short is not None
        return iter(segments_of(*(short if cut else segments))), None
    model.transcribe = transcribe
    return model


def speech(seconds: float = 3.0) -> np.ndarray:
    return nonspeech.white_noise(seconds, -30)


def test_whisper_words_become_tokens_numbers_spelled():
    r = make_recognizer()
    r._model = fake_model((0.1, [(" I", 0.2, 0.4, 0.9), (" paid", 0.4, 0.7, 0.9),
                                 (" $5", 0.7, 1.1, 0.8), (" at", 1.1, 1.2, 0.9),
                                 (" 10:30.", 1.2, 1.8, 0.6), (" -", 1.8, 1.8, 0.1)]))
    rec = r.recognize(speech())
    assert rec.text == "I paid five dollars at ten thirty."
    assert [w.token for w in rec.words] == tokenize(rec.text)
    assert [(w.token, w.start, w.end) for w in rec.words[2:4]] == [("five", 0.7, 0.9),
                                                                   ("dollars", 0.9, 1.1)]
    assert rec.confidence == pytest.approx(np.mean([0.9, 0.9, 0.8, 0.9, 0.6]))


def test_segments_whisper_calls_no_speech_are_dropped():
    r = make_recognizer()
    r._model = fake_model((0.9, [(" Thank", 0.0, 0.3, 0.9), (" you.", 0.3, 0.6, 0.9)]))
    with pytest.raises(WiseError) as e:
        r.recognize(speech())
    assert e.value.message == "no speech recognised in the audio (no-speech probability 0.90)"
    r._model = fake_model((0.5, [(" Thank", 0.0, 0.3, 0.2), (" you.", 0.3, 0.6, 0.4)]))
    rec = r.recognize(speech())           # doubtful words are words: the confidence says so
    assert rec.text == "Thank you." and rec.confidence == pytest.approx(0.3)
    r._model = fake_model((0.5, [(" Keep", 0.0, 0.3, 0.03), (" the", 0.3, 0.4, 0.15),
                                 (" door.", 0.4, 0.6, 0.12)]))
    with pytest.raises(WiseError) as e:      # words guessed into babble
        r.recognize(speech())
    assert e.value.message == ("no speech recognised reliably in the audio (best guess "
                               "'Keep the door.', confidence 0.10)")
    r._model = fake_model((0.1, [(" Thank", 0.0, 0.3, 0.9)]), (0.7, [(" you.", 0.3, 0.6, 0.9)]))
    assert r.recognize(speech()).text == "Thank"


def test_word_times_stay_in_order_and_inside_the_audio():
    r = make_recognizer()
    r._model = fake_model((0.1, [(" one", 0.5, 0.9, 0.9), (" two", 0.8, 0.8, 0.9),
                                 (" three", 0.9, 9.0, 0.9)]))
    words = r.recognize(speech(2.0)).words
    assert [(w.start, w.end) for w in words] == [(0.5, 0.9), (0.9, 0.9), (0.9, 2.0)]


def test_model_folders_that_cannot_be_used(tmp_path):
    with pytest.raises(WiseError, match="Whisper model folder not found"):
        make_recognizer("whisper", tmp_path / "nowhere")
    with pytest.raises(WiseError, match=r"missing model.bin, config.json, tokenizer.json"):
        make_recognizer("whisper", tmp_path)
    for name in ("model.bin", "config.json", "tokenizer.json"):
        (tmp_path / name).write_text("{}")
    r = make_recognizer("whisper", tmp_path)        # looks right: the check is cheap
    with pytest.raises(WiseError, match="not a usable CTranslate2 Whisper model") as e:
        r.recognize(speech())
    assert "\n" not in e.value.line()


def test_recogniser_choice_is_checked():
    with pytest.raises(WiseError, match="unknown recogniser 'vosk'"):
        make_recognizer("vosk")
    with pytest.raises(WiseError, match="pocketsphinx uses its bundled model"):
        make_recognizer("pocketsphinx", "some/dir")


SAID = [(" Kids", 0.5, 0.9, 0.9), (" are", 0.9, 1.1, 0.9), (" talking.", 1.1, 1.6, 0.9)]


def test_a_short_clip_is_decoded_from_the_clip_and_some_padding():
    r = make_recognizer()
    r._model = fake_model((0.1, SAID))
    rec = r.recognize(speech(3.0))
    frames = 300 + round(r.window_pad_s * 100)          # 10 ms mel frames
    assert r._model.windows == [frames + frames % 2]
    assert rec.text == "Kids are talking."
    # The encoder frames over the clip (one per 20 ms), and the window they came from.
    assert rec.encoder_window == "clip+7s" and rec.encoder_frames.shape == (150, 2)
    assert (rec.encoder_frames == 1.0).all()
    r.whole_window = True              # what a model reading the 30-s window's frames needs
    r._model.windows.clear()
    rec = r.recognize(speech(3.0))
    assert rec.text == "Kids are talking." and r._model.windows == [None]
    assert rec.encoder_window == "30s" and (rec.encoder_frames == 2.0).all()
    assert "30-s window" in r.name
    r.whole_window = False
    r._model.windows.clear()
    r.recognize(speech(29.0))                            # no room for the padding
    assert r._model.windows == [None]


def test_a_short_window_that_loops_is_decoded_again_from_the_whole_window():
    r = make_recognizer()
    r._model = fake_model((0.1, SAID), short=[(0.1, SAID), (0.1, [(" Kids", 1.6, 1.6, 0.9),
                                                                 (" are", 1.6, 1.6, 0.9),
                                                                 (" talking.", 1.6, 1.7, 0.9)])])
    rec = r.recognize(speech())
    assert len(r._model.windows) == 2 and r._model.windows[1] is None
    assert rec.text == "Kids are talking."
    # Its frames are the whole window's, and say so: a model of the short window's frames
    # must not read them.
    assert rec.encoder_window == "30s" and (rec.encoder_frames == 2.0).all()


def test_the_whole_window_decides_whether_there_is_speech():
    r = make_recognizer()
    r._model = fake_model((0.1, SAID), short=[(0.9, SAID)])
    assert r.recognize(speech()).text == "Kids are talking."
    assert len(r._model.windows) == 2
    r._model = fake_model((0.8, SAID), short=[(0.9, SAID)])
    with pytest.raises(WiseError) as e:
        r.recognize(speech())
    assert e.value.message == "no speech recognised in the audio (no-speech probability 0.80)"
    # Words the short window is not sure of: the whole window's are taken, whatever they are.
    doubtful = [(w, s, e, 0.3) for w, s, e, _ in SAID]
    for short in ([(0.1, doubtful)], [(0.5, SAID)]):
        r._model = fake_model((0.1, [(" Kids.", 0.5, 0.9, 0.9)]), short=short)
        assert r.recognize(speech()).text == "Kids."
        assert len(r._model.windows) == 2
