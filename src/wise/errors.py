"""One place that decides how an expected fault is reported.

An expected fault (bad file, bad line, bad option) raises `WiseError`; the CLI prints it as
`wise: error: <file>: <what is wrong>` and exits non-zero, never with a traceback.
Batch jobs that go on past a bad item record it in a `Skips` tally instead, so the summary
can say how many were skipped and why.
"""

from __future__ import annotations

import errno
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path


class WiseError(Exception):
    """An expected, user-facing fault about one file (or none)."""

    def __init__(self, path: str | Path | None, message: str):
        self.path = str(path) if path is not None else None
        self.message = message
        super().__init__(self.line())

    def line(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{where}{self.message}"

    def __reduce__(self):
        # A worker process's error reaches its parent pickled: rebuild it from both parts (the
        # default would call __init__ with the formatted line alone, and fail in the parent).
        return type(self), (self.path, self.message)


def first_line(e: BaseException) -> str:
    """The first line of what a library's exception says, or its type's name when it says
    nothing: the reason inside a one-line error."""
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def format_error(err: WiseError) -> str:
    return f"wise: error: {err.line()}"


# What a failed write or read says, in the words of the one-line error. The rest keep the
# system's own text, lower-cased.
_OS_WORDS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EFBIG: "file too large",
    errno.ENOENT: "no such file or folder",
    errno.ENOTDIR: "a part of the path is not a folder",
    errno.EISDIR: "is a folder",
    errno.ENAMETOOLONG: "file name too long",
    errno.EMFILE: "too many open files",
    errno.EIO: "input/output error (a failing disk or a lost network file system)",
}


def os_error_words(e: OSError) -> str:
    """An OSError's problem in words, without the path: "no space left on the device"."""
    if e.errno in _OS_WORDS:
        return _OS_WORDS[e.errno]
    text = e.strerror or str(e) or type(e).__name__
    return text[:1].lower() + text[1:]


def from_os_error(e: OSError, path: str | Path | None = None) -> WiseError:
    """The `WiseError` an OSError is reported as: about `path`, or else the file it names."""
    return WiseError(path if path is not None else e.filename, os_error_words(e))


@dataclass
class Skips:
    """Counts of skipped items by reason, with a few examples of each for the summary."""

    counts: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    max_examples: int = 3

    def add(self, reason: str, example: str = "") -> None:
        self.counts[reason] += 1
        ex = self.examples.setdefault(reason, [])
        if example and len(ex) < self.max_examples:
            ex.append(example)

    def merge(self, other: Skips) -> None:
        for reason, n in other.counts.items():
            self.counts[reason] += n
            ex = self.examples.setdefault(reason, [])
            for e in other.examples.get(reason, []):
                if len(ex) < self.max_examples:
                    ex.append(e)

    def total(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, dict]:
        return {r: {"count": n, "examples": self.examples.get(r, [])}
                for r, n in sorted(self.counts.items())}

    def lines(self) -> list[str]:
        out = []
        for reason, n in sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0])):
            ex = self.examples.get(reason) or []
            tail = f"  (e.g. {', '.join(ex)})" if ex else ""
            out.append(f"{n:6d}  {reason}{tail}")
        return out
