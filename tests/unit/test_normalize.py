"""Frame and functional normalisation: corpus, speaker (with adaptation), utterance."""

from __future__ import annotations

import numpy as np
import pytest

from wise.batching import utterance_stats
from wise.config import FeatureConfig, TrainConfig
from wise.normalize import Normalizer, SpeakerStats


class FakeStore:
    """The slice of FeatureStore the normaliser reads: frames per row, functionals."""

    def __init__(self, frames: list[np.ndarray], functionals: np.ndarray | None = None):
        self._frames = frames
        self.frame_dim = frames[0].shape[1]
        self.n_functionals = 0 if functionals is None else functionals.shape[1]
        self.arrays = {} if functionals is None else {"functionals": functionals}

    def __getitem__(self, i):
        class U:
            frames = self._frames[i]
        return U


@pytest.fixture
def store() -> FakeStore:
    rng = np.random.default_rng(0)
    # Speaker "a" is loud and high (offset +5), "b" quiet (offset -5), "c" never trained on.
    frames = [rng.normal(5, 1, (50, 3)), rng.normal(5, 1, (40, 3)),
              rng.normal(-5, 2, (60, 3)), rng.normal(-5, 2, (30, 3)),
              rng.normal(20, 3, (45, 3)), rng.normal(20, 3, (55, 3))]
    functionals = rng.normal(0, 1, (6, 4)).astype(np.float32)
    functionals[:2] += 10
    functionals[5, 1] = np.nan                       # a clip too short for one functional
    return FakeStore([f.astype(np.float32) for f in frames], functionals)


SPEAKERS = ["a", "a", "b", "b", "c", "c"]


def test_corpus_statistics_are_of_the_training_rows_only(store):
    n = Normalizer.fit(store, [0, 1, 2, 3], SPEAKERS, "corpus")
    frames = np.concatenate([store[i].frames for i in range(4)])
    np.testing.assert_allclose(n.mean["*"], frames.astype(np.float64).mean(0), atol=1e-5)
    # A test speaker (c) is normalised with the corpus statistics: its offset stays.
    assert n.apply(store[4].frames, "c").mean() > 3


