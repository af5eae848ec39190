import pytest
import torch

from wise.batching import Batch
from wise.models.build import build_model
from wise.models.wise import Wise, WiseConfig, n_params
from wise.rows import load_run_config


def row_model(name: str, *sets: str) -> Wise:
    """The shipped row's model (configs/<name>.yaml) with `--set` items, as `wise params`
    builds it: with the paper's 300-d text vectors unless a set says otherwise."""
    run = load_run_config(name, list(sets))
    return build_model(run.model, run.model_args)


def random_batch(n_words=(3, 5, 1), text_dim=300, seed=0) -> Batch:
    """A batch with the shapes collate() makes: words of 1-4 phones of 1-6 frames."""
    g = torch.Generator().manual_seed(seed)
    word_len = torch.randint(1, 5, (sum(n_words),), generator=g)
    phone_len = torch.randint(1, 7, (int(word_len.sum()),), generator=g)
    P, W = len(phone_len), len(word_len)
    phone_frames = torch.randn(P, int(phone_len.max()), 39, generator=g)
    phone_frames *= (torch.arange(phone_frames.shape[1])[None, :] < phone_len[:, None])[..., None]
    starts = torch.cumsum(word_len, 0) - word_len
    steps = torch.arange(int(word_len.max()))
    word_phones = torch.where(steps[None] < word_len[:, None], starts[:, None] + steps[None], 0)
    w_starts = torch.cumsum(torch.tensor(n_words), 0) - torch.tensor(n_words)
    steps = torch.arange(max(n_words))
    lens = torch.tensor(n_words)
    utt_words = torch.where(steps[None] < lens[:, None], w_starts[:, None] + steps[None], 0)
    text = torch.randn(len(n_words), max(n_words), text_dim, generator=g)
    text *= (steps[None] < lens[:, None])[..., None]
    word_frames = torch.randn(W, 8, 39, generator=g)
    return Batch(phone_frames=phone_frames, phone_len=phone_len, word_phones=word_phones,
                 word_len=word_len, word_frames=word_frames,
                 word_frame_len=torch.randint(1, 9, (W,), generator=g),
                 word_mean=word_frames.mean(1), utt_words=utt_words, utt_len=lens, text=text,
                 labels=torch.zeros(len(n_words), dtype=torch.long))


def test_parameter_count_matches_the_paper_sizes():
    m = row_model("wise")
    assert n_params(m) == 584_654
    sizes = {name: sum(p.numel() for p in mod.parameters()) for name, mod in m.named_children()}
    assert sizes == {"phone_gru": 13_650, "word_gru": 45_600, "lstm_a": 80_800,
                     "lstm_t": 271_200, "W_a": 20_000, "W_t": 30_000, "fc": 60_704}
    assert m.interaction.shape == (250, 250)


@pytest.mark.parametrize("row,expected", [
    ("audio_only", 220_954), ("text_only", 362_104), ("im_dmf", 501_004),
    ("hr_dmf", 522_154), ("im_hr", 584_454), ("im_dmf_hr_minus", 567_704)])
def test_ablations_remove_exactly_their_part(row, expected):
    assert n_params(row_model(row)) == expected


def test_interaction_init_std_is_the_papers():
    torch.manual_seed(0)
    w = row_model("wise").interaction.detach()
    assert abs(float(w.std()) - 0.05) < 0.002 and abs(float(w.mean())) < 0.002


@pytest.mark.parametrize("row", [
    ("wise",), ("audio_only",), ("text_only",), ("im_dmf",), ("hr_dmf",), ("im_hr",),
    ("im_dmf_hr_minus",), ("hr_lstm",), ("hr_bilstm",), ("hr_bigru",), ("swap_inputs",),
    ("wise", "interaction_cell=true"), ("im_hr", "pooling=mean")])
def test_an_utterance_scores_the_same_alone_and_in_a_padded_batch(row):
    torch.manual_seed(0)
    m = row_model(*row).eval()
    b = random_batch()
    logits, alpha = m(b)
    assert torch.allclose(alpha.sum(1), torch.ones(3))
    assert (alpha[2, 1:] == 0).all()  # padding words get no weight
    # utterance 1 (5 words) alone: rebuild the batch with only its words
    solo = random_batch()
    keep = slice(3, 8)
    words = solo.utt_words[1, :5]
    phone_rows = torch.cat([torch.arange(int(s), int(s + n)) for s, n in zip(
        (torch.cumsum(solo.word_len, 0) - solo.word_len)[keep], solo.word_len[keep],
        strict=True)])
    remap = {int(p): i for i, p in enumerate(phone_rows)}
    one = Batch(
        phone_frames=solo.phone_frames[phone_rows], phone_len=solo.phone_len[phone_rows],
        word_phones=torch.tensor([[remap.get(int(p), 0) for p in row] for row in
                                  solo.word_phones[words]]),
        word_len=solo.word_len[words], word_frames=solo.word_frames[words],
        word_frame_len=solo.word_frame_len[words], word_mean=solo.word_mean[words],
        utt_words=torch.arange(5)[None], utt_len=torch.tensor([5]), text=solo.text[1:2],
        labels=torch.zeros(1, dtype=torch.long))
    alone, _ = m(one)
    assert torch.allclose(alone[0], logits[1], atol=1e-5)


def test_numeric_regression_fixed_seed_and_input():
    """Pins WISE's output: a refactor that changes the math fails here."""
    torch.manual_seed(1234)
    m = row_model("wise").eval()
    logits, alpha = m(random_batch(seed=7))
    expected_logits = torch.tensor([
        [-0.0198973, 0.0038352, -0.0654862, -0.0981108],
        [-0.0185372, -0.0011609, -0.0760972, -0.1073122],
        [-0.0104043, -0.0007129, -0.0640080, -0.1069118]])
    expected_alpha = torch.tensor([
        [0.336019, 0.334965, 0.329016, 0.0, 0.0],
        [0.216363, 0.185350, 0.206506, 0.200745, 0.191036],
        [1.0, 0.0, 0.0, 0.0, 0.0]])
    assert torch.allclose(logits, expected_logits, atol=2e-6), logits.tolist()
    assert torch.allclose(alpha, expected_alpha, atol=2e-6), alpha.tolist()


def test_swap_inputs_feeds_text_to_the_audio_lstm():
    m = row_model("swap_inputs")
    assert m.lstm_a.input_size == 300 and m.lstm_t.input_size == 100


def test_bad_choices_are_refused():
    with pytest.raises(ValueError, match="hr_cell"):
        WiseConfig(hr_cell="transformer")
    with pytest.raises(ValueError, match="no interaction"):
        WiseConfig(modality="audio")
