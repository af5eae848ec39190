"""`--set KEY=VALUE`: one parser (`wise.config.override`) for every command, and every example
the README, the docs and `--help` give still parses."""

import argparse
import re
import shlex
from pathlib import Path

import pytest

from wise.cli import _parser
from wise.config import CONFIG_DIR, FeatureConfig, feature_config, override
from wise.errors import WiseError
from wise.rows import load_run_config, run_config

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
ROWS = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
SPAN = re.compile(r"`([^`]+)`")                # a backtick span, maybe over two lines
ITEM = re.compile(r"--set(?:-run)?\s+([A-Za-z_.]+)=([^\s`]*)")
PLACEHOLDERS = {"", "N", "value", "value]", "..."}


def _split(doc: Path) -> tuple[str, list[tuple[int, str]]]:
    """A markdown file's prose (fenced blocks blanked, so line numbers hold) and the lines of
    its fenced blocks, numbered."""
    prose, code, fenced = [], [], False
    for n, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            line = ""
        elif fenced:
            code.append((n, line))
            line = ""
        prose.append(line)
    return "\n".join(prose), code


def _command_lines() -> list[tuple[str, str]]:
    """(where, command) for every `wise ...` line with a --set in a fenced code block."""
    return [(f"{doc.name}:{n}", line.split("#")[0].strip())
            for doc in DOCS for n, line in _split(doc)[1]
            if line.lstrip().startswith("wise ") and "--set" in line]


def _inline_items() -> list[tuple[str, str, str]]:
    """(where, key, value) for every `--set KEY=VALUE` in a backtick span of the prose."""
    found = []
    for doc in DOCS:
        prose = _split(doc)[0]
        for span in SPAN.finditer(prose):
            line = prose[:span.start()].count("\n") + 1
            found += [(f"{doc.name}:{line}", *m.groups()) for m in ITEM.finditer(span[1])]
    return found


def _help_items() -> list[tuple[str, str]]:
    """(command, KEY=VALUE) for every `--set` example in the commands' help texts."""
    found = []
    sub = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name, p in sub.choices.items():
        for action in p._actions:
            for item in re.findall(r"--set(?:-run)? (\S+=\S+)", action.help or ""):
                found.append((name, item))
    return found


def _resolve(args: argparse.Namespace) -> object:
    """The config a parsed command line would run with (what its command reads first)."""
    if getattr(args, "config", None):
        return load_run_config(args.config, args.set)
    if args.func.__name__ == "cmd_features":
        return feature_config(args.set)
    return [load_run_config(row, args.set) for row in (args.configs or ["wise"])]


def test_the_docs_hold_examples_to_check():
    assert len(_command_lines()) >= 3 and len(_inline_items()) >= 15 and len(_help_items()) >= 4


@pytest.mark.parametrize("where,line", _command_lines())
def test_every_documented_command_line_parses(where, line):
    args = _parser().parse_args(shlex.split(line)[1:])
    assert args.set and _resolve(args) is not None, where


def _accepted_by_some_row(item: str) -> bool:
    """Whether some shipped row takes `item`; a bad value (not an unknown key) fails loudly."""
    errors = []
    for row in ROWS:
        try:
            load_run_config(row, [item])
            return True
        except WiseError as e:
            errors.append(e.message)
    if all("unknown option" in e for e in errors):
        return False
    raise AssertionError(f"{item}: {errors}")


@pytest.mark.parametrize("where,key,value", _inline_items())
def test_every_documented_option_exists(where, key, value):
    if key == "key":                                      # `--set key=value`: the syntax
        return
    if value in PLACEHOLDERS:                             # `--set folds=N`: the key alone
        with pytest.raises(WiseError) as e:
            load_run_config("wise", [f"{key}=not a value of any field"])
        assert "unknown option" not in e.value.message, where
        return
    assert _accepted_by_some_row(f"{key}={value}"), where


@pytest.mark.parametrize("command,item", _help_items())
def test_every_help_example_parses(command, item):
    if command == "features":
        assert feature_config([item]) != FeatureConfig()
    else:
        assert load_run_config("wise", [item]) != load_run_config("wise")


def test_demo_set_and_set_run_are_one_list_for_every_row():
    args = _parser().parse_args(["demo", "--set-run", "max_epochs=5", "--set",
                                 "phone_overflow=merge", "--set", "train.lr=0.002"])
    assert args.set == ["max_epochs=5", "phone_overflow=merge", "train.lr=0.002"]
    run = load_run_config("audio_only", args.set)
    assert (run.train.max_epochs, run.train.lr) == (5, 0.002)
    assert run.features.phone_overflow == "merge"


def test_the_features_command_and_a_row_read_feature_options_alike():
    items = ["phone_overflow=merge", "features.max_words=64", "word_vectors=/a b/c:d#e.txt"]
    assert feature_config(items) == load_run_config("wise", items).features
    assert feature_config(items).word_vectors == "/a b/c:d#e.txt"     # text taken as written


def test_one_error_format_names_the_item_and_the_options():
    with pytest.raises(ValueError, match=r"^--set 'colour=red': unknown option 'colour'; "
                                         r"options: model: frame_dim, .*; train: lr, .*; "
                                         r"cv: protocol, "):
        run_config({}, ["colour=red"])
    with pytest.raises(ValueError, match=r"^--set 'max_epochs=2\.5': 2\.5 is not an integer$"):
        run_config({}, ["max_epochs=2.5"])
    with pytest.raises(ValueError, match=r"^--set 'class_weights=maybe': 'maybe' is not true "
                                         r"or false$"):
        run_config({}, ["class_weights=maybe"])
    with pytest.raises(ValueError, match=r"^train\.lr: 'fast' is not a number$"):
        run_config({"train": {"lr": "fast"}})                   # a YAML row's value
    with pytest.raises(ValueError, match=r"^train: unknown option 'speed'; options: lr, "):
        run_config({"train": {"speed": 1}})
    with pytest.raises(ValueError, match=r"'seed' is an option of a and b: write a\.seed=1 or "
                                         r"b\.seed=1"):
        override({}, {"a": {"seed": 0}, "b": {"seed": 0}}, ["seed=1"])
    assert override({}, {"a": {"seed": 0}, "b": {"seed": 0}}, ["b.seed=1"]) == {
        "a": {}, "b": {"seed": 1}}


def test_sections_by_name_and_alias():
    run = run_config({}, ["model.text_dim=50", "model_args.dropout=0.1", "cv.folds=3",
                          "features.hop_ms=10"])
    assert run.model_args == {"text_dim": 50, "dropout": 0.1}
    assert run.cv.folds == 3 and run.features.hop_ms == 10.0
