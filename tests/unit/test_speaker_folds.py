"""The speaker_groups CV protocol, and the `gender` field it balances."""

import json
from collections import Counter

import numpy as np
import pytest

from conftest import write_wav
from wise.config import CVConfig
from wise.corpora.manifest import read_manifest_corpus
from wise.crossval import make_folds
from wise.errors import Skips, WiseError
from wise.utterance import Utterance


def corpus(n_speakers: int, seed: int, sexes=("M", "F")) -> tuple[list, list, list]:
    """(labels, speakers, genders) per row: speakers of unequal size and class mix."""
    rng = np.random.default_rng(seed)
    labels, speakers, genders = [], [], []
    for s in range(n_speakers):
        mean = rng.uniform(5, 40, size=4)
        for c in range(4):
            n = int(rng.poisson(mean[c]))
            labels += [c] * n
            speakers += [f"spk{s:02d}"] * n
            genders += [sexes[s % len(sexes)]] * n
    return labels, speakers, genders


def folds_of(labels, speakers, genders, k=5, seed=0):
    rows = list(range(len(labels)))
    return make_folds(rows, labels, ["same"] * len(rows), "speaker_groups", k, seed,
                      speakers=speakers, genders=genders)


def test_every_row_once_and_no_speaker_in_two_folds():
    labels, speakers, genders = corpus(40, seed=1)
    folds = folds_of(labels, speakers, genders)
    assert [name for name, _ in folds] == ["fold1", "fold2", "fold3", "fold4", "fold5"]
    assert sorted(i for _, test in folds for i in test) == list(range(len(labels)))
    owner = {}
    for name, test in folds:
        for i in test:
            assert owner.setdefault(speakers[i], name) == name


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_folds_are_balanced_by_class_within_ten_percent_and_by_sex(seed):
    labels, speakers, genders = corpus(40, seed=seed)
    target = np.bincount(labels, minlength=4) / 5
    for _, test in folds_of(labels, speakers, genders, seed=seed):
        counts = np.bincount([labels[i] for i in test], minlength=4)
        assert np.all(np.abs(counts / target - 1) <= 0.10), counts / target
        sexes = Counter(genders[i] for i in {speakers[i]: i for i in test}.values())
        assert sexes == {"M": 4, "F": 4}


def test_uneven_sexes_spread_one_apart_and_fold_sizes_too():
    # RAVDESS-like: 24 actors of equal size, 12 of each sex, into 5 folds.
    labels = [c for _ in range(24) for c in (0, 1, 2, 3) for _ in range(8)]
    speakers = [f"Actor_{s + 1:02d}" for s in range(24) for _ in range(32)]
    genders = ["M" if (s + 1) % 2 else "F" for s in range(24) for _ in range(32)]
    folds = folds_of(labels, speakers, genders)
    per_fold = [Counter(genders[i] for i in {speakers[i]: i for i in test}.values())
                for _, test in folds]
    assert sorted(sum(c.values()) for c in per_fold) == [4, 5, 5, 5, 5]
    assert all(c["F"] in (2, 3) and c["M"] in (2, 3) for c in per_fold)


def test_unknown_sex_is_its_own_group():
    labels, speakers, genders = corpus(15, seed=4, sexes=("F", None, "M"))
    folds = folds_of(labels, speakers, genders, k=5)
    for _, test in folds:
        sexes = Counter(genders[i] for i in {speakers[i]: i for i in test}.values())
        assert sexes == {"F": 1, None: 1, "M": 1}
    assert folds_of(labels, speakers, None, k=5)  # no sex known at all


def test_deterministic_for_a_seed():
    labels, speakers, genders = corpus(30, seed=5)
    assert folds_of(labels, speakers, genders, seed=7) == folds_of(labels, speakers, genders,
                                                                   seed=7)


def test_fewer_speakers_than_folds_is_a_one_line_error():
    labels, speakers, genders = corpus(3, seed=6)
    with pytest.raises(WiseError, match="needs at least 5 speakers, the manifest has 3"):
        folds_of(labels, speakers, genders)


def test_protocol_is_a_config_choice():
    assert CVConfig(protocol="speaker_groups").folds == 5
    with pytest.raises(ValueError, match="session, speaker_groups, random"):
        CVConfig(protocol="speakers")


def test_gender_is_written_only_when_known_and_old_rows_still_read():
    u = Utterance(id="a", audio="a.wav", text="hi", label="neu", speaker="s", session="s")
    assert "gender" not in u.to_json()
    u.gender = "F"
    d = json.loads(json.dumps(u.to_json()))
    assert d["gender"] == "F" and Utterance.from_json(d).gender == "F"
    del d["gender"]
    assert Utterance.from_json(d).gender is None


def test_a_users_list_may_give_the_speakers_sex(tmp_path):
    write_wav(tmp_path / "a.wav", 0.3)
    write_wav(tmp_path / "b.wav", 0.3)
    (tmp_path / "l.csv").write_text("audio,text,label,speaker,sex\n"
                                    "a.wav,hello,neu,s1,Female\nb.wav,hi,sad,s2,\n")
    assert [u.gender for u in read_manifest_corpus(tmp_path / "l.csv", Skips())] == ["F", None]
