"""Fuzzing the readers of outside bytes, at scale: the properties of
tests/unit/test_fuzz_readers.py with `--scale` times their CI example counts.

    python benchmarks/faults/fuzz.py [--scale 20] [--out benchmarks/results/reliability/fuzz.json]

The properties run through pytest, in a process of its own, with WISE_FUZZ_SCALE set
(Hypothesis runs them deterministically: `derandomize=True`, no example database) and
WISE_FUZZ_REPORT naming a file where each test writes what ran. The cases are counted as they
run, by the properties' own tally, not read from the configured maximum: per reader, how many
ended in a result, in a one-line `WiseError` (a `ValueError` for the file-name parsers), and in
anything else (a failure: an uncaught exception, a printed traceback, a multi-line or runaway
message, a malformed result or no answer within the time limit). A failing property is
reported, not fatal, so every reader gets its row. Writes one JSON row per reader;
docs/reliability.md renders them.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import hypothesis

from wise.fsutil import atomic_write_text
from wise.testing.host import machine

ROOT = Path(__file__).resolve().parents[2]
PROPERTIES = ROOT / "tests" / "unit" / "test_fuzz_readers.py"
SELF_TEST = "test_the_contract_itself_catches_what_it_should"

# What fuzzing found, each fixed in the reader and kept as an `@example` in the properties.
FOUND_AND_FIXED = [
    "audio: a FLAC header claiming 1.1e9 frames made the decoder allocate 4.5 GB up front "
    "(MemoryError); samples are now read block by block (wise.audio._read_blocks)",
    "audio: a WAV header with a 1 Hz sample rate turned 1 kB into 51 MB of samples after "
    "resampling (any size with larger files), and 2 GHz into zero samples; rates outside "
    "1 kHz-768 kHz are refused, and audio that resamples to nothing is too",
    "audio (in memory): a header that makes libsndfile seek before the start printed "
    "'Exception ignored ... ValueError: negative seek value' tracebacks; such seeks now land "
    "at the end",
    "IEMOCAP .wdseg/.phseg: a 400-digit frame number raised OverflowError; frame numbers must "
    "be 0..1e9",
    "IEMOCAP .wdseg/.phseg: a bad line was quoted whole in the error (a 1 MB line, a 1 MB "
    "message); quotes are cut to 80 characters",
    "IEMOCAP: a label line with an utterance id longer than a file name can be raised "
    "OSError (File name too long); such a row is counted as 'no audio file'",
    "corpus lists: an audio path longer than a file name can be raised OSError; counted as "
    "'no audio file'",
    "corpus lists (JSONL): a 5000-digit number raised ValueError and '[' * 100000 raised "
    "RecursionError out of the reader; counted as 'list line is not JSON'",
    "corpus lists (JSONL): a word time of 400 digits raised OverflowError; the row's "
    "alignment is counted as not parsing",
    "corpus lists (CSV/TSV) and CREMA-D demographics: a field over 131072 characters raised "
    "_csv.Error; now a one-line WiseError naming the line",
    "corpus lists (CSV/TSV) and CREMA-D demographics: a quoted header name holding a line "
    "break made the 'no ... column' error span two lines; the header is shown escaped",
    "manifests: a non-UTF-8 byte raised UnicodeDecodeError, a 400-digit time OverflowError, "
    "deep nesting RecursionError, a non-object 'extra' AttributeError; all one-line errors now",
    "manifests: rows with fields of the wrong type (a number as the id, a list as the label, "
    "an unknown label) were returned and failed later in training; refused when read",
    "transcripts files: '{\"a\":' * 20000 raised RecursionError; now the line's one-line "
    "error (and a UTF-8 BOM no longer sticks to the first audio name)",
    "word vectors: a first line '2 \u00b2' passed the header test (str.isdigit) and then "
    "int() raised ValueError; a header is now decimal digits, and the width read before "
    "loading always equals the loaded width",
    "word vectors: a value of 1e999 became an infinite vector (with a RuntimeWarning); "
    "refused with the line number",
    "run configs: a line of 100000 '[' took over 10 s and then raised RecursionError in the "
    "pure-Python YAML loader; libyaml (CSafeLoader) refuses it at once",
]


def run_properties(scale: float) -> list[dict]:
    """Run the properties through pytest at `scale` times their CI example counts: what each
    test wrote to WISE_FUZZ_REPORT, by property name, the contract's self-test left out."""
    env = {**os.environ, "WISE_FUZZ_SCALE": str(scale)}
    env.pop("WISE_FUZZ_EXAMPLES", None)   # it would override the scale
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.jsonl"
        env["WISE_FUZZ_REPORT"] = str(report)
        p = subprocess.run([sys.executable, "-m", "pytest", str(PROPERTIES), "-q",
                            "-p", "no:cacheprovider"], cwd=ROOT, env=env, stdout=sys.stderr)
        records = ([json.loads(line) for line in report.read_text().splitlines()]
                   if report.is_file() else [])
    if p.returncode not in (0, 1) or not records:   # 1: a property failed, which is a result
        raise SystemExit(f"pytest did not run {PROPERTIES} (exit {p.returncode})")
    return sorted((r for r in records if r["property"] != SELF_TEST),
                  key=lambda r: r["property"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=20.0,
                    help="multiple of each property's CI example count")
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/reliability/fuzz.json"))
    args = ap.parse_args(argv)

    start = time.perf_counter()
    records = run_properties(args.scale)
    total_s = time.perf_counter() - start
    hang_s = records[0]["per_example_limit_s"]
    readers: dict[str, dict] = {}
    properties = []
    for r in records:
        name, seconds, failed = r["property"], r["seconds"], r["failed"]
        properties.append({"property": name, "max_examples": r["max_examples"],
                           "seconds": round(seconds, 1), "failed": failed})
        fault = " ".join((r["doc"] or name).split())
        for reader, counts in r["tally"].items():
            delta = Counter(counts)
            row = readers.setdefault(reader, {"fault": fault, "target": reader, "results": 0,
                                              "errors": 0, "failures": 0, "seconds": 0.0})
            if fault not in row["fault"]:
                row["fault"] += "; " + fault
            row["results"] += delta["result"]
            row["errors"] += delta["error"]
            row["failures"] += delta["failure"]
            row["seconds"] = round(row["seconds"] + seconds, 1)
        print(f"{name}: {seconds:.1f} s{'  FAILED ' + failed if failed else ''}",
              file=sys.stderr, flush=True)

    rows = []
    for row in readers.values():
        trials = row["results"] + row["errors"] + row["failures"]
        kind = "ValueError" if "file names" in row["target"] else "WiseError"
        row.update(trials=trials, outcome=(
            f"{row['results']} returned a result, {row['errors']} a one-line {kind}, "
            f"{row['failures']} failed (traceback, hang over {hang_s:g} s, or a "
            f"malformed result or message)"), lost="nothing")
        rows.append({k: row[k] for k in ("fault", "target", "trials", "outcome", "lost",
                                          "results", "errors", "failures", "seconds")})
    out = Path(args.out)
    result = {
        "area": "fuzz",
        "command": "python benchmarks/faults/fuzz.py " + " ".join(argv if argv is not None
                                                           else sys.argv[1:]),
        "date": datetime.date.today().isoformat(),
        "machine": machine(platform=True),
        "rows": rows,
        "total_cases": sum(r["trials"] for r in rows),
        "total_failures": sum(r["failures"] for r in rows),
        "seconds": round(total_s, 1),
        "scale": args.scale,
        "hypothesis": {"version": hypothesis.__version__, "derandomize": True,
                       "database": None, "per_example_limit_s": hang_s},
        "properties": properties,
        "found_and_fixed": FOUND_AND_FIXED,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    print(f"{result['total_cases']} cases, {result['total_failures']} failures, "
          f"{total_s:.0f} s -> {out}", file=sys.stderr)
    return 1 if result["total_failures"] or any(p["failed"] for p in properties) else 0


if __name__ == "__main__":
    sys.exit(main())
