"""Kill and resume, CI-sized: every long command SIGKILLed (its whole process group) at seeded
points mid-work, then run again, must end with the outputs of an uninterrupted run and leave
no temporary file. The harness is wise.testing.kill_resume, which benchmarks/faults/kill_resume.py
runs with more kill points for docs/reliability.md."""

from __future__ import annotations

import json

import pytest
import torch

from wise.testing import kill_resume as kr

pytestmark = pytest.mark.slow

# Kill points per command, sized to CI's time: two where resuming skips finished work, one
# for the longest and for `train` (which starts again from scratch). The benchmark runs six.
KILLS = {"prepare": 2, "features": 2, "cv": 2, "reproduce": 1, "asr-study": 1, "train": 1}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    work = tmp_path_factory.mktemp("kill_resume")
    return work, kr.make_inputs(work, "ci")


@pytest.mark.parametrize("name", list(KILLS))
def test_a_killed_command_run_again_gives_the_uninterrupted_outputs(inputs, name):
    work, inp = inputs
    cmd = next(c for c in kr.commands(inp, "ci") if c.name == name)
    r = kr.study(cmd, work, KILLS[name], seed=0, log_line=lambda _: None)
    trials = r["trials"]
    assert len(trials) == KILLS[name]
    seen = [(t["differences"], t["leftover_temps"]) for t in trials]
    assert seen == [([], [])] * KILLS[name], (seen, r)
    assert any(t["mid_run"] for t in trials), r      # a kill that missed tests nothing


def test_the_comparison_sees_what_differs_and_what_was_left(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for d, ua, secs in ((a, 0.5, 1.0), (b, 0.5, 9.0)):
        (d / "fold").mkdir(parents=True)
        (d / "fold" / "metrics.json").write_text(json.dumps({"ua": ua, "seconds": secs}))
        torch.save({"state_dict": {"w": torch.ones(3)}, "extra": {"seconds": secs}},
                   d / "fold" / "t.pt")
    assert kr.compare_runs(a, b) == []                     # wall-clock fields aside: equal
    (b / "fold" / "metrics.json").write_text(json.dumps({"ua": 0.25, "seconds": 1.0}))
    torch.save({"state_dict": {"w": torch.tensor([1.0, 1.0, 1.0 + 2**-20])}}, b / "fold" / "t.pt")
    (b / "fold" / ".metrics.json.p1-0a0b0c0d.x1.tmp").write_text("half")
    (b / "extra.json").write_text("{}")
    assert kr.compare_runs(a, b) == ["extra: extra.json", "differs: fold/metrics.json",
                                     "differs: fold/t.pt"]
    assert kr.listing(b)[1] == ["fold/.metrics.json.p1-0a0b0c0d.x1.tmp"]


def test_a_fold_an_interrupted_run_had_started_keeps_no_progress_file(mini_manifest, tmp_path):
    """Found by the harness: a run killed mid-fold leaves that fold's progress.json, which a
    resumed run training one fold at a time kept beside the finished fold's files."""
    from wise.cli import main

    out = tmp_path / "run"
    started = out / "seed_0" / "fold_2" / "progress.json"
    started.parent.mkdir(parents=True)
    started.write_text('{"epoch": 0, "epochs": 1, "val_ua": null}\n')
    assert main(["cv", "--config", "text_only", "--manifest", str(mini_manifest), "--out",
                 str(out), "--set", "max_epochs=1", "--set", "batch_size=2", "--jobs", "1",
                 "--workers", "1", "--quiet"]) == 0
    assert (out / "seed_0" / "fold_2" / "metrics.json").is_file()
    assert list(out.rglob("progress.json")) == []
