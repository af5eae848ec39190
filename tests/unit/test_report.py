"""The results report from hand-made cv summaries (no training)."""

import functools
import json

import pytest

from wise.config import RunConfig
from wise.errors import WiseError
from wise.pipeline import reproduce, write_report
from wise.plots import plot_confusions, plot_rows, rows_figure
from wise.report import (
    PAPER,
    README_END,
    README_START,
    chance_words,
    load_summaries,
    readme_table,
    results_markdown,
    results_table,
    table_configs,
    update_readme,
)


def summary(name, wa=(0.70, 0.80), ua=(0.60, 0.80), run_dir=None, **over):
    cfg = RunConfig(name=name).to_dict()
    for key, value in over.pop("train", {}).items():
        cfg["train"][key] = value
    s = {"name": name, "config": cfg, "code_version": "0.1.0+gabc1234",
         "manifest": "data/m.jsonl", "n_utterances": 100, "protocol": "session",
         "subset": "all", "n_params": 434_654, "labels": ["ang", "hap", "neu", "sad"],
         "word_vectors": "glove-6b-50d", "word_dim": 50,
         "folds": [{"fold": i + 1, "test": f"Ses0{i + 1}", "wa": w, "ua": u,
                    "recall": {}, "n": 50, "best_epoch": 3, "seconds": 1.0}
                   for i, (w, u) in enumerate(zip(wa, ua, strict=True))],
         "wa_mean": sum(wa) / len(wa), "wa_std": abs(wa[0] - wa[1]) / 2,
         "ua_mean": sum(ua) / len(ua), "ua_std": abs(ua[0] - ua[1]) / 2,
         "pooled_wa": 0.75, "pooled_ua": 0.7,
         "confusion": [[20, 3, 2, 0], [4, 21, 0, 0], [1, 2, 22, 0], [0, 0, 5, 20]],
         "seconds": 2.0, "run_dir": run_dir or f"runs/{name}"}
    s.update(over)
    return s


def write_run(root, s):
    d = root / s["name"]
    d.mkdir(parents=True)
    (d / "summary.json").write_text(json.dumps({k: v for k, v in s.items() if k != "run_dir"}))
    return d


def table_lines(md):
    return [line for line in md.splitlines() if line.startswith("| ")]


def test_rows_follow_the_papers_tables_then_extras():
    runs = [summary("hr_lstm"), summary("im_dmf"), summary("wise"), summary("text_only"),
            summary("audio_only")]
    rows = results_table(runs, "IEMOCAP")["rows"]
    names = [r["name"] for r in rows]
    assert names == [*PAPER, "hr_lstm"]           # paper rows (run or not), then the rest
    assert [r["table"] for r in rows] == [1] * 6 + [2] * 4 + [3]
    assert not rows[names.index("mdre")]["run"]


def test_numbers_are_formatted_like_the_paper():
    md = results_markdown([summary("wise", wa=(0.70, 0.80), ua=(0.6, 0.8))], "IEMOCAP")
    wise = next(line for line in table_lines(md) if line.startswith("| WISE |"))
    assert wise == "| WISE | .750 ± .050 | .700 ± .100 | — | .759 | .764 | 434,654 |"
    mdre = next(line for line in table_lines(md) if "MDRE" in line)
    assert "not run" in mdre and ".737 | .753" in mdre
    assert "IM+DMF+HR⁻" in md and ".743 | .754" in md
    assert md.index("Table 1") < md.index("Audio only") < md.index("Table 2") < md.index("IM+DMF")


def test_header_states_the_setting_and_corpus():
    md = results_markdown([summary("wise")], "synthetic")
    for text in ("synthetic", "100 utterances", "data/m.jsonl", "leave one session out",
                 "subset: **all**", "glove-6b-50d", "0.1.0+gabc1234", "not comparable"):
        assert text in md
    assert "not comparable" not in results_markdown([summary("wise")], "IEMOCAP")


def test_header_names_the_word_vectors_and_their_width():
    md = results_markdown([summary("wise")], "IEMOCAP")
    assert "word vectors: `glove-6b-50d` (50-d) — narrower than the paper's 300-d" in md
    md = results_markdown([summary("wise", word_vectors="glove:g.txt:ab12", word_dim=300)], "x")
    assert "word vectors: `glove:g.txt:ab12` (300-d); " in md


def test_header_says_how_the_epoch_was_chosen_and_flags_a_row_chosen_otherwise():
    speakers = "early stopping on held-out whole training speakers (`validation: speakers`)"
    md = results_markdown([summary("wise")], "x")          # today's default, resolved
    assert speakers in md and "Settings that differ" not in md
    # A run with validation=rows has none in its config (`TrainConfig.key_fields`).
    old = summary("wise")
    del old["config"]["train"]["validation"]
    md = results_markdown([old], "x")
    assert "held-out training rows (their speakers also train) (`validation: rows`)" in md
    assert "`train.validation=rows`" in md                 # not the default under this protocol
    rows_row = summary("text_only")
    del rows_row["config"]["train"]["validation"]
    table = results_table([summary("wise"), rows_row], "x")
    assert speakers in results_markdown([summary("wise"), rows_row], "x")
    flagged = {r["name"]: r["mismatch"] for r in table["rows"] if r["run"]}
    assert flagged["wise"] == [] and "train.validation" in " ".join(map(str, flagged["text_only"]))


