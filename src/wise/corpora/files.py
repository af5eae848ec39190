"""What the corpus readers share: listing a folder's files (RAVDESS, CREMA-D) and checking one
audio file (every reader), every drop counted in the same words."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from wise.audio import audio_info
from wise.errors import Skips, WiseError


def corpus_files(folder: Path) -> Iterator[Path]:
    """The regular files of `folder` (not recursive), sorted; hidden files (`.DS_Store`, the
    `._name` copies macOS leaves in archives) are not corpus files and are passed over."""
    for path in sorted(folder.iterdir()):
        if path.is_file() and not path.name.startswith("."):
            yield path


def is_file(path: Path) -> bool:
    """`path.is_file()`, and False too where the name cannot be a file at all (a component
    longer than the file system allows), as a list's row or a label line may ask for."""
    try:
        return path.is_file()
    except OSError:
        return False


def excerpt(text: str, limit: int = 200) -> str:
    """`text` fit for a one-line message: as it is when short and printable, else quoted and
    escaped (no line breaks or control characters) and cut to `limit` characters."""
    if len(text) <= limit and text.isprintable():
        return text
    return repr(text[:limit]) + ("..." if len(text) > limit else "")


def audio_seconds(path: Path, skips: Skips, where: str) -> float | None:
    """The file's duration from its header, or None (counted) when it is unreadable or empty."""
    try:
        sr, _, n = audio_info(path)
    except WiseError:
        skips.add("unreadable audio (corrupt header or not audio)", where)
        return None
    if n == 0:
        skips.add("empty audio (zero samples)", where)
        return None
    return n / sr
