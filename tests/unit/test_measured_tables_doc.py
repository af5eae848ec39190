"""The measured tables the docs quote are the ones the benchmarks wrote: a rerun that changes a
figure fails here until the page is updated."""

import importlib
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("result, page", [
    ("benchmarks/results/validation_split.json", "docs/training.md"),
    ("benchmarks/results/vector_width.json", "docs/training.md"),
    ("benchmarks/results/interaction_scale.json", "docs/synthetic-results.md"),
])
def test_the_page_quotes_the_benchmarks_table(result, page):
    table = json.loads((ROOT / result).read_text())["table"]
    assert table.count("\n") >= 3
    assert table in (ROOT / page).read_text(), f"{page} does not quote {result}'s table"


def test_the_learning_curve_is_made_from_its_ledger(monkeypatch):
    """interaction_scale.json's table is what its runs' ledger gives: no run left out, none
    added by hand, every interval from the recorded runs."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks" / "studies"))
    study = importlib.import_module("interaction_scale")
    runs = study.read_ledger()
    assert len({(e["size"], e["row"], e["seed"], e["fold"]) for e in runs}) == len(runs)
    table = {str(n): study.cell_table(n, list(study.ROWS)) for n in study.SIZES}
    made = study.markdown({n: c for n, c in table.items() if c})
    assert made == json.loads((ROOT / "benchmarks/results/interaction_scale.json").read_text())[
        "table"]


def between(page: str, marker: str) -> str:
    """The text of `page` between its `<!-- marker:start -->` line and `<!-- marker:end -->`."""
    start, end = f"<!-- {marker}:start -->\n", f"<!-- {marker}:end -->"
    return page[page.index(start) + len(start):page.index(end)]


@pytest.mark.parametrize("result, marker", [
    ("benchmarks/results/real_speech_v2.md", "real-speech-v2"),
    ("benchmarks/results/encoder_layers.md", "encoder-layers"),
    ("benchmarks/results/shipped_encoder.md", "shipped-encoder"),
    ("benchmarks/results/adaptation_wise_whisper.md", "adaptation"),
    ("benchmarks/results/adaptation_wise_whisper_previous.md", "adaptation-previous"),
    ("benchmarks/results/unadapted_case.md", "unadapted-case"),
    ("benchmarks/results/adaptation_wise_whisper_2_4.md", "adaptation-2-4"),
])
def test_the_real_speech_page_quotes_the_generated_tables(result, marker):
    page = (ROOT / "docs/real-speech.md").read_text()
    assert between(page, marker) == (ROOT / result).read_text()


def test_the_model_card_quotes_the_bundled_models_build():
    build = json.loads((ROOT / "benchmarks/results/bundled_model.json").read_text())
    page = (ROOT / "docs/models.md").read_text()
    assert between(page, "bundled-model") == build["table"]
    checkpoint, train = build["checkpoint"], build["train"]
    assert f"({checkpoint['bytes']:,} bytes), {train['n_params']:,} parameters" in page
    assert f"training {train['train_seconds']} s" in page
    assert f"{train['clips']} clips" in page
    assert f"in {build['held_out_predict']['unadapted']['seconds']} s, one after another" in page


def test_the_predict_path_figures_are_the_combined_runs():
    """docs/real-speech.md's predict-path table of the shipped config quotes the combined
    results of benchmarks/studies/real_speech_predict.py: UA and each paired difference."""
    run = json.loads((ROOT / "benchmarks/results/real_speech_predict_wise_whisper.json")
                     .read_text())
    block = between((ROOT / "docs/real-speech.md").read_text(), "predict-shipped")

    def num(x: float, sign: bool) -> str:
        text = f"{abs(x):.3f}".lstrip("0")
        return ("−" if x < 0 else "+" if sign else "") + text

    for condition, row in (("adapted", "speaker adapted"), ("unadapted", "not adapted")):
        line = next(x for x in block.splitlines() if x.startswith(f"| {row} |"))
        assert f"**{num(run[f'{condition}_ua'], False)}**" in line
        for ref in run["baselines"][condition]:
            d = run[f"{condition}_ua_vs"][ref]
            lo, hi = d["ci95"]
            assert (f"{num(d['mean'], True)} [{num(lo, True)}, {num(hi, True)}]") in line, ref
