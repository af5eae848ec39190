"""A tiny real reproduction: two table rows cross-validated and reported on the IEMOCAP
miniature."""

import json
from pathlib import Path

from wise.cli import main
from wise.pipeline import reproduce
from wise.runtime import Runtime

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_reproduce_two_rows(iemocap_mini, tmp_path):
    manifest = tmp_path / "m.jsonl"
    assert main(["prepare", "iemocap", str(iemocap_mini), "--out", str(manifest),
                 "--missing-alignment", "skip", "--quiet"]) == 0
    out = tmp_path / "repro"
    lines: list[str] = []
    path = reproduce(manifest, out, [CONFIGS / "wise.yaml", CONFIGS / "text_only.yaml"],
                     sets=["max_epochs=1", "batch_size=2"], corpus_name="iemocap_mini",
                     runtime=Runtime(workers=1, progress=False, log=lines.append))
    assert path == out / "results.md"
    assert {p.name for p in out.iterdir()} >= {"wise", "text_only", "results.md",
                                                "results.json", "rows.png", "confusions.png"}
    assert (out / "wise" / "summary.json").is_file()
    assert any(line.startswith("[1/2] wise") for line in lines)
    assert any(line.startswith("[2/2] text_only: WA") for line in lines)

    table = json.loads((out / "results.json").read_text())
    run = {r["name"]: r for r in table["rows"] if r["run"]}
    assert set(run) == {"wise", "text_only"}
    assert run["wise"]["n_folds"] == 2 and not run["text_only"]["mismatch"]
    assert "`train.max_epochs=1`" in path.read_text()

    lines.clear()                    # a second call reuses every finished fold
    reproduce(manifest, out, [CONFIGS / "wise.yaml", CONFIGS / "text_only.yaml"],
              sets=["max_epochs=1", "batch_size=2"], corpus_name="iemocap_mini",
              runtime=Runtime(workers=1, progress=False, log=lines.append))
    assert sum("done earlier" in line for line in lines) == 4
