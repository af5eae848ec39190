"""Early stopping on held-out speakers (`TrainConfig.validation: speakers`): whole training
speakers are held out, seeded and deterministic, near `val_fraction` of the rows. The default
("auto") is speakers under a speaker-independent protocol and rows under `random`; runs with
rows held out keep the config hashes they had before the field existed."""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wise.config import RunConfig, TrainConfig
from wise.crossval import CVPlan, _config_hash
from wise.errors import WiseError
from wise.rows import load_run_config, run_config
from wise.train import split_validation, split_validation_speakers, validation_split

# `_config_hash(RunConfig(), ["a", "b"])` before TrainConfig had `validation`.
HASH_WISE = "223c442019795d19"


def _corpus(sizes: dict[str, int]) -> tuple[list[int], list[int], list[str]]:
    """(rows, labels, speakers): `sizes[s]` rows of speaker s, four classes in turn."""
    speakers = [s for s, n in sizes.items() for _ in range(n)]
    return list(range(len(speakers))), [i % 4 for i in range(len(speakers))], speakers


SIZES = {f"spk{j:02d}": n for j, n in enumerate([40, 52, 38, 61, 45, 47, 39, 55, 50, 44])}


def test_whole_speakers_are_held_out_and_none_is_in_both_parts():
    rows, _, speakers = _corpus(SIZES)
    fit, val = split_validation_speakers(rows, speakers, 0.1, seed=0)
    assert sorted(fit + val) == rows
    held = {speakers[i] for i in val}
    assert held and not held & {speakers[i] for i in fit}
    assert all(SIZES[s] == sum(speakers[i] == s for i in val) for s in held)  # all their rows


def test_the_split_follows_the_seed_and_nothing_else():
    rows, _, speakers = _corpus(SIZES)
    first = split_validation_speakers(rows, speakers, 0.1, seed=3)
    assert split_validation_speakers(rows, speakers, 0.1, seed=3) == first
    # The rows' order does not matter, only which rows there are.
    assert split_validation_speakers(rows[::-1], speakers, 0.1, seed=3) == first
    held = {frozenset(speakers[i] for i in split_validation_speakers(rows, speakers, 0.1, s)[1])
            for s in range(10)}
    assert len(held) > 1                                    # other seeds, other speakers


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 80), min_size=2, max_size=12), st.floats(0.05, 0.45),
       st.integers(0, 2**31))
def test_at_least_one_speaker_never_all_and_near_the_fraction(sizes, fraction, seed):
    rows, _, speakers = _corpus({f"s{j}": n for j, n in enumerate(sizes)})
    fit, val = split_validation_speakers(rows, speakers, fraction, seed)
    held = {speakers[i] for i in val}
    assert 1 <= len(held) < len(sizes) and fit
    target = fraction * len(rows)
    # Greedy: nothing left out would have brought the held rows closer to the target.
    left = [n for j, n in enumerate(sizes) if f"s{j}" not in held]
    assert all(abs(len(val) + n - target) >= abs(len(val) - target) or len(held) == 1
               for n in left)


def test_the_fraction_is_about_honoured_on_an_even_corpus():
    rows, _, speakers = _corpus({f"actor{j:02d}": 28 for j in range(12)})   # 336 rows
    for seed in range(5):
        _, val = split_validation_speakers(rows, speakers, 0.1, seed)
        assert len(val) == 28                    # one actor: 8.3%, the nearest to 33.6 rows
    _, val = split_validation_speakers(rows, speakers, 0.2, 0)
    assert len(val) == 56                        # two actors: 16.7% (3 would be 25%)


def test_one_speaker_falls_back_to_rows_and_says_so():
    rows, labels, speakers = _corpus({"only": 40})
    assert split_validation_speakers(rows, speakers, 0.1, 0) is None
    fit, val, note = validation_split(rows, labels, speakers, TrainConfig(validation="speakers"))
    assert (fit, val) == split_validation(rows, labels, 0.1, 0)
    assert note["split"] == "rows" and "fewer than 2 speakers" in note["why"]


