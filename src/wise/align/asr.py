"""Free speech recognition for speech that comes without a transcript (prediction on new audio).

pocketsphinx's bundled en-us acoustic model, dictionary and trigram language model, in a
decoder of its own (the aligner's has no language model). After the Viterbi pass the decoder
rescores its word lattice (`bestpath=True`), which also gives every recognised word a
posterior probability: the fraction of lattice probability mass on paths through that word
in that time slot. `Recognition.confidence` is the mean posterior over the recognised words,
a number in [0, 1]; it is low when the lattice holds many competing words, as it does for
speech the model finds hard.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pocketsphinx import Decoder

from wise.align._sphinx import (
    SAMPLE_RATE,
    check_audio,
    decode,
    is_filler,
    require_speech,
    strip_variant,
    to_pcm,
)
from wise.errors import WiseError
from wise.text import tokenize
from wise.utterance import Segment


@dataclass(frozen=True)
class Recognition:
    """Recognised words; `text` is them joined by spaces, so `tokenize(text)` gives them back."""

    text: str
    confidence: float
    words: list[Segment]


class Recognizer:
    """Free recognition with the default language model. Construct once and reuse (loading
    the language model takes a fraction of a second); not thread-safe."""

    def __init__(self) -> None:
        self._decoder = Decoder(samprate=SAMPLE_RATE, bestpath=True, loglevel="FATAL")
        self._frame_rate = float(self._decoder.config["frate"])

    def recognize(self, audio: np.ndarray, *, source: str = "") -> Recognition:
        """Words spoken in `audio` (16 kHz mono float32), with times and a confidence.

        Raises `WiseError(source, ...)` when the audio holds no speech or nothing is
        recognised in it.
        """
        x = check_audio(audio, source)
        require_speech(x, source)
        seconds = len(x) / SAMPLE_RATE
        dec = self._decoder
        decode(dec, to_pcm(x))
        if dec.hyp() is None:
            raise WiseError(source, "no words recognised in the audio")
        words: list[Segment] = []
        posteriors: list[float] = []
        rate = self._frame_rate
        for seg in dec.seg():
            name = strip_variant(seg.word)
            if is_filler(name):
                continue
            # end_frame is inclusive; clip to the audio in case a last partial frame counts.
            start, end = seg.start_frame / rate, min((seg.end_frame + 1) / rate, seconds)
            # A dictionary entry such as "a.m." is several transcript tokens: share its span
            # among them so the words stay what `tokenize` would make of the text.
            pieces = tokenize(name)
            step = (end - start) / max(1, len(pieces))
            for k, piece in enumerate(pieces):
                words.append(Segment(piece, start + k * step, start + (k + 1) * step))
                posteriors.append(min(1.0, max(0.0, float(seg.prob))))
        if not words:
            raise WiseError(source, "no words recognised in the audio")
        return Recognition(
            text=" ".join(w.token for w in words),
            confidence=float(np.mean(posteriors)),
            words=words,
        )


_shared: Recognizer | None = None


def recognize(audio: np.ndarray, *, source: str = "") -> Recognition:
    """`Recognizer.recognize` on one recogniser per process, created on first use."""
    global _shared
    if _shared is None:
        _shared = Recognizer()
    return _shared.recognize(audio, source=source)
