"""The machine a benchmark ran on, in the words its results JSON records, and how a timing
benchmark holds it still."""

from __future__ import annotations

import os
import platform as _platform
from pathlib import Path


def machine(platform: bool = False) -> str:
    """"2 cores, 23 GiB RAM"; with `platform`, the OS and C library after it
    ("2 cores, 23 GiB RAM, Linux-6.1.0-x86_64-with-glibc2.36")."""
    try:
        mem = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                    if line.startswith("MemTotal")), None)
    except OSError:
        mem = None
    ram = f"{int(mem) / 2**20:.0f} GiB RAM" if mem is not None else "? GiB RAM"
    words = f"{os.cpu_count()} cores, {ram}"
    return f"{words}, {_platform.platform()}" if platform else words


def one_core() -> None:
    """Pin this process to its lowest CPU and torch to one thread: a timing on one core that
    the other core's work, and torch's thread pool, do not move."""
    import torch

    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    torch.set_num_threads(1)
