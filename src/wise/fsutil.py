"""Writing files so that a crash or a kill never leaves a half-written one in place.

Everything is written beside its final path under a temporary name, then renamed over it
(atomic on POSIX). Temporaries are private (0600/0700); finished files get the permissions an
ordinary `open()` would give them under the user's umask. A write that fails (a full disk, a
read-only folder) or is interrupted (^C, SIGTERM) removes its temporary, and its OSError names
the file or folder that was asked for, not the temporary.

A process killed mid-write (SIGKILL, a lost node) leaves its temporary behind. Temporary names
carry their writer's pid and a tag of its host (`.NAME.p<pid>-<host>.XXXX.tmp`,
`.tmp-PREFIX-p<pid>-<host>-XXXX/`), so the first write of a later process into the same folder
removes those whose writer is gone (`_remove_stale`); a temporary of a writer still running,
here or on another host sharing the folder, is left alone.

Whatever is reused later (cache entries, packs, converted vectors, finished folds) also gets a
record of its files' sizes and SHA-256 (`write_checksums`), written after them; a reader reuses
the files only when they still match it (`check_checksums`) and otherwise builds them again.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from wise.stopping import stop_held


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_HOST: str | None = None
_swept: set[str] = set()            # folders whose stale temporaries this process removed
_STALE_FILE = re.compile(r"^\..+\.p(\d+)-([0-9a-f]{8})\.[^.]*\.tmp$")
_STALE_DIR = re.compile(r"^\.tmp-.*-p(\d+)-([0-9a-f]{8})-[^-]*$")


def _host() -> str:
    """This machine as temp names record it: its name and PID namespace (two containers may
    share a name and a folder, not their pids)."""
    global _HOST
    if _HOST is None:
        try:
            ns = os.stat("/proc/self/ns/pid").st_ino
        except OSError:
            ns = 0
        _HOST = hashlib.sha256(f"{socket.gethostname()}/{ns}".encode()).hexdigest()[:8]
    return _HOST


def _owner() -> str:
    return f"p{os.getpid()}-{_host()}"


def _gone(pid: int) -> bool:
    """Whether process `pid` of this host has ended (a zombie, never reaped, has)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def _remove_stale(folder: Path) -> None:
    """Once per process and folder: delete the temporaries in `folder` left by writers of this
    host that have ended."""
    key = str(folder.resolve())
    if key in _swept:
        return
    _swept.add(key)
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        m = _STALE_FILE.match(name) or _STALE_DIR.match(name)
        if m is None or m[2] != _host() or not _gone(int(m[1])):
            continue
        if m.re is _STALE_DIR:
            shutil.rmtree(folder / name, ignore_errors=True)
        else:
            (folder / name).unlink(missing_ok=True)


@contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; when the block ends without error, it replaces
    `path`; on error it is removed and `path` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(path.parent)
    # Named before it is made, and made inside the `try`: a signal (^C, SIGTERM) that lands
    # just after its creation still finds the name to remove.
    tmp = _temp_name(path.parent, f".{path.name}.{_owner()}.", ".tmp")
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as e:
        _remove(tmp)
        raise _about(e, path, tmp) from None
    except BaseException:
        _remove(tmp)
        raise


def _remove(tmp: Path) -> None:
    """Remove a temporary file if it is there. Quietly: the error to report is the one that
    made the write fail (on a read-only file system even unlinking a missing file fails). A
    stop signal waits until it is gone: a worker that failed to write (a full disk, a size
    limit) is often terminated at that very moment, because another worker failed too."""
    with stop_held(), contextlib.suppress(OSError):
        tmp.unlink(missing_ok=True)


def _temp_name(folder: Path, prefix: str, suffix: str = "") -> Path:
    """A name no other writer uses: it carries this process's pid and host tag, and 64
    random bits against this process's other threads."""
    return folder / f"{prefix}{secrets.token_hex(8)}{suffix}"


def _about(e: OSError, path: Path, tmp: Path) -> OSError:
    """`e`, naming `path` when it names no file or only the temporary `tmp` (a file or a
    folder) of this write: what failed is what the user asked for, e.g. "no space left on the
    device"."""
    named = None if e.filename is None else Path(os.fsdecode(e.filename))
    if named is None or named == tmp or named.is_relative_to(tmp):
        e.filename, e.filename2 = str(path), None
    return e


