import json

import pytest

from conftest import write_wav
from wise.corpora.manifest import read_manifest_corpus
from wise.errors import Skips, WiseError


@pytest.fixture
def corpus(tmp_path):
    for name in ("a", "b", "c", "d"):
        write_wav(tmp_path / "wavs" / f"{name}.wav", 0.5)
    (tmp_path / "wavs" / "broken.wav").write_bytes(b"RIFFjunk")
    return tmp_path


def test_csv_with_aliases_relative_paths_and_label_names(corpus):
    (corpus / "list.csv").write_text(
        "Path,Transcript,Emotion,Speaker\n"
        "wavs/a.wav,I am so happy,Happy,s1\n"
        "wavs/b.wav,leave me alone,angry,s2\n"
        "wavs/c.wav,whatever,frustrated,s1\n"
        "wavs/missing.wav,hello,neutral,s1\n"
        "wavs/broken.wav,hello,neutral,s1\n"
        "wavs/d.wav,,sad,s2\n"
        "wavs/d.wav,so sad,excited,\n")
    skips = Skips()
    rows = list(read_manifest_corpus(corpus / "list.csv", skips))
    assert [(u.id, u.label, u.speaker, u.session) for u in rows] == [
        ("a", "hap", "s1", "s1"), ("b", "ang", "s2", "s2")]
    assert rows[0].audio == str(corpus / "wavs" / "a.wav")
    assert rows[0].duration == pytest.approx(0.5)
    assert rows[0].words is None
    assert skips.counts == {
        "non-target label 'frustrated'": 1, "no audio file": 1, "empty transcript": 1,
        "unreadable audio (corrupt header or not audio)": 1, "row without speaker": 1}


def test_jsonl_keeps_given_alignment_and_counts_bad_lines(corpus):
    rows = [
        {"audio": "wavs/a.wav", "text": "hi there", "label": "neu", "speaker": "x",
         "session": "1", "id": "u1", "words": [["hi", 0.1, 0.2], ["there", 0.2, 0.4]]},
        {"audio": "wavs/b.wav", "text": "no", "label": "sad", "speaker": "y", "id": "u1"},
        {"audio": "wavs/c.wav", "text": "bad", "label": "sad", "speaker": "y",
         "words": "oops"},
    ]
    lines = [json.dumps(r) for r in rows] + ["{not json", "[1, 2]"]
    (corpus / "list.jsonl").write_text("\n".join(lines) + "\n")
    skips = Skips()
    out = list(read_manifest_corpus(corpus / "list.jsonl", skips))
    assert [u.id for u in out] == ["u1", "c"]
    assert [w.token for w in out[0].words] == ["hi", "there"]
    assert out[0].alignment == "given" and out[0].session == "1"
    assert out[1].words is None
    assert skips.counts == {"duplicate id": 1, "list line is not JSON": 1,
                            "list line is not a JSON object": 1,
                            "alignment in the row does not parse (will align)": 1}


@pytest.mark.parametrize("name,content,message", [
    ("l.csv", "wav,text,label\n", "no 'speaker' column"),
    ("l.csv", "", "empty list"),
    ("l.txt", "x", "unknown list format"),
    ("l.csv", b"audio,text,label,speaker\nw.wav,caf\xe9,neu,s\n", "not UTF-8"),
    ("missing.csv", None, "corpus list not found"),
])
def test_list_level_faults_are_one_line_errors(tmp_path, name, content, message):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(WiseError, match=message) as e:
        list(read_manifest_corpus(path, Skips()))
    assert e.value.path == str(path)
