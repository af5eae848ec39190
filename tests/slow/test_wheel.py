"""The wheel carries what a user needs with nothing else installed: the bundled model, its
licence note and its example clips (package data), beside the configs and the web page."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from wise import pretrained

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_holds_the_bundled_model_its_licence_and_examples(tmp_path):
    # Built from a copy of the sources, so the work tree gains no build/ folder.
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src", src / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "--no-index", "-w", str(tmp_path / "dist"),
                    str(src)], check=True, timeout=300)
    wheel = next((tmp_path / "dist").glob("wise_ser-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        bundled = z.read(f"wise/pretrained/{pretrained.BUNDLED_NAME}")
        licence = z.read(f"wise/pretrained/{pretrained.LICENCE_FILE}").decode()
    assert bundled == pretrained.bundled_checkpoint().read_bytes()
    assert pretrained.LICENCE_LINE in licence
    examples = {n.rsplit("/", 1)[1] for n in names if n.startswith("wise/pretrained/examples/")}
    assert examples == {e.path.name for e in pretrained.example_clips()} and len(examples) == 8
    assert "wise/web/index.html" in names and "wise/configs/wise_whisper.yaml" in names
