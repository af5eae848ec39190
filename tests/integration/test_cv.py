"""Tiny end-to-end runs of `wise cv`, `wise train` and `wise params` on the IEMOCAP miniature."""

import json
from pathlib import Path

import pytest
import torch
from compare import without_timings

from wise.checkpoint import load_checkpoint
from wise.cli import main
from wise.errors import WiseError

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
TINY = ["--set", "max_epochs=2", "--set", "batch_size=2", "--quiet", "--workers", "1"]


@pytest.fixture
def manifest(mini_manifest):
    return mini_manifest


def test_cv_writes_summary_and_resumes(manifest, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["cv", "--config", str(CONFIGS / "wise.yaml"), "--manifest", str(manifest),
            "--out", str(out), *TINY]
    assert main(argv) == 0
    s = json.loads((out / "summary.json").read_text())
    for key in ("config", "n_params", "labels", "folds", "wa_mean", "wa_std", "ua_mean",
                "ua_std", "confusion", "protocol", "subset", "code_version"):
        assert key in s
    assert s["labels"] == ["ang", "hap", "neu", "sad"]
    assert [f["test"] for f in s["folds"]] == ["Ses01", "Ses02"]
    assert sum(map(sum, s["confusion"])) == 6
    assert s["n_params"] == 434_654          # 50-d packaged vectors
    assert all(0 <= f["wa"] <= 1 and 0 <= f["ua"] <= 1 for f in s["folds"])
    preds = (out / "seed_0" / "fold_1" / "predictions.jsonl").read_text().splitlines()
    assert len(preds) == s["folds"][0]["n"]
    first = (out / "seed_0" / "fold_1" / "metrics.json").stat().st_mtime_ns
    capsys.readouterr()
    assert main(argv) == 0
    assert "done earlier" in capsys.readouterr().out
    assert (out / "seed_0" / "fold_1" / "metrics.json").stat().st_mtime_ns == first
    assert json.loads((out / "summary.json").read_text())["wa_mean"] == s["wa_mean"]


def test_a_changed_config_does_not_reuse_folds(manifest, tmp_path, capsys):
    out = tmp_path / "run"
    base = ["cv", "--config", str(CONFIGS / "wise.yaml"), "--manifest", str(manifest),
            "--out", str(out), *TINY]
    assert main(base) == 0
    capsys.readouterr()
    assert main([*base, "--set", "dropout=0.1"]) == 0
    assert "done earlier" not in capsys.readouterr().out


def test_train_writes_a_self_contained_checkpoint(manifest, tmp_path):
    ckpt = tmp_path / "model.wise"
    assert main(["train", "--config", str(CONFIGS / "text_only.yaml"), "--manifest", str(manifest),
                 "--out", str(ckpt), *TINY]) == 0
    blob = torch.load(ckpt, weights_only=True)
    assert blob["labels"] == ["ang", "hap", "neu", "sad"]
    assert blob["word_vectors"] == "glove-6b-50d"
    assert blob["run"]["features"]["hop_ms"] == 15.0
    model, run, norm, _ = load_checkpoint(ckpt)
    assert run.name == "text_only" and model.cfg.text_dim == 50 and not model.training


def test_broken_checkpoint_is_a_clear_error(tmp_path):
    bad = tmp_path / "x.wise"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(WiseError, match="not a wise checkpoint"):
        load_checkpoint(bad)


def test_params_prints_the_count_last(capsys):
    assert main(["params", str(CONFIGS / "wise.yaml"), "--set", "text_dim=300"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.endswith("584,654 trainable parameters")


def test_parallel_folds_write_the_same_files(manifest, tmp_path):
    out = tmp_path / "par"
    assert main(["cv", "--config", str(CONFIGS / "text_only.yaml"), "--manifest",
                 str(manifest), "--out", str(out), "--jobs", "2", *TINY]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert [f["fold"] for f in s["folds"]] == [1, 2]
    for k in (1, 2):
        assert (out / "seed_0" / f"fold_{k}" / "model.wise").is_file()
        assert (out / "seed_0" / f"fold_{k}" / "predictions.jsonl").is_file()


def test_reruns_are_identical_whatever_jobs_and_workers(manifest, tmp_path):
    """The same config, seeds and manifest give the same metrics, predictions and weights with
    one process or two, and with features built by one worker or two."""
    runs = {}
    for jobs, workers in (("1", "1"), ("2", "2")):
        out = tmp_path / f"jobs{jobs}"
        assert main(["cv", "--config", "wise", "--manifest", str(manifest), "--out", str(out),
                     "--cache", str(tmp_path / f"cache{workers}"), "--seeds", "2",
                     "--set", "max_epochs=2", "--set", "batch_size=2", "--quiet",
                     "--jobs", jobs, "--workers", workers]) == 0
        runs[jobs] = out
    a, b = (json.loads((runs[j] / "summary.json").read_text()) for j in ("1", "2"))
    assert without_timings(a) == without_timings(b)
    assert a["seeds"] == [0, 1] and len(a["folds"]) == 4
    for seed in (0, 1):
        for k in (1, 2):
            fa, fb = (runs[j] / f"seed_{seed}" / f"fold_{k}" for j in ("1", "2"))
            assert ((fa / "predictions.jsonl").read_bytes()
                    == (fb / "predictions.jsonl").read_bytes())
            ma, mb = (json.loads((f / "metrics.json").read_text()) for f in (fa, fb))
            assert without_timings(ma) == without_timings(mb)
            wa, wb = (torch.load(f / "model.wise", weights_only=True)["state_dict"]
                      for f in (fa, fb))
            assert all(torch.equal(wa[n], wb[n]) for n in wa)
    # Two seeds are two trainings, not one twice.
    w0, w1 = (torch.load(runs["1"] / f"seed_{s}" / "fold_1" / "model.wise",
                         weights_only=True)["state_dict"] for s in (0, 1))
    assert not all(torch.equal(w0[n], w1[n]) for n in w0)


def test_the_seed_sets_the_initial_weights_whatever_ran_before(manifest, tmp_path):
    from wise.rows import load_run_config
    from wise.train import init_seed, new_model
    from wise.train import load_corpus as load

    run = load_run_config("wise", [])
    store = load(run, manifest, tmp_path / "cache", workers=1, progress=False).store

    def weights(seed, fold):
        return [p.detach().clone() for p in new_model(run, store, init_seed(seed, fold))
                .parameters()]

    first = weights(0, 1)
    torch.rand(1000)                                  # whatever ran before in this process
    assert all(torch.equal(x, y) for x, y in zip(first, weights(0, 1), strict=True))
    assert not all(torch.equal(x, y) for x, y in zip(first, weights(1, 1), strict=True))
    assert not all(torch.equal(x, y) for x, y in zip(first, weights(0, 2), strict=True))
