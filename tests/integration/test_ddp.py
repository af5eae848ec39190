"""`torchrun -m wise train`: two processes train one model with DDP (gloo, loopback) and get
the single-process training, up to float rounding.

Measured (CPU, 40-utterance synthetic corpus, batch 11 so one rank's shard of the last batch
is empty, class weights on, dropout 0): per-epoch training loss within 7e-8 relative of the
single process's over 12 epochs, and 5e-8 over 10 epochs of 259 utterances; the validation
UA and the best epoch are the same. RTOL below leaves a margin of about 100x. Dropout is off
because each rank draws its own masks for its own rows (with dropout 0.3 the losses differed
by 2%: the same training in distribution, not in numbers)."""

import json
import math
import os
import socket
import subprocess
import sys

import pytest
import torch

from wise.cli import main

pytestmark = pytest.mark.slow

RTOL = 1e-5
RTOL_CUDA = 1e-3   # not measured yet (no machine with 2 GPUs): GPU kernels add up in other orders
SETS = ["--set", "max_epochs=3", "--set", "min_epochs=3", "--set", "batch_size=11",
        "--set", "dropout=0.0", "--set", "class_weights=true"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    assert main(["synth", str(root / "corpus"), "--utterances", "40", "--seed", "3",
                 "--workers", "1", "--quiet"]) == 0
    assert main(["prepare", "iemocap", str(root / "corpus"), "--out", str(root / "m.jsonl"),
                 "--quiet"]) == 0
    return root


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(n: int, argv: list[str], device: str = "cpu") -> subprocess.CompletedProcess:
    """`torchrun --nproc-per-node n -m wise ARGV` on the loopback interface only."""
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "MASTER_ADDR": "127.0.0.1"}
    return subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(n),
         "--master-addr", "127.0.0.1", "--master-port", str(_free_port()),
         "-m", "wise", *argv, "--set", f"device={device}"],
        capture_output=True, text=True, env=env, timeout=600)


def _compare_with_one_process(corpus, tmp_path, device: str, rtol: float) -> None:
    argv = ["train", "--config", "wise", "--manifest", str(corpus / "m.jsonl"),
            "--cache", str(corpus / "cache"), "--quiet", "--workers", "1", *SETS]
    out2 = tmp_path / "two"
    r = torchrun(2, [*argv, "--out", str(out2 / "model.wise")], device)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "by 2 processes" in r.stdout and r.stdout.count("wrote ") == 1
    assert [p.name for p in out2.iterdir()] == ["model.wise"]       # one checkpoint, no temp
    assert main([*argv, "--out", str(tmp_path / "one.wise"), "--set", f"device={device}"]) == 0
    one, two = (torch.load(p, weights_only=True)["extra"]
                for p in (tmp_path / "one.wise", out2 / "model.wise"))
    assert (one["world_size"], two["world_size"]) == (1, 2)
    h1, h2 = one["history"], two["history"]
    assert len(h1) == len(h2) == 3
    worst = max(abs(a["loss"] - b["loss"]) / a["loss"] for a, b in zip(h1, h2, strict=True))
    print(json.dumps({"device": device, "max_relative_loss_difference": worst}))
    assert all(math.isfinite(a["loss"]) for a in h2)
    assert worst < rtol
    if device == "cpu":      # on GPUs a near tie between two classes might tip either way
        assert [a["val_ua"] for a in h1] == [b["val_ua"] for b in h2]
        assert one["best_epoch"] == two["best_epoch"]


def test_two_processes_train_the_one_process_model(corpus, tmp_path):
    _compare_with_one_process(corpus, tmp_path, "cpu", RTOL)


@pytest.mark.gpu
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="DDP over nccl needs 2 CUDA GPUs")
def test_two_gpus_train_the_one_gpu_model(corpus, tmp_path):
    _compare_with_one_process(corpus, tmp_path, "cuda", RTOL_CUDA)


def test_only_train_runs_under_torchrun(corpus):
    r = torchrun(2, ["cv", "--config", "wise", "--manifest", str(corpus / "m.jsonl")])
    assert r.returncode != 0
    assert "wise: error: only `wise train` runs under torchrun" in r.stderr
