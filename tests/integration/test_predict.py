"""`wise predict` and `wise.load(...).predict(...)` on synthetic speech, with and without a
transcript, and the faults a user can run into."""

import json

import numpy as np
import pytest
import soundfile as sf
import torch

import wise
from wise import LABELS
from wise.audio import load_audio
from wise.batching import collate
from wise.checkpoint import load_checkpoint, save_blob
from wise.cli import main
from wise.config import FeatureConfig
from wise.errors import Skips, WiseError
from wise.features.cache import FeatureStore, build_features
from wise.features.mfcc import mfcc
from wise.features.words import load_word_vectors
from wise.predict import Predictor, utterance_features
from wise.text import tokenize


@pytest.fixture(scope="module")
def predictor(trained_model):
    return wise.load(trained_model["model"])


def _check(r, duration: float) -> None:
    assert r.status == "ok" and r.label in LABELS
    assert list(r.probabilities) == list(LABELS)
    assert sum(r.probabilities.values()) == pytest.approx(1.0, abs=1e-3)
    assert r.label == max(r.probabilities, key=r.probabilities.get)
    assert r.words and sum(w.attention for w in r.words) == pytest.approx(1.0, abs=1e-3)
    for a, b in zip(r.words, r.words[1:], strict=False):
        assert a.end <= b.start + 1e-6
    assert all(0 <= w.start < w.end <= duration + 1e-6 for w in r.words)
    assert r.duration == pytest.approx(duration, abs=0.01)
    assert r.word_attention            # WISE: the weights are the model's, not uniform


def test_predict_with_the_transcript(predictor, trained_model):
    u = trained_model["rows"][0]
    r = predictor.predict(u.audio, text=u.text)
    _check(r, u.duration)
    assert r.transcript_source == "given" and r.asr_confidence is None
    assert [w.word for w in r.words] == tokenize(u.text)
    # Forced alignment of the given transcript lands near the synthesiser's own word times.
    starts = np.array([w.start for w in r.words])
    gold = np.array([w.start for w in u.words])
    assert np.median(np.abs(starts - gold)) < 0.05
    assert json.loads(json.dumps(r.to_dict()))["words"][0]["word"] == r.words[0].word


def test_predict_without_a_transcript_runs_asr(predictor, trained_model):
    u = trained_model["rows"][1]
    r = predictor.predict(u.audio)
    _check(r, u.duration)
    assert r.transcript_source == "asr"
    assert 0.0 <= r.asr_confidence <= 1.0
    assert [w.word for w in r.words] == tokenize(r.transcript)
    assert {"asr", "align", "features", "model"} <= set(r.seconds)


def test_predict_sees_what_training_saw(trained_model, tmp_path):
    """Features computed for one recording equal the training cache's, and so do the scores."""
    model, run, norm, _ = load_checkpoint(trained_model["model"])
    cfg: FeatureConfig = run.features
    feats = build_features(trained_model["manifest"], tmp_path / "cache", cfg, Skips(),
                           workers=1, progress=False)
    store = FeatureStore(feats.pack)
    vectors = load_word_vectors(cfg.word_vectors, tmp_path / "cache" / "vectors")
    p = Predictor(trained_model["model"], vectors_cache=tmp_path / "cache")
    for u in trained_model["rows"][:3]:
        mine, _ = utterance_features(mfcc(load_audio(u.audio), cfg), u.words, u.phones, cfg,
                                     vectors)
        theirs = store.by_id(u.id)
        for name in ("frames", "phone_frames", "word_phones", "word_frames", "word_vectors"):
            np.testing.assert_array_equal(getattr(mine, name), getattr(theirs, name))
        probs, alpha = p.score(mine)
        with torch.no_grad():
            logits, a = model(collate([theirs], [0], [0], norm, [u.speaker],
                                      inputs=model.batch_inputs(),
                                      max_word_frames=cfg.max_word_frames))
        np.testing.assert_allclose(probs, torch.softmax(logits, 1)[0].numpy(), atol=1e-6)
        np.testing.assert_allclose(alpha, a[0].numpy(), atol=1e-6)


def test_any_rate_and_channels_and_arrays(predictor, trained_model, tmp_path):
    u = trained_model["rows"][2]
    x = load_audio(u.audio)
    import soxr
    stereo = np.stack([soxr.resample(x, 16000, 44100)] * 2, axis=1)
    path = tmp_path / "stereo44k.wav"
    sf.write(path, stereo, 44100)
    r = predictor.predict(path, text=u.text)
    _check(r, u.duration)
    r2 = predictor.predict(stereo, text=u.text, sample_rate=44100)
    assert r2.label == r.label and r2.file == "upload"
    assert r2.probabilities == pytest.approx(r.probabilities, abs=1e-4)
    r3 = predictor.predict(path.read_bytes(), text=u.text, name="clip.wav")
    assert r3.file == "clip.wav" and r3.probabilities == r.probabilities


def test_silence_gives_a_result_without_a_label(predictor, tmp_path):
    path = tmp_path / "quiet.wav"
    sf.write(path, np.zeros(16000, np.float32), 16000)
    for text in (None, "hello there"):
        r = predictor.predict(path, text=text)
        assert r.status == "no_speech" and r.label is None and r.words == []
        assert "no speech" in r.message


