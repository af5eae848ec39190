"""Progress bars: tqdm's own on a terminal; in a log file or a pipe, plain lines instead.

A redrawn bar written to a file is one line of thousands of carriage-return fragments. Where
the stream is not a terminal, `progress_bar` gives a tqdm that writes one line at most every
`LOG_INTERVAL` seconds and one at the end (for a bar that is kept, `leave=True`):

    features: 1200/5000 utt (24%), 105 utt/s, ~36 s left
    features: 5000/5000 utt (100%) in 47 s, 106 utt/s

`LiveTasks` shows tasks that run elsewhere (worker processes, cluster nodes) and report their
progress to the caller, who polls it: a bar per running task on a terminal, and in a log one
line every `LIVE_INTERVAL` seconds naming every running task, when something moved:

    training: wise fold 1/5 epoch 7/30 (val UA 0.412), wise fold 2/5 epoch 5/30
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TextIO

from tqdm import tqdm

LOG_INTERVAL = 5.0  # seconds between two lines of a bar in a log
LIVE_INTERVAL = 10.0  # seconds between two lines of `LiveTasks` in a log


def progress_bar(iterable: Iterable | None = None, **kw: Any) -> tqdm:
    """A tqdm progress bar (same arguments) that writes plain lines when its stream, `file`
    or else stderr, is not a terminal."""
    stream = kw.get("file") or sys.stderr
    return (tqdm if _is_terminal(stream) else LineBar)(iterable, **kw)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class LineBar(tqdm):
    """tqdm's counting and timing, shown as whole lines: no carriage returns, no redraws."""

    def __init__(self, iterable: Iterable | None = None, **kw: Any) -> None:
        kw.setdefault("mininterval", LOG_INTERVAL)  # tqdm then refreshes at most this often
        super().__init__(iterable, **kw)

    def display(self, msg: str | None = None, pos: int | None = None) -> bool:
        # No line for tqdm's refresh from __init__ (before `start_t` exists: nothing done
        # yet), for its blanking of a bar that is not kept (msg=""), or for a refresh asked
        # for elsewhere (tqdm.write, set_postfix) sooner than `mininterval` after the last.
        if (msg == "" or not hasattr(self, "start_t")
                or self._time() - self.last_print_t < self.mininterval):
            return False
        self._write(self._progress_line())
        return True

    def clear(self, nolock: bool = False) -> None:
        """Nothing to clear: every line written stays."""

    def close(self) -> None:
        if not self.disable and self.leave and hasattr(self, "start_t"):
            self._write(self._final_line())
        self.leave = False  # tqdm's own close then only asks for a blank, which display skips
        super().close()

    def _write(self, line: str) -> None:
        self.fp.write(line + "\n")
        getattr(self.fp, "flush", lambda: None)()

    def _amount(self, x: float) -> str:
        """`x` in the bar's unit: `1200 utt`, or `1.20GB` where tqdm scales it (`unit_scale`)."""
        if self.unit_scale:
            return f"{self.format_sizeof(x, divisor=self.unit_divisor)}{self.unit}"
        return f"{x:.0f} {self.unit}" if float(x).is_integer() else f"{x:.2g} {self.unit}"

    def _head(self) -> str:
        name = f"{self.desc}: " if self.desc else ""
        if not self.total:
            return name + self._amount(self.n)
        done = self._amount(self.n)
        if not self.unit_scale:
            done = done.removesuffix(f" {self.unit}")  # `1200/5000 utt`, the unit once
        return f"{name}{done}/{self._amount(self.total)} ({100 * self.n / self.total:.0f}%)"

    def _rate(self, rate: float | None) -> str:
        if not rate:
            return ""
        shown = self._amount(round(rate) if rate >= 10 and not self.unit_scale else rate)
        return f", {shown}/s"

    def _progress_line(self) -> str:
        rate = self.format_dict["rate"] or (self.n / self._elapsed() if self._elapsed() else None)
        left = ""
        if rate and self.total and self.n <= self.total:
            left = f", ~{_seconds((self.total - self.n) / rate)} left"
        return self._head() + self._rate(rate) + left

    def _final_line(self) -> str:
        elapsed = self._elapsed()
        return f"{self._head()} in {_seconds(elapsed)}" + self._rate(
            self.n / elapsed if elapsed else None)

    def _elapsed(self) -> float:
        return self._time() - self.start_t


def _seconds(t: float) -> str:
    t = round(t)
    if t < 60:
        return f"{t} s"
    if t < 3600:
        return f"{t // 60} min {t % 60} s"
    return f"{t // 3600} h {t % 3600 // 60} min"


class LiveTasks:
    """The progress of tasks running elsewhere, as the caller last polled it (`update`).

    On a terminal, one tqdm bar per running task, in the order they started; in a log or a
    pipe, one line at most every `LIVE_INTERVAL` seconds, and only when a task moved:
    `<desc>: <task> <unit> <n>/<total> (<note>), ...`. A task absent from an update has
    ended: its bar goes."""

    def __init__(self, desc: str, unit: str, file: TextIO | None = None) -> None:
        self.desc, self.unit = desc, unit
        self.file = file or sys.stderr
        self.terminal = _is_terminal(self.file)
        self.bars: dict[str, tqdm] = {}
        self.last_line = ""
        self.last_time = -float("inf")

    def update(self, states: Mapping[str, tuple[int, int, str]]) -> None:
        """`states`: every running task's (done, total, note), in the order to show them."""
        if self.terminal:
            for name in [n for n in self.bars if n not in states]:
                self.bars.pop(name).close()
            for name, (n, total, note) in states.items():
                bar = self.bars.get(name)
                if bar is None:
                    # No rate: the counts jump as they are polled, not as they happen.
                    bar = self.bars[name] = tqdm(
                        total=total, desc=name, leave=False, file=self.file,
                        bar_format="{desc}: {percentage:3.0f}%|{bar}| " + self.unit
                        + " {n_fmt}/{total_fmt} [{elapsed}{postfix}]")
                bar.total = total
                bar.n = n
                bar.set_postfix_str(note, refresh=False)
                bar.refresh()
            return
        line = ", ".join(f"{name} {self.unit} {n}/{total}" + (f" ({note})" if note else "")
                         for name, (n, total, note) in states.items())
        now = time.monotonic()
        if line and line != self.last_line and now - self.last_time >= LIVE_INTERVAL:
            self.file.write(f"{self.desc}: {line}\n")
            getattr(self.file, "flush", lambda: None)()
            self.last_line, self.last_time = line, now

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Around the caller's own printing: the bars step aside on a terminal."""
        if not self.bars:
            yield
            return
        with tqdm.external_write_mode(file=self.file):
            yield

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()
        self.bars.clear()
