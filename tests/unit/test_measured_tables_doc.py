"""The measured tables the docs quote are the ones the benchmarks wrote: a rerun that changes a
figure fails here until the page is updated."""

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


def test_the_real_speech_page_quotes_the_generated_tables():
    tables = (ROOT / "benchmarks/results/real_speech_v2.md").read_text()
    page = (ROOT / "docs/real-speech.md").read_text()
    start, end = "<!-- real-speech-v2:start -->\n", "<!-- real-speech-v2:end -->"
    assert page[page.index(start) + len(start):page.index(end)] == tables


def test_the_real_speech_page_quotes_the_encoder_layers_table():
    table = (ROOT / "benchmarks/results/encoder_layers.md").read_text()
    page = (ROOT / "docs/real-speech.md").read_text()
    start, end = "<!-- encoder-layers:start -->\n", "<!-- encoder-layers:end -->"
    assert page[page.index(start) + len(start):page.index(end)] == table


def test_the_real_speech_page_quotes_the_adaptation_table():
    table = (ROOT / "benchmarks/results/adaptation_wise_whisper.md").read_text()
    page = (ROOT / "docs/real-speech.md").read_text()
    start, end = "<!-- adaptation:start -->\n", "<!-- adaptation:end -->"
    assert page[page.index(start) + len(start):page.index(end)] == table


def test_the_model_card_quotes_the_bundled_models_build():
    build = json.loads((ROOT / "benchmarks/results/bundled_model.json").read_text())
    page = (ROOT / "docs/models.md").read_text()
    start, end = "<!-- bundled-model:start -->\n", "<!-- bundled-model:end -->"
    assert page[page.index(start) + len(start):page.index(end)] == build["table"]
    checkpoint, train = build["checkpoint"], build["train"]
    assert f"({checkpoint['bytes']:,} bytes), {train['n_params']:,} parameters" in page
    assert f"training {train['train_seconds']} s" in page
    assert f"{train['clips']} clips" in page
    assert f"in {build['held_out_predict']['unadapted']['seconds']} s, one after another" in page
