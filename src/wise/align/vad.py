"""Is there speech at all? Silero's voice-activity detector, as bundled with faster-whisper.

A level threshold cannot tell speech from noise or music, and the aligner cannot either: given
a transcript and wide enough beams it will place words on white noise. The detector is a small
neural network (an ONNX model inside the faster-whisper wheel, run offline on the CPU, about
6 ms for 3 s of audio). It sees the audio gain-normalised, as the decoders do, so that quiet
speech counts: the quietest real clip we have (loudest 25 ms at -55 dBFS) gives 2.8 s of speech
of its 3.4 s; white noise, a mains hum and digital silence give none.
"""

from __future__ import annotations

import numpy as np

from wise.align._sphinx import SAMPLE_RATE
from wise.audio import normalize_gain


def speech_seconds(x: np.ndarray) -> float:
    """Seconds of `x` (16 kHz mono float32) that the detector calls speech."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    if not np.any(x):
        return 0.0
    # No padding around the detected stretches: we want the speech itself, not context.
    spans = get_speech_timestamps(normalize_gain(x), VadOptions(speech_pad_ms=0),
                                  sampling_rate=SAMPLE_RATE)
    return sum(s["end"] - s["start"] for s in spans) / SAMPLE_RATE
