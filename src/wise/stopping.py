"""Stopping a command cleanly: ^C and SIGTERM, in the command and in its worker processes.

A stop signal becomes an exception raised in the main thread (`stop`): KeyboardInterrupt for
^C, `Terminated` for SIGTERM, or in a pool's worker SystemExit. The command then unwinds like
for any error, so `finally` blocks remove temporaries and end worker processes; the CLI
reports one line and exits 130 or 143 (`wise.cli`). Two things make that reliable:

- Python may drop an exception raised by a signal handler (inside a weakref callback, a
  `__del__`, a C library's callback: "Exception ignored in ..."), so until the stop has ended
  the process it is raised again every `STOP_RETRY_S` seconds (a SIGALRM timer), unless it is
  being handled already.
- Some work must not be broken off halfway (starting a pool's processes) or cannot take an
  exception (C code that calls back into Python): `stop_held` holds the exception back until
  its block ends.

Everything about stop signals is here; `wise.cluster` uses it for its pools' workers.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class Terminated(BaseException):
    """SIGTERM, raised in the main thread like ^C's KeyboardInterrupt: the command unwinds,
    ending its worker processes and removing its temporaries, and exits with 143."""


@contextmanager
def stop_signals(cleanup: Callable[[], object]) -> Iterator[None]:
    """While a command runs: SIGTERM raises `Terminated` and ^C KeyboardInterrupt, once; a
    repeated signal is ignored, so that it cannot break off the cleanup that the first one
    started (ending the worker processes). A signal ignored at start (a background job)
    stays ignored; handlers can only be set from the main thread. Whatever ends the command
    by an exception, `cleanup` runs first (`wise.cluster.end_local_pools`: no worker process
    outlives the command)."""
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        stop(Terminated() if signum == signal.SIGTERM else KeyboardInterrupt())

    old = ({sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
           if threading.current_thread() is threading.main_thread() else {})
    for sig, handler in old.items():
        if handler in (signal.SIG_DFL, signal.default_int_handler):
            signal.signal(sig, on_signal)
    try:
        yield
    except BaseException:
        stopping = True
        cleanup()
        raise
    finally:
        stop_ended()
        for sig, handler in old.items():
            signal.signal(sig, handler)


_exiting = False        # this worker process is running its exit handlers


def set_exiting() -> None:
    """A worker's exit handlers have started (`wise.cluster` registers this first among
    them): from then on a SIGTERM must not break them off."""
    global _exiting
    _exiting = True


def worker_exit(signum: int, _frame: object) -> None:
    """SIGTERM in a worker (the pool is being ended): unwind like an exception (`stop`), so
    that `finally` blocks and exit handlers run, unless they are running already."""
    if not _exiting:
        stop(SystemExit(128 + signum))


_held = 0                               # depth of `stop_held` blocks running in this process
_pending: BaseException | None = None   # what a stop signal raised during them
_stopping: BaseException | None = None  # the stop signal's exception, until `stop_ended`
_before: tuple = ()                     # sys.unraisablehook and SIGALRM's handler before it
STOP_RETRY_S = 0.5


def stop(exc: BaseException) -> None:
    """Raise `exc`, what a stop signal (^C, SIGTERM) means, from the signal's handler: now, or
    when the `stop_held` block running ends. The handler runs wherever the main thread is, and
    there Python may drop the exception (in a weakref callback, a `__del__`, a C library's
    callback: "Exception ignored in ..."); so until the stop ends the process (`stop_ended`,
    or its exit handlers start) it is raised again every `STOP_RETRY_S` seconds, unless it is
    being handled, i.e. the cleanup it started is under way. Inside an import it waits for
    the next retry (`_raise`)."""
    global _stopping, _before
    if _stopping is None:
        _stopping = exc
        _before = (sys.unraisablehook, signal.signal(signal.SIGALRM, _stop_again))
        sys.unraisablehook = _unraisable
        signal.setitimer(signal.ITIMER_REAL, STOP_RETRY_S, STOP_RETRY_S)
    _raise(exc)


def stop_ended() -> None:
    """The stop has done its work (the command caught its exception): no more retries."""
    global _stopping, _pending
    if _stopping is not None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        sys.unraisablehook, alarm = _before
        signal.signal(signal.SIGALRM, alarm)
        _stopping = _pending = None


def _raise(exc: BaseException) -> None:
    global _pending
    if _held:
        _pending = _pending or exc
        return
    if _importing(sys._getframe(1)):
        # Raised inside an import, the exception can come out as another one: a dataclass's
        # class body turns it into "RuntimeError: Error calling __set_name__", printed with
        # a traceback. The retry timer raises it once the import has finished.
        return
    raise exc


def _importing(frame: Any) -> bool:
    """Whether `frame` (the code a signal interrupted) runs inside an import."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib._bootstrap"):
            return True
        frame = frame.f_back
    return False


def _stop_again(_signum: int, _frame: object) -> None:
    if _stopping is None or _exiting:
        signal.setitimer(signal.ITIMER_REAL, 0)
    elif not _handling(_stopping):
        _raise(_stopping)


def _unraisable(u: Any) -> None:
    """Where Python drops the stop exception it says so ("Exception ignored in ..."): not
    worth a traceback, since `_stop_again` raises it again."""
    if u.exc_value is not _stopping:
        _before[0](u)


def _handling(exc: BaseException) -> bool:
    """Whether `exc` is being handled here (an `except` or `finally` block runs for it, or for
    an error raised while handling it)."""
    e = sys.exc_info()[1]
    while e is not None:
        if e is exc:
            return True
        e = e.__context__
    return False


@contextmanager
def stop_held() -> Iterator[None]:
    """Hold back the exception of a stop signal (`stop`) until the block ends: for C code that
    calls back into Python (espeak's synthesis callback), where ctypes would print and drop
    it, and for work that must not be broken off halfway (starting a pool's processes)."""
    global _held, _pending
    _held += 1
    try:
        yield
    finally:
        _held -= 1
    if not _held and _pending is not None:
        exc, _pending = _pending, None
        raise exc