def test_too_long_audio_is_refused_before_decoding(trained_model, tmp_path):
    p = Predictor(trained_model["model"], max_seconds=2.0)
    path = tmp_path / "long.wav"
    sf.write(path, np.zeros(16000 * 3, np.float32), 16000)
    with pytest.raises(WiseError, match=r"audio is 3.0 s long; the limit is 2 s"):
        p.predict(path)


def test_transcript_that_does_not_fit_the_audio(predictor, trained_model):
    u = trained_model["rows"][0]
    long_text = " ".join([u.text] * 12)
    with pytest.raises(WiseError) as e:
        predictor.predict(u.audio, text=long_text)
    assert e.value.path == u.audio


def _tamper(src, dst, fn):
    """A checkpoint as another version of wise might write it (so its digest is its own)."""
    blob = torch.load(src, weights_only=True)
    fn(blob)
    save_blob(dst, blob)
    return dst


def test_checkpoints_that_cannot_be_used_are_clear_errors(trained_model, tmp_path):
    src = trained_model["model"]
    unknown = _tamper(src, tmp_path / "a.wise",
                      lambda b: b["run"]["features"].update(pitch=True))
    with pytest.raises(WiseError, match="checkpoint config not usable.*pitch"):
        Predictor(unknown)
    missing = _tamper(src, tmp_path / "b.wise",
                      lambda b: b["run"]["features"].update(word_vectors="/no/glove.txt"))
    with pytest.raises(WiseError, match="word vectors /no/glove.txt, which are not on this"):
        Predictor(missing)
    other = tmp_path / "other.txt"
    other.write_text("hello " + " ".join(["0.1"] * 50) + "\n")
    with pytest.raises(WiseError, match="trained with word vectors glove-6b-50d, not "
                                        "glove:other.txt"):
        Predictor(src, word_vectors=str(other))
    weights = _tamper(src, tmp_path / "c.wise",
                      lambda b: b["state_dict"].pop(next(iter(b["state_dict"]))))
    with pytest.raises(WiseError, match="checkpoint weights do not fit"):
        Predictor(weights)


def test_cli_json_many_files_with_transcripts_and_plots(trained_model, tmp_path, capsys):
    rows = trained_model["rows"][:3]
    listing = tmp_path / "t.tsv"
    listing.write_text(f"{rows[0].audio}\t{rows[0].text}\n"
                       f"{rows[1].audio.rsplit('/', 1)[1]}\t{rows[1].text}\n")
    plots = tmp_path / "plots"
    argv = ["predict", str(trained_model["model"]), *[u.audio for u in rows], "--json",
            "--transcripts", str(listing), "--plot", str(plots), "--quiet"]
    assert main(argv) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o["transcript_source"] for o in out] == ["given", "given", "asr"]
    assert [o["file"] for o in out] == [u.audio for u in rows]
    assert sorted(p.name for p in plots.iterdir()) == sorted(f"{u.id}.png" for u in rows)


def test_cli_text_and_readable_output(trained_model, capsys):
    u = trained_model["rows"][0]
    assert main(["predict", str(trained_model["model"]), u.audio, "--text", u.text]) == 0
    out = capsys.readouterr().out
    assert u.audio in out and "transcript: " + " ".join(tokenize(u.text)) in out
    assert "words that carried it:" in out


def test_cli_bad_files_are_one_line_each_and_the_rest_still_run(trained_model, tmp_path,
                                                                  capsys):
    u = trained_model["rows"][0]
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....WAVEjunk")
    argv = ["predict", str(trained_model["model"]), str(bad), u.audio, str(tmp_path / "no.wav"),
            "--json", "--quiet"]
    assert main(argv) == 2
    cap = capsys.readouterr()
    out = [json.loads(line) for line in cap.out.splitlines()]      # one line per file
    assert [o["file"] for o in out] == [str(bad), u.audio, str(tmp_path / "no.wav")]
    assert [o["status"] for o in out] == ["error", "ok", "error"]
    assert out[2]["message"] == "audio file not found" and out[2]["label"] is None
    errs = cap.err.strip().splitlines()
    assert errs[0].startswith(f"wise: error: {bad}: not a readable audio file")
    assert errs[1] == f"wise: error: {tmp_path / 'no.wav'}: audio file not found"
    assert "2 of 3 files failed" in errs[2]


@pytest.mark.parametrize("argv,message", [
    (["predict", "missing.wise", "a.wav"], "wise: error: missing.wise: checkpoint not found"),
    (["predict", "m.wise", "a.wav", "b.wav", "--text", "hi"],
     "wise: error: --text gives one transcript"),
])
def test_cli_usage_faults(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(message) and "\n" not in err


def test_cli_worker_processes_give_the_same_results_in_order(trained_model, capsys):
    rows = trained_model["rows"][:3]
    base = ["predict", str(trained_model["model"]), *[u.audio for u in rows], "--json",
            "--quiet"]
    outs = []
    for workers in ("1", "2"):
        assert main([*base, "--workers", workers]) == 0
        outs.append([json.loads(line) for line in capsys.readouterr().out.splitlines()])
    assert [o["file"] for o in outs[1]] == [u.audio for u in rows]
    for a, b in zip(*outs, strict=True):
        assert a["transcript"] == b["transcript"] and a["label"] == b["label"]
        assert a["probabilities"] == pytest.approx(b["probabilities"], abs=1e-5)
