"""benchmarks/faults/soak_live.py, short: live sessions that finish, vanish mid-phrase or drop
the connection mid-chunk, for 15 s, and what the server holds once they are gone. The 5-minute
run is in docs/reliability.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_abandoned_live_sessions_leave_nothing_behind(tmp_path):
    out = tmp_path / "live.json"
    r = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks/faults/soak_live.py"),
         str(ROOT / "tests/fixtures/ravdess"), "--clips", "3", "--minutes", "0.25",
         "--clients", "2", "--live-idle", "2", "--sample-seconds", "1", "--out", str(out)],
        capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    result = json.loads(out.read_text())
    runs, base, after = result["runs"], result["baseline"], result["after"]
    assert result["warm_up"]["phrases"] == 3
    assert any(r["kind"] in ("vanish", "drop_mid_chunk") for r in runs), runs
    runs = [r for r in runs if r["opened"]]
    finished = [r for r in runs if r["kind"] in ("complete", "bad_chunks")]
    assert all(r["phrases"] == 3 for r in finished), finished
    assert all(int(s) < 500 for r in runs for s in r["statuses"]), runs
    assert all(s == 400 for r in runs for s in r.get("bad_statuses", []))
    assert max(s["sessions"] for s in result["samples"]) >= 1
    # Gone: every session, no worker more or less, no file or descriptor kept.
    assert after["sessions"] == 0
    assert after["workers"] == base["workers"] == 1
    assert after["tmp_names"] == base["tmp_names"]
    assert after["fds"] <= base["fds"] and after["fd_kinds"] == base["fd_kinds"]
    assert result["server_log_tracebacks"] == 0 and result["server_exit"] == 0
    assert result["area"] == "live" and len(result["rows"]) == 2
