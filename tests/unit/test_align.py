"""Forced alignment and pocketsphinx recognition on espeak-synthesised speech (a few seconds
in all); Whisper recognition is tested in test_whisper.py."""

from __future__ import annotations

import numpy as np
import pytest

from wise.align import Alignment, ForcedAligner, Recognition, SphinxRecognizer, recognize
from wise.audio import load_audio
from wise.errors import WiseError
from wise.espeak import Espeak
from wise.phones import ARPABET
from wise.text import tokenize

SENTENCES = [
    "I don't think the weather will hold, to be honest.",
    "She told me to wait at the station until noon!",
    "Where did you put the keys? I can't find them anywhere.",
]


@pytest.fixture(scope="module")
def aligner() -> ForcedAligner:
    return ForcedAligner()


@pytest.fixture(scope="module")
def tts() -> Espeak:
    return Espeak()


def padded(audio: np.ndarray, seconds: float = 0.2) -> np.ndarray:
    pad = np.zeros(int(seconds * 16000), np.float32)
    return np.concatenate([pad, audio, pad])


def check_well_formed(al: Alignment, text: str, seconds: float) -> None:
    assert [w.token for w in al.words] == tokenize(text)
    for w in al.words:
        assert 0.0 <= w.start < w.end <= seconds + 1e-9
    for a, b in zip(al.words, al.words[1:], strict=False):
        assert a.end <= b.start + 1e-9
    for a, b in zip(al.phones, al.phones[1:], strict=False):
        assert a.end <= b.start + 1e-9
    assert all(p.token in ARPABET and p.start < p.end for p in al.phones)


@pytest.mark.parametrize("text", SENTENCES)
def test_words_and_phones_follow_the_transcript(aligner, tts, text):
    synth = tts.synthesize(text)
    x = padded(synth.audio)
    al = aligner.align(x, text, source="t.wav")
    check_well_formed(al, text, len(x) / 16000)
    # Every phone lies inside exactly one word, and each word's phones are one of its
    # dictionary pronunciations (so variants like "the(2)" were resolved, then stripped).
    for w in al.words:
        inside = [p.token for p in al.phones if w.start <= p.start and p.end <= w.end]
        assert " ".join(inside) in aligner.pronunciations(w.token)
    assert sum(len([p for p in al.phones if w.start <= p.start and p.end <= w.end])
               for w in al.words) == len(al.phones)


def test_pauses_stay_outside_words(aligner, tts):
    text = "Wait. Then go."
    synth = tts.synthesize(text)
    x = padded(synth.audio, 0.5)
    al = aligner.align(x, text)
    # 0.5 s of silence lead and trail the speech: no word may swallow them.
    assert al.words[0].start > 0.35
    assert al.words[-1].end < len(x) / 16000 - 0.35
    # espeak pauses after "Wait."; the aligner must leave a gap there too.
    gold_gap = synth.words[1].start - synth.words[0].end
    assert gold_gap > 0.1
    assert al.words[1].start - al.words[0].end > gold_gap / 2


def test_a_pause_before_a_word_is_not_part_of_it(aligner, tts):
    # A 300 ms break before "this" in noise: with the decoder's default silence penalty the
    # pause went into "this" (its DH absorbed the noise).
    ssml = '<speak>She told me about the garden <break time="300ms"/> this morning.</speak>'
    synth = tts.synthesize(ssml, voice="en-us+m3", ssml=True)
    x = padded(synth.audio)
    x = x + np.random.default_rng(0).normal(0, 0.003, x.size).astype(np.float32)
    al = aligner.align(x, "She told me about the garden this morning.")
    gold_gap = synth.words[6].start - synth.words[5].end
    assert gold_gap > 0.25
    assert al.words[6].start - al.words[5].end > gold_gap / 2


def test_word_missing_from_dictionary_aligns(aligner, tts):
    text = "My friend Zorblax arrived yesterday."
    synth = tts.synthesize(text)
    al = aligner.align(padded(synth.audio), text)
    assert [w.token for w in al.words] == ["my", "friend", "zorblax", "arrived", "yesterday"]
    # Only words the dictionary lacks are added, so this also shows that it lacked "zorblax".
    pron = aligner.added_words["zorblax"].split()
    assert pron[0] == "Z" and set(pron) <= ARPABET
    z = al.words[2]
    assert [p.token for p in al.phones if z.start <= p.start < z.end] == pron


