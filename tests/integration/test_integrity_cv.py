"""`wise cv` after damage: a truncated feature pack is rebuilt, and a fold whose files no longer
match their checksums is trained again, ending where an undamaged run ends."""

from __future__ import annotations

import json

import torch

from wise.cli import main
from wise.crossval import without_timings


def digest(fold) -> str:
    """The checkpoint's recorded SHA-256 of its contents (its bytes also hold the name of the
    temporary file it was written to)."""
    return torch.load(fold / "model.wise", weights_only=True)["content_sha256"]


TINY = ["--set", "max_epochs=1", "--set", "min_epochs=1", "--set", "batch_size=4", "--quiet",
        "--workers", "1", "--jobs", "1"]


def test_damaged_pack_and_fold_files_are_rebuilt_to_the_same_results(mini_manifest, tmp_path,
                                                                      capsys):
    out = tmp_path / "run"
    argv = ["cv", "--config", "wise", "--manifest", str(mini_manifest), "--out", str(out),
            *TINY]
    assert main(argv) == 0
    fold1 = out / "seed_0" / "fold_1"
    want = {"predictions": (fold1 / "predictions.jsonl").read_bytes(), "model": digest(fold1)}
    summary = without_timings(json.loads((out / "summary.json").read_text()))
    (pack,) = (mini_manifest.parent / "wise-cache" / "packs").iterdir()
    with open(pack / "frames.npy", "r+b") as f:             # the full disk
        f.truncate(20000)
    with open(fold1 / "predictions.jsonl", "r+b") as f:     # a fold's file cut short
        f.truncate(10)
    capsys.readouterr()

    assert main(argv) == 0
    log = capsys.readouterr().out
    assert "rebuilt (damaged): the feature pack" in log and "frames.npy is 20000 bytes" in log
    assert "fold 1/2 (Ses01): trained again, its earlier files are damaged " \
           "(predictions.jsonl is 10 bytes" in log
    assert "fold 2/2 (Ses02): done earlier" in log
    assert (fold1 / "predictions.jsonl").read_bytes() == want["predictions"]
    assert json.loads((fold1 / "checksums.json").read_text())["sha256"].keys() == {
        "predictions.jsonl", "metrics.json", "model.wise"}
    assert digest(fold1) == want["model"]            # the same weights and config
    assert without_timings(json.loads((out / "summary.json").read_text())) == summary
