"""Typed configuration. Every choice the paper makes (or leaves open) is a named field.

Feature choices live here because the cache key is derived from them: change one and only the
affected cache entries are rebuilt.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class FeatureConfig:
    # Frame features (paper Sec. 3.2): 25 ms window, 40% overlap -> 15 ms hop, 16 kHz.
    sample_rate: int = 16000
    win_ms: float = 25.0
    hop_ms: float = 15.0
    n_ceps: int = 13          # c0..c12; c0 stands in for energy, as openSMILE's MFCC configs do
    n_mels: int = 26          # openSMILE's default mel bank size
    fmin: float = 0.0
    fmax: float = 8000.0
    preemphasis: float = 0.97
    lifter: int = 22          # sinusoidal cepstral liftering, HTK's CEPLIFTER
    delta_window: int = 2     # regression deltas over +-2 frames (HTK/openSMILE default)
    # Hierarchy caps (paper Sec. 4.2).
    max_words: int = 128
    max_phones_per_word: int = 14
    max_frames_per_phone: int = 64
    phone_overflow: str = "truncate"   # "truncate" | "merge" (fold extra phones into the 14th)
    # Word vectors: "glove-6b-50d" (installed package) or a path to a GloVe-format text file.
    word_vectors: str = "glove-6b-50d"

    def __post_init__(self) -> None:
        if self.phone_overflow not in ("truncate", "merge"):
            raise ValueError(f"phone_overflow must be 'truncate' or 'merge', "
                             f"not {self.phone_overflow!r}")
        if self.win_ms <= 0 or self.hop_ms <= 0 or self.sample_rate <= 0:
            raise ValueError("win_ms, hop_ms and sample_rate must be positive")

    def key(self) -> str:
        """A short hash of every field: the feature cache is keyed by it."""
        blob = json.dumps(asdict(self), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    @property
    def win_length(self) -> int:
        return int(round(self.sample_rate * self.win_ms / 1000))

    @property
    def hop_length(self) -> int:
        return int(round(self.sample_rate * self.hop_ms / 1000))

    def with_overrides(self, **kw: object) -> FeatureConfig:
        names = {f.name: f.type for f in fields(self)}
        bad = sorted(set(kw) - set(names))
        if bad:
            raise KeyError(f"unknown feature option(s): {', '.join(bad)}")
        return type(self)(**{**asdict(self), **kw})
