"""docs/reliability.md's tables are what the fault harnesses' results render, not typed."""

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_reliability_page_holds_what_the_results_render():
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks/faults/reliability_table.py"),
                        "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_no_fault_tried_ended_in_a_traceback():
    for f in sorted((ROOT / "benchmarks/results/reliability").glob("*.json")):
        r = json.loads(f.read_text())
        assert r["rows"], f
        for row in r["rows"]:
            assert int(row["trials"]) > 0, (f.name, row["fault"])
            for n in re.findall(r"tracebacks? (\d+)", row["outcome"]):
                assert n == "0", (f.name, row["outcome"])
