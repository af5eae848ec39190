"""A model declares the optional batch fields it reads (`batch_inputs()`); `collate` builds
those and no others, and every declared one is really read."""

import numpy as np
import pytest
import torch

from wise.batching import Batch, BatchInput, collate
from wise.config import CONFIG_DIR, FeatureConfig
from wise.features.cache import UtteranceFeatures
from wise.models.build import CLASSIC, build_model
from wise.phones import PHONES
from wise.rows import load_run_config

TEXT_DIM = 50
ROWS = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")
              if load_run_config(p.stem).model not in CLASSIC)
ALWAYS = {"utt_words", "utt_len", "labels"}
FIELDS = {  # each optional input and the Batch fields it fills
    BatchInput.TEXT: {"text"},
    BatchInput.PHONES: {"phone_frames", "phone_len", "word_phones", "word_len"},
    BatchInput.WORD_FRAMES: {"word_frames", "word_frame_len"},
    BatchInput.WORD_MEAN: {"word_mean"},
    BatchInput.UTTERANCE_FRAMES: {"utt_frames", "utt_frame_len"},
    BatchInput.PHONE_IDS: {"phone_ids", "phone_id_len"},
    BatchInput.UTTERANCE_STATS: {"utt_stats"},
}


def utterance(n_words: int, frame_dim: int, n_functionals: int, rng) -> UtteranceFeatures:
    """Words of 1-3 phones of 2-5 frames, with a silent frame between words."""
    phone_frames, word_phones, word_frames, phones = [], [], [], []
    f = 0
    for _ in range(n_words):
        start, p0 = f, len(phone_frames)
        for _ in range(rng.integers(1, 4)):
            n = int(rng.integers(2, 6))
            phone_frames.append((f, f + n))
            phones.append(PHONES[int(rng.integers(2, len(PHONES)))])
            f += n
        word_phones.append((p0, len(phone_frames)))
        word_frames.append((start, f))
        f += 1
    return UtteranceFeatures(
        id=f"u{n_words}", frames=rng.standard_normal((f, frame_dim)).astype(np.float32),
        phone_frames=np.array(phone_frames), word_phones=np.array(word_phones),
        word_frames=np.array(word_frames),
        word_vectors=rng.standard_normal((n_words, TEXT_DIM)).astype(np.float32),
        word_oov=np.zeros(n_words, bool), words=["w"] * n_words, phones=phones,
        functionals=(rng.standard_normal(n_functionals).astype(np.float32)
                     if n_functionals else None))


def row(name: str):
    run = load_run_config(name)
    f = run.features
    model = build_model(run.model, run.model_args, text_dim=TEXT_DIM, frame_dim=f.frame_dim,
                        n_functionals=f.n_functionals).eval()
    rng = np.random.default_rng(0)
    store = [utterance(n, f.frame_dim, f.n_functionals, rng) for n in (3, 5, 1)]
    return model, store, f


def batch(store: list, inputs, features: FeatureConfig) -> Batch:
    return collate(store, [0, 1, 2], [0, 1, 2], None, ["a", "b", "c"], inputs=inputs,
                   max_word_frames=features.max_word_frames)


def test_every_torch_row_is_checked():
    assert {"wise", "audio_only", "text_only", "im_dmf", "im_dmf_hr_minus", "wise_plus", "mdre",
            "lstm_attn", "cnn_phoneme"} <= set(ROWS)


@pytest.mark.parametrize("name", ROWS)
def test_a_model_runs_on_exactly_what_it_declares(name):
    model, store, features = row(name)
    inputs = model.batch_inputs()
    b = batch(store, inputs, features)
    filled = {k for k, v in b.__dict__.items() if v.numel()}
    assert filled == ALWAYS | set().union(*(FIELDS[i] for i in inputs))
    with torch.no_grad():
        logits, alpha = model(b)
    assert logits.shape == (3, 4) and alpha.shape == (3, 5)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("name", ROWS)
def test_every_declared_input_is_read(name):
    model, store, features = row(name)
    inputs = model.batch_inputs()
    for missing in inputs:
        with torch.no_grad(), pytest.raises((RuntimeError, IndexError, ValueError)):
            model(batch(store, inputs - {missing}, features))


def test_the_word_frame_cap_comes_from_the_feature_config():
    _, store, features = row("im_dmf_hr_minus")
    long_word = max(int(w[1] - w[0]) for u in store for w in u.word_frames)
    capped = FeatureConfig(max_phones_per_word=1, max_frames_per_phone=3)
    assert long_word > capped.max_word_frames == 3
    assert features.max_word_frames == 14 * 64
    b = batch(store, {BatchInput.WORD_FRAMES}, capped)
    assert int(b.word_frame_len.max()) == 3 and b.word_frames.shape[1] == 3
    full = batch(store, {BatchInput.WORD_FRAMES}, features)
    assert int(full.word_frame_len.max()) == long_word
