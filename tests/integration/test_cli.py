"""The `wise` command end to end on the hand-written IEMOCAP miniature."""

import json
import subprocess
import sys

import pytest

from wise.cli import main
from wise.utterance import read_manifest


def test_prepare_then_features(iemocap_mini, tmp_path, capsys):
    m = tmp_path / "m.jsonl"
    assert main(["prepare", "iemocap", str(iemocap_mini), "--out", str(m),
                 "--missing-alignment", "skip", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "6 utterances" in out
    assert "non-target label 'fru'" in out and "no alignment (skipped" in out
    summary = json.loads((tmp_path / "m.jsonl.summary.json").read_text())
    assert summary["labels"] == {"ang": 1, "hap": 1, "neu": 2, "sad": 2}
    assert len(list(read_manifest(m))) == 6

    assert main(["features", str(m), "--quiet", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "6 utterances (6 built, 0 reused)" in out
    assert "OOV 0.00% of tokens" in out
    assert (tmp_path / "wise-cache" / "packs").is_dir()
    assert main(["features", str(m), "--quiet", "--workers", "1"]) == 0
    assert "6 utterances (0 built, 6 reused)" in capsys.readouterr().out


@pytest.mark.parametrize("argv,message", [
    (["prepare", "iemocap", "/nonexistent", "--out", "x.jsonl"],
     "wise: error: /nonexistent: corpus folder not found"),
    (["features", "/nonexistent.jsonl"], "wise: error: /nonexistent.jsonl: manifest not found"),
    (["features", "m.jsonl", "--set", "max_words=lots"], "'lots' is not an integer"),
    (["features", "m.jsonl", "--set", "colour=red"],
     "--set 'colour=red': unknown option 'colour'; options: sample_rate, win_ms"),
    (["features", "m.jsonl", "--set", "max_epochs=3"], "unknown option 'max_epochs'"),
    (["features", "m.jsonl", "--set", "max_words"], "--set 'max_words': expected KEY=VALUE"),
    (["cv", "--config", "wise", "--manifest", "m.jsonl", "--set", "colour=red"],
     "wise.yaml: --set 'colour=red': unknown option 'colour'; options: model: frame_dim"),
    (["params", "wise", "--set", "max_epochs=lots"], "--set 'max_epochs=lots': 'lots' is not an "
                                                     "integer"),
])
def test_expected_faults_print_one_line_and_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err
    assert err.startswith("wise: error: ") and "\n" not in err


def test_console_script_reports_bad_input_without_traceback(tmp_path):
    bad = tmp_path / "list.csv"
    bad.write_text("audio,text\n")
    r = subprocess.run([sys.executable, "-m", "wise.cli", "prepare", "manifest", str(bad),
                        "--out", str(tmp_path / "o.jsonl")], capture_output=True, text=True)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert r.stderr.strip() == (f"wise: error: {bad}: no 'label' column (header: audio, text)")
    assert not (tmp_path / "o.jsonl").exists()
