"""`wise prepare ravdess` on the real RAVDESS clips (force-aligned), then `wise cv` with the
speaker_groups protocol on the manifest it wrote."""

import json
import shutil

from conftest import FIXTURES, write_wav
from wise.cli import main
from wise.utterance import read_manifest

TINY = ["--set", "max_epochs=1", "--set", "min_epochs=1", "--set", "batch_size=4", "--quiet",
        "--workers", "1"]


def test_prepare_ravdess_then_speaker_group_cv(tmp_path, capsys):
    root = tmp_path / "ravdess"
    shutil.copytree(FIXTURES / "ravdess", root)
    write_wav(root / "Actor_09/03-02-03-01-01-01-09.wav", 0.3)    # song
    write_wav(root / "Actor_09/03-01-02-01-01-01-09.wav", 0.3)    # calm
    m = tmp_path / "m.jsonl"
    assert main(["prepare", "ravdess", str(root), "--out", str(m), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "8 utterances" in out and "speakers by sex: F 3  M 1" in out
    assert "song, not speech" in out and "emotion 'calm' (dropped" in out
    rows = list(read_manifest(m))
    assert all(u.alignment and u.alignment.startswith("forced") for u in rows)
    assert [w.token for w in rows[0].words] == ["kids", "are", "talking", "by", "the", "door"]
    assert {u.gender for u in rows} == {"F", "M"}

    out_dir = tmp_path / "run"
    assert main(["cv", "--config", "audio_only", "--manifest", str(m), "--out", str(out_dir),
                 "--set", "protocol=speaker_groups", "--set", "folds=2", *TINY]) == 0
    folds = json.loads((out_dir / "folds.json").read_text())
    assert folds["protocol"] == "speaker_groups"
    speakers = [s for f in folds["folds"].values() for s in f]
    assert sorted(speakers) == ["Actor_09", "Actor_10", "Actor_18", "Actor_20"]
    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["protocol"] == "speaker_groups" and summary["n_utterances"] == 8
