"""benchmarks/faults/soak_serve.py, short: `wise serve` under 8 clients mixing good and bad uploads
for 12 s, with slow clients alongside. The full 10-minute run, with workers killed and fuzzed
uploads after it, is a benchmark (docs/serving.md); test_serve.py kills a worker and fuzzes
uploads in CI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_a_short_soak_answers_every_upload_as_it_should(trained_model, tmp_path):
    out = tmp_path / "service.json"
    r = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks/faults/soak_serve.py"), str(trained_model["model"]),
         "--manifest", str(trained_model["manifest"]), "--clips", "10",
         "--ravdess", str(ROOT / "tests/fixtures/ravdess"), "--ravdess-clips", "4",
         "--minutes", "0.2", "--clients", "8", "--slow-clients", "2", "--kills", "0",
         "--fuzz-examples", "0", "--read-timeout", "3", "--idle-timeout", "1",
         "--sample-seconds", "1", "--out", str(out)],
        capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    result = json.loads(out.read_text())
    soak = result["soak"]
    assert soak["five_xx"] == 0, soak["statuses"]
    assert soak["good"]["requests"] > 0 and soak["good"]["errors"] == 0, soak["good"]
    assert soak["bad"]["requests"] > 0, soak["by_kind"]
    assert soak["bad"]["as_expected"] == soak["bad"]["requests"], soak["bad"]["unexpected"]
    assert soak["rss_mb"]["start"] and soak["rss_mb"]["end"]
    slow = result["slow_clients"]
    assert slow and all(s["outcome"] != "still open" for s in slow), slow
    assert any(s["status"] == "408" for s in slow), slow
    assert result["killed_workers"] == [] and result["fuzz"] is None
    assert result["server_log_lines"]["tracebacks"] == 0
    assert result["area"] == "service" and result["rows"]
    for row in result["rows"]:
        assert set(row) == {"fault", "target", "trials", "outcome", "lost"}
