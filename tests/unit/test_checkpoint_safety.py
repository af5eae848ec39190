"""A checkpoint loads with weights_only=True and nothing else: each file below that is not a
sound wise checkpoint is refused with one line that names the problem in words, and
`wise predict` exits 2 with that line and no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from conftest import write_wav
from wise.checkpoint import DIGEST, FORMAT, load_checkpoint, save_blob, save_checkpoint
from wise.cli import main
from wise.errors import WiseError
from wise.models.build import build_model
from wise.normalize import Normalizer
from wise.rows import load_run_config


class Payload:
    """Stands for any class a pickle could name: loading it would run its code."""


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    """A small but real checkpoint: the WISE row, untrained."""
    path = tmp_path_factory.mktemp("ckpt") / "model.wise"
    run = load_run_config("wise")
    model = build_model(run.model, run.model_args, text_dim=50, frame_dim=39)
    save_checkpoint(path, model, run, Normalizer({}, {}, "utterance"),
                    word_vectors="glove-6b-50d")
    return path


def blob_of(good: Path) -> dict:
    return torch.load(good, weights_only=True)


def craft(kind: str, good: Path, tmp: Path) -> Path:
    path = tmp / f"{kind}.wise"
    data = good.read_bytes()
    if kind == "wav":
        write_wav(tmp / "audio.wav", 0.2)
        path.write_bytes((tmp / "audio.wav").read_bytes())
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "folder":                           # a `wise cv` run folder, say
        path.mkdir()
    elif kind == "random":
        path.write_bytes(bytes(range(256)) * 8)
    elif kind == "truncated":
        path.write_bytes(data[:len(data) // 2])
    elif kind == "changed":                          # one bit inside the weights' bytes
        b = bytearray(data)
        b[len(b) // 2] ^= 0x04
        path.write_bytes(bytes(b))
    elif kind == "pickled":
        torch.save({**blob_of(good), "extra": {"hook": Payload()}}, path)
    elif kind == "format":
        save_blob(path, {**blob_of(good), "format": "wise-checkpoint-0"})
    elif kind == "undigested":                       # written by something else than wise
        torch.save({k: v for k, v in blob_of(good).items() if k != DIGEST}, path)
    elif kind == "untagged":
        torch.save({"state_dict": blob_of(good)["state_dict"]}, path)
    elif kind == "features":                         # a config from another feature set
        b = blob_of(good)
        b["run"]["features"] = {**b["run"]["features"], "n_ceps": 20}
        save_blob(path, b)
    return path


EXPECT = {
    "wav": "not a wise checkpoint: it is WAV audio",
    "empty": "not a wise checkpoint: the file is empty",
    "folder": "is a folder, not a checkpoint file",
    "random": "not a wise checkpoint: the file is not a PyTorch archive",
    "truncated": "damaged checkpoint: the archive is cut short or broken",
    "changed": "damaged checkpoint: its contents have changed since it was written",
    "pickled": "refused: the checkpoint holds a pickled Python object (test_checkpoint_safety."
               "Payload)",
    "format": "not a checkpoint this wise reads: its format tag is 'wise-checkpoint-0'",
    "undigested": "not a checkpoint this wise reads: it has no content_sha256",
    "untagged": "not a wise checkpoint: a PyTorch file without wise's format tag",
    "features": "checkpoint's feature config is not the one its model was trained on: the "
                "model reads 39-d frames, the config makes 60-d ones",
}


def test_the_sound_checkpoint_loads(good):
    model, run, _, blob = load_checkpoint(good)
    assert run.name == "wise" and blob["format"] == FORMAT and not model.training


@pytest.mark.parametrize("kind", list(EXPECT))
def test_each_bad_checkpoint_is_refused_with_its_reason(good, tmp_path, kind):
    bad = craft(kind, good, tmp_path)
    with pytest.raises(WiseError) as e:
        load_checkpoint(bad)
    assert e.value.path == str(bad)
    assert e.value.message.startswith(EXPECT[kind]), e.value.message
    assert "\n" not in e.value.message and "Error" not in e.value.message


@pytest.mark.parametrize("kind", ["wav", "folder", "pickled", "features"])
def test_predict_says_it_in_one_line_and_exits_2(good, tmp_path, capsys, kind):
    clip = tmp_path / "clip.wav"
    write_wav(clip, 0.5)
    assert main(["predict", str(craft(kind, good, tmp_path)), str(clip)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and EXPECT[kind] in err[0]


def test_weights_only_is_what_refuses_the_object(good, tmp_path):
    # The same dict without the object loads: the refusal is the unpickler's, not a guess.
    bad = craft("pickled", good, tmp_path)
    with pytest.raises(Exception, match="Unsupported global"):
        torch.load(bad, weights_only=True)
    save_blob(tmp_path / "plain.wise", {**blob_of(good), "extra": {"hook": "text"}})
    assert load_checkpoint(tmp_path / "plain.wise")[1] == load_checkpoint(good)[1]
