"""The bundled real-speech model in use: found with no path by `wise predict`, `wise.load()`
and the demo's table; its answers on the example clips pinned; and a model trained on the
synthetic corpus warns when it hears anything else."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from wise import pretrained
from wise.checkpoint import load_checkpoint
from wise.cli import main
from wise.predict import Predictor

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "benchmarks/results/bundled_model.json"


@pytest.fixture(scope="module")
def bundled() -> Predictor:
    return Predictor()


def test_its_answers_on_the_examples_are_those_its_build_recorded(bundled):
    """A regression check, not a score: the build script predicted every held-out clip through
    this same path (each clip alone) and recorded the answers."""
    build = json.loads(BUILD.read_text())
    assert build["checkpoint"]["sha256"] == _sha256(pretrained.bundled_checkpoint())
    recorded = {p["file"]: p for p in build["held_out_predict"]["unadapted"]["predictions"]}
    for e in pretrained.example_clips():
        r = bundled.predict(e.path)
        want = recorded[e.path.name]
        assert (r.label, want["label"]) == (want["predicted"], e.label), e.path.name
        assert r.probabilities[r.label] == pytest.approx(want["p"], abs=2e-3), e.path.name
        assert r.checkpoint == "bundled" and r.transcript_source == "asr"


def test_wise_predict_without_a_checkpoint_uses_it_and_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WISE_CACHE", str(tmp_path / "cache"))
    clip = str(pretrained.example_clips()[0].path)
    assert main(["predict", clip, "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["checkpoint"] == "bundled"
    assert "model: the bundled real-speech model (wise_whisper" in err
    assert pretrained.LICENCE_LINE in err                   # first use on this machine
    assert main(["predict", clip, "--json", "--quiet"]) == 0
    assert pretrained.LICENCE_LINE not in capsys.readouterr().err      # said once


def test_a_checkpoint_given_explicitly_wins(trained_model, capsys):
    clip = str(pretrained.example_clips()[0].path)
    for argv in (["predict", "--model", str(trained_model["model"]), clip, "--json"],
                 ["predict", str(trained_model["model"]), clip, "--json"]):   # older form
        assert main(argv) == 0
        out, err = capsys.readouterr()
        assert json.loads(out)["checkpoint"] == str(trained_model["model"])
        assert f"model: {trained_model['model']} (wise) (trained on the synthetic corpus)" in err


def test_a_synthetic_trained_model_warns_on_other_audio(trained_model, tmp_path):
    assert load_checkpoint(trained_model["model"])[3]["extra"]["corpus"] == "synthetic"
    p = Predictor(trained_model["model"])
    row = next(r for r in trained_model["rows"] if r.words)
    assert "synthetic speech only" not in p.predict(row.audio, text=row.text).message
    elsewhere = tmp_path / "clip.wav"
    shutil.copy(row.audio, elsewhere)
    assert "synthetic speech only" in p.predict(elsewhere, text=row.text).message
    assert "synthetic speech only" in p.predict(elsewhere.read_bytes(), text=row.text).message


def test_wise_load_with_no_path_in_a_fresh_process():
    clip = pretrained.example_clips()[0]
    code = f"import wise; print(wise.load().predict({str(clip.path)!r}).label_name)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, check=True).stdout
    assert out.strip().splitlines()[-1] in {"angry", "happy", "neutral", "sad"}


def _sha256(path: Path) -> str:
    from wise.fsutil import file_sha256

    return file_sha256(path)
