"""The machine a benchmark ran on, in the words its results JSON records."""

from __future__ import annotations

import os
from pathlib import Path


def machine() -> str:
    """"2 cores, 23 GiB RAM"."""
    mem = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), "0")
    return f"{os.cpu_count()} cores, {int(mem) / 2**20:.0f} GiB RAM"
