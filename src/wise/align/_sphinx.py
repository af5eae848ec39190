"""What the aligner and the recogniser share: audio preparation and pocketsphinx output cleanup.

Both feed pocketsphinx 16-bit PCM at 16 kHz. Before that the audio gets a little dither:
digitally clean audio (synthetic speech, or digital silence between phrases in a real recording)
has frames of near-zero energy whose log-spectra are extreme, and the decoder then fails to find
an alignment at all. Gaussian noise at -60 dBFS removes those frames while staying far below
any speech level. The noise comes from a fixed seed, so the same audio always gives the same
result whatever was decoded before it.

Before the dither, the gain is normalised (`wise.audio.normalize_gain`): the loudest 25 ms frame
is brought to -20 dBFS.
Real recordings come at any level (quiet sad speech in RAVDESS peaks at -55 dBFS, shouted
speech at -6), and the decoder is not level-invariant: its noise removal, its log-spectral
floor and the fixed-level dither all see the absolute level. Without the normalisation 16 of
448 real clips failed to align, all of them below -42 dBFS; with it none of those did.
"""

from __future__ import annotations

import re

import numpy as np
from pocketsphinx import Decoder

from wise.audio import normalize_gain
from wise.errors import WiseError

SAMPLE_RATE = 16000
DITHER_DBFS = -60.0
DITHER_SEED = 0

_VARIANT = re.compile(r"\(\d+\)$")


def strip_variant(word: str) -> str:
    """`the(2)` -> `the`: the dictionary numbers alternative pronunciations of one word."""
    return _VARIANT.sub("", word)


def is_filler(word: str) -> bool:
    """Silence and noise tokens of the model (`<s>`, `</s>`, `<sil>`, `[NOISE]`, `++X++`)."""
    return word.startswith(("<", "[", "+"))


def check_audio(audio: np.ndarray, source: str) -> np.ndarray:
    """The audio as 1-D float32, or `WiseError` if it is not usable speech at all."""
    x = np.asarray(audio)
    if x.ndim != 1:
        raise WiseError(source, f"audio must be mono (1-D), got shape {tuple(x.shape)}")
    if x.size == 0:
        raise WiseError(source, "audio is empty (zero samples)")
    if not np.issubdtype(x.dtype, np.floating):
        raise WiseError(source, f"audio must be float samples in [-1, 1], got {x.dtype}")
    x = x.astype(np.float32, copy=False)
    if not np.isfinite(x).all():
        raise WiseError(source, "audio contains NaN or infinite samples")
    return x


def to_pcm(x: np.ndarray) -> bytes:
    """Gain-normalised, dithered 16-bit little-endian PCM, as `Decoder.process_raw` wants it."""
    rng = np.random.default_rng(DITHER_SEED)
    noise = rng.standard_normal(len(x), dtype=np.float32) * np.float32(10 ** (DITHER_DBFS / 20))
    y = np.clip(normalize_gain(x) + noise, -1.0, 32767 / 32768)
    return (y * 32768).astype("<i2").tobytes()


def decode(decoder: Decoder, pcm: bytes) -> None:
    """One full-utterance pass; `full_utt` lets cepstral mean normalisation see all of it.

    The front end starts afresh for every pass: the bundled model's `feat.params` turns on
    noise removal (`-remove_noise yes`, which overrides the decoder's own config), whose noise
    estimate otherwise carries over from the previous utterance, so that the same audio
    could be recognised (11 of 30 synthetic utterances) or aligned differently depending on
    what was decoded before it."""
    decoder.reinit_feat()
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
