"""WISE over Whisper's encoder on real speech (tests/fixtures/ravdess): the feature pack holds the
encoder's frames, a checkpoint trained on them predicts from the frames its recogniser already
computed (the same ones training saw), and the probe row cross-validates on them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from wise.audio import load_audio
from wise.cli import main
from wise.errors import Skips
from wise.features.cache import FeatureStore, build_features
from wise.features.encoder import encoder_frames
from wise.predict import Predictor, utterance_features
from wise.rows import load_run_config
from wise.utterance import read_manifest

RAVDESS = Path(__file__).parents[1] / "fixtures" / "ravdess"
# The simplest case, which the tests below vary: the encoder's last layer over the whole 30-s
# window (the shipped config reads layer 2 of the clip + 7 s window: tested last).
LAST_LAYER = ("encoder_layers=[]", "encoder_window=30s")


def train_tiny(manifest: Path, out: Path, *sets: str) -> Path:
    """`wise train --config wise_whisper` for one epoch on the last layer of the 30-s window,
    with more `--set` items: a checkpoint."""
    args = [a for item in ("max_epochs=1", "min_epochs=1", "batch_size=4", *LAST_LAYER, *sets)
            for a in ("--set", item)]
    assert main(["train", "--config", "wise_whisper", "--manifest", str(manifest), "--out",
                 str(out), *args, "--workers", "1", "--quiet"]) == 0
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("whisper")
    shutil.copytree(RAVDESS, root / "ravdess")
    manifest = root / "m.jsonl"
    assert main(["prepare", "ravdess", str(root / "ravdess"), "--out", str(manifest),
                 "--quiet"]) == 0
    model = train_tiny(manifest, root / "ww.wise")
    run = load_run_config("wise_whisper", LAST_LAYER)
    feats = build_features(manifest, root / "wise-cache", run.features, Skips(), workers=1,
                           progress=False)
    return {"root": root, "manifest": manifest, "model": model,
            "store": FeatureStore(feats.pack), "rows": list(read_manifest(manifest))}


def test_the_pack_holds_encoder_frames(trained):
    store = trained["store"]
    assert store.frame_dim == 384 and store.config.frames == "whisper-tiny.en"
    u = trained["rows"][0]
    e = store.by_id(u.id)
    x = load_audio(u.audio)
    np.testing.assert_array_equal(e.frames, encoder_frames(x, store.config))
    # Every word and phone has frames, inside the clip.
    assert (e.word_frames[:, 1] > e.word_frames[:, 0]).all()
    assert (e.phone_frames[:, 1] > e.phone_frames[:, 0]).all()
    assert e.phone_frames.max() <= len(e.frames)


def test_prediction_reuses_the_recognisers_encoder_pass(trained):
    store = trained["store"]
    p = Predictor(trained["model"], vectors_cache=trained["root"] / "wise-cache")
    assert p._shared_encoder
    u = trained["rows"][0]
    x = load_audio(u.audio)
    p._recognizer.load()
    rec = p._recognizer.recognize(x, source=u.audio)
    # The recogniser's first window is exactly the frames training computed for the clip.
    np.testing.assert_array_equal(rec.encoder_frames, store.by_id(u.id).frames)
    frames, _ = p.audio_features(x, rec.encoder_frames)
    mine, _ = utterance_features(frames, u.words, u.phones, p.features, p.vectors)
    np.testing.assert_array_equal(mine.frames, store.by_id(u.id).frames)
    r = p.predict(u.audio)
    assert r.status == "ok" and r.transcript_source == "asr"
    assert "asr" in r.seconds and r.label in ("ang", "hap", "neu", "sad")


def test_a_short_window_model_reads_the_frames_its_words_were_decoded_from(trained, tmp_path):
    """A model of `encoder_window: clip+7s` frames has the recogniser decode from that window,
    and predicts from the frames of that pass: the same ones its training computed."""
    model = train_tiny(trained["manifest"], tmp_path / "short.wise", "encoder_window=clip+7s")
    p = Predictor(model, vectors_cache=trained["root"] / "wise-cache")
    assert p._shared_encoder and not p._recognizer.whole_window
    assert p._recognizer.window_pad_s == 7 and "clip + 7 s window" in p.asr_name
    u = trained["rows"][0]
    x = load_audio(u.audio)
    p._recognizer.load()
    rec = p._recognizer.recognize(x, source=u.audio)
    assert rec.encoder_window == "clip+7s"
    np.testing.assert_array_equal(rec.encoder_frames, encoder_frames(x, p.features))
    assert not np.array_equal(rec.encoder_frames, trained["store"].by_id(u.id).frames)
    r = p.predict(u.audio)
    assert r.status == "ok" and r.transcript_source == "asr"


def test_a_model_of_two_layers_takes_the_last_from_the_recogniser(trained, tmp_path):
    """A model of `encoder_layers: [2, 4]` frames takes layer 4 (the whole encoder's output)
    from the recogniser's pass and computes layer 2 itself: the frames its training computed.
    One of layer 2 alone shares nothing."""
    model = train_tiny(trained["manifest"], tmp_path / "layers.wise", "encoder_layers=[2, 4]")
    p = Predictor(model, vectors_cache=trained["root"] / "wise-cache")
    assert p.features.encoder_layers == (2, 4) and p._shared_encoder
    u = trained["rows"][0]
    x = load_audio(u.audio)
    p._recognizer.load()
    rec = p._recognizer.recognize(x, source=u.audio)
    frames, _ = p.audio_features(x, rec.encoder_frames)
    np.testing.assert_array_equal(frames, encoder_frames(x, p.features))
    np.testing.assert_array_equal(frames[:, 384:], trained["store"].by_id(u.id).frames)
    r = p.predict(u.audio)
    assert r.status == "ok" and r.transcript_source == "asr"
    lone = train_tiny(trained["manifest"], tmp_path / "layer2.wise", "encoder_layers=[2]")
    p2 = Predictor(lone, vectors_cache=trained["root"] / "wise-cache")
    assert not p2._shared_encoder
    np.testing.assert_array_equal(p2.audio_features(x, rec.encoder_frames)[0], frames[:, :384])


def test_the_probe_row_cross_validates_on_encoder_frames(trained, tmp_path):
    out = tmp_path / "probe"
    assert main(["cv", "--config", "whisper_probe", "--manifest", str(trained["manifest"]),
                 "--out", str(out), "--set", "protocol=speaker_groups", "--set", "folds=2",
                 "--set", "normalize=speaker", "--workers", "1", "--quiet"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["config"]["model"] == "frame_stats_logreg" and len(s["folds"]) == 2
    assert s["config"]["train"]["normalize"] == "speaker"
    # 2 x 384 statistics: coefficients + intercepts (one per class, or one for two classes)
    # + the scaler's mean and std.
    for k in (1, 2):
        m = json.loads((out / "seed_0" / f"fold_{k}" / "metrics.json").read_text())
        assert m["n_params"] in {c * 768 + c + 2 * 768 for c in (1, 3, 4)}


def test_the_shipped_config_reads_layer_2_of_the_short_window_trained_on_both_views(
        trained, tmp_path):
    """`wise_whisper` as shipped: layer 2 of the clip + 7 s window, both views of each clip in
    training. Prediction computes layer 2 over the window the recogniser decodes (it shares
    nothing with the recogniser's pass), the frames training computed; the checkpoint carries
    the training options, and a clip scores as an unknown voice without any speaker's clips."""
    run = load_run_config("wise_whisper")
    features = run.features
    assert features.encoder_layers == (2,) and features.encoder_window == "clip+7s"
    t = run.train
    assert (t.readout_first and t.readout_rows == "all" and t.readout_mix
            and t.val_unadapted and t.unadapted_fraction == 0.5)
    model = train_tiny(trained["manifest"], tmp_path / "shipped.wise", "encoder_layers=[2]",
                       "encoder_window=clip+7s")
    p = Predictor(model, vectors_cache=trained["root"] / "wise-cache")
    assert p.features == features and not p._shared_encoder
    assert p.run.train.readout_mix and p.run.train.readout_rows == "all"
    u = trained["rows"][0]
    x = load_audio(u.audio)
    p._recognizer.load()
    rec = p._recognizer.recognize(x, source=u.audio)
    frames, _ = p.audio_features(x, rec.encoder_frames)
    assert frames.shape[1] == 384
    np.testing.assert_array_equal(frames, encoder_frames(x, features))
    r = p.predict(u.audio)
    assert r.status == "ok" and r.transcript_source == "asr"