def test_speaker_statistics_and_adaptation_to_a_new_speaker(store):
    n = Normalizer.fit(store, [0, 1, 2, 3], SPEAKERS, "speaker")
    assert set(n.mean) == {"a", "b"}
    for i in (0, 2):
        assert abs(n.apply(store[i].frames, SPEAKERS[i]).mean()) < 0.3
    # Unknown speaker without adaptation: the training speakers' average.
    np.testing.assert_allclose(n.stats_for("c")[0], (n.mean["a"] + n.mean["b"]) / 2)
    adapted = n.adapt(store, [4, 5], SPEAKERS)
    assert "c" not in n.mean and "c" in adapted.mean          # the original is untouched
    both = np.concatenate([adapted.apply(store[i].frames, "c") for i in (4, 5)])
    np.testing.assert_allclose(both.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(both.std(0), 1, atol=1e-3)
    # The same statistics from raw clips, as prediction gets them (`with_speaker`).
    again = n.with_speaker("c", [store[4].frames, store[5].frames],
                           [store.arrays["functionals"][4], store.arrays["functionals"][5]])
    np.testing.assert_allclose(again.mean["c"], adapted.mean["c"], rtol=1e-5)
    np.testing.assert_allclose(again.func_mean["c"], adapted.func_mean["c"], rtol=1e-5)


def test_functionals_are_normalised_per_speaker_and_nan_is_the_mean(store):
    n = Normalizer.fit(store, [0, 1, 2, 3, 4, 5], SPEAKERS, "speaker")
    v = n.apply_functionals(store.arrays["functionals"][0], "a")
    assert np.all(np.abs(v) <= 1.0 + 1e-5)                     # two clips: exactly +-1
    w = n.apply_functionals(store.arrays["functionals"][5], "c")
    assert np.isfinite(w).all() and w[1] == 0.0


def test_utterance_mode_needs_no_fit_and_standardises_each_clip(store):
    n = Normalizer.fit(store, [0, 1], SPEAKERS, "utterance")
    assert n.mean == {}
    x = n.apply(store[4].frames, "anyone")
    np.testing.assert_allclose(x.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(x.std(0), 1, atol=1e-3)


def test_a_saved_normaliser_reads_back_the_same():
    saved = {"mode": "speaker", "mean": {"a": [0.0, 1.0]}, "std": {"a": [1.0, 2.0]}}
    n = Normalizer.from_dict(saved)
    assert n.mode == "speaker" and n.func_mean == {} and n.prior_clips == 0.0
    assert Normalizer.from_dict(n.to_dict()).to_dict() == n.to_dict()


def test_utterance_stats_layout(store):
    n = Normalizer.fit(store, [0, 1, 2, 3], SPEAKERS, "speaker")
    x = n.apply(store[0].frames, "a")
    s = utterance_stats(x, store.arrays["functionals"][0], n, "a")
    assert s.shape == (2 * 3 + 4,) and s.dtype == np.float32
    np.testing.assert_allclose(s[:3], x.mean(0), rtol=1e-5)
    np.testing.assert_allclose(s[3:6], x.std(0), rtol=1e-5)


def test_config_choices_are_validated_and_keep_old_cache_keys():
    with pytest.raises(ValueError, match="normalize"):
        TrainConfig(normalize="per_clip")
    with pytest.raises(ValueError, match="prosody"):
        FeatureConfig(prosody="pitch")
    plain, plus = FeatureConfig(), FeatureConfig(prosody="egemaps", functionals="egemaps")
    # Fields added after the first release leave the default config's key as it was.
    assert "prosody" not in plain.key_fields() and "functionals" not in plain.key_fields()
    assert plain.key() != plus.key()
    assert (plain.frame_dim, plus.frame_dim) == (39, 64)
    assert (plain.n_functionals, plus.n_functionals) == (0, 88)


def test_few_clips_are_shrunk_towards_the_training_average(store):
    n = Normalizer.fit(store, [0, 1, 2, 3], SPEAKERS, "speaker")
    plain = n.adapt(store, [4], SPEAKERS)
    avg_mean = (n.mean["a"] + n.mean["b"]) / 2
    avg_std = (n.std["a"] + n.std["b"]) / 2
    n.prior_clips = 3.0
    one = n.adapt(store, [4], SPEAKERS)              # 1 clip against a prior of 3: w = 1/4
    np.testing.assert_allclose(one.mean["c"], 0.25 * plain.mean["c"] + 0.75 * avg_mean,
                               rtol=1e-5)
    np.testing.assert_allclose(one.std["c"] ** 2, 0.25 * plain.std["c"].astype(np.float64) ** 2
                               + 0.75 * avg_std.astype(np.float64) ** 2, rtol=1e-4)
    # Functionals: one clip has no spread of its own; the average's keeps it finite.
    assert (one.func_std["c"] > 0.1).all()
    # Prediction's path gives the same (the training speakers' average, not the new one's).
    again = n.with_speaker("c", [store[4].frames], [store.arrays["functionals"][4]])
    np.testing.assert_allclose(again.mean["c"], one.mean["c"], rtol=1e-5)
    np.testing.assert_allclose(again.func_mean["c"], one.func_mean["c"], rtol=1e-5)
    # More clips pull less: with both of c's clips w = 2/5.
    two = n.adapt(store, [4, 5], SPEAKERS)
    both = Normalizer.fit(store, [4, 5], SPEAKERS, "speaker")
    np.testing.assert_allclose(two.mean["c"], 0.4 * both.mean["c"] + 0.6 * avg_mean, rtol=1e-5)
    # Stored with the checkpoint, and absent (old bytes) when it is 0.
    assert Normalizer.from_dict(n.to_dict()).prior_clips == 3.0
    assert "prior_clips" not in plain.to_dict()


def test_some_training_rows_are_read_as_an_unknown_speakers():
    from wise.train import UNKNOWN_SPEAKER, Batches, unadapted

    data = Batches(store=None, labels=[0] * 6, speakers=SPEAKERS, inputs=frozenset())
    rng = np.random.default_rng(0)
    assert unadapted(data, [0, 1, 2, 3], 0.0, rng) is data
    assert rng.random() == np.random.default_rng(0).random()    # no draw when off
    out = unadapted(data, [0, 1, 2, 3], 0.5, np.random.default_rng(1))
    assert out.speakers[4:] == SPEAKERS[4:] and data.speakers == SPEAKERS
    changed = [i for i in range(4) if out.speakers[i] == UNKNOWN_SPEAKER]
    assert 0 < len(changed) < 4
    again = unadapted(data, [0, 1, 2, 3], 0.5, np.random.default_rng(1))
    assert again.speakers == out.speakers
    with pytest.raises(ValueError, match="unadapted_fraction"):
        TrainConfig(unadapted_fraction=1.0)
    assert "unadapted_fraction" not in TrainConfig().key_fields()
    assert TrainConfig(adapt_prior_clips=8).key_fields()["adapt_prior_clips"] == 8


def test_statistics_gathered_clip_by_clip_equal_those_of_the_clips_at_once():
    rng = np.random.default_rng(0)
    trained = Normalizer({"a": np.zeros(3, np.float32), "b": np.ones(3, np.float32)},
                         {"a": np.ones(3, np.float32), "b": np.ones(3, np.float32)},
                         "speaker", {"a": np.zeros(2, np.float32), "b": np.zeros(2, np.float32)},
                         {"a": np.ones(2, np.float32), "b": np.ones(2, np.float32)},
                         prior_clips=4.0)
    clips = [rng.normal(size=(n, 3)).astype(np.float32) for n in (5, 9, 2)]
    funcs = [rng.normal(size=2).astype(np.float32) for _ in clips]
    heard = SpeakerStats()
    for c, f in zip(clips, funcs, strict=True):
        heard.add(c, f)
    at_once = trained.with_speaker("x", clips, funcs)
    grown = trained.with_stats("x", heard)
    for d in ("mean", "std", "func_mean", "func_std"):
        np.testing.assert_array_equal(getattr(grown, d)["x"], getattr(at_once, d)["x"])
    assert heard.clips == 3 and heard.n_frames == 16
    assert trained.with_stats("x", SpeakerStats()) is trained          # nothing heard yet
