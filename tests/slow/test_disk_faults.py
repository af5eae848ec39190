"""Disk faults, CI-sized: a command writing onto a full disk, into a read-only folder or over a
file-size limit ends with one line `wise: error: <path>: <problem>` naming the path, exit 2,
no traceback or warning, no temporary and no half-written file left, no process left behind.
The harness is wise.testing.disk_and_shutdown, which benchmarks/faults/disk_and_shutdown.py runs on
every writing command with more trials for docs/reliability.md; here a few cases, chosen so
that the failing write happens in the main process and in worker processes.

The full disk (a tmpfs) and the read-only folder (a read-only bind mount) need a private mount
namespace (`unshare -m`, as root): where there is none those cases skip, unless
WISE_REQUIRE_MOUNTS=1 (CI, which runs as root) makes that a failure. The file-size limit needs
nothing and always runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

# The harness's command line: it re-runs itself in a private mount namespace.
SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks/faults/disk_and_shutdown.py"


def _assert_clean_failure(t: dict) -> None:
    trial = json.dumps(t, indent=1)           # in full: what it printed, what it left
    assert t["rc"] == 2, trial
    assert t["one_line"], trial               # the last and only error line, naming the path
    assert not t["traceback"] and not t["warnings"], trial
    assert t["temporaries"] == [] and t["half_written"] == [], trial
    assert t["left"] == [], trial


# Where each write fails: synth's corpus files, the features' cache entries and predict's plots
# are written by worker processes; the word-vector folder, the manifest and the report by the
# command itself.
MOUNT_CASES = ["synth:full:262144", "features:full:1048576", "predict:full:65536",
               "prepare:readonly:0", "report:readonly:0"]


def test_a_full_disk_or_a_read_only_folder_fails_in_one_line(ds, fault_work, tmp_path):
    out = tmp_path / "trials.json"
    p = subprocess.run([sys.executable, str(SCRIPT), "--work", str(fault_work), "--out",
                        str(out), "--cases", *MOUNT_CASES],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    result = json.loads(out.read_text())
    if result["skipped"]:
        if os.environ.get("WISE_REQUIRE_MOUNTS") == "1":
            pytest.fail("; ".join(result["skipped"]))
        pytest.skip("; ".join(result["skipped"]))
    trials = result["trials"]
    assert [f"{t['command']}:{t['fault']}" for t in trials] == \
        [c.rsplit(":", 1)[0] for c in MOUNT_CASES]
    for t in trials:
        _assert_clean_failure(t)
        assert t["last_line"].endswith(f": {ds.WORDS[t['fault']]}"), t


# synth's files are written by its worker processes, report's by the command itself.
@pytest.mark.parametrize("name, limit", [("synth", 40_000), ("report", 4096)])
def test_a_file_size_limit_fails_in_one_line(ds, fault_work, name, limit):
    t = ds.disk_trial(ds.make_inputs(fault_work), fault_work, name, "fsize", limit)
    _assert_clean_failure(t)
    assert t["last_line"].endswith(": file too large"), json.dumps(t, indent=1)
