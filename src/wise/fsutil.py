"""Writing files so that a crash or a kill never leaves a half-written one in place.

Everything is written beside its final path under a temporary name, then renamed over it
(atomic on POSIX). Temp files made with `tempfile` are private (0600/0700); finished files get
the permissions an ordinary `open()` would give them under the user's umask.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; when the block ends without error, it replaces
    `path`; on error it is removed and `path` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_file(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def new_temp_dir(parent: str | Path, prefix: str) -> Path:
    Path(parent).mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".tmp-{prefix}-", dir=parent))


def publish_dir(tmp: Path, final: Path) -> None:
    """Move a finished temp folder to `final`. If another process published the same folder
    first (same content, by construction of the caller's keys), keep theirs."""
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        os.rename(tmp, final)
    except OSError:
        if not final.is_dir():
            raise
        shutil.rmtree(tmp, ignore_errors=True)