def is_temporary(name: str) -> bool:
    """Whether a file or folder name is one of this module's temporaries (`.NAME.*.tmp` files,
    `.tmp-*` folders): what a finished write never leaves behind."""
    return name.startswith(".tmp-") or (name.startswith(".") and name.endswith(".tmp"))


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_file(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def new_temp_dir(parent: str | Path, prefix: str) -> Path:
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(parent)
    tmp = _temp_dir_name(parent, prefix)
    tmp.mkdir(0o700)
    return tmp


def _temp_dir_name(parent: Path, prefix: str) -> Path:
    return _temp_name(parent, f".tmp-{prefix}-{_owner()}-")


@contextmanager
def atomic_dir(final: str | Path, prefix: str | None = None) -> Iterator[Path]:
    """Yield a new temporary folder beside `final` (named after `prefix`, default `final`'s
    name); when the block ends without error it is published as `final` (`publish_dir`); on
    error it is removed, and an OSError that names no file, or one inside it, names `final`
    (what failed is the folder the user asked for, e.g. "no space left on the device")."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(final.parent)
    tmp = _temp_dir_name(final.parent, prefix or final.name)    # made inside the `try`, as
    try:                                                        # in atomic_file
        tmp.mkdir(0o700)
        yield tmp
        publish_dir(tmp, final)
    except OSError as e:
        with stop_held():                       # as in `_remove`
            shutil.rmtree(tmp, ignore_errors=True)
        raise _about(e, final, tmp) from None
    except BaseException:
        with stop_held():
            shutil.rmtree(tmp, ignore_errors=True)
        raise


def append_record(f: BinaryIO, data: bytes) -> None:
    """Append `data` to the journal `f` (opened unbuffered: `open(path, "ab", buffering=0)`)
    whole or not at all: a write that the disk cannot finish (full, over a size limit) is cut
    off again before its error is raised, so the journal never ends in half a record."""
    start = os.fstat(f.fileno()).st_size
    try:
        view = memoryview(data)
        while view:
            view = view[f.write(view):]
    except OSError as e:
        with contextlib.suppress(OSError):
            os.ftruncate(f.fileno(), start)
        e.filename = e.filename or f.name
        raise


def reserve(path: str | Path) -> None:
    """Allocate the disk blocks of a file created at its full size but sparse (a memory map's,
    `np.lib.format.open_memmap`) before it is written: a write into a mapped page that a full
    disk cannot back kills the process with SIGBUS, where this fails with ENOSPC."""
    fd = os.open(path, os.O_RDWR)
    try:
        os.posix_fallocate(fd, 0, os.fstat(fd).st_size)
    except OSError as e:
        if e.errno in (errno.EINVAL, errno.EOPNOTSUPP):   # cannot reserve: written as before
            return
        e.filename = str(path)
        raise
    finally:
        os.close(fd)


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


def user_cache_dir() -> Path:
    """Where files made once for any project are kept between runs (converted word vectors,
    assembled encoders): $WISE_CACHE, else $XDG_CACHE_HOME/wise, else ~/.cache/wise."""
    if os.environ.get("WISE_CACHE"):
        return Path(os.environ["WISE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "wise"


CHECKSUMS = "checksums.json"
_HASH_BLOCK = 1 << 20


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file, read in 1 MiB blocks. SHA-256 rather than BLAKE2b: with the CPU's
    SHA instructions it hashes 1.5 GB/s against BLAKE2b's 0.84 GB/s on the 2-core machine this
    was measured on (hashlib, 200 MB), so a 1 GB feature pack verifies in under a second."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_HASH_BLOCK):
            h.update(block)
    return h.hexdigest()


def write_checksums(folder: str | Path, names: Iterable[str], record: str = CHECKSUMS) -> None:
    """Write `folder/record`: the size and SHA-256 of each file `names` in `folder`. Call it
    after those files are complete: the record's presence then says they all were."""
    folder = Path(folder)
    files = {n: {"bytes": (folder / n).stat().st_size, "sha256": file_sha256(folder / n)}
             for n in sorted(names)}
    atomic_write_text(folder / record, json.dumps({"sha256": files}, indent=1) + "\n")


def check_checksums(folder: str | Path, required: Iterable[str] = (), *, full: bool = True,
                    record: str = CHECKSUMS) -> str | None:
    """None when every file `folder/record` lists is there with its recorded size and (with
    `full`) its recorded SHA-256, and the record lists every name in `required`; otherwise
    what is wrong, in words. Without `full` only sizes are compared: that finds a truncated or
    missing file at no cost, not a changed byte."""
    folder = Path(folder)
    try:
        listed = json.loads((folder / record).read_text(encoding="utf-8"))["sha256"]
        files = [(str(n), int(e["bytes"]), str(e["sha256"])) for n, e in listed.items()]
    except FileNotFoundError:
        return f"no {record} (written by an earlier version of wise, or never finished)"
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return f"{record} is damaged"
    missing = sorted(set(required) - {n for n, _, _ in files})
    if missing:
        return f"{record} does not list {', '.join(missing)}"
    for name, size, digest in files:
        try:
            actual = (folder / name).stat().st_size
            if actual != size:
                cut = " (cut short)" if actual < size else ""
                return f"{name} is {actual} bytes, {size} were written{cut}"
            if full and file_sha256(folder / name) != digest:
                return f"{name} has changed since it was written (its SHA-256 differs)"
        except FileNotFoundError:
            return f"{name} is missing"
        except OSError as e:
            return f"{name} cannot be read ({e.strerror or e})"
    return None


def discard_dir(path: str | Path) -> None:
    """Delete a folder found damaged. It is first renamed aside, so that nothing finds it half
    deleted and a rebuilt one can be published under its name at once. The folder it is moved
    into is a temporary like any other, so a kill before it is gone leaves nothing for good."""
    path = Path(path)
    aside = new_temp_dir(path.parent, f"discard-{path.name}")
    try:
        os.rename(path, aside / path.name)
    except FileNotFoundError:          # another process discarded it first
        pass
    shutil.rmtree(aside, ignore_errors=True)
