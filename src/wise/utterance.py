"""The one row type every corpus reader yields and every later stage reads.

A manifest is a JSONL file of these rows. Times are in seconds from the start of the wav.
`words` are the spoken words only (no silences, no fillers); `phones` are every phone inside
those words, in time order. Both are optional: a row without them is aligned later.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from wise.errors import WiseError
from wise.fsutil import atomic_write_text
from wise.labels import LABELS


@dataclass(frozen=True)
class Segment:
    """A token (word or phone) with start and end time in seconds."""

    token: str
    start: float
    end: float


@dataclass
class Utterance:
    id: str
    audio: str
    text: str
    label: str
    speaker: str
    session: str
    duration: float | None = None
    words: list[Segment] | None = None
    phones: list[Segment] | None = None
    # Where the alignment came from: "gold" (corpus files), "forced" (our aligner; "forced (wide
    # beams)" when it needed its second attempt), "given" (a user's list) or None.
    alignment: str | None = None
    # IEMOCAP: improvised or scripted dialog; scripted lines repeat across sessions.
    improvised: bool | None = None
    # The speaker's sex, "F" or "M", when the corpus says; the speaker_groups CV protocol
    # balances it across folds. Written to the manifest only when known.
    gender: str | None = None
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        d = asdict(self)
        for key in ("words", "phones"):
            if d[key] is not None:
                d[key] = [[s["token"], round(s["start"], 4), round(s["end"], 4)] for s in d[key]]
        if d["gender"] is None:
            del d["gender"]
        if not d["extra"]:
            del d["extra"]
        return d

    @classmethod
    def from_json(cls, d: dict) -> Utterance:
        """The row `to_json` wrote; ValueError or TypeError naming what is wrong for anything
        else (not an object, a field missing or of the wrong type, a label not in LABELS)."""
        if not isinstance(d, dict):
            raise TypeError("not a JSON object")
        d = dict(d)
        for key in ("words", "phones"):
            if d.get(key) is not None:
                d[key] = [Segment(str(t), float(s), float(e)) for t, s, e in d[key]]
        known = {f for f in cls.__dataclass_fields__}
        extra = {k: v for k, v in d.items() if k not in known}
        d = {k: v for k, v in d.items() if k in known}
        if extra:
            d.setdefault("extra", {})
            if isinstance(d["extra"], dict):
                d["extra"].update(extra)
        u = cls(**d)
        for name, kinds in _FIELD_TYPES.items():
            if type(getattr(u, name)) not in kinds:   # exact types: `true` is no duration
                raise TypeError(f"'{name}' is {type(getattr(u, name)).__name__}")
        if u.label not in LABELS:
            raise ValueError(f"label {u.label[:20]!r} is not one of {', '.join(LABELS)}")
        return u


# What each field of a manifest row may hold (words and phones are rebuilt as Segments).
_FIELD_TYPES = {**{name: (str,) for name in ("id", "audio", "text", "label", "speaker",
                                              "session")},
                "duration": (int, float, type(None)), "alignment": (str, type(None)),
                "improvised": (bool, type(None)), "gender": (str, type(None)),
                "extra": (dict,)}


def write_manifest(path: str | Path, rows: Iterable[Utterance]) -> int:
    lines = [json.dumps(u.to_json(), ensure_ascii=False) for u in rows]
    atomic_write_text(path, "".join(line + "\n" for line in lines))
    return len(lines)


def read_manifest(path: str | Path) -> Iterator[Utterance]:
    """Read a manifest written by `write_manifest` (JSONL)."""
    path = Path(path)
    if not path.is_file():
        raise WiseError(path, "manifest not found")
    # Lines end at "\n" only: a transcript may hold U+2028 and the like, written unescaped.
    with open(path, "rb") as f:
        for n, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8-sig" if n == 1 else "utf-8")
            except UnicodeDecodeError as e:
                raise WiseError(path, f"line {n}: not UTF-8 text (byte {e.start})") from None
            if not line.strip():
                continue
            try:
                yield Utterance.from_json(json.loads(line))
            except (TypeError, ValueError, KeyError, OverflowError, RecursionError) as e:
                why = (str(e).splitlines() or [type(e).__name__])[0][:200]
                raise WiseError(path, f"line {n}: not a manifest row ({why})") from None
