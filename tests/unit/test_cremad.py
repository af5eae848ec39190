"""The CREMA-D reader: file names, sentence texts, demographics, and every drop counted."""

import re
import shutil
from collections import Counter
from pathlib import Path

import pytest

from conftest import write_wav
from wise.corpora.cremad import SENTENCES, parse_name, read_cremad
from wise.errors import Skips, WiseError
from wise.text import tokenize

DEMOGRAPHICS = ("ActorID,Age,Sex,Race,Ethnicity\n"
                "1001,51,Male,Caucasian,Not Hispanic\n"
                "1002,21,Female,Caucasian,Not Hispanic\n"
                "1004,42,Unknown,Asian,Not Hispanic\n")
KEPT = ["1001_DFA_ANG_XX", "1001_ITS_SAD_LO", "1002_IEO_HAP_HI", "1003_TIE_NEU_XX",
        "1004_WSI_NEU_MD"]
DROPPED = {
    "1001_DFA_DIS_XX.wav": "non-target emotion 'DIS' (disgust)",
    "1002_DFA_FEA_XX.wav": "non-target emotion 'FEA' (fear)",
    "1092_DFA_ANG_XX.wav": "unknown actor '1092' in file name (1001-1091)",
    "1001_ABC_ANG_XX.wav": "unknown sentence code 'ABC' in file name",
    "1001_DFA_SUR_XX.wav": "unknown emotion code 'SUR' in file name",
    "1001_DFA_ANG_ZZ.wav": "unknown level code 'ZZ' in file name",
    "1001_DFA_ANG.wav": "file name is not ACTOR_SENTENCE_EMOTION_LEVEL (e.g. 1001_DFA_ANG_XX)",
    "1001-DFA-ANG-XX.wav": "file name is not ACTOR_SENTENCE_EMOTION_LEVEL (e.g. 1001_DFA_ANG_XX)",
    "1003_IOM_ANG_HI.wav": "unreadable audio (corrupt header or not audio)",
    "1003_IWW_SAD_XX.wav": "empty audio (zero samples)",
}


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "crema-d"
    audio = root / "AudioWAV"
    for stem in KEPT:
        write_wav(audio / f"{stem}.wav", 0.3)
    for name in DROPPED:
        write_wav(audio / name, 0.3)
    (audio / "1003_IOM_ANG_HI.wav").write_bytes(b"RIFFjunk")
    write_wav(audio / "1003_IWW_SAD_XX.wav", 0.0)
    (audio / ".DS_Store").write_bytes(b"x")
    (root / "VideoDemographics.csv").write_text(DEMOGRAPHICS)
    return root


def test_parse_name():
    n = parse_name("1001_DFA_ANG_XX")
    assert (n.actor, n.sentence, n.emotion, n.level) == ("1001", "DFA", "ANG", "unspecified")
    assert parse_name("1091_IEO_SAD_LO").level == "low"
    with pytest.raises(ValueError, match="unknown actor '1000'"):
        parse_name("1000_DFA_ANG_XX")


def test_the_twelve_sentences_are_plain_words_the_aligner_knows():
    from wise.align.forced import ForcedAligner

    assert len(SENTENCES) == 12
    assert SENTENCES["IEO"] == "It's eleven o'clock"
    assert tokenize(SENTENCES["ITH"]) == ["i", "think", "i", "have", "a", "doctor's",
                                          "appointment"]
    tokens = {t for text in SENTENCES.values() for t in tokenize(text)}
    assert all(re.fullmatch(r"[a-z]+(?:'[a-z]+)?", t) for t in tokens)
    aligner = ForcedAligner()
    # In the pronouncing dictionary itself, not guessed by letter-to-sound rules.
    assert [t for t in sorted(tokens) if not aligner.pronunciations(t)] == []


def test_reader_keeps_the_four_classes_with_texts_and_sex(corpus):
    skips = Skips()
    rows = {u.id: u for u in read_cremad(corpus, skips)}
    assert sorted(rows) == KEPT
    u = rows["1001_DFA_ANG_XX"]
    assert (u.label, u.text, u.speaker, u.session, u.gender) == (
        "ang", "Don't forget a jacket", "1001", "1001", "M")
    assert u.extra == {"emotion": "anger", "intensity": "unspecified"}
    assert u.duration == pytest.approx(0.3) and u.words is None
    assert rows["1002_IEO_HAP_HI"].gender == "F"
    assert rows["1002_IEO_HAP_HI"].extra["intensity"] == "high"
    assert rows["1003_TIE_NEU_XX"].gender is None        # not in the demographics file
    assert rows["1004_WSI_NEU_MD"].gender is None        # Sex neither male nor female
    assert Counter(u.label for u in rows.values()) == {"neu": 2, "ang": 1, "sad": 1, "hap": 1}


def test_every_drop_is_counted_with_its_reason(corpus):
    skips = Skips()
    list(read_cremad(corpus, skips))
    assert skips.counts == Counter(DROPPED.values())


def test_the_audio_folder_itself_works_and_finds_the_demographics(corpus):
    rows = {u.id: u for u in read_cremad(corpus / "AudioWAV", Skips())}
    assert sorted(rows) == KEPT and rows["1001_DFA_ANG_XX"].gender == "M"


def test_without_demographics_sex_is_unknown(corpus):
    (corpus / "VideoDemographics.csv").unlink()
    assert {u.gender for u in read_cremad(corpus, Skips())} == {None}


def test_folder_level_faults_are_one_line_errors(corpus, tmp_path):
    (corpus / "VideoDemographics.csv").write_text("ActorID,Age\n1001,51\n")
    with pytest.raises(WiseError, match="no ActorID and Sex columns") as e:
        list(read_cremad(corpus, Skips()))
    assert e.value.path == str(corpus / "VideoDemographics.csv")
    with pytest.raises(WiseError, match="corpus folder not found"):
        list(read_cremad(tmp_path / "missing", Skips()))
    shutil.rmtree(corpus / "AudioWAV")
    with pytest.raises(WiseError, match="not a CREMA-D release folder"):
        list(read_cremad(corpus, Skips()))
