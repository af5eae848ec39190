"""Every neural row implements the model protocol (`wise.models.protocol`), and a checkpoint
stores its model's input widths explicitly and rebuilds the model from them."""

from __future__ import annotations

import pytest
import torch

from wise.checkpoint import DIGEST, load_checkpoint, save_blob, save_checkpoint
from wise.errors import WiseError
from wise.models.build import FAMILIES, build_model
from wise.models.protocol import DIM_NAMES
from wise.normalize import Normalizer
from wise.rows import load_run_config


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_family_says_its_widths_and_attention(family):
    model = build_model(family, {}, text_dim=50, frame_dim=40, n_functionals=3)
    given = model.dims.given()
    assert tuple(given) == model.INPUT_DIMS and set(given) <= set(DIM_NAMES)
    assert given["frame_dim"] == 40      # the widths given, not the config's defaults
    assert given.get("text_dim", 50) == 50 and given.get("utterance_dim", 83) == 83
    assert model.word_attention is (family == "wise")
    assert isinstance(model.batch_inputs(), frozenset)


@pytest.mark.parametrize("row", ["wise", "audio_only", "mdre", "cnn_phoneme"])
def test_a_checkpoint_stores_the_widths_and_rebuilds_from_them(row, tmp_path):
    run = load_run_config(row)
    model = build_model(run.model, run.model_args, text_dim=50, frame_dim=39)
    path = tmp_path / "m.wise"
    save_checkpoint(path, model, run, Normalizer({}, {}, "utterance"),
                    word_vectors="glove-6b-50d")
    blob = torch.load(path, weights_only=True)
    assert blob["dims"] == model.dims.given()
    assert not set(blob["run"]["model_args"]) & set(DIM_NAMES)     # stored once, as dims
    loaded = load_checkpoint(path)[0]
    assert loaded.dims == model.dims
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v)


def test_a_checkpoint_without_its_dims_is_refused_in_one_line(tmp_path):
    run = load_run_config("wise")
    model = build_model(run.model, run.model_args, text_dim=50, frame_dim=39)
    path = tmp_path / "m.wise"
    save_checkpoint(path, model, run, Normalizer({}, {}, "utterance"),
                    word_vectors="glove-6b-50d")
    blob = {k: v for k, v in torch.load(path, weights_only=True).items()
            if k not in ("dims", DIGEST)}
    save_blob(path, blob)
    with pytest.raises(WiseError, match="checkpoint config not usable .*: missing 'dims'"):
        load_checkpoint(path)
