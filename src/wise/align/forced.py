"""Forced alignment of a known transcript to speech, with pocketsphinx's bundled en-us model.

Two decoding passes over the same audio (the pocketsphinx 5 recipe):
1. word alignment: `set_align_text` builds a left-to-right grammar of the transcript's words
   with optional silence between them, and the Viterbi search finds word boundaries;
2. phone alignment: `set_alignment` turns that word sequence into a phone/state network and a
   second pass finds every phone's boundaries.
Words and phones are both read from the second pass, so every phone nests inside its word.
Pauses are decoded as `<sil>` between words and never counted inside one.

When the search finds no alignment and the audio holds speech (Silero's voice-activity
detector finds at least MIN_SPEECH_S of it), it is tried once more with beams 10^72 times wider
(`RETRY_BEAMS`): strongly emotional speech (shouted, laughed) strays far from the acoustic
model, and the default beams prune the right path away. Without the speech check the wide
beams would place a transcript on white noise. The default beams are tried first:
the boundary errors in docs/alignment.md were measured with them, and they are a little
faster (40 real clips: real-time factor 0.021 against 0.027 with the wide beams).

A transcript word that the pocketsphinx dictionary lacks (a name, a rare contraction) gets a
pronunciation from espeak-ng's letter-to-sound rules, added to this aligner's dictionary once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from pocketsphinx import Decoder

from wise.align._sphinx import (
    SAMPLE_RATE,
    check_audio,
    decode,
    is_filler,
    strip_variant,
    to_pcm,
)
from wise.audio import require_speech
from wise.errors import WiseError
from wise.espeak import phonemize_arpabet
from wise.phones import ARPABET
from wise.text import tokenize
from wise.utterance import Segment

# Phone names in an alignment may carry triphone context, e.g. `AH(B,T)`; the base phone is
# what precedes the parenthesis.
_CONTEXT = re.compile(r"\(.*$")
SILENCE_PROB = 1.0
# The second attempt's beams (pocketsphinx defaults: beam 1e-48, wbeam 7e-29, pbeam 1e-48).
# With them the two of 448 real clips that fail at the defaults align (both shouted).
RETRY_BEAMS = {"beam": 1e-120, "wbeam": 1e-100, "pbeam": 1e-120}
# Speech the detector must find before the wide-beam retry: a short word's worth.
MIN_SPEECH_S = 0.2


@dataclass(frozen=True)
class Alignment:
    """Word and phone times (seconds) of one utterance; silences are in neither list."""

    words: list[Segment]
    phones: list[Segment]
    attempt: str = "default"   # "default", or "wide beams" when the first search failed


class ForcedAligner:
    """Aligns transcripts to 16 kHz speech. Construct once and reuse: loading the model takes
    about 0.1 s, aligning a 3 s utterance about as long.

    Not thread-safe (a pocketsphinx decoder holds per-utterance state): use one aligner per
    thread or process.
    """

    def __init__(self) -> None:
        # lm=None: no language model, the search is driven only by the transcript grammar.
        # bestpath=False: no lattice rescoring; with it, 7 of 50 synthetic utterances failed
        # to align (none without).
        # silprob=1.0: an optional pause between two words costs nothing, so the acoustics
        # alone decide whether there is one. At the default (0.005) a quarter of the pauses
        # of over 100 ms in the synthetic corpus were absorbed into the next word.
        self._decoder = Decoder(samprate=SAMPLE_RATE, lm=None, bestpath=False,
                                silprob=SILENCE_PROB, loglevel="FATAL")
        self._frame_rate = float(self._decoder.config["frate"])
        self._default_beams = {name: self._decoder.config[name] for name in RETRY_BEAMS}
        self._added: dict[str, str] = {}

    @property
    def added_words(self) -> dict[str, str]:
        """Words added to the dictionary so far, with the pronunciation they were given."""
        return dict(self._added)

    def pronunciation(self, word: str, *, source: str = "") -> str:
        """The space-separated ARPAbet pronunciation the aligner uses for `word` (a token of
        `wise.text.tokenize`), adding it from espeak-ng if the dictionary lacks it."""
        known = self._decoder.lookup_word(word)
        if known is not None:
            return known
        phones = phonemize_arpabet(word)
        unknown = sorted(set(phones) - ARPABET)
        if not phones or unknown:
            why = f"phones {unknown} not in the acoustic model" if unknown else "none given"
            raise WiseError(source, f"no usable pronunciation for the word {word!r} ({why})")
        pron = " ".join(phones)
        try:
            self._decoder.add_word(word, pron, True)
        except RuntimeError as e:
            raise WiseError(source, f"could not add the word {word!r} [{pron}]: {e}") from None
        self._added[word] = pron
        return pron

    def pronunciations(self, word: str) -> list[str]:
        """Every dictionary pronunciation of `word`, the main one first (the dictionary keeps
        the others as `word(2)`, `word(3)`, ...); [] for a word it lacks."""
        out: list[str] = []
        entry = word
        while (pron := self._decoder.lookup_word(entry)) is not None:
            out.append(pron)
            entry = f"{word}({len(out) + 1})"
        return out

    def align(self, audio: np.ndarray, text: str, *, source: str = "") -> Alignment:
        """Word and phone boundaries of `text` spoken in `audio` (16 kHz mono float32).

        `words` has one segment per token of `wise.text.tokenize(text)`, in order, with that
        token; `phones` holds every phone of those words (ARPAbet, no stress) in time order.
        Raises `WiseError(source, ...)` when the transcript is empty, the audio holds no
        speech, or the decoder finds no alignment (speech too short for the transcript, or not
        matching it).
        """
        tokens = tokenize(text)
        if not tokens:
            raise WiseError(source, f"transcript has no words to align ({text!r})")
        x = check_audio(audio, source)
        require_speech(x, source)
        for token in dict.fromkeys(tokens):
            self.pronunciation(token, source=source)
        pcm = to_pcm(x)
        seconds = len(x) / SAMPLE_RATE
        result, attempt = self._search(tokens, pcm, source, self._default_beams), "default"
        if result is None:
            from wise.align.vad import speech_seconds

            speech = speech_seconds(x)
            if speech < MIN_SPEECH_S:
                raise WiseError(source, f"decoder found no alignment of {len(tokens)} words to "
                                f"{seconds:.2f} s of audio, and the voice-activity detector "
                                f"finds {speech:.2f} s of speech in it")
            result, attempt = self._search(tokens, pcm, source, RETRY_BEAMS), "wide beams"
        if result is None:
            raise WiseError(source, f"decoder found no alignment of {len(tokens)} words to "
                            f"{seconds:.2f} s of audio, also with wide beams (speech too "
                            "short, or not matching the transcript)")

        words: list[Segment] = []
        phones: list[Segment] = []
        rate = self._frame_rate

        def span(first_frame: int, n_frames: int) -> tuple[float, float]:
            # Frame f covers [f, f + 1) / rate; the decoder may count a last partial frame,
            # so an end is clipped to the audio.
            return first_frame / rate, min((first_frame + n_frames) / rate, seconds)

        for entry in result:
            name = strip_variant(entry.name)
            if is_filler(name):
                continue
            words.append(Segment(name, *span(entry.start, entry.duration)))
            for ph in entry:
                base = _CONTEXT.sub("", ph.name)
                if base in ARPABET:
                    phones.append(Segment(base, *span(ph.start, ph.duration)))

        got = [w.token for w in words]
        if got != tokens:
            raise WiseError(
                source, f"aligned words do not match the transcript: {got[:8]} vs {tokens[:8]}"
            )
        return Alignment(words=words, phones=phones, attempt=attempt)

    def _search(self, tokens: list[str], pcm: bytes, source: str, beams: dict[str, float]):
        """The two passes with the word search's `beams`: the phone-level alignment, or None
        if either pass finds no path."""
        dec = self._decoder
        # The word search reads its beams from the decoder's configuration when
        # `set_align_text` builds it, so the retry changes them there for that one call
        # rather than keeping a second decoder: another copy of the acoustic model and
        # dictionary would hold 60-90 MB for the rest of the process, for 2 clips in 448.
        # The phone pass has no beams (it searches every state within the word bounds).
        config = dec.config
        try:
            for name, value in beams.items():
                config[name] = value
            dec.set_align_text(" ".join(tokens))
        except RuntimeError as e:
            raise WiseError(source, f"transcript rejected by the decoder: {e}") from None
        finally:
            for name, value in self._default_beams.items():
                config[name] = value
        decode(dec, pcm)
        if dec.hyp() is None:
            return None
        try:
            dec.set_alignment()
        except RuntimeError:
            return None
        decode(dec, pcm)
        return dec.get_alignment()
