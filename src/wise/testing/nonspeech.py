"""Generated signals that hold no speech, for checking that a recogniser says so: noise, hum,
music made of harmonic tones, and babble (many voices at once, or speech played backwards).
Used by the tests and by benchmarks/timing/bench_asr.py. All are 16 kHz mono float32; `level` is the
signal's RMS in dBFS."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

SR = 16000


def at_level(x: np.ndarray, level: float) -> np.ndarray:
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    return (x * (10 ** (level / 20) / max(rms, 1e-12))).astype(np.float32)


def white_noise(seconds: float, level: float, seed: int = 0) -> np.ndarray:
    return at_level(np.random.default_rng(seed).standard_normal(int(seconds * SR)), level)


def pink_noise(seconds: float, level: float, seed: int = 0) -> np.ndarray:
    """Noise with a 1/f power spectrum (-3 dB per octave)."""
    n = int(seconds * SR)
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    f = np.arange(len(spectrum), dtype=np.float64)
    f[0] = 1.0
    return at_level(np.fft.irfft(spectrum / np.sqrt(f), n), level)


def brown_noise(seconds: float, level: float, seed: int = 0) -> np.ndarray:
    """Integrated white noise (-6 dB per octave), like rumble or wind, without its DC drift."""
    x = np.cumsum(np.random.default_rng(seed).standard_normal(int(seconds * SR)))
    x -= np.convolve(x, np.ones(801) / 801, mode="same")
    return at_level(x, level)


def hum(seconds: float, level: float, f0: float = 50.0) -> np.ndarray:
    """Mains hum: f0 and its first four harmonics."""
    t = np.arange(int(seconds * SR)) / SR
    return at_level(sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 6)), level)


CHORDS = ((261.6, 329.6, 392.0), (349.2, 440.0, 523.3), (392.0, 493.9, 587.3),
          (220.0, 261.6, 329.6))            # C, F, G, Am


def music(seconds: float, level: float, seed: int = 0, bpm: float = 120.0) -> np.ndarray:
    """Plucked chords of harmonic tones (C F G Am, a chord per bar of four beats) with a
    melody note on every beat: rhythm, harmony and pitch, no voice."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    x = np.zeros_like(t)
    beat = 60.0 / bpm
    for i in range(int(seconds / beat)):
        chord = CHORDS[(i // 4) % len(CHORDS)]
        start = int(i * beat * SR)
        tt = t[: len(t) - start]
        notes = sum(np.sin(2 * np.pi * k * f * tt) * 0.5 ** k for f in chord for k in range(1, 5))
        melody = np.sin(2 * np.pi * 2 * chord[rng.integers(len(chord))] * tt) * np.exp(-6 * tt)
        x[start:] += np.exp(-3 * tt) * notes + melody
    return at_level(x, level)


def babble(voices: Sequence[np.ndarray], seconds: float, level: float, *,
           backwards: bool = False, seed: int = 0) -> np.ndarray:
    """All `voices` (speech clips) at once, each at the same level and from a random offset
    (looped to length); `backwards` plays each in reverse, so no word can be understood."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    out = np.zeros(n)
    for v in voices:
        v = v[::-1] if backwards else v
        v = np.tile(v, 1 + n // len(v))
        start = int(rng.integers(len(v) - n + 1))
        out += at_level(v[start:start + n], -20.0)
    return at_level(out, level)


def signals(voices: Sequence[np.ndarray] = (), seed: int = 0
            ) -> Iterator[tuple[str, np.ndarray]]:
    """(name, signal): digital silence, then every generated kind at a few levels; babble
    (of `voices`, when given) forwards with all of them and backwards."""
    yield "digital silence", np.zeros(3 * SR, np.float32)
    for level in (-60, -40, -20):
        yield f"white noise {level} dBFS", white_noise(3, level, seed)
        yield f"pink noise {level} dBFS", pink_noise(3, level, seed)
        yield f"brown noise {level} dBFS", brown_noise(3, level, seed)
    for level in (-40, -20):
        yield f"50 Hz hum {level} dBFS", hum(3, level, 50.0)
        yield f"60 Hz hum {level} dBFS", hum(3, level, 60.0)
    for level in (-30, -15):
        yield f"music 120 bpm {level} dBFS", music(5, level, seed, 120.0)
        yield f"music 180 bpm {level} dBFS", music(6, level, seed + 1, 180.0)
    if voices:
        yield "babble backwards", babble(voices, 4, -20, backwards=True, seed=seed)
        yield "babble", babble(voices, 4, -20, seed=seed)
