"""WISE+ on real speech (tests/fixtures/ravdess): functionals per utterance (librosa's, shipped;
openSMILE's eGeMAPS with its descriptors in every frame, the variant), per-speaker
normalisation, and prediction computing exactly what training saw."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from wise.audio import load_audio
from wise.batching import collate
from wise.checkpoint import load_checkpoint
from wise.cli import main
from wise.errors import Skips
from wise.features.cache import FeatureStore, build_features
from wise.features.mfcc import mfcc
from wise.normalize import Normalizer
from wise.predict import Predictor, utterance_features
from wise.rows import load_run_config
from wise.utterance import read_manifest

RAVDESS = Path(__file__).parents[1] / "fixtures" / "ravdess"


EGEMAPS = ["--set", "functionals=egemaps", "--set", "prosody=egemaps"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("plus")
    shutil.copytree(RAVDESS, root / "ravdess")
    manifest = root / "m.jsonl"
    assert main(["prepare", "ravdess", str(root / "ravdess"), "--out", str(manifest),
                 "--quiet"]) == 0
    return root, manifest


def _trained(corpus, name: str, sets: list[str]) -> dict:
    root, manifest = corpus
    model = root / f"{name}.wise"
    assert main(["train", "--config", "wise_plus", "--manifest", str(manifest), "--out",
                 str(model), "--set", "max_epochs=1", "--set", "min_epochs=1",
                 "--set", "batch_size=4", "--workers", "1", "--quiet", *sets]) == 0
    run = load_run_config("wise_plus", [s for s in sets if s != "--set"])
    feats = build_features(manifest, root / "wise-cache", run.features, Skips(), workers=1,
                           progress=False)
    return {"manifest": manifest, "model": model, "store": FeatureStore(feats.pack),
            "rows": list(read_manifest(manifest)), "root": root}


@pytest.fixture(scope="module")
def plus(corpus) -> dict:
    """The openSMILE variant: descriptors in the frames and eGeMAPS functionals."""
    return _trained(corpus, "plus_egemaps", EGEMAPS)


@pytest.fixture(scope="module")
def shipped(corpus) -> dict:
    """`wise_plus` as shipped: librosa's functionals, MFCC frames."""
    return _trained(corpus, "plus", [])


def test_pack_carries_the_descriptors_and_functionals(plus):
    store, rows = plus["store"], plus["rows"]
    assert store.frame_dim == 39 + 25 and store.n_functionals == 88
    for u in rows[:3]:
        e = store.by_id(u.id)
        x = load_audio(u.audio)
        # The MFCCs are untouched: the descriptors are appended after them.
        np.testing.assert_array_equal(e.frames[:, :39], mfcc(x, store.config))
        f0 = e.frames[:, 39 + 10]                     # F0 in semitones from 27.5 Hz
        voiced = f0[f0 > 0]
        assert 0.1 < len(voiced) / len(f0) < 0.9      # RAVDESS: a second of silence each side
        assert 15 < np.median(voiced) < 60            # 66-880 Hz: a human voice
        assert e.functionals.shape == (88,) and np.isfinite(e.functionals).all()


