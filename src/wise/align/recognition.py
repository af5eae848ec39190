"""What every speech recogniser returns and offers (`wise.align.asr` builds one; Whisper's is
in `wise.align.whisper`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from wise.utterance import Segment


@dataclass(frozen=True)
class Recognition:
    """What was said: `words` are the tokens of `tokenize(text)`, in order, with their times
    (seconds); `confidence` is in [0, 1] (each recogniser documents what it means);
    `no_speech_prob` is Whisper's highest no-speech probability over the kept segments (None
    from pocketsphinx). `encoder_frames` (Whisper only, audio up to 30 s): the last layer of
    Whisper's encoder over the audio, (T, D), one frame per 20 ms, from the one window its
    words were decoded from; `encoder_window` says which window that was, as the
    `FeatureConfig.encoder_window` ("30s", "clip+7s") under which `frames: <this model>`
    computes the same frames (`wise.features.encoder`), so that prediction need not encode the
    audio twice."""

    text: str
    confidence: float
    words: list[Segment]
    no_speech_prob: float | None = None
    encoder_frames: np.ndarray | None = None
    encoder_window: str | None = None


class Recognizer(Protocol):
    """What every recogniser offers. Not thread-safe: one per thread or process."""

    name: str                   # what to report as the recogniser, e.g. in results files
    encoder_dir: Path | None    # the Whisper model whose encoder frames it keeps, or None
                                # (one that has it also has `whole_window` and
                                # `window_pad_s`: see Whisper's)

    def load(self) -> None:
        """Load the model now rather than on the first `recognize`."""

    def recognize(self, audio: np.ndarray, *, source: str = "") -> Recognition:
        """Words spoken in `audio` (16 kHz mono float32), with times and a confidence.
        Raises `WiseError(source, "no speech ...")` when the audio holds no speech, and
        `WiseError(source, ...)` for audio that is not usable at all."""
