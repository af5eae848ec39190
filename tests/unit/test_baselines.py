"""The Table 1 baselines (MDRE, LSTM+Attn, CNN+Phoneme): shapes, padding, gradients, sizes,
and one tiny cross-validation run through the command line."""

import json
from pathlib import Path

import pytest
import torch

from wise.batching import Batch, BatchInput
from wise.checkpoint import load_checkpoint
from wise.cli import main
from wise.models.baselines import pool_frames
from wise.models.baselines.cnn_phoneme import CnnPhoneme, CnnPhonemeConfig
from wise.models.baselines.lstm_attn import LstmAttnConfig
from wise.models.baselines.mdre import MdreConfig, prosody
from wise.models.build import build_model
from wise.models.wise import n_params
from wise.phones import PHONES
from wise.rows import load_run_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
MODELS = ("mdre", "lstm_attn", "cnn_phoneme")
# Utterances of 3, 5 and 1 words; 23, 41 and 5 frames (5 is shorter than most filters and
# than one pooling window of some strides); 6, 11 and 1 phones.
N_WORDS, N_FRAMES, N_PHONES = (3, 5, 1), (23, 41, 5), (6, 11, 1)


def row_model(name: str, **args):
    """The shipped row's model (configs/<name>.yaml), `args` over its model_args."""
    run = load_run_config(name)
    return build_model(run.model, {**run.model_args, **args})


def utterance_batch(n_words=N_WORDS, n_frames=N_FRAMES, n_phones=N_PHONES, text_dim=300,
                    seed=0) -> Batch:
    """A batch with the fields the baselines read (and no others). Padding holds large random
    values, not zeros, so a model that reads padding fails the tests instead of passing by
    luck."""
    g = torch.Generator().manual_seed(seed)
    B, N, T, Q = len(n_words), max(n_words), max(n_frames), max(n_phones)

    def padded(shape, lengths):
        x = torch.randn(*shape, generator=g)
        real = torch.arange(shape[1])[None, :] < torch.tensor(lengths)[:, None]
        noise = 50 * torch.randn(*shape, generator=g)
        return torch.where(real.reshape(*real.shape, *[1] * (len(shape) - 2)), x, noise)

    starts = torch.cumsum(torch.tensor(n_words), 0) - torch.tensor(n_words)
    steps = torch.arange(N)
    utt_len = torch.tensor(n_words)
    phone_ids = torch.randint(2, len(PHONES), (B, Q), generator=g)   # padding: real-looking ids
    return Batch(
        utt_words=torch.where(steps[None] < utt_len[:, None], starts[:, None] + steps[None], 0),
        utt_len=utt_len, text=padded((B, N, text_dim), n_words),
        labels=torch.tensor([0, 1, 2][:B]),
        utt_frames=padded((B, T, 39), n_frames), utt_frame_len=torch.tensor(n_frames),
        phone_ids=phone_ids, phone_id_len=torch.tensor(n_phones))


def alone(b: Batch, i: int) -> Batch:
    """Utterance i of `b` as a batch of one, with no padding at all."""
    n, t, q = int(b.utt_len[i]), int(b.utt_frame_len[i]), int(b.phone_id_len[i])
    return Batch(
        utt_words=torch.arange(n)[None], utt_len=b.utt_len[i:i + 1],
        text=b.text[i:i + 1, :n], labels=b.labels[i:i + 1],
        utt_frames=b.utt_frames[i:i + 1, :t], utt_frame_len=b.utt_frame_len[i:i + 1],
        phone_ids=b.phone_ids[i:i + 1, :q], phone_id_len=b.phone_id_len[i:i + 1])


@pytest.mark.parametrize("name", MODELS)
def test_forward_shapes_and_uniform_alpha(name):
    torch.manual_seed(0)
    m = row_model(name).eval()
    assert BatchInput.UTTERANCE_FRAMES in m.batch_inputs()
    logits, alpha = m(utterance_batch())
    assert logits.shape == (3, 4) and alpha.shape == (3, 5)
    assert torch.isfinite(logits).all()
    assert torch.allclose(alpha.sum(1), torch.ones(3))
    assert torch.allclose(alpha[0, :3], torch.full((3,), 1 / 3)) and (alpha[0, 3:] == 0).all()


@pytest.mark.parametrize("stride", [1, 3])
@pytest.mark.parametrize("name", MODELS)
def test_an_utterance_scores_the_same_alone_and_in_a_padded_batch(name, stride):
    torch.manual_seed(0)
    m = row_model(name, frame_stride=stride).eval()
    b = utterance_batch()
    logits, _ = m(b)
    for i in range(3):
        solo, _ = m(alone(b, i))
        assert torch.allclose(solo[0], logits[i], atol=1e-5), (i, solo[0], logits[i])


@pytest.mark.parametrize("name", MODELS)
def test_gradients_reach_every_parameter(name):
    torch.manual_seed(0)
    m = row_model(name).train()
    logits, _ = m(utterance_batch())
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2])).backward()
    silent = [n for n, p in m.named_parameters() if p.grad is None or not p.grad.abs().sum()]
    assert not silent


PINNED = {  # logits on utterance_batch(seed=7) after torch.manual_seed(1234)
    "mdre": [[-0.166686, 0.0592, -0.10105, 0.233969],
             [-0.281952, 0.04202, -0.025879, 0.229744],
             [-0.172654, -0.054481, -0.047084, 0.170652]],
    "lstm_attn": [[0.100129, -0.005174, -0.025202, -0.168044],
                  [0.082468, 0.034423, -0.004849, -0.157116],
                  [0.019826, 0.013351, -0.090561, -0.121281]],
    "cnn_phoneme": [[0.46563, -0.050705, 0.09492, -0.295604],
                    [0.548617, -0.044387, 0.00732, -0.397248],
                    [0.41049, -0.16003, -0.029241, -0.140972]],
}


