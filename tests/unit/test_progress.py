"""Progress bars in a log or a pipe: whole lines, a few of them, never carriage returns."""

from __future__ import annotations

import io
import time

from tqdm import tqdm

import wise.progress as P


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_tqdm_itself():
    out = Terminal()
    with P.progress_bar(total=3, desc="features", file=out) as b:
        assert type(b) is tqdm
        b.update(3)
    assert "\r" in out.getvalue()


def test_a_log_gets_a_line_every_interval_and_one_at_the_end(monkeypatch):
    monkeypatch.setattr(P, "LOG_INTERVAL", 0.05)
    out = io.StringIO()
    start = time.monotonic()
    b = P.progress_bar(total=40, desc="features", unit="utt", file=out)
    assert isinstance(b, P.LineBar)
    for _ in range(40):
        time.sleep(0.01)
        b.clear()  # as `wise predict` does before printing a result: nothing to clear
        b.update()
    b.close()
    elapsed = time.monotonic() - start
    text = out.getvalue()
    assert "\r" not in text and "\x1b" not in text and text.endswith("\n")
    lines = text.splitlines()
    # At most one line per 0.05 s (~0.4 s in all), plus the last.
    assert 3 <= len(lines) <= elapsed / 0.05 + 2, (elapsed, lines)
    assert all(line.startswith("features: ") and line.count("/40 utt (") == 1
               for line in lines)
    assert lines[-1].startswith("features: 40/40 utt (100%) in ") and " utt/s" in lines[-1]
    assert "left" in lines[0] and not lines[0].startswith("features: 0/")


def test_a_quick_bar_writes_only_its_last_line():
    out = io.StringIO()
    for _ in P.progress_bar(range(5000), desc="packing", unit="utt", file=out):
        pass
    (line,) = out.getvalue().splitlines()
    assert line.startswith("packing: 5000/5000 utt (100%) in ")


def test_refreshes_asked_for_between_lines_write_nothing():
    out = io.StringIO()
    with P.progress_bar(total=10, desc="predict", unit="file", file=out) as b:
        for _ in range(10):
            b.update()
            b.refresh()  # what tqdm.write and set_postfix do
            b.set_postfix(done=b.n)
    (line,) = out.getvalue().splitlines()
    assert line.startswith("predict: 10/10 file (100%) in ")


def test_a_bar_not_kept_and_a_disabled_bar_write_nothing():
    out = io.StringIO()
    for _ in P.progress_bar(range(100), desc="epoch 1", leave=False, file=out):
        pass
    for _ in P.progress_bar(range(100), desc="quiet", disable=True, file=out):
        pass
    assert out.getvalue() == ""


def test_bytes_are_scaled_like_tqdm():
    out = io.StringIO()
    with P.progress_bar(total=3_000_000, unit="B", unit_scale=True, desc="converting",
                        file=out) as b:
        b.update(3_000_000)
    assert out.getvalue().startswith("converting: 3.00MB/3.00MB (100%) in ")


def test_live_tasks_in_a_log_write_a_line_when_something_moved(monkeypatch):
    monkeypatch.setattr(P, "LIVE_INTERVAL", 0.0)
    out = io.StringIO()
    live = P.LiveTasks("training", "epoch", file=out)
    live.update({})                                               # nothing running: no line
    live.update({"wise fold 1/5": (7, 30, "val UA 0.412"), "wise fold 2/5": (5, 30, "")})
    live.update({"wise fold 1/5": (7, 30, "val UA 0.412"), "wise fold 2/5": (5, 30, "")})
    live.update({"wise fold 2/5": (6, 30, "val UA 0.398")})
    live.close()
    assert out.getvalue().splitlines() == [
        "training: wise fold 1/5 epoch 7/30 (val UA 0.412), wise fold 2/5 epoch 5/30",
        "training: wise fold 2/5 epoch 6/30 (val UA 0.398)"]


def test_live_tasks_in_a_log_wait_the_interval(monkeypatch):
    monkeypatch.setattr(P, "LIVE_INTERVAL", 60.0)
    out = io.StringIO()
    live = P.LiveTasks("training", "epoch", file=out)
    for epoch in range(5):
        live.update({"wise fold 1/5": (epoch, 30, "")})
    assert out.getvalue() == "training: wise fold 1/5 epoch 0/30\n"


def test_live_tasks_on_a_terminal_keep_a_bar_per_running_task():
    out = Terminal()
    live = P.LiveTasks("training", "epoch", file=out)
    live.update({"wise fold 1/5": (2, 30, "val UA 0.250"), "wise fold 2/5": (0, 30, "")})
    assert list(live.bars) == ["wise fold 1/5", "wise fold 2/5"]
    with live.writing():                       # the caller prints: the bars step aside
        out.write("  wise fold 1/5 (Ses01): WA 0.5\n")
    live.update({"wise fold 2/5": (4, 30, "val UA 0.300")})
    assert list(live.bars) == ["wise fold 2/5"] and live.bars["wise fold 2/5"].n == 4
    live.close()
    text = out.getvalue()
    assert "wise fold 1/5:   7%" in text and "epoch 4/30" in text and "val UA 0.300" in text
    assert not live.bars
