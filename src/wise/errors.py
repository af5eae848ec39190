"""One place that decides how an expected fault is reported.

An expected fault (bad file, bad line, bad option) raises `WiseError`; the CLI prints it as
`wise: error: <file>: <what is wrong>` and exits non-zero, never with a traceback.
Batch jobs that go on past a bad item record it in a `Skips` tally instead, so the summary
can say how many were skipped and why.
"""

from __future__ import annotations

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


def format_error(err: WiseError) -> str:
    return f"wise: error: {err.line()}"


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