def test_rows_with_other_word_vectors_are_named_per_row():
    runs = [summary("wise", word_dim=50), summary("text_only", word_dim=50),
            summary("mdre", word_vectors="glove:big.txt:ab12", word_dim=300)]
    table = results_table(runs, "x")
    assert {r["name"]: r["word_dim"] for r in table["rows"] if r["run"]} == {
        "text_only": 50, "mdre": 300, "wise": 50}
    md = results_markdown(runs, "x")
    assert ("word vectors differ between rows: `glove-6b-50d` (50-d) (text_only, wise); "
            "`glove:big.txt:ab12` (300-d) (mdre)") in md


def test_non_default_training_settings_are_stated():
    md = results_markdown([summary("wise", train={"max_epochs": 1})], "IEMOCAP")
    assert "`train.max_epochs=1`" in md


def test_rows_evaluated_differently_are_flagged():
    runs = [summary("wise"), summary("text_only", protocol="random"),
            summary("audio_only", train={"class_weights": True}), summary("mdre")]
    md = results_markdown(runs, "IEMOCAP")
    lines = {line.split(" |")[0][2:]: line for line in table_lines(md)}
    assert "Audio only †1" in lines and "Text only †2" in lines
    assert "WISE" in lines and "Dual RNNs / MDRE (Yoon et al. 2018)" in lines
    assert "protocol=random (reference: session)" in md
    assert "train.class_weights=True (reference: False)" in md
    assert "do not compare directly" in md


def test_reference_is_the_most_common_setting_without_a_wise_row():
    runs = [summary("text_only", manifest="other.jsonl"), summary("audio_only"),
            summary("hr_dmf")]
    rows = {r["name"]: r for r in results_table(runs, "x")["rows"] if r["run"]}
    assert rows["text_only"]["mismatch"] and not rows["audio_only"]["mismatch"]


def test_the_same_config_twice_is_told_apart():
    md = results_markdown([summary("wise", run_dir="runs/a"), summary("wise", run_dir="runs/b")],
                          "x")
    assert "| WISE (a) |" in md and "| WISE (b) |" in md


def test_load_summaries(tmp_path):
    d = write_run(tmp_path, summary("wise"))
    (s,) = load_summaries([d])
    assert s["name"] == "wise" and s["run_dir"] == str(d)
    assert load_summaries([d / "summary.json"])[0]["name"] == "wise"


@pytest.mark.parametrize("content, match", [
    (None, "no summary.json"),
    ("{not json", "not valid JSON"),
    ("[1, 2]", "not a JSON object"),
    ('{"name": "wise"}', "missing wa_mean"),
])
def test_bad_summaries_are_clear_errors(tmp_path, content, match):
    d = tmp_path / "run"
    d.mkdir()
    if content is not None:
        (d / "summary.json").write_text(content)
    with pytest.raises(WiseError, match=match) as e:
        load_summaries([d])
    assert e.value.path == str(d / "summary.json")


def test_the_header_states_chance_for_the_number_of_classes():
    md = results_markdown([summary("wise")], "synthetic")
    assert "- Chance: UA .25 for 4 classes (1/4" in md
    assert chance_words(3).startswith("Chance: UA .333 for 3 classes (1/3")
    assert "Chance: UA .25 for 4 classes" in readme_table(results_table([summary("wise")], "x"))


def _title_and_legend(fig):
    ax = fig.axes[0]
    return ax.get_title(), [t.get_text() for t in ax.get_legend().get_texts()], ax


def test_rows_png_marks_chance_and_says_when_the_paper_is_another_corpus():
    runs = [summary("wise"), summary("text_only")]
    title, legend, ax = _title_and_legend(rows_figure(runs, "the synthetic corpus"))
    assert "paper: IEMOCAP, for reference only — a different corpus from ours (the synthetic " \
           "corpus)" in title
    assert "paper (IEMOCAP, reference only)" in legend
    chance = [line for line in ax.get_lines() if line.get_label().startswith("chance")]
    assert len(chance) == 1 and set(chance[0].get_ydata()) == {0.25}
    assert "chance (UA, 4 classes)" in legend
    title, legend, _ = _title_and_legend(rows_figure(runs, "IEMOCAP"))
    assert "reference only" not in title and "paper (IEMOCAP)" in legend


def test_plots_are_pngs(tmp_path):
    runs = [summary("wise"), summary("text_only"), summary("hr_bigru", protocol="random")]
    rows = functools.partial(plot_rows, corpus_name="x")
    for plot, name in ((rows, "rows.png"), (plot_confusions, "c/confusions.png")):
        out = plot(runs, tmp_path / name)
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 5000
    assert [p.name for p in tmp_path.rglob(".*")] == []          # no temp files left


