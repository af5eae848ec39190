"""The bundled real-speech model: where it is found, what it was trained on, its licence note,
its example clips, and the synthetic-trained model's warning."""

import argparse

import pytest

from wise import pretrained
from wise.checkpoint import load_checkpoint
from wise.cli import _checkpoint_first
from wise.corpora.synthetic import META_FILE, from_synthetic_corpus
from wise.labels import LABELS


def test_the_bundled_checkpoint_is_found_without_a_path_and_is_the_real_speech_row():
    path = pretrained.resolve_checkpoint(None)
    assert path == pretrained.bundled_checkpoint() and pretrained.is_bundled(path)
    assert path.stat().st_size <= 10 * 2**20
    model, run, normalizer, blob = load_checkpoint(path)
    assert run.name == "wise_whisper" and run.features.frames == "whisper-tiny.en"
    assert blob["extra"]["held_out"] == list(pretrained.HELD_OUT)
    # Its per-speaker statistics name the speakers it was fitted on (13 of the 14: one is held
    # out for early stopping): never the held-out two.
    trained = {s for s in normalizer.mean if s.startswith("Actor_")}
    assert len(trained) == 13 and trained <= {f"Actor_{n:02d}" for n in range(9, 23)}


def test_a_checkpoint_given_explicitly_still_wins(tmp_path):
    given = tmp_path / "mine.wise"
    assert pretrained.resolve_checkpoint(given) == given
    assert not pretrained.is_bundled(given)


def test_licence_note_ships_beside_it():
    text = (pretrained.folder() / pretrained.LICENCE_FILE).read_text(encoding="utf-8")
    assert pretrained.LICENCE_LINE in text
    assert "CC BY-NC-SA 4.0" in pretrained.LICENCE_LINE and "MIT" in text
    assert "Livingstone" in text and "10.1371/journal.pone.0196391" in text


def test_examples_are_one_clip_per_class_of_each_held_out_actor():
    clips = pretrained.example_clips()
    assert len(clips) == 8
    for actor in pretrained.HELD_OUT:
        mine = [e for e in clips if e.actor == actor]
        assert sorted(e.label for e in mine) == sorted(LABELS)
    assert {e.gender for e in clips} == {"M", "F"}
    assert all(e.path.read_bytes()[:4] == b"fLaC" for e in clips)


def test_licence_is_said_on_first_use_only(tmp_path, monkeypatch):
    monkeypatch.setenv("WISE_CACHE", str(tmp_path / "cache"))
    said = []
    pretrained.show_licence_once(said.append)
    pretrained.show_licence_once(said.append)
    assert said == [pretrained.LICENCE_LINE]


def test_licence_is_said_again_when_the_cache_cannot_be_written(tmp_path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("")
    monkeypatch.setenv("WISE_CACHE", str(blocked / "cache"))     # under a file: unwritable
    said = []
    pretrained.show_licence_once(said.append)
    pretrained.show_licence_once(said.append)
    assert said == [pretrained.LICENCE_LINE] * 2


def test_synthetic_corpus_audio_is_recognised_up_to_the_iemocap_depth(tmp_path):
    (tmp_path / "corpus" / META_FILE).parent.mkdir()
    (tmp_path / "corpus" / META_FILE).write_text("")
    wav = tmp_path / "corpus" / "Session1" / "sentences" / "wav" / "Ses01F_impro01" / "a.wav"
    assert from_synthetic_corpus(wav)
    assert not from_synthetic_corpus(tmp_path / "elsewhere" / "a.wav")


@pytest.mark.parametrize("audio, model, expect_model, expect_audio", [
    (["m.wise", "a.wav"], None, "m.wise", ["a.wav"]),      # the form from before --model
    (["a.wav", "b.wav"], None, None, ["a.wav", "b.wav"]),
    (["m.wise"], None, None, ["m.wise"]),                  # alone it is audio: fails as such
    (["x.wise", "a.wav"], "m.wise", "m.wise", ["x.wise", "a.wav"]),
])
def test_a_first_file_named_wise_is_the_checkpoint(audio, model, expect_model, expect_audio):
    args = argparse.Namespace(audio=audio, model=model)
    _checkpoint_first(args)
    assert (args.model, args.audio) == (expect_model, expect_audio)
