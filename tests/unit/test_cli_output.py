"""What `wise predict` writes where, with the predictions stubbed (no model): one JSON line per
file, failed ones included; where --plot's pictures went; and a reader of stdout that stops
early (`| head`) ends the command quietly."""

import json
import os
import signal
import subprocess
import sys
from dataclasses import MISSING, fields

import pytest

from wise import cli
from wise.errors import WiseError
from wise.predict import Prediction


def ok(path: str) -> Prediction:
    """A labelled result for `path`; fields the output does not depend on are blank."""
    blank = {f.name: "" for f in fields(Prediction)
             if f.default is MISSING and f.default_factory is MISSING}
    return Prediction(**{**blank, "file": path, "status": "ok", "label": "neu",
                         "label_name": "neutral",
                         "probabilities": {"ang": 0.1, "hap": 0.2, "neu": 0.6, "sad": 0.1},
                         "transcript": "hello", "transcript_source": "given",
                         "asr_confidence": None, "words": [], "word_attention": True,
                         "duration": 1.0, "model": "wise"})


@pytest.fixture
def stub_predictions(monkeypatch):
    """`predict_files` answering a.wav and c.wav, failing b.wav (unreadable)."""
    def predict_files(model, files, texts, **kw):
        for f in files:
            yield f, (WiseError(f, "not a readable audio file (Format not recognised.)")
                      if f == "b.wav" else ok(f))

    monkeypatch.setattr("wise.predict.predict_files", predict_files)


def test_json_gives_every_file_a_line_failed_ones_too(stub_predictions, capsys):
    assert cli.main(["predict", "m.wise", "a.wav", "b.wav", "c.wav", "--json", "--quiet"]) == 2
    cap = capsys.readouterr()
    lines = [json.loads(line) for line in cap.out.splitlines()]
    assert [o["file"] for o in lines] == ["a.wav", "b.wav", "c.wav"]
    assert [o["status"] for o in lines] == ["ok", "error", "ok"]
    failed = lines[1]
    assert failed["message"] == "not a readable audio file (Format not recognised.)"
    assert set(failed) == set(ok("x").to_dict())            # a prediction's keys, empty
    assert failed["label"] is None and failed["probabilities"] == {} and failed["words"] == []
    err = cap.err.splitlines()            # stderr as before: the error, then the count
    assert err == ["wise: error: b.wav: not a readable audio file (Format not recognised.)",
                   "wise: 1 of 3 files failed (see above)"]


def test_readable_output_reports_failures_on_stderr_only(stub_predictions, capsys):
    assert cli.main(["predict", "m.wise", "a.wav", "b.wav", "--quiet"]) == 2
    cap = capsys.readouterr()
    assert "b.wav" not in cap.out and "a.wav" in cap.out
    assert "wise: error: b.wav: not a readable audio file" in cap.err


def test_plot_says_where_the_pictures_went(stub_predictions, capsys, tmp_path):
    plots = tmp_path / "plots"
    assert cli.main(["predict", "m.wise", "a.wav", "b.wav", "c.wav", "--plot", str(plots),
                     "--quiet"]) == 2
    cap = capsys.readouterr()
    assert f"wrote 2 pictures into {plots} (<audio name>.png)" in cap.out.splitlines()
    assert cli.main(["predict", "m.wise", "a.wav", "--json", "--plot", str(plots),
                     "--quiet"]) == 0
    cap = capsys.readouterr()          # with --json, stdout stays JSON lines only
    assert [json.loads(line)["file"] for line in cap.out.splitlines()] == ["a.wav"]
    assert f"wrote 1 picture into {plots} (<audio name>.png)" in cap.err


def test_a_closed_stdout_ends_the_command_quietly_with_141():
    read, write = os.pipe()
    os.close(read)                       # the reader has gone before the first line
    try:
        p = subprocess.run([sys.executable, "-m", "wise", "params", "wise"], stdout=write,
                           stderr=subprocess.PIPE, timeout=120)
    finally:
        os.close(write)
    assert p.stderr == b""               # no traceback, no "Exception ignored", no error line
    assert p.returncode == 128 + signal.SIGPIPE


def test_a_broken_pipe_elsewhere_is_still_an_error(monkeypatch, capsys):
    def broken(args):
        raise BrokenPipeError(32, "Broken pipe")        # a worker's pipe, say; stdout is fine

    monkeypatch.setattr(cli, "cmd_params", broken)
    assert cli.main(["params", "wise"]) == 2
    assert capsys.readouterr().err == "wise: error: broken pipe\n"
