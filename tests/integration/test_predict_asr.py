"""Speech recognition inside `wise predict` / `Predictor`: Whisper by default, pocketsphinx on
request, real speech recognised, audio without speech labelled `no_speech`, bad model folders
refused with one line."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from conftest import FIXTURES
from wise.cli import main
from wise.predict import Predictor
from wise.testing import nonspeech

REAL = FIXTURES / "ravdess/Actor_10/03-01-01-01-01-01-10.flac"         # ordinary level
QUIET = FIXTURES / "ravdess/Actor_09/03-01-04-01-02-02-09.flac"        # -55 dBFS


@pytest.fixture(scope="module")
def predictor(trained_model) -> Predictor:
    return Predictor(trained_model["model"])


def test_whisper_is_the_default_and_loads_only_when_needed(predictor, trained_model):
    assert predictor.asr_name.startswith("Whisper tiny.en")
    u = trained_model["rows"][0]
    predictor.predict(u.audio, text=u.text)
    assert predictor._recognizer._model is None      # a given transcript needs no recogniser


@pytest.mark.parametrize("clip,said", [(REAL, "kids are talking by the door"),
                                       (QUIET, "dogs are sitting by the door")])
def test_real_speech_without_a_transcript(predictor, clip, said):
    r = predictor.predict(clip)
    assert r.status == "ok" and r.transcript_source == "asr"
    assert r.transcript == said
    assert 0.5 < r.asr_confidence <= 1.0
    assert [w.word for w in r.words] == said.split()


@pytest.mark.parametrize("name,x", [
    ("noise.wav", nonspeech.white_noise(2, -20)),
    ("music.wav", nonspeech.music(4, -20)),
])
def test_audio_without_speech_gets_no_label(predictor, tmp_path, name, x):
    path = tmp_path / name
    sf.write(path, x, 16000)
    r = predictor.predict(path)
    assert r.status == "no_speech" and r.label is None and r.words == []
    assert r.transcript_source == "none" and r.message.startswith("no speech")


def test_cli_pocketsphinx_on_request(trained_model, capsys):
    assert main(["predict", str(trained_model["model"]), str(REAL), "--asr", "pocketsphinx",
                 "--json", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "ok" and out["transcript_source"] == "asr"
    assert out["transcript"] and 0.0 <= out["asr_confidence"] <= 1.0


def test_cli_bad_asr_model_folder_is_one_line(trained_model, tmp_path, capsys):
    argv = ["predict", str(trained_model["model"]), str(REAL), "--asr-model", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == (f"wise: error: {tmp_path}: not a CTranslate2 Whisper model folder (missing "
                   "model.bin, config.json, tokenizer.json)\n")


def test_cli_asr_model_folder_that_does_not_load(trained_model, tmp_path, capsys):
    for name in ("model.bin", "config.json", "tokenizer.json"):
        (tmp_path / name).write_bytes(np.arange(64, dtype=np.uint8).tobytes())
    argv = ["predict", str(trained_model["model"]), str(REAL), "--asr-model", str(tmp_path),
            "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f"wise: error: {tmp_path}: not a usable CTranslate2 Whisper model")


def test_cli_threads_change_the_speed_not_the_answer(trained_model, capsys):
    outs = []
    for threads in ("1", "2"):
        assert main(["predict", str(trained_model["model"]), str(REAL), "--json", "--quiet",
                     "--threads", threads]) == 0
        outs.append(json.loads(capsys.readouterr().out))
    assert outs[0]["transcript"] == outs[1]["transcript"] == "kids are talking by the door"
    assert outs[0]["probabilities"] == outs[1]["probabilities"]
    assert main(["predict", str(trained_model["model"]), str(REAL), "--threads", "0"]) == 2
    assert capsys.readouterr().err == "wise: error: --threads must be at least 1 (got 0)\n"
