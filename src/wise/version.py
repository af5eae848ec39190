"""Which code produced a result: the package version, and the checkout's commit."""

from __future__ import annotations

__version__ = "0.1.0"


def code_version() -> str:
    """The package version, plus `git describe --always --dirty` when run from a checkout, so
    every results file says exactly which code produced it."""
    import subprocess
    from pathlib import Path

    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty"],
                             cwd=Path(__file__).resolve().parent, capture_output=True,
                             text=True, timeout=10, check=True)
        return f"{__version__}+{out.stdout.strip()}"
    except (OSError, subprocess.SubprocessError):
        return __version__
