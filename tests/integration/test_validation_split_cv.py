"""`validation=speakers` end to end on the IEMOCAP miniature: a fold's metrics and a final
model's checkpoint say which training speakers were held out for early stopping; at the
default they carry no such note (files as before the option)."""

import json
from pathlib import Path

from wise.checkpoint import load_checkpoint
from wise.cli import main

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
TINY = ["--set", "max_epochs=2", "--set", "batch_size=2", "--quiet", "--workers", "1"]


def test_cv_holds_out_a_training_speaker_and_says_which(mini_manifest, tmp_path):
    out = tmp_path / "run"
    assert main(["cv", "--config", str(CONFIGS / "wise.yaml"), "--manifest", str(mini_manifest),
                 "--out", str(out), "--set", "validation=speakers", *TINY]) == 0
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


def test_default_cv_and_train_files_carry_no_note_and_train_can_hold_out_speakers(
        mini_manifest, tmp_path):
    out = tmp_path / "run"
    assert main(["cv", "--config", str(CONFIGS / "text_only.yaml"), "--manifest",
                 str(mini_manifest), "--out", str(out), *TINY]) == 0
    m = json.loads((out / "seed_0" / "fold_1" / "metrics.json").read_text())
    assert "validation" not in m and "validation" not in m["history"][0]
    ckpt = tmp_path / "model.wise"
    assert main(["train", "--config", str(CONFIGS / "text_only.yaml"), "--manifest",
                 str(mini_manifest), "--out", str(ckpt), "--set", "validation=speakers",
                 *TINY]) == 0
    extra = load_checkpoint(ckpt)[3]["extra"]
    assert extra["validation"]["split"] == "speakers"
    assert extra["n_val"] == extra["validation"]["n_val"] > 0
