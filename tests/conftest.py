"""Shared fixtures: the hand-written IEMOCAP miniature with its audio written at test time."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import soundfile as sf

FIXTURES = Path(__file__).parent / "fixtures"

# Each test's call phase (its duration, what it raised), for a fixture that reports on the
# test it wraps (test_fuzz_readers.py's, read by benchmarks/faults/fuzz.py).
CALL = pytest.StashKey[pytest.CallInfo]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    if call.when == "call":
        item.stash[CALL] = call
    return (yield)

# (session, dialog, utterance, seconds, sample rate, channels); see fixtures/iemocap_mini/AUDIO.md
MINI_AUDIO = [
    (1, "Ses01F_impro01", "Ses01F_impro01_F000", 1.3, 16000, 1),
    (1, "Ses01F_impro01", "Ses01F_impro01_M000", 1.0, 44100, 2),
    (1, "Ses01F_impro01", "Ses01F_impro01_F001", 1.0, 16000, 1),
    (1, "Ses01F_impro01", "Ses01F_impro01_M001", 1.5, 16000, 1),
    (1, "Ses01F_impro01", "Ses01F_impro01_F002", 0.8, 16000, 1),
    (1, "Ses01F_impro01", "Ses01F_impro01_M002", 1.0, 16000, 1),
    (1, "Ses01F_impro01", "Ses01F_impro01_F003", 1.0, 16000, 1),
    (1, "Ses01F_impro01", "Ses01F_impro01_F004", 1.0, 16000, 1),
    (1, "Ses01F_impro01", "Ses01F_impro01_M003", 1.0, 16000, 1),
    (1, "Ses01F_impro01", "Ses01F_impro01_F006", 1.0, 16000, 1),
    (2, "Ses02M_script01_1", "Ses02M_script01_1_F000", 0.7, 8000, 1),
    (2, "Ses02M_script01_1", "Ses02M_script01_1_M000", 0.7, 16000, 1),
    (2, "Ses02M_script01_1", "Ses02M_script01_1_M001", 1.0, 16000, 1),
    (2, "Ses02M_script01_1", "Ses02M_script01_1_F001", 0.7, 16000, 1),
]


def speechlike(seconds: float, sr: int, seed: int = 0) -> np.ndarray:
    """A voiced-sounding signal: a wandering harmonic tone with a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    f0 = 140 + 30 * np.sin(2 * np.pi * 1.5 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    x = sum(np.sin(k * phase) / k for k in range(1, 8))
    x = x * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2)
    return (0.2 * x + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def write_wav(path: Path, seconds: float, sr: int = 16000, channels: int = 1) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    x = speechlike(seconds, sr)
    if channels > 1:
        x = np.stack([x] * channels, axis=1)
    sf.write(str(path), x, sr, subtype="PCM_16")


@pytest.fixture
def iemocap_mini(tmp_path: Path) -> Path:
    root = tmp_path / "iemocap_mini"
    shutil.copytree(FIXTURES / "iemocap_mini", root)
    for session, dialog, utt, seconds, sr, ch in MINI_AUDIO:
        write_wav(root / f"Session{session}/sentences/wav/{dialog}/{utt}.wav", seconds, sr, ch)
    wav_dir = root / "Session1/sentences/wav/Ses01F_impro01"
    (wav_dir / "Ses01F_impro01_M004.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunk")
    sf.write(str(wav_dir / "Ses01F_impro01_F005.wav"), np.zeros(0, np.float32), 16000)
    return root


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory) -> dict:
    """A tiny synthetic corpus and a WISE checkpoint trained on it for one epoch (a few
    seconds): {"model": checkpoint path, "rows": manifest rows with real speech}. Its
    predictions are near chance; tests use it for the pipeline, not for accuracy."""
    from wise.cli import main
    from wise.utterance import read_manifest

    root = tmp_path_factory.mktemp("trained")
    assert main(["synth", str(root / "corpus"), "--utterances", "40", "--seed", "3",
                 "--workers", "1", "--quiet"]) == 0
    manifest = root / "m.jsonl"
    assert main(["prepare", "iemocap", str(root / "corpus"), "--out", str(manifest),
                 "--quiet"]) == 0
    model = root / "model.wise"
    assert main(["train", "--config", "wise", "--manifest", str(manifest), "--out", str(model),
                 "--set", "max_epochs=1", "--set", "min_epochs=1", "--set", "batch_size=8",
                 "--workers", "1", "--quiet"]) == 0
    return {"model": model, "manifest": manifest, "rows": list(read_manifest(manifest))}


@pytest.fixture
def mini_manifest(iemocap_mini: Path, tmp_path: Path) -> Path:
    """The IEMOCAP miniature read into a manifest (rows without alignment skipped)."""
    from wise.cli import main

    m = tmp_path / "m.jsonl"
    assert main(["prepare", "iemocap", str(iemocap_mini), "--out", str(m),
                 "--missing-alignment", "skip", "--quiet"]) == 0
    return m


# The disk-fault and shutdown harness (wise.testing.disk_and_shutdown) and its inputs, shared
# by the disk-fault and shutdown tests (built once: a small synthetic corpus, its cache, a
# model, two CV runs).
@pytest.fixture(scope="session")
def ds() -> ModuleType:
    """wise.testing.disk_and_shutdown (imported here: it needs psutil, of the test extra)."""
    from wise.testing import disk_and_shutdown

    return disk_and_shutdown


@pytest.fixture(scope="session")
def fault_work(ds, tmp_path_factory) -> Path:
    """The harness's work folder, its inputs built."""
    work = tmp_path_factory.mktemp("disk_and_shutdown")
    ds.make_inputs(work, wide=60)      # `features` is stopped as its workers start: 60 will do
    return work
