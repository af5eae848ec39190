"""`wise cv --config egemaps_svm` on the IEMOCAP miniature: the neural rows' folds and files,
and one-line errors where the row cannot run."""

import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from wise.cli import main
from wise.errors import WiseError
from wise.pipeline import reproduce
from wise.runtime import Runtime

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
QUIET = ["--quiet", "--workers", "1"]


@pytest.fixture
def manifest(mini_manifest):
    return mini_manifest


def _fold_ids(run: Path) -> list[set[str]]:
    return [{json.loads(line)["id"] for line in p.read_text().splitlines()}
            for p in sorted(run.glob("seed_*/fold_*/predictions.jsonl"))]


def test_cv_uses_the_neural_rows_folds_and_files(manifest, tmp_path, capsys):
    # The training-loop settings mean nothing to the SVM, but `wise report` compares them, so
    # both rows get the same (as `wise reproduce --set` gives every row).
    random = ["--set", "protocol=random", "--set", "folds=2", "--set", "max_epochs=1",
              "--set", "batch_size=2"]
    svm, nn = tmp_path / "svm", tmp_path / "text_only"
    argv = ["cv", "--config", "egemaps_svm", "--manifest", str(manifest), "--out", str(svm),
            *random, *QUIET]
    assert main(argv) == 0
    assert main(["cv", "--config", "text_only", "--manifest", str(manifest), "--out", str(nn),
                 *random, *QUIET]) == 0
    assert _fold_ids(svm) == _fold_ids(nn) and len(_fold_ids(svm)) == 2

    s, t = (json.loads((r / "summary.json").read_text()) for r in (svm, nn))
    assert set(s) == set(t)
    assert s["config"]["model"] == "egemaps_svm" and s["n_params"] > 0
    assert s["n_utterances"] == t["n_utterances"] == 6
    assert sum(map(sum, s["confusion"])) == 6
    assert 0 <= s["ua_mean"] <= 1 and s["folds"][0]["best_epoch"] is None
    m = json.loads((svm / "seed_0" / "fold_1" / "metrics.json").read_text())
    assert set(json.loads((nn / "seed_0" / "fold_1" / "metrics.json").read_text())) <= set(m)
    assert m["n_val"] == 0 and m["n_train"] + m["n"] == 6
    assert not (svm / "seed_0" / "fold_1" / "model.wise").exists()
    for line in (svm / "seed_0" / "fold_1" / "predictions.jsonl").read_text().splitlines():
        p = json.loads(line)
        assert set(p) == {"id", "label", "pred", "probs", "attention"}
        assert len(p["probs"]) == 4 and abs(sum(p["probs"]) - 1) < 1e-4
        assert p["pred"] == ["ang", "hap", "neu", "sad"][int(np.argmax(p["probs"]))]
        assert abs(sum(p["attention"]) - 1) < 1e-3

    capsys.readouterr()                       # a second run reuses the features and the folds
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "0 built, 6 reused" in out and out.count("done earlier") == 2

    # The report puts it beside the neural rows, scored the same way (no † mismatch).
    assert main(["report", str(nn), str(svm), "--corpus", "mini", "--out",
                 str(tmp_path / "report")]) == 0
    table = json.loads((tmp_path / "report" / "results.json").read_text())
    row = next(r for r in table["rows"] if r["name"] == "egemaps_svm")
    assert row["table"] == 3 and row["mismatch"] == []
    assert "| eGeMAPS + SVM (classic baseline, audio only) |" in (
        tmp_path / "report" / "results.md").read_text()


def test_without_opensmile_cv_is_one_line_and_exit_2(manifest, tmp_path, capsys,
                                                     monkeypatch):
    monkeypatch.setitem(sys.modules, "opensmile", None)
    assert main(["cv", "--config", "egemaps_svm", "--manifest", str(manifest), "--out",
                 str(tmp_path / "run"), *QUIET]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [err[0]] and err[0].startswith("wise: error: ")
    assert 'pip install "wise-ser[opensmile]"' in err[0]
    assert not (tmp_path / "run").exists() and not (manifest.parent / "wise-cache").exists()


def test_without_opensmile_reproduce_refuses_or_leaves_the_row_out(manifest, tmp_path,
                                                                   monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    rows = [CONFIGS / "text_only.yaml", CONFIGS / "egemaps_svm.yaml"]
    kw = {"sets": ["max_epochs=1", "batch_size=2"], "corpus_name": "iemocap_mini"}
    quiet = Runtime(workers=1, progress=False)
    with pytest.raises(WiseError, match="wise-ser\\[opensmile\\]"):
        reproduce(manifest, tmp_path / "a", rows, runtime=quiet, **kw)
    assert not (tmp_path / "a").exists()
    lines: list[str] = []
    reproduce(manifest, tmp_path / "b", rows, skip_unavailable=True,
              runtime=replace(quiet, log=lines.append), **kw)
    assert lines[0].startswith("leaving out egemaps_svm: ")
    table = json.loads((tmp_path / "b" / "results.json").read_text())
    assert [r["name"] for r in table["rows"] if r["run"]] == ["text_only"]


def test_train_and_params_refuse_the_row(manifest, tmp_path, capsys):
    assert main(["train", "--config", "egemaps_svm", "--manifest", str(manifest), "--out",
                 str(tmp_path / "m.wise"), *QUIET]) == 2
    assert main(["params", "egemaps_svm"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(e.startswith("wise: error: ") for e in err)
    assert "wise cv --config egemaps_svm" in err[0] and "wise cv --config egemaps_svm" in err[1]
