"""Training options added after the first runs: precision keeps old config hashes; the
prefetching batch loader; the device of each rank."""

import threading

import pytest
import torch

from wise.batching import prefetch
from wise.config import RunConfig, TrainConfig
from wise.crossval import _config_hash
from wise.distributed import World
from wise.rows import run_config
from wise.train import pick_device

# `_config_hash(RunConfig(), ["a", "b"])` before TrainConfig had `precision`: a run made then
# must still be found done (resumed, not retrained) now that the field exists.
HASH_BEFORE_PRECISION = "223c442019795d19"


def test_a_default_precision_keeps_the_hash_of_runs_made_before_it():
    rows = RunConfig(train=TrainConfig(validation="rows"))   # as every run before it was
    assert _config_hash(rows, ["a", "b"]) == HASH_BEFORE_PRECISION
    assert "precision" not in RunConfig().to_dict()["train"]


def test_bf16_is_a_different_run_and_survives_a_checkpoint_round_trip():
    bf16 = run_config({"train": {"precision": "bf16"}})
    assert bf16.train.precision == "bf16"
    assert _config_hash(bf16, ["a", "b"]) != HASH_BEFORE_PRECISION
    again = run_config(bf16.to_dict())                  # as a checkpoint is loaded
    assert again == bf16
    assert run_config(RunConfig().to_dict()).train.precision == "fp32"


def test_an_unknown_precision_is_refused_in_one_line():
    with pytest.raises(ValueError, match="precision must be one of fp32, bf16, not 'fp16'"):
        TrainConfig(precision="fp16")


def test_prefetch_keeps_order_and_works_ahead_in_another_thread():
    threads = []

    def work(x: int) -> int:
        threads.append(threading.get_ident())
        return x * x

    assert list(prefetch(work, [1, 2, 3, 4])) == [1, 4, 9, 16]
    assert threading.get_ident() not in threads
    assert list(prefetch(work, [])) == []


def test_prefetch_raises_at_the_failing_item():
    def work(x: int) -> int:
        if x == 3:
            raise ValueError("bad item 3")
        return x

    got = []
    with pytest.raises(ValueError, match="bad item 3"):
        for y in prefetch(work, [1, 2, 3, 4]):
            got.append(y)
    assert got == [1, 2]


def test_each_rank_gets_its_own_gpu_and_shard():
    assert pick_device("cpu", local_rank=1) == torch.device("cpu")
    assert pick_device("cuda", local_rank=1) == torch.device("cuda", 1)
    assert pick_device("cuda:0", local_rank=1) == torch.device("cuda", 0)
    rows = list(range(7))
    shards = [World(rank=r, size=3).shard(rows) for r in range(3)]
    assert sorted(sum(shards, [])) == rows and shards[0] == [0, 3, 6]
    assert World(rank=1, size=2).shard([5]) == []
