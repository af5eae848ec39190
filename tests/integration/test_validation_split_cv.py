"""Held-out validation speakers end to end on the IEMOCAP miniature: a fold's metrics and a
final model's checkpoint say which training speakers were held out for early stopping (the
default under leave one session out); with `validation=rows` they carry no such note (files
as before the option)."""

import json
from pathlib import Path

from wise.checkpoint import load_checkpoint
from wise.cli import main

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
TINY = ["--set", "max_epochs=2", "--set", "batch_size=2", "--quiet", "--workers", "1"]


def test_cv_holds_out_a_training_speaker_and_says_which(mini_manifest, tmp_path):
    out = tmp_path / "run"
    assert main(["cv", "--config", str(CONFIGS / "wise.yaml"), "--manifest", str(mini_manifest),
                 "--out", str(out), *TINY]) == 0                  # the default: speakers
    rows = [json.loads(line) for line in mini_manifest.read_text().splitlines()]
    folds = json.loads((out / "folds.json").read_text())["folds"]
    for k, test in enumerate(folds.values(), 1):
        m = json.loads((out / "seed_0" / f"fold_{k}" / "metrics.json").read_text())
        note = m["validation"]
        training = {r["speaker"] for r in rows if r["speaker"] not in test}
        assert note["split"] == "speakers" and note["n_val"] == m["n_val"] > 0
        assert len(note["speakers"]) == 1 and set(note["speakers"]) < training
        # The held-out speaker's every row: the speaker's rows in this fold's training set.
        assert m["n_val"] == sum(r["speaker"] == note["speakers"][0] for r in rows)
    s = json.loads((out / "summary.json").read_text())
    assert s["config"]["train"]["validation"] == "speakers"


def test_rows_cv_files_carry_no_note_and_train_holds_out_speakers_by_default(
        mini_manifest, tmp_path):
    out = tmp_path / "run"
    assert main(["cv", "--config", str(CONFIGS / "text_only.yaml"), "--manifest",
                 str(mini_manifest), "--out", str(out), "--set", "validation=rows", *TINY]) == 0
    m = json.loads((out / "seed_0" / "fold_1" / "metrics.json").read_text())
    assert "validation" not in m and "validation" not in m["history"][0]
    assert "validation" not in json.loads((out / "summary.json").read_text())["config"]["train"]
    ckpt = tmp_path / "model.wise"
    assert main(["train", "--config", str(CONFIGS / "text_only.yaml"), "--manifest",
                 str(mini_manifest), "--out", str(ckpt), *TINY]) == 0
    _, run, _, blob = load_checkpoint(ckpt)
    assert run.train.validation == "speakers"
    assert blob["extra"]["validation"]["split"] == "speakers"
    assert blob["extra"]["n_val"] == blob["extra"]["validation"]["n_val"] > 0
