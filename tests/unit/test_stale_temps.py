"""A writer SIGKILLed mid-write leaves its temporary; the next write into that folder removes
it, and never a temporary whose writer is still running."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from wise.fsutil import atomic_write_text, new_temp_dir, publish_dir

KILLED_MID_WRITE = """
import os, signal, sys
from pathlib import Path
from wise.fsutil import atomic_file, new_temp_dir
folder = Path(sys.argv[1])
with atomic_file(folder / "out.json") as tmp:
    tmp.write_text("half")
    d = new_temp_dir(folder, "pack")
    (d / "frames.npy").write_bytes(b"half")
    os.kill(os.getpid(), signal.SIGKILL)
"""


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


WRITING_SLOWLY = """
import sys
from pathlib import Path
from wise.fsutil import atomic_file
with atomic_file(Path(sys.argv[1]) / "slow.json") as tmp:
    tmp.write_text("whole")
    print("writing", flush=True)
    sys.stdin.readline()
"""


def test_a_killed_writers_temporaries_go_at_the_next_write(tmp_path):
    r = subprocess.run([sys.executable, "-c", KILLED_MID_WRITE, str(tmp_path)])
    assert r.returncode == -9
    left = _names(tmp_path)
    assert len(left) == 2 and any(n.startswith(".out.json.") and n.endswith(".tmp")
                                  for n in left) and any(n.startswith(".tmp-pack-") for n in left)
    # A writer still running keeps its temporary through the sweep, and finishes.
    slow = subprocess.Popen([sys.executable, "-c", WRITING_SLOWLY, str(tmp_path)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert slow.stdout.readline() == "writing\n"
        atomic_write_text(tmp_path / "out.json", "whole")
        assert [n for n in _names(tmp_path) if n.startswith(".")] == [
            n for n in _names(tmp_path) if n.startswith(".slow.json.")]
        assert len(_names(tmp_path)) == 2
    finally:
        slow.communicate("\n", timeout=30)
    assert slow.returncode == 0
    assert _names(tmp_path) == ["out.json", "slow.json"]
    assert (tmp_path / "out.json").read_text() == "whole"


def test_a_temp_dir_left_by_a_killed_writer_goes_at_the_next_temp_dir(tmp_path):
    r = subprocess.run([sys.executable, "-c", KILLED_MID_WRITE, str(tmp_path)])
    assert r.returncode == -9
    publish_dir(new_temp_dir(tmp_path, "pack"), tmp_path / "pack")
    assert [n for n in _names(tmp_path) if n.startswith(".tmp-")] == []
