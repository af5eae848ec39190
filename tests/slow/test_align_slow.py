"""Forced alignment over many voices, rates and noise levels, scored against espeak's times."""

from __future__ import annotations

import random
import time

import numpy as np
import pytest

from wise.align import ForcedAligner
from wise.espeak import Espeak
from wise.text import tokenize

pytestmark = pytest.mark.slow

WORDS = ("the old man never wanted those photographs again but Zorblax didn't mind and we "
         "can't believe she finally bought a little house by the sea last summer").split()


@pytest.fixture(scope="module")
def corpus() -> list[tuple[str, np.ndarray, list]]:
    """30 noisy utterances: (text, audio with 0.3 s padding, espeak's word segments)."""
    tts = Espeak()
    rng = random.Random(7)
    nrng = np.random.default_rng(7)
    out = []
    while len(out) < 30:
        start = rng.randrange(len(WORDS) - 6)
        text = " ".join(WORDS[start:start + rng.randint(4, 12)]) + rng.choice([".", "?", "!"])
        synth = tts.synthesize(text, voice=rng.choice(["en-us", "en-us+f3", "en-us+m3"]),
                               rate=rng.randint(140, 220), pitch=rng.randint(30, 70))
        if [w.token.lower() for w in synth.words] != tokenize(text):
            continue
        pad = np.zeros(4800, np.float32)
        x = np.concatenate([pad, synth.audio, pad])
        level = np.sqrt(np.mean(synth.audio ** 2)) / 10 ** (rng.uniform(20, 40) / 20)
        x = x + (level * nrng.standard_normal(x.size)).astype(np.float32)
        out.append((text, x, synth.words))
    return out


def test_many_voices_align_closely_and_fast(corpus):
    aligner = ForcedAligner()
    errors, busy, audio = [], 0.0, 0.0
    for text, x, gold in corpus:
        t0 = time.perf_counter()
        al = aligner.align(x, text)
        busy += time.perf_counter() - t0
        audio += len(x) / 16000
        for w, g in zip(al.words, gold, strict=True):
            errors += [abs(w.start - g.start - 0.3), abs(w.end - g.end - 0.3)]
    errors_ms = np.asarray(errors) * 1000
    assert np.median(errors_ms) < 20
    assert np.percentile(errors_ms, 90) < 60
    assert busy / audio < 0.15  # about 0.03 on one core; generous for loaded CI machines