def test_write_report_then_update_the_readme(tmp_path):
    dirs = [write_run(tmp_path / "runs", summary(n)) for n in ("wise", "im_hr")]
    out = tmp_path / "report"
    md = write_report(dirs, out, "synthetic")
    assert md == out / "results.md"
    assert {p.name for p in out.iterdir()} == {"results.md", "results.json", "rows.png",
                                               "confusions.png"}
    table = json.loads((out / "results.json").read_text())
    assert table["corpus"] == "synthetic" and not table["comparable_to_paper"]
    assert [r["name"] for r in table["rows"] if r["run"]] == ["wise", "im_hr"]

    readme = tmp_path / "README.md"
    readme.write_text(f"# wise\n\nintro\n\n{README_START}\nold table\n{README_END}\n\nend\n")
    assert update_readme(readme, out / "results.json")
    text = readme.read_text()
    assert "old table" not in text and text.startswith("# wise\n\nintro\n\n")
    assert text.endswith(f"{README_END}\n\nend\n")
    assert "| WISE | .750 ± .050 |" in text and "not comparable" in text
    assert readme_table(out / "results.json") in text
    assert not update_readme(readme, out / "results.json")    # nothing new: file untouched


@pytest.mark.parametrize("body", ["no markers", f"{README_END}\n{README_START}",
                                  f"{README_START}\n{README_START}\n{README_END}"])
def test_readme_without_proper_markers_is_left_alone(tmp_path, body):
    readme = tmp_path / "README.md"
    readme.write_text(body)
    with pytest.raises(WiseError, match="results:start"):
        update_readme(readme, results_table([summary("wise")], "x"))
    assert readme.read_text() == body


def test_bad_results_json_is_a_clear_error(tmp_path):
    with pytest.raises(WiseError, match="not found"):
        readme_table(tmp_path / "results.json")
    (tmp_path / "results.json").write_text("{}")
    with pytest.raises(WiseError, match="not a wise results.json"):
        readme_table(tmp_path / "results.json")


def test_table_configs_order(tmp_path):
    for name in ("swap_inputs", "wise", "audio_only", "im_hr"):
        (tmp_path / f"{name}.yaml").write_text(f"name: {name}\n")
    assert [p.stem for p in table_configs(tmp_path)] == ["audio_only", "wise", "im_hr",
                                                          "swap_inputs"]


def test_reproduce_reads_every_config_before_training(tmp_path):
    good = tmp_path / "wise.yaml"
    good.write_text("name: wise\n")
    twin = tmp_path / "twin.yaml"
    twin.write_text("name: wise\n")
    with pytest.raises(WiseError, match="also the name"):
        reproduce("missing.jsonl", tmp_path / "out", [good, twin], corpus_name="x")
    with pytest.raises(WiseError, match="config file not found"):
        reproduce("missing.jsonl", tmp_path / "out", [good, tmp_path / "nope.yaml"],
                  corpus_name="x")
    assert not (tmp_path / "out").exists()



def seeded(name, uas, **over):
    """A summary with one fold entry per (seed, test): uas = {(seed, test): ua}."""
    s = summary(name, **over)
    s["folds"] = [{"seed": seed, "fold": int(t[-1]), "test": t, "wa": ua, "ua": ua,
                   "recall": {}, "n": 20, "n_train": 80, "best_epoch": 3, "seconds": 1.0}
                  for (seed, t), ua in uas.items()]
    return s


def test_rows_carry_their_paired_difference_against_wise():
    keys = [(seed, f"Ses0{k}") for seed in range(3) for k in range(1, 6)]
    base = {key: 0.5 + 0.02 * i % 0.1 for i, key in enumerate(keys)}
    runs = [seeded("wise", base),
            seeded("hr_dmf", {k: v - 0.06 + 0.004 * (i % 3) for i, (k, v) in
                              enumerate(base.items())}),
            seeded("im_dmf", {k: v + (0.02 if i % 2 else -0.02) for i, (k, v) in
                              enumerate(base.items())}),
            seeded("text_only", base, manifest="other.jsonl")]
    table = results_table(runs, "x")
    rows = {r["name"]: r for r in table["rows"] if r["run"]}
    assert rows["wise"]["vs_wise"] is None
    assert rows["hr_dmf"]["vs_wise"]["verdict"] == "worse"
    assert rows["hr_dmf"]["vs_wise"]["n_pairs"] == 15
    assert rows["im_dmf"]["vs_wise"]["verdict"] == "no difference shown"
    assert rows["text_only"]["vs_wise"] is None          # other rows: nothing to pair
    assert rows["hr_dmf"]["n_seeds"] == 3 and rows["hr_dmf"]["n_folds"] == 5
    md = results_markdown(runs, "x")
    line = next(x for x in table_lines(md) if x.startswith("| HR+DMF"))
    assert "**worse**" in line and "[" in line
    assert "3 seeds × 5 folds" in md and "excludes 0" in md
    per_fold = md[md.index("## Per fold"):]
    assert "Ses05" in per_fold