@pytest.mark.parametrize("name", MODELS)
def test_numeric_regression_fixed_seed_and_input(name):
    """Pins each baseline's output: a refactor that changes the math fails here."""
    torch.manual_seed(1234)
    logits, _ = row_model(name).eval()(utterance_batch(seed=7))
    assert torch.allclose(logits, torch.tensor(PINNED[name]), atol=2e-6), logits.tolist()


@pytest.mark.parametrize("name,expected,expected_50d", [
    ("mdre", 489_306, 339_306), ("lstm_attn", 414_788, 286_788),
    ("cnn_phoneme", 122_728, 122_728)])
def test_parameter_counts_are_pinned(name, expected, expected_50d, capsys):
    assert n_params(build_model(name, {})) == expected
    assert n_params(build_model(name, {}, text_dim=50, frame_dim=39)) == expected_50d
    assert main(["params", str(CONFIGS / f"{name}.yaml")]) == 0   # the packaged 50-d vectors
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith(f"{name} (") and last.endswith(f"{expected_50d:,} trainable parameters")


def test_module_sizes_follow_the_configs():
    sizes = {n: n_params(mod) for n, mod in row_model("mdre").named_children()}
    assert sizes == {"audio_gru": 144_600, "text_gru": 301_200, "audio_drop": 0,
                     "text_drop": 0, "audio_proj": 22_578, "text_proj": 20_100, "out": 828}
    # additive attention 128+128 -> 32 -> 1; bilinear is one 128 x 128 matrix
    assert n_params(row_model("lstm_attn", attention="bilinear")) == 414_788 - 8_256 + 16_384
    m = row_model("cnn_phoneme")
    assert m.phone_embed.num_embeddings == len(PHONES) == 41
    assert [c.kernel_size for c in m.spec_convs] == [(2, 9), (4, 9), (8, 9)]


def test_lstm_attn_words_attend_over_all_frames_of_the_utterance():
    torch.manual_seed(0)
    m = row_model("lstm_attn", frame_stride=1).eval()
    b = utterance_batch()
    s = torch.randn(3, 41, 128)
    h = torch.randn(3, 5, 128)
    frames = torch.arange(41)[None, :] < b.utt_frame_len[:, None]
    a = m.align(h, s, frames)                                      # (B, N, T)
    assert torch.allclose(a.sum(-1), torch.ones(3, 5))
    assert (a[0, :, 23:] == 0).all() and (a[2, :, 5:] == 0).all()  # never a padded frame
    assert (a[1] > 0).all() and (a[0, :, :23] > 0).all()          # every real frame, every word


def test_pool_frames_averages_real_frames_only():
    x = torch.arange(14, dtype=torch.float32).view(2, 7, 1)
    x[1, 4:] = 1000.0                                              # padding of utterance 1
    y, n = pool_frames(x, torch.tensor([7, 4]), 3)
    assert n.tolist() == [3, 2]
    assert y[0, :, 0].tolist() == [1.0, 4.0, 6.0]                  # last window: frame 6 alone
    assert y[1, :2, 0].tolist() == [8.0, 10.0]                     # frames 7-9, then 10 only


def test_prosody_is_mean_std_min_max_of_the_real_frames():
    frames = torch.zeros(1, 6, 39)
    frames[0, :4, 0] = torch.tensor([1.0, 2.0, 3.0, 6.0])
    frames[0, 4:, 0] = -99.0                                       # padding
    p = prosody(frames, torch.tensor([4]), (0,), ("mean", "std", "min", "max"))
    assert torch.allclose(p, torch.tensor([[3.0, 3.5 ** 0.5, 1.0, 6.0]]))


def test_bad_choices_are_refused():
    with pytest.raises(ValueError, match="prosody_stats"):
        MdreConfig(prosody_stats=("median",))
    with pytest.raises(ValueError, match="attention"):
        LstmAttnConfig(attention="dot")
    with pytest.raises(ValueError, match="spec_height"):
        CnnPhonemeConfig(spec_height=40)


def test_cv_runs_a_baseline_end_to_end(iemocap_mini, tmp_path):
    manifest = tmp_path / "m.jsonl"
    assert main(["prepare", "iemocap", str(iemocap_mini), "--out", str(manifest),
                 "--missing-alignment", "skip", "--quiet"]) == 0
    out = tmp_path / "run"
    assert main(["cv", "--config", str(CONFIGS / "cnn_phoneme.yaml"), "--manifest",
                 str(manifest), "--out", str(out), "--set", "max_epochs=1", "--set",
                 "batch_size=2", "--quiet", "--workers", "1"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["config"]["model"] == "cnn_phoneme" and s["n_params"] == 122_728
    assert sum(map(sum, s["confusion"])) == 6
    fold = out / "seed_0" / "fold_1"
    rows = [json.loads(x) for x in (fold / "predictions.jsonl").read_text().splitlines()]
    assert all(abs(sum(r["attention"]) - 1) < 1e-3 for r in rows)
    model, run, _, _ = load_checkpoint(fold / "model.wise")
    assert isinstance(model, CnnPhoneme) and run.model == "cnn_phoneme"
