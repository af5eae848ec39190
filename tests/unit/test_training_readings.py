"""Two readings the paper leaves open, each the other's config field: where the classifier's
dropout sits (`WiseConfig.dropout_at`) and whether the L2 penalty decays biases
(`TrainConfig.l2_on_biases`). At their defaults nothing changes, config hashes included."""

import pytest
import torch
from torch import nn

from wise.config import RunConfig, TrainConfig
from wise.crossval import _config_hash
from wise.models.wise import Wise, WiseConfig
from wise.rows import load_run_config, run_config
from wise.train import optimizer

# Computed before either field existed: runs made then must still be found done.
HASH_WISE = "223c442019795d19"        # _config_hash(RunConfig(), ["a", "b"])
HASH_HR_DMF = "aa7e60a6721a133d"      # _config_hash(load_run_config("hr_dmf"), ["u1", "u2"])


def test_defaults_keep_the_config_hashes_of_runs_made_before_the_fields():
    # Those runs held out rows for early stopping (today's default under leave one session
    # out holds out speakers: another run, tests/unit/test_validation_split.py).
    rows = ["validation=rows"]
    assert _config_hash(RunConfig(train=TrainConfig(validation="rows")), ["a", "b"]) == HASH_WISE
    assert _config_hash(load_run_config("wise", rows), ["a", "b"]) == HASH_WISE
    assert _config_hash(load_run_config("hr_dmf", rows), ["u1", "u2"]) == HASH_HR_DMF
    d = RunConfig().to_dict()
    assert "l2_on_biases" not in d["train"] and "dropout_at" not in d["model_args"]


@pytest.mark.parametrize("option", ["dropout_at=after_relu", "l2_on_biases=false"])
def test_the_other_reading_is_another_run(option):
    run = load_run_config("wise", [option])
    assert _config_hash(run, ["a", "b"]) != HASH_WISE
    assert run_config(run.to_dict()) == run              # as a checkpoint is loaded


def test_an_unknown_dropout_place_is_refused_in_one_line():
    with pytest.raises(ValueError, match="dropout_at must be one of before_linear, after_relu, "
                                         "not 'after_linear'"):
        WiseConfig(dropout_at="after_linear")


def _kinds(fc: nn.Sequential) -> list[str]:
    return [type(m).__name__ for m in fc]


def test_dropout_sits_before_the_first_two_linear_layers_or_after_each_relu():
    before, after = (Wise(WiseConfig(text_dim=50, dropout_at=at))
                     for at in ("before_linear", "after_relu"))
    assert _kinds(before.fc) == ["Dropout", "Linear", "ReLU", "Dropout", "Linear", "ReLU",
                                 "Linear"]                                   # eqs 10-11
    assert _kinds(after.fc) == ["Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout",
                                "Linear"]                                    # Sec. 3.3's prose
    # Dropping everything shows which tensors are dropped: after each ReLU, p_2 is, so the
    # output is the last layer's bias whatever p_c; before the linear layers, p_c is not.
    p_c = torch.randn(3, 200)
    for m in (before, after):
        for d in m.fc:
            if isinstance(d, nn.Dropout):
                d.p = 1.0
    after.fc.train()
    assert torch.equal(after.fc(p_c), after.fc[-1].bias.expand(3, -1))
    before.fc.train()
    assert not torch.equal(before.fc(p_c), before.fc[-1].bias.expand(3, -1))


def test_both_placements_start_from_the_same_weights():
    def weights(at: str) -> list[torch.Tensor]:
        torch.manual_seed(0)
        return [p.detach() for p in Wise(WiseConfig(text_dim=50, dropout_at=at)).parameters()]

    assert all(torch.equal(a, b) for a, b in zip(weights("before_linear"), weights("after_relu"),
                                                 strict=True))


def test_l2_decays_every_parameter_by_default_as_before():
    model = Wise(WiseConfig(text_dim=50))
    (group,) = optimizer(model, TrainConfig()).param_groups
    assert group["weight_decay"] == 1e-4 and group["lr"] == 1e-3
    assert [id(p) for p in group["params"]] == [id(p) for p in model.parameters()]


def test_l2_can_spare_the_biases():
    model = Wise(WiseConfig(text_dim=50))
    weights, biases = optimizer(model, TrainConfig(l2_on_biases=False)).param_groups
    assert (weights["weight_decay"], biases["weight_decay"]) == (1e-4, 0.0)
    names = {id(p): n for n, p in model.named_parameters()}
    spared = sorted(names[id(p)] for p in biases["params"])
    assert spared and all(n.rsplit(".", 1)[1] in ("bias", "bias_ih", "bias_hh", "bias_ih_l0",
                                                  "bias_hh_l0") for n in spared)
    assert {"fc.1.bias", "lstm_t.bias_ih", "phone_gru.bias_hh_l0"} <= set(spared)
    assert len(spared) + len(weights["params"]) == len(names)
    # With no gradient, the penalty alone moves the weights and leaves the biases be.
    opt = optimizer(model, TrainConfig(l2_on_biases=False, weight_decay=0.1))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    for n, p in model.named_parameters():
        assert torch.equal(p, before[n]) == (n in spared), n
