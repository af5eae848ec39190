"""The pieces of the real-speech rows over encoder frames: the probe (frame statistics + logistic
regression), per-speaker standardisation for the scikit-learn rows, pooled functionals, and
WISE's linear read-out of the utterance statistics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wise.config import FeatureConfig
from wise.crossval import per_speaker
from wise.features.prosody import utterance_functionals
from wise.models.baselines.frame_stats_logreg import FrameStatsLogreg, FrameStatsLogregConfig
from wise.models.build import build_classic, build_model, model_config_class
from wise.models.wise import WiseConfig


def test_the_probe_separates_separable_classes_and_reports_probabilities():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 25)
    centres = rng.normal(size=(4, 10)) * 3
    x = centres[y] + rng.normal(size=(100, 10))
    m = FrameStatsLogreg(FrameStatsLogregConfig()).fit(x, y)
    pred, probs = m.predict(x)
    assert (pred == y).mean() > 0.95
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-6)
    assert m.n_params() == 4 * 10 + 4 + 2 * 10
    # Three classes in training: the fourth gets probability 0, never a wrong column.
    keep = y != 2
    _, p3 = FrameStatsLogreg(FrameStatsLogregConfig()).fit(x[keep], y[keep]).predict(x)
    assert (p3[:, 2] == 0).all() and p3.shape == (100, 4)


def test_the_probe_is_a_registered_classic_row():
    assert model_config_class("frame_stats_logreg") is FrameStatsLogregConfig
    assert build_classic("frame_stats_logreg", {"C": 1.0}).cfg.C == 1.0
    with pytest.raises(ValueError, match="C must be positive"):
        FrameStatsLogregConfig(C=0)


def test_per_speaker_uses_each_speakers_own_rows_only():
    x = np.array([[1.0, 10.0], [3.0, 30.0], [100.0, np.nan], [300.0, 5.0], [7.0, 7.0]])
    speakers = ["a", "a", "b", "b", "c"]
    z = per_speaker(x, speakers, rows=[0, 1, 2, 3])
    np.testing.assert_allclose(z[:2], [[-1, -1], [1, 1]])
    np.testing.assert_allclose(z[2:4, 0], [-1, 1])
    assert np.isnan(z[2, 1]) and z[3, 1] == 0.0          # one known value: centred, std 1
    np.testing.assert_array_equal(z[4], x[4])             # not among the rows: untouched


def test_pooled_functionals_are_the_frames_mean_and_std():
    cfg = FeatureConfig(frames="whisper-tiny.en", functionals="pooled")
    assert cfg.n_functionals == 2 * 384
    assert FeatureConfig(functionals="pooled").n_functionals == 78
    frames = np.random.default_rng(1).normal(size=(50, 384)).astype(np.float32)
    v = utterance_functionals(np.zeros(16000, np.float32), frames, cfg, None)
    assert v.shape == (768,) and v.dtype == np.float32
    np.testing.assert_allclose(v[:384], frames.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(v[384:], frames.std(0), rtol=1e-5)
    with pytest.raises(ValueError, match="pooled"):
        FeatureConfig(functionals="mean")


def test_utterance_logits_add_a_linear_read_out_of_the_statistics():
    with pytest.raises(ValueError, match="utterance_stats=true"):
        build_model("wise", {"utterance_logits": True})
    model = build_model("wise", {"utterance_stats": True, "utterance_logits": True},
                        text_dim=50, frame_dim=39, n_functionals=78)
    assert model.utterance_readout.in_features == 2 * 39 + 78
    assert model.utterance_readout.out_features == WiseConfig().n_classes
    # With the FC layers silenced, the logits are the read-out's alone.
    for p in model.fc.parameters():
        torch.nn.init.zeros_(p)
    s = torch.randn(3, 156)
    from wise.batching import Batch

    b = Batch(utt_words=torch.zeros(3, 2, dtype=torch.long), utt_len=torch.tensor([2, 1, 2]),
              labels=torch.zeros(3, dtype=torch.long), text=torch.randn(3, 2, 50),
              phone_frames=torch.randn(4, 3, 39), phone_len=torch.tensor([3, 1, 2, 3]),
              word_phones=torch.tensor([[0, 1], [2, 0], [3, 0]]), word_len=torch.tensor([2, 1, 1]),
              utt_stats=s)
    b.utt_words = torch.tensor([[0, 1], [2, 0], [0, 1]])
    model.eval()
    logits, _ = model(b)
    torch.testing.assert_close(logits, model.utterance_readout(s))


def test_readout_first_fits_the_probes_logistic_regression_and_keeps_it():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), [30, 20, 10, 30])
    x = (rng.normal(size=(4, 156)) * 0.5)[y] + rng.normal(size=(90, 156))
    model = build_model("wise", {"utterance_stats": True, "utterance_logits": True},
                        text_dim=50, frame_dim=39, n_functionals=78)
    weight = len(y) / (4 * np.bincount(y))
    model.start_from_readout(torch.tensor(x, dtype=torch.float32), torch.tensor(y),
                             torch.tensor(weight, dtype=torch.float32), C=0.1)
    ref = LogisticRegression(C=0.1, class_weight="balanced", max_iter=5000).fit(x, y)
    lin = model.utterance_readout
    ours = lin(torch.tensor(x, dtype=torch.float32)).detach().numpy()
    # The same objective's optimum: the same decisions, and nearly the same logits up to the
    # constant per row that a softmax ignores.
    assert (ours.argmax(1) == ref.predict(x)).mean() > 0.97
    theirs = ref.decision_function(x)
    np.testing.assert_allclose(ours - ours.mean(1, keepdims=True),
                               theirs - theirs.mean(1, keepdims=True), atol=0.05)
    # The model starts as the read-out, which stays fixed while the rest trains.
    assert not any(p.requires_grad for p in lin.parameters())
    assert not model.fc[-1].weight.detach().any() and not model.fc[-1].bias.detach().any()


def test_attentive_pooling_reads_only_real_frames():
    model = build_model("wise", {"utterance_stats": True, "attentive_pooling": True},
                        text_dim=50, frame_dim=39, n_functionals=0)
    from wise.batching import BatchInput

    assert BatchInput.UTTERANCE_FRAMES in model.batch_inputs()
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 30, 39, generator=g)
    lengths = torch.tensor([30, 12])
    padded = x.clone()
    padded[1, 12:] = 50 * torch.randn(18, 39, generator=g)       # loud padding must not count
    both = model.attentive_stats(padded, lengths)
    solo = model.attentive_stats(x[1:, :12], lengths[1:])
    torch.testing.assert_close(both[1], solo[0])
    # Weights sum to 1: a constant utterance pools to itself, with no spread.
    const = torch.ones(1, 5, 39) * 3.0
    out = model.attentive_stats(const, torch.tensor([5]))
    torch.testing.assert_close(out[0, :39], torch.full((39,), 3.0))
    assert (out[0, 39:] < 1e-2).all()
    with pytest.raises(ValueError, match="utterance_stats=true"):
        build_model("wise", {"attentive_pooling": True})


def test_row_weights_in_the_readout_fit_count_rows_fractionally():
    # readout_mix fits every row twice, weighted 1 - f and f: rows given twice at weights
    # .5 and .5 must fit as the rows once, and a view at weight 0 must not count at all.
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(4), 15)
    x = (rng.normal(size=(4, 156)) * 0.5)[y] + rng.normal(size=(60, 156))
    noise = rng.normal(size=x.shape) * 3
    weight = torch.ones(4)

    def fitted(stats: np.ndarray, labels: np.ndarray, rows: list[float] | None) -> torch.Tensor:
        model = build_model("wise", {"utterance_stats": True, "utterance_logits": True},
                            text_dim=50, frame_dim=39, n_functionals=78)
        model.start_from_readout(torch.tensor(stats, dtype=torch.float32),
                                 torch.tensor(labels), weight, C=0.1,
                                 row_weight=None if rows is None else torch.tensor(rows))
        return model.utterance_readout.weight.detach()

    once = fitted(x, y, None)
    torch.testing.assert_close(fitted(np.vstack([x, x]), np.r_[y, y], [0.5] * 120), once,
                               atol=2e-3, rtol=0)
    torch.testing.assert_close(fitted(np.vstack([x, noise]), np.r_[y, y],
                                      [1.0] * 60 + [0.0] * 60), once, atol=2e-3, rtol=0)
    # ...and a view that does count moves the fit.
    assert (fitted(np.vstack([x, noise]), np.r_[y, y], [0.5] * 120) - once).abs().max() > 0.01


def test_the_readout_options_are_options_that_need_their_setting():
    from wise.config import TrainConfig

    assert "readout_mix" not in TrainConfig().key_fields()
    assert "val_unadapted" not in TrainConfig().key_fields()
    cfg = TrainConfig(normalize="speaker", readout_first=True, unadapted_fraction=0.5,
                      readout_mix=True, val_unadapted=True)
    assert cfg.key_fields()["readout_mix"] and cfg.key_fields()["val_unadapted"]
    with pytest.raises(ValueError, match="readout_mix needs"):
        TrainConfig(readout_first=True, readout_mix=True)
    with pytest.raises(ValueError, match="val_unadapted needs"):
        TrainConfig(val_unadapted=True)
    # Where the read-out is fitted: a default that leaves old hashes alone, one other choice.
    assert "readout_rows" not in TrainConfig(readout_first=True).key_fields()
    assert TrainConfig(readout_first=True, readout_rows="all").key_fields()["readout_rows"] == "all"
    with pytest.raises(ValueError, match="readout_rows must be 'fit' or 'all'"):
        TrainConfig(readout_rows="val")
