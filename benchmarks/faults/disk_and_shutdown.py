"""Disk faults and clean shutdown, measured: every command that writes, on a full disk, in a
read-only folder and over a file-size limit; every long command, stopped by ^C or SIGTERM
mid-work; and `wise cv --jobs 2` and a small `wise demo` run to the end.

    python benchmarks/faults/disk_and_shutdown.py [--trials 2] [--stop-trials N] [--seed 0]
        [--parts disk shutdown warnings] [--commands ...] [--before SRC] [--work DIR]
        [--out benchmarks/results/reliability/disk_and_shutdown.json]

The harness lives in wise.testing.disk_and_shutdown (src/wise/testing/disk_and_shutdown.py),
where its docstring says what it does; tests/slow/test_disk_faults.py and
tests/slow/test_shutdown.py import it from there.
"""

import sys

from wise.testing.disk_and_shutdown import main

if __name__ == "__main__":
    sys.exit(main())