def test_boundaries_close_to_synthesiser_times(aligner, tts):
    errors = []
    for text in SENTENCES:
        synth = tts.synthesize(text)
        if [w.token.lower() for w in synth.words] != tokenize(text):
            continue  # no one-to-one gold for this sentence
        al = aligner.align(padded(synth.audio), text)
        for w, g in zip(al.words, synth.words, strict=True):
            errors += [abs(w.start - g.start - 0.2), abs(w.end - g.end - 0.2)]
    assert len(errors) >= 20
    assert np.median(errors) < 0.050


def test_alignment_is_deterministic(aligner, tts):
    synth = tts.synthesize(SENTENCES[0])
    x = padded(synth.audio)
    first = aligner.align(x, SENTENCES[0])
    aligner.align(padded(tts.synthesize(SENTENCES[1]).audio), SENTENCES[1])
    assert aligner.align(x, SENTENCES[0]) == first


@pytest.mark.parametrize("text", ["", "   ", "?!,.", "[LAUGHTER]"])
def test_empty_transcript_is_an_error(aligner, tts, text):
    with pytest.raises(WiseError, match="transcript has no words") as err:
        aligner.align(tts.synthesize("hello").audio, text, source="a.wav")
    assert err.value.path == "a.wav"


def test_silence_is_an_error(aligner):
    with pytest.raises(WiseError, match="no speech in the audio"):
        aligner.align(np.zeros(16000, np.float32), "hello there", source="s.wav")
    quiet = np.random.default_rng(0).normal(0, 1e-4, 16000).astype(np.float32)
    with pytest.raises(WiseError, match="no speech in the audio"):
        aligner.align(quiet, "hello there")


def test_audio_that_does_not_fit_the_transcript_is_an_error(aligner, tts):
    short = tts.synthesize("The weather is lovely today.").audio[:2000]
    with pytest.raises(WiseError, match="decoder found no alignment"):
        aligner.align(short, "the weather is lovely today")
    noise = np.random.default_rng(1).normal(0, 0.1, 16000).astype(np.float32)
    with pytest.raises(WiseError, match="decoder found no alignment"):
        aligner.align(noise, "hello there")


@pytest.mark.parametrize(
    ("audio", "message"),
    [
        (np.zeros((100, 2), np.float32), "mono"),
        (np.zeros(0, np.float32), "empty"),
        (np.ones(100, np.int16), "float samples"),
        (np.full(100, np.nan, np.float32), "NaN"),
    ],
)
def test_bad_audio_is_an_error(aligner, audio, message):
    with pytest.raises(WiseError, match=message):
        aligner.align(audio, "hello")


def test_recognize_gives_words_times_and_confidence(tts):
    synth = tts.synthesize("Where did you put the keys yesterday?")
    x = padded(synth.audio)
    rec = recognize(x, source="r.wav", kind="pocketsphinx")
    assert isinstance(rec, Recognition)
    assert 0.0 <= rec.confidence <= 1.0
    assert rec.words and [w.token for w in rec.words] == tokenize(rec.text)
    assert all("(" not in w.token for w in rec.words)
    for a, b in zip(rec.words, rec.words[1:], strict=False):
        assert a.end <= b.start + 1e-9
    assert all(0 <= w.start < w.end <= len(x) / 16000 for w in rec.words)
    # The recognised words need not be right, but most of these common ones should be.
    assert len(set(tokenize(rec.text)) & {"where", "did", "you", "put", "the", "keys"}) >= 3


def test_recognize_silence_is_an_error():
    with pytest.raises(WiseError, match="no speech"):
        recognize(np.zeros(8000, np.float32), source="s.wav", kind="pocketsphinx")


def test_recognition_does_not_depend_on_what_was_decoded_before(trained_model):
    """The bundled model's noise removal keeps a noise estimate between utterances; the
    decoder's front end is restarted for each, so a file's transcript is the same whether it
    comes first or after others (a batch, a server's earlier requests). Noisy synthetic
    corpus speech: on clean speech the carried-over estimate rarely changes a word."""
    clips = [load_audio(u.audio) for u in trained_model["rows"][:8]]
    in_turn = SphinxRecognizer()
    after_others = [in_turn.recognize(x).text for x in clips]
    alone = [SphinxRecognizer().recognize(x).text for x in clips]
    assert after_others == alone