def test_prediction_computes_what_training_saw(plus):
    store, rows = plus["store"], plus["rows"]
    model, run, norm, _ = load_checkpoint(plus["model"])
    assert norm.mode == "speaker" and len(norm.func_mean) >= 3
    p = Predictor(plus["model"], vectors_cache=plus["root"] / "wise-cache")
    actor = [u for u in rows if u.speaker == "Actor_10"]
    for u in actor[:2]:
        frames, functionals = p.audio_features(load_audio(u.audio))
        mine, _ = utterance_features(frames, u.words, u.phones, p.features, p.vectors,
                                     functionals)
        theirs = store.by_id(u.id)
        for name in ("frames", "phone_frames", "word_phones", "word_frames", "word_vectors",
                     "functionals"):
            np.testing.assert_array_equal(getattr(mine, name), getattr(theirs, name))
    # A new speaker's statistics come from his or her clips, exactly as cross-validation
    # computes them for a held-out speaker from the cache.
    p.adapt_speaker([u.audio for u in actor])
    rows_10 = [store.position[u.id] for u in actor]
    speakers = [""] * len(store)
    for i in rows_10:
        speakers[i] = "Actor_10"
    ref = Normalizer(dict(norm.mean), dict(norm.std), "speaker", dict(norm.func_mean),
                     dict(norm.func_std))
    ref = Normalizer({k: v for k, v in ref.mean.items() if k != "Actor_10"},
                     {k: v for k, v in ref.std.items() if k != "Actor_10"}, "speaker",
                     {k: v for k, v in ref.func_mean.items() if k != "Actor_10"},
                     {k: v for k, v in ref.func_std.items() if k != "Actor_10"}
                     ).adapt(store, rows_10, speakers)
    np.testing.assert_allclose(p.normalizer.mean["<adapted>"], ref.mean["Actor_10"], rtol=1e-5)
    np.testing.assert_allclose(p.normalizer.func_mean["<adapted>"], ref.func_mean["Actor_10"],
                               rtol=1e-5)
    u = actor[0]
    r = p.predict(u.audio, text=u.text)
    theirs = store.by_id(u.id)
    with torch.no_grad():
        logits, _ = model(collate([theirs], [0], [0], ref, ["Actor_10"],
                                  inputs=model.batch_inputs(),
                                  max_word_frames=store.config.max_word_frames))
    np.testing.assert_allclose([r.probabilities[c] for c in p.labels],
                               torch.softmax(logits, 1)[0].numpy(), atol=1e-4)


def test_quiet_real_speech_predicts(plus, tmp_path):
    """A clip 30 dB quieter still aligns and gets a label (it used to be 'no speech')."""
    import soundfile as sf

    u = next(u for u in plus["rows"] if u.speaker == "Actor_10")
    quiet = tmp_path / "quiet.wav"
    sf.write(quiet, load_audio(u.audio) * 10 ** (-30 / 20), 16000, subtype="FLOAT")
    r = Predictor(plus["model"], vectors_cache=plus["root"] / "wise-cache").predict(
        quiet, text=u.text)
    assert r.status == "ok" and r.label in ("ang", "hap", "neu", "sad")
    assert [w.word for w in r.words] == u.text.lower().split()


def test_shipped_config_reads_librosa_functionals_and_predicts_them(shipped):
    store = shipped["store"]
    assert store.frame_dim == 39 and store.n_functionals == 26
    p = Predictor(shipped["model"], vectors_cache=shipped["root"] / "wise-cache")
    u = shipped["rows"][0]
    _, functionals = p.audio_features(load_audio(u.audio))
    np.testing.assert_array_equal(functionals, store.by_id(u.id).functionals)
    assert p.predict(u.audio, text=u.text).status == "ok"


def test_cli_same_speaker_adapts(shipped, tmp_path, capsys):
    import json

    plus = shipped
    actor = [u for u in plus["rows"] if u.speaker == "Actor_10"]
    listing = tmp_path / "t.tsv"
    listing.write_text("".join(f"{u.audio}\t{u.text}\n" for u in actor))
    options = ["--transcripts", str(listing), "--json", "--quiet", "--workers", "1"]
    base = ["predict", str(plus["model"]), *[u.audio for u in actor], *options]
    runs = {}
    for flag in ([], ["--same-speaker"]):
        assert main(base + flag) == 0
        out = capsys.readouterr()
        runs[bool(flag)] = [json.loads(line)["probabilities"] for line in out.out.splitlines()]
        assert "--same-speaker with one file" not in out.err
    assert runs[True] != runs[False]
    p = Predictor(plus["model"], vectors_cache=plus["root"] / "wise-cache")
    p.adapt_speaker([u.audio for u in actor])
    r = p.predict(actor[0].audio, text=actor[0].text)
    assert r.probabilities == pytest.approx(runs[True][0], abs=1e-5)
    # One file: it would adapt on itself, which does not help (docs/real-speech.md): say so.
    assert main(["predict", str(plus["model"]), actor[0].audio, *options,
                 "--same-speaker"]) == 0
    assert "--same-speaker with one file" in capsys.readouterr().err


def test_without_opensmile_the_model_says_what_to_install(plus, monkeypatch):
    import sys

    from wise.errors import WiseError

    monkeypatch.setitem(sys.modules, "opensmile", None)        # import opensmile fails
    with pytest.raises(WiseError, match=r'pip install "wise-ser\[opensmile\]"'):
        Predictor(plus["model"], vectors_cache=plus["root"] / "wise-cache")