def test_rows_are_as_before_and_share_speakers():
    rows, labels, speakers = _corpus(SIZES)
    fit, val, note = validation_split(rows, labels, speakers, TrainConfig(validation="rows"))
    assert (fit, val, note) == (*split_validation(rows, labels, 0.1, 0), None)
    assert {speakers[i] for i in val} & {speakers[i] for i in fit}   # what speakers avoids


@pytest.mark.parametrize("protocol, split", [("session", "speakers"),
                                             ("speaker_groups", "speakers"),
                                             ("random", "rows")])
def test_auto_holds_out_speakers_under_speaker_independent_protocols(protocol, split):
    run = load_run_config("wise", [f"protocol={protocol}"])
    assert run.train.validation == split
    assert load_run_config("wise", [f"protocol={protocol}", "validation=rows"]
                           ).train.validation == "rows"        # an explicit choice stands
    assert load_run_config("wise", [f"protocol={protocol}", "validation=speakers"]
                           ).train.validation == "speakers"


def test_auto_without_a_protocol_holds_out_speakers():
    rows, labels, speakers = _corpus(SIZES)
    assert TrainConfig().validation == "auto"
    assert (validation_split(rows, labels, speakers, TrainConfig())
            == validation_split(rows, labels, speakers, TrainConfig(validation="speakers")))


def test_the_note_names_the_held_out_speakers():
    rows, labels, speakers = _corpus(SIZES)
    fit, val, note = validation_split(rows, labels, speakers,
                                      TrainConfig(validation="speakers", seed=1))
    assert note == {"split": "speakers", "n_val": len(val),
                    "speakers": sorted({speakers[i] for i in val})}
    assert np.isin(val, fit).sum() == 0


def test_rows_keep_the_old_config_hashes_and_speakers_is_another_run():
    rows = RunConfig(train=TrainConfig(validation="rows"))
    assert _config_hash(rows, ["a", "b"]) == HASH_WISE
    assert "validation" not in rows.to_dict()["train"]
    assert load_run_config("wise", ["validation=rows"]) == rows
    run = load_run_config("wise", ["validation=speakers"])
    assert run.train.validation == "speakers"
    assert load_run_config("wise", ["train.validation=speakers"]) == run
    assert load_run_config("wise") == run == RunConfig()            # the default, resolved
    assert _config_hash(run, ["a", "b"]) != HASH_WISE
    assert run.to_dict()["train"]["validation"] == "speakers"
    assert run_config(run.to_dict()) == run                  # as a checkpoint is loaded


def test_an_unknown_validation_is_refused_in_one_line():
    with pytest.raises(ValueError, match="validation must be one of auto, rows, "
                                         "speakers, not 'sessions'"):
        TrainConfig(validation="sessions")
    with pytest.raises(WiseError, match="validation must be one of auto, rows, "
                                        "speakers, not 'speaker'"):
        load_run_config("wise", ["validation=speaker"])


def test_a_fold_that_fell_back_says_so_in_the_log():
    lines = []
    plan = CVPlan(run=RunConfig(), manifest="m.jsonl", out=Path("."), seeds=1, n_folds=2,
                  n_rows=10, n_params=None, word_vectors="glove-6b-50d", word_dim=50, todo=[],
                  results={}, log=lines.append, t_start=0.0)
    fold = {"seed": 0, "fold": 1, "test": "Ses01", "wa": 0.5, "ua": 0.5, "best_epoch": 3,
            "seconds": 1.0}
    plan.finished({**fold, "validation": {"split": "speakers", "n_val": 4, "speakers": ["a"]}})
    assert len(lines) == 1
    _, _, note = validation_split(*_corpus({"only": 8}), TrainConfig(validation="speakers"))
    plan.finished({**fold, "fold": 2, "validation": note})
    assert len(lines) == 3 and "fewer than 2 speakers" in lines[-1]
