"""Stopping: the exception a stop signal raises (^C's KeyboardInterrupt, SIGTERM's) is held
back while C code that calls back into Python runs, raised again where Python dropped it,
and a pool of worker processes ends without leaving a process behind, whether its work
finished or failed, or one of its workers died."""

from __future__ import annotations

import errno
import multiprocessing as mp
import os
import signal
import time
from pathlib import Path

import pytest

from wise.cluster import imap, local_pool
from wise.errors import WiseError
from wise.fsutil import atomic_file
from wise.stopping import stop, stop_ended, stop_held


def test_a_stop_is_held_back_until_the_block_ends():
    ran_on = []
    try:
        with pytest.raises(KeyboardInterrupt), stop_held():
            stop(KeyboardInterrupt())
            ran_on.append("after the signal")
    finally:
        stop_ended()
    assert ran_on == ["after the signal"]


def test_a_stop_during_a_failed_writes_cleanup_still_removes_its_temporary(tmp_path,
                                                                             monkeypatch):
    # A worker whose write failed (a size limit) is terminated by the pool while it removes
    # its temporary, because the other worker failed the same way a moment before.
    unlink = Path.unlink

    def stopped_then_unlink(self, missing_ok=False):
        stop(SystemExit(143))                     # SIGTERM's handler lands here
        unlink(self, missing_ok=missing_ok)

    try:
        with pytest.raises(SystemExit), atomic_file(tmp_path / "clip.wav"):
            monkeypatch.setattr(Path, "unlink", stopped_then_unlink)
            raise OSError(errno.EFBIG, "File too large")
    finally:
        stop_ended()
        monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


class _Dropper:
    def __del__(self) -> None:
        stop(KeyboardInterrupt())        # Python prints and drops what a __del__ raises


def test_a_dropped_stop_is_raised_again_and_not_printed(capfd):
    try:
        with pytest.raises(KeyboardInterrupt):
            _Dropper()
            for _ in range(100):         # the retry lands here within a second
                time.sleep(0.05)
    finally:
        stop_ended()
    assert "Exception ignored" not in capfd.readouterr().err


def _double(x: int) -> int:
    return 2 * x


def _refuse(x: int) -> int:
    raise WiseError(f"/in/{x}.wav", "not a WAV file")


def test_a_pool_ends_with_its_work_and_leaves_no_process():
    with local_pool(2) as pool:
        assert sorted(pool.imap_unordered(_double, range(6))) == [0, 2, 4, 6, 8, 10]
    assert mp.active_children() == []


def test_a_worker_error_reaches_the_parent_and_ends_the_pool():
    with pytest.raises(WiseError) as err:
        list(imap(_refuse, [1, 2, 3], workers=2))
    assert err.value.message == "not a WAV file" and err.value.path.startswith("/in/")
    assert mp.active_children() == []


def _die(x: int) -> int:
    os.kill(os.getpid(), signal.SIGKILL)      # as the kernel's out-of-memory killer would
    return x


def test_a_worker_that_dies_fails_the_work_in_one_line():
    # multiprocessing.Pool alone would start another worker and wait for ever
    with pytest.raises(WiseError) as err:
        list(imap(_die, [1, 2], workers=2, idle_every=0.2))
    assert err.value.message.startswith("a worker process was killed by signal 9")
    assert mp.active_children() == []


CHILD = """
import signal, sys, time
sys.path.insert(0, sys.argv[1])
from wise.stopping import worker_exit
signal.signal(signal.SIGTERM, worker_exit)
print("ready", flush=True)
import slow_dataclass            # a __set_name__ sleeps: the SIGTERM lands inside it
time.sleep(5)
"""

SLOW = """
import time


class Slow:
    def __set_name__(self, owner, name):      # as dataclasses' Field has one
        time.sleep(1.0)


class Row:
    extra = Slow()
"""


def test_a_stop_during_an_import_waits_for_it_and_prints_no_traceback(tmp_path):
    """A worker told to stop while it imports (a task's module, unpickled) exits as if told
    a moment later: raised inside a dataclass's class body, the exception would come out as
    a RuntimeError with a traceback."""
    import subprocess
    import sys

    (tmp_path / "slow_dataclass.py").write_text(SLOW)
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "ready"
    time.sleep(0.3)                                   # inside the class body's sleep
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=30)
    assert child.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err and "RuntimeError" not in err, err
