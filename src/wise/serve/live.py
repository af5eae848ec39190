"""Live speech through `wise serve`: a microphone's audio posted in chunks, its utterances
labelled as soon as the pause after each has been heard (docs/serving.md, "Live").

    POST   /live            open a session: {"session", "sample_rate", "format", limits}
    POST   /live/{session}  the next chunk: raw little-endian float32 samples, mono, at
                            `sample_rate`; answers {"items": [new phrases and gaps], "heard"}
    DELETE /live/{session}  the end: the last utterance, then the session is gone

A session is `wise.timeline` on audio that arrives: its `Segmenter` runs the VAD on every
chunk, each finished utterance is predicted in the worker pool, and the speaker's statistics
grow with every utterance (`SpeakerStats`, carried to the worker and back), so adaptation
improves as the person speaks. Sessions are bounded: at most `max_sessions` at once, each at
most `max_seconds` of audio, each chunk at most `MAX_CHUNK_S`, and a session that has sent
nothing for `idle_s` is dropped with everything it held (a closed tab, a lost connection).
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from dataclasses import dataclass, field

import numpy as np

from wise.errors import WiseError
from wise.normalize import SpeakerStats
from wise.serve.pool import Pool
from wise.timeline import NO_SPEECH, Gap, Phrase, Segmenter, TimelineOptions, shift_words

MAX_CHUNK_S = 5.0       # audio in one POST: the page sends a quarter second at a time
LIVE_STEP_S = 0.25      # how often the VAD looks at what has come


@dataclass(frozen=True)
class LiveLimits:
    """What live sessions may hold (`wise serve --live-sessions/--live-idle`)."""

    sessions: int = 4               # open at once: each holds a speaker's statistics
    max_seconds: float = 3600.0     # audio one session may send
    idle_s: float = 30.0            # a session that sends nothing this long is dropped

    def __post_init__(self) -> None:
        if self.sessions < 0 or not self.max_seconds > 0 or not self.idle_s > 0:
            raise WiseError(None, "live limits: sessions must be >= 0, the seconds positive")


LIVE_LIMITS = LiveLimits()


@dataclass
class Session:
    id: str
    cut: Segmenter
    stats: SpeakerStats | None          # None: the model is not normalised per speaker
    covered: float = 0.0                # seconds before which everything has been reported
    seen: float = field(default_factory=time.monotonic)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class LiveSessions:
    """The open sessions of one server, and what each may hold."""

    def __init__(self, pool: Pool, sample_rate: int, limits: LiveLimits, *,
                 adapts: bool) -> None:
        self.pool, self.sr, self.adapts = pool, sample_rate, adapts
        self.max_sessions, self.max_seconds = limits.sessions, limits.max_seconds
        self.idle_s = limits.idle_s
        self.options = TimelineOptions()
        self._open: dict[str, Session] = {}

    @property
    def limits(self) -> dict:
        return {"max_sessions": self.max_sessions, "max_seconds": self.max_seconds,
                "idle_timeout": self.idle_s, "max_chunk_seconds": MAX_CHUNK_S}

    def drop_idle(self) -> None:
        now = time.monotonic()
        for sid in [s.id for s in self._open.values() if now - s.seen > self.idle_s]:
            del self._open[sid]

    def open(self) -> Session | None:
        """A new session, or None when `max_sessions` are open."""
        self.drop_idle()
        if len(self._open) >= self.max_sessions:
            return None
        s = Session(secrets.token_urlsafe(16),
                    Segmenter(self.options, self.sr, step_s=LIVE_STEP_S, live=True),
                    SpeakerStats() if self.adapts else None)
        self._open[s.id] = s
        return s

    def get(self, sid: str) -> Session | None:
        self.drop_idle()
        return self._open.get(sid)

    def close(self, sid: str) -> None:
        self._open.pop(sid, None)

    def __len__(self) -> int:
        return len(self._open)

    async def reap(self) -> None:
        """Drop idle sessions every few seconds, so that what an abandoned session held is
        freed even when no request comes to notice it (runs for the server's lifetime)."""
        while True:
            await asyncio.sleep(min(5.0, self.idle_s / 2))
            self.drop_idle()

    async def hear(self, s: Session, x: np.ndarray | None) -> list[dict]:
        """The phrases and gaps that `x` (None: the end of the audio) completes, as
        `Phrase.to_dict` / `Gap.to_dict`, in time order."""
        s.seen = time.monotonic()
        cut = s.cut
        if x is None:
            found = await asyncio.to_thread(cut.flush)
        else:
            found = await asyncio.to_thread(cut.push, x)
        items = []
        for first, y, length in found:
            start, end = first / self.sr, (first + length) / self.sr
            if start > s.covered:
                items.append(Gap(round(s.covered, 3), round(start, 3), NO_SPEECH).to_dict())
            r, s.stats, error = await self.pool.heard(y, s.stats,
                                                      f"live {start:.2f}-{end:.2f} s")
            s.covered = end
            if r is None or r.status != "ok":
                items.append(Gap(round(start, 3), round(end, 3),
                                 error or r.message or NO_SPEECH).to_dict())
                continue
            items.append(Phrase(round(start, 3), round(end, 3), 0, shift_words(r, start),
                                s.stats.clips if s.stats is not None else 0).to_dict())
        if x is None and cut.heard / self.sr > s.covered:
            items.append(Gap(round(s.covered, 3), round(cut.heard / self.sr, 3),
                             NO_SPEECH).to_dict())
        s.seen = time.monotonic()
        return items


SPEAKER_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class Speakers:
    """Speakers named by the clients of `POST /predict` (its `speaker` field): each one's
    statistics grow with every upload of theirs, as `wise predict --same-speaker` does for
    files. At most `most` speakers are kept, each for `keep_s` after their last upload; the
    oldest goes first. One speaker's uploads are predicted one at a time, so none is lost."""

    def __init__(self, *, most: int = 64, keep_s: float = 3600.0) -> None:
        self.most, self.keep_s = most, keep_s
        self._known: dict[str, tuple[SpeakerStats, float, asyncio.Lock]] = {}

    def lock(self, name: str) -> asyncio.Lock:
        now = time.monotonic()
        for k in [k for k, (_, seen, _) in self._known.items() if now - seen > self.keep_s]:
            del self._known[k]
        if name not in self._known:
            while len(self._known) >= self.most:
                del self._known[min(self._known, key=lambda k: self._known[k][1])]
            self._known[name] = (SpeakerStats(), now, asyncio.Lock())
        stats, _, lock = self._known[name]
        self._known[name] = (stats, now, lock)
        return lock

    def stats(self, name: str) -> SpeakerStats:
        return self._known[name][0]

    def update(self, name: str, stats: SpeakerStats) -> None:
        if name in self._known:
            _, _, lock = self._known[name]
            self._known[name] = (stats, time.monotonic(), lock)
