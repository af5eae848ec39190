"""`wise demo` end to end on a tiny corpus (it leaves a model that `wise predict` uses) and
`wise asr-study` on the same."""

import json
import shlex

import pytest

from wise.cli import main

TINY_RUN = ["--set-run", "max_epochs=1", "--set-run", "min_epochs=1",
            "--set-run", "batch_size=8"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    work = tmp_path_factory.mktemp("demo") / "wise-demo"
    argv = ["demo", "--dir", str(work), "--utterances", "30", "--seed", "5", "--rows", "wise",
            *TINY_RUN, "--jobs", "1", "--workers", "1", "--quiet"]
    return work, argv


def test_demo_leaves_a_model_and_prints_commands_that_work(demo, capsys):
    work, argv = demo
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert (work / "model.wise").is_file() and (work / "results" / "results.md").is_file()
    assert "[5/6] training WISE on the whole corpus" in out
    # The last step: the bundled model on the held-out actors' clips, a row each.
    table = out.split("[6/6]")[1]
    assert "not in the bundled model's training" in table
    assert sum(".flac | Actor_2" in line for line in table.splitlines()) == 8
    commands = [shlex.split(line.strip()) for line in out.splitlines()
                if line.strip().startswith("wise ")]
    assert any(c[1] == "serve" for c in commands)
    runnable = [c for c in commands if c[1] == "predict" and "YOUR_CLIP.wav" not in c]
    assert runnable
    capsys.readouterr()
    assert main([*runnable[0][1:], "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "ok"

    assert main(argv) == 0                 # a second run keeps what exists
    out = capsys.readouterr().out
    assert "keeping the trained model" in out and "done earlier" in out


def test_asr_study_writes_table_and_plot(demo, tmp_path, capsys):
    work, argv = demo
    if not (work / "manifest.jsonl").is_file():
        assert main(argv) == 0
    # Two utterances per session keep the recogniser's share of the test to a few seconds.
    rows = (work / "manifest.jsonl").read_text().splitlines()
    small = tmp_path / "small.jsonl"
    small.write_text("\n".join([r for r in rows if '"Ses01' in r][:2]
                               + [r for r in rows if '"Ses02' in r][:2]
                               + [r for r in rows if '"Ses03' in r][:2]) + "\n")
    out = tmp_path / "study"
    assert main(["asr-study", "--manifest", str(small), "--out", str(out),
                 "--cache", str(work / "wise-cache"), "--set", "max_epochs=1", "--set",
                 "min_epochs=1", "--workers", "1", "--quiet"]) == 0
    s = json.loads((out / "results.json").read_text())
    assert [f["test"] for f in s["folds"]] == ["Ses01", "Ses02", "Ses03"]
    n = sum(f["n"] for f in s["folds"])
    assert n == len((out / "transcripts.jsonl").read_text().splitlines())
    assert s["recogniser"].startswith("Whisper tiny.en")
    for f in s["folds"]:
        assert 0 <= f["wer"]["wer"] < 1.5 and f["wer"]["ref_words"] > 0
        for cond in ("gold", "gold_forced", "asr"):
            assert 0 <= f[cond]["ua"] <= 1 and f[cond]["n"] == f["n"]
    assert (out / "asr_study.png").stat().st_size > 10_000
    table = (out / "results.md").read_text()
    assert "| ASR transcript, forced-aligned |" in table
    assert "ASR transcript, forced-aligned" in capsys.readouterr().out

    # Another recogniser into the same folder: the CV is reused, the transcripts are not.
    assert main(["asr-study", "--manifest", str(small), "--out", str(out),
                 "--cache", str(work / "wise-cache"), "--set", "max_epochs=1", "--set",
                 "min_epochs=1", "--workers", "1", "--quiet", "--asr", "pocketsphinx"]) == 0
    s = json.loads((out / "results.json").read_text())
    assert s["recogniser"].startswith("pocketsphinx")
    lines = [json.loads(line) for line in (out / "transcripts.jsonl").read_text().splitlines()]
    assert len(lines) == 2 * n and len({row["asr"] for row in lines}) == 2
