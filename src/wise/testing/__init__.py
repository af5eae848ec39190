"""Helpers the test suite and the benchmarks share, as `numpy.testing` is numpy's: generated
signals without speech (`nonspeech`), random and mutated multipart uploads (`multipart_fuzz`),
the fault harnesses that kill, stop and starve the commands (`kill_resume`,
`disk_and_shutdown`), `wise serve` as a child process on loopback (`service`), headless
Chromium with a fake microphone (`browser`), long recordings of joined clips whose places are
known (`recordings`), and the machine description that results record (`host`).

The tests import these modules, and so do the scripts under benchmarks/, so each helper is
written once. The library itself never imports `wise.testing` (tests/unit/test_import_graph.py
checks that it is the top layer of docs/architecture.md). Some of its modules need the `[test]`
extra: psutil (`disk_and_shutdown`), httpx and hypothesis (`multipart_fuzz`), httpx
(`service`), selenium (`browser`).
"""

from __future__ import annotations

from pathlib import Path


def repo_root() -> Path:
    """The source checkout this package is installed from (editable): the folder above
    src/wise/testing that holds pyproject.toml. The harnesses' defaults that are paths in
    the repository (tests/fixtures, benchmarks/results) start from it."""
    here = Path(__file__).resolve()
    for folder in here.parents:
        if (folder / "pyproject.toml").is_file():
            return folder
    raise RuntimeError(f"{here.parent} is not in a source checkout (no pyproject.toml above "
                       "it): install the package with `pip install -e .` from one")
