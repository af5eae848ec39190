"""Tiny end-to-end runs of `wise cv`, `wise train` and `wise params` on the IEMOCAP miniature."""

import json
from pathlib import Path

import pytest
import torch

from wise.checkpoint import load_checkpoint
from wise.cli import main
from wise.crossval import without_timings
from wise.errors import WiseError
from wise.runtime import Runtime

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
    assert (s["word_vectors"], s["word_dim"]) == ("glove-6b-50d", 50)
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
    *_, text, last = capsys.readouterr().out.strip().splitlines()
    assert last.endswith("584,654 trainable parameters")
    assert "assumes 300-d word vectors" in text and "glove-6b-50d (50-d)" in text


def test_params_counts_what_training_builds_from_the_rows_vectors(capsys, tmp_path):
    assert main(["params", "wise"]) == 0      # the packaged vectors, as `wise cv` builds it
    *_, text, last = capsys.readouterr().out.strip().splitlines()
    assert text.strip() == "text: glove-6b-50d (50-d), the row's word vectors " \
                           "(features.word_vectors)"
    assert last == "wise (text_dim=50, frame_dim=39): 434,654 trainable parameters"
    vectors = tmp_path / "v.txt"                # a GloVe file: its width is read, not loaded
    vectors.write_text("the 0.1 0.2 0.3 0.4\nof 1 2 3 4\n")
    assert main(["params", "text_only", "--set", f"word_vectors={vectors}"]) == 0
    *_, text, last = capsys.readouterr().out.strip().splitlines()
    assert "(4-d)" in text and "text_dim=4," in last


def test_parallel_folds_write_the_same_files(manifest, tmp_path):
    out = tmp_path / "par"
    assert main(["cv", "--config", str(CONFIGS / "text_only.yaml"), "--manifest",
                 str(manifest), "--out", str(out), "--jobs", "2", *TINY]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert [f["fold"] for f in s["folds"]] == [1, 2]
    for k in (1, 2):
        assert (out / "seed_0" / f"fold_{k}" / "model.wise").is_file()
        assert (out / "seed_0" / f"fold_{k}" / "predictions.jsonl").is_file()
    assert not list(out.rglob("progress.json"))      # the live progress files are gone


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
    store = load(run, manifest, Runtime(cache=tmp_path / "cache", workers=1, progress=False)).store

    def weights(seed, fold):
        return [p.detach().clone() for p in new_model(run, store, init_seed(seed, fold))
                .parameters()]

    first = weights(0, 1)
    torch.rand(1000)                                  # whatever ran before in this process
    assert all(torch.equal(x, y) for x, y in zip(first, weights(0, 1), strict=True))
    assert not all(torch.equal(x, y) for x, y in zip(first, weights(1, 1), strict=True))
    assert not all(torch.equal(x, y) for x, y in zip(first, weights(0, 2), strict=True))


def _fold_jobs(tmp_path, n=3):
    from wise.config import RunConfig
    from wise.crossval import FoldJob, fold_dir

    return [FoldJob(run=RunConfig(name="x"), pack="", labels=[], speakers=[], rows=[],
                    test_rows=[], k=k, n_folds=n, name=f"S{k}",
                    fold_dir=str(fold_dir(tmp_path, 0, k)), config_hash="", word_vectors="",
                    progress=True)
            for k in range(1, n + 1)]


def test_parallel_folds_report_in_order_and_show_running_epochs(tmp_path, monkeypatch,
                                                                capsys):
    """Folds that finish out of order are reported in order, each as soon as the ones before
    it are; meanwhile the running folds' epochs, from their progress files."""
    import wise.crossval as C
    import wise.progress as P

    monkeypatch.setattr(P, "LIVE_INTERVAL", 0.0)
    reported = []

    def epoch(job, n, ua):
        Path(job.fold_dir).mkdir(parents=True, exist_ok=True)
        Path(job.progress_file).write_text(json.dumps({"epoch": n, "epochs": 30, "val_ua": ua}))

    def fake_imap(fn, items, *, workers, ray, name, idle):
        assert fn is C.train_job and not any(job.progress for job in items)
        epoch(items[0], 3, 0.41)
        epoch(items[1], 5, None)
        idle()
        Path(items[1].progress_file).unlink()     # the worker removes it as it ends
        yield 1, {"fold": 2}
        assert reported == []                     # fold 2 waits for fold 1
        epoch(items[2], 1, 0.25)
        Path(items[0].progress_file).unlink()
        yield 0, {"fold": 1}
        assert reported == [1, 2]
        Path(items[2].progress_file).unlink()
        yield 2, {"fold": 3}

    monkeypatch.setattr(C, "imap", fake_imap)
    C.run_jobs(_fold_jobs(tmp_path), 2, lambda job, r: reported.append(r["fold"]))
    assert reported == [1, 2, 3]
    assert capsys.readouterr().err.splitlines() == [
        "training: x fold 1/3 epoch 3/30 (val UA 0.410), x fold 2/3 epoch 5/30",
        "training: x fold 1/3 epoch 3/30 (val UA 0.410)",
        "training: x fold 3/3 epoch 1/30 (val UA 0.250)"]


def test_a_failed_fold_still_reports_the_folds_that_finished(tmp_path, monkeypatch):
    import wise.crossval as C

    def fake_imap(fn, items, **kw):
        yield 2, {"fold": 3}
        yield 1, {"fold": 2}
        raise RuntimeError("fold 1 failed")

    monkeypatch.setattr(C, "imap", fake_imap)
    reported = []
    with pytest.raises(RuntimeError, match="fold 1 failed"):
        C.run_jobs(_fold_jobs(tmp_path), 2, lambda job, r: reported.append(r["fold"]))
    assert reported == [2, 3]


def test_a_fold_trained_elsewhere_writes_its_epochs_then_removes_them(manifest, tmp_path,
                                                                      monkeypatch):
    import wise.crossval as C
    from wise.rows import load_run_config

    run = load_run_config("text_only", ["max_epochs=3", "min_epochs=3", "batch_size=4"])
    plan = C.plan_cv(run, manifest, tmp_path / "run",
                     runtime=Runtime(cache=tmp_path / "cache", workers=1, progress=False,
                                     log=lambda line: None))
    job = plan.todo[0]
    job.progress_file = str(Path(job.fold_dir) / C.PROGRESS_FILE)
    seen = []
    write = C.atomic_write_text

    def spy(path, text):
        if str(path) == job.progress_file:
            seen.append(json.loads(text))
        write(path, text)

    monkeypatch.setattr(C, "atomic_write_text", spy)
    result = C.train_job(job)
    assert [(p["epoch"], p["epochs"]) for p in seen] == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert [p["val_ua"] for p in seen[1:]] == [h["val_ua"] for h in result["history"]]
    assert not Path(job.progress_file).exists()
    assert sorted(p.name for p in Path(job.fold_dir).iterdir()) == [
        "checksums.json", "metrics.json", "model.wise", "predictions.jsonl"]
