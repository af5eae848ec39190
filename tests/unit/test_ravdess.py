"""The RAVDESS reader: file-name decoding, the 4-class mapping, --calm, and every drop counted."""

from collections import Counter
from pathlib import Path

import pytest

from conftest import FIXTURES, write_wav
from wise.corpora.ravdess import parse_name, read_ravdess, target_label
from wise.errors import Skips, WiseError

KEPT = ["Actor_01/03-01-01-01-01-01-01.wav", "Actor_01/03-01-05-02-02-02-01.wav",
        "Actor_02/03-01-03-01-02-01-02.flac", "Actor_02/03-01-04-02-01-02-02.wav"]
DROPPED = {
    "Actor_01/03-01-02-01-01-01-01.wav": "emotion 'calm' (dropped; --calm neutral keeps it)",
    "Actor_01/01-01-03-01-01-01-01.mp4": "not audio-only (full AV)",
    "Actor_01/02-01-03-01-01-01-01.mp4": "not audio-only (video-only)",
    "Actor_01/03-02-03-01-01-01-01.wav": "song, not speech",
    "Actor_02/03-01-06-01-01-01-02.wav": "non-target emotion 'fearful'",
    "Actor_02/03-01-07-02-01-01-02.wav": "non-target emotion 'disgust'",
    "Actor_02/03-01-08-01-02-02-02.wav": "non-target emotion 'surprised'",
    "Actor_02/03-01-04-01-01-01-03.wav": "actor in file name differs from its Actor_NN folder",
    "Actor_02/03-01-09-01-01-01-02.wav": "unknown emotion code '09' in file name",
    "Actor_02/03-01-04-03-01-01-02.wav": "unknown intensity code '03' in file name",
    "Actor_02/03-01-04-01-01-01-25.wav":  "unknown actor code '25' in file name",
    "Actor_02/03-01-04-01-01-01.wav": "file name is not 7 two-digit fields (MM-VV-EE-II-SS-RR-AA)",
    "Actor_02/notes.txt": "file name is not 7 two-digit fields (MM-VV-EE-II-SS-RR-AA)",
    "Actor_02/03-01-04-01-01-02-02.wav": "unreadable audio (corrupt header or not audio)",
    "Actor_02/03-01-03-02-02-02-02.wav": "empty audio (zero samples)",
    "copy/Actor_01/03-01-01-01-01-01-01.wav":
        "duplicate file name (a second copy of the same recording)",
}


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A RAVDESS-named tree: kept files, every kind of drop, a hidden file, a nested copy."""
    root = tmp_path / "ravdess"
    for name in KEPT + [n for n in DROPPED if n.endswith((".wav", ".flac"))]:
        write_wav(root / name, 0.3)
    for name in ("Actor_01/01-01-03-01-01-01-01.mp4", "Actor_01/02-01-03-01-01-01-01.mp4",
                 "Actor_02/notes.txt", "Actor_02/.DS_Store"):
        (root / name).write_bytes(b"not audio")
    (root / "Actor_02/03-01-04-01-01-02-02.wav").write_bytes(b"RIFFjunk")
    write_wav(root / "Actor_02/03-01-03-02-02-02-02.wav", 0.0)
    (root / "Actor_notes").mkdir()  # not an actor folder: ignored
    return root


def test_parse_name_decodes_every_field():
    n = parse_name("03-01-04-02-02-01-09")
    assert (n.modality, n.channel, n.emotion, n.intensity) == (
        "audio-only", "speech", "sad", "strong")
    assert (n.statement, n.repetition, n.actor) == ("Dogs are sitting by the door", 1, 9)
    assert n.gender == "M" and parse_name("03-01-04-02-02-01-10").gender == "F"


@pytest.mark.parametrize("stem,message", [
    ("03-01-04-02-02-01", "not 7 two-digit fields"),
    ("03-01-04-02-02-01-09-01", "not 7 two-digit fields"),
    ("3-1-4-2-2-1-9", "not 7 two-digit fields"),
    ("03_01_04_02_02_01_09", "not 7 two-digit fields"),
    ("04-01-04-02-02-01-09", "unknown modality code '04'"),
    ("03-03-04-02-02-01-09", "unknown vocal channel code '03'"),
    ("03-01-00-02-02-01-09", "unknown emotion code '00'"),
    ("03-01-04-02-03-01-09", "unknown statement code '03'"),
    ("03-01-04-02-02-03-09", "unknown repetition code '03'"),
    ("03-01-04-02-02-01-00", "unknown actor code '00'"),
])
def test_parse_name_refuses_bad_names_with_the_reason(stem, message):
    with pytest.raises(ValueError, match=message):
        parse_name(stem)


def test_label_mapping_and_calm():
    assert {e: target_label(e) for e in ("neutral", "calm", "happy", "sad", "angry", "fearful",
                                         "disgust", "surprised")} == {
        "neutral": "neu", "calm": None, "happy": "hap", "sad": "sad", "angry": "ang",
        "fearful": None, "disgust": None, "surprised": None}
    assert target_label("calm", "neutral") == "neu"


def test_reader_keeps_audio_only_speech_of_the_four_classes(corpus):
    skips = Skips()
    rows = {u.id: u for u in read_ravdess(corpus, skips)}
    assert sorted(rows) == sorted(Path(n).stem for n in KEPT)
    u = rows["03-01-05-02-02-02-01"]
    assert (u.label, u.text, u.speaker, u.session, u.gender) == (
        "ang", "Dogs are sitting by the door", "Actor_01", "Actor_01", "M")
    assert u.extra == {"emotion": "angry", "intensity": "strong"}
    assert u.duration == pytest.approx(0.3) and u.words is None
    assert u.audio == str(corpus / "Actor_01/03-01-05-02-02-02-01.wav")
    f = rows["03-01-03-01-02-01-02"]  # FLAC is read like WAV
    assert (f.label, f.gender, f.text) == ("hap", "F", "Dogs are sitting by the door")
    assert rows["03-01-04-02-01-02-02"].text == "Kids are talking by the door"


def test_every_drop_is_counted_with_its_reason(corpus):
    skips = Skips()
    list(read_ravdess(corpus, skips))
    assert skips.counts == Counter(DROPPED.values())
    assert skips.examples["song, not speech"] == ["Actor_01/03-02-03-01-01-01-01.wav"]


def test_calm_neutral_keeps_calm_as_neutral(corpus):
    skips = Skips()
    rows = {u.id: u for u in read_ravdess(corpus, skips, calm="neutral")}
    calm = rows["03-01-02-01-01-01-01"]
    assert calm.label == "neu" and calm.extra["emotion"] == "calm"
    assert "emotion 'calm' (dropped; --calm neutral keeps it)" not in skips.counts
    assert len(rows) == len(KEPT) + 1


def test_folder_level_faults_are_one_line_errors(tmp_path):
    with pytest.raises(WiseError, match="corpus folder not found"):
        list(read_ravdess(tmp_path / "missing", Skips()))
    (tmp_path / "empty").mkdir()
    with pytest.raises(WiseError, match="no Actor_NN/ folders"):
        list(read_ravdess(tmp_path / "empty", Skips()))
    with pytest.raises(WiseError, match="calm must be one of drop, neutral"):
        list(read_ravdess(tmp_path / "empty", Skips(), calm="sad"))


def test_the_real_clips():
    skips = Skips()
    rows = list(read_ravdess(FIXTURES / "ravdess", skips))
    assert skips.total() == 0
    assert Counter(u.label for u in rows) == {"sad": 3, "neu": 2, "ang": 2, "hap": 1}
    assert Counter(u.speaker for u in rows) == {"Actor_10": 4, "Actor_09": 2, "Actor_18": 1,
                                                "Actor_20": 1}
    assert {u.speaker: u.gender for u in rows} == {"Actor_09": "M", "Actor_10": "F",
                                                   "Actor_18": "F", "Actor_20": "F"}
    assert all(3.2 < u.duration < 3.9 for u in rows)
