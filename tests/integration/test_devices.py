"""Training and prediction on CUDA, in fp32 and bf16 (`gpu`: skipped without a GPU), and the
bf16 option on the CPU."""

import math

import numpy as np
import pytest
import torch

from wise.batching import BatchInput
from wise.checkpoint import load_checkpoint
from wise.cli import main
from wise.rows import load_run_config
from wise.runtime import Runtime
from wise.train import Batches, batches_on, data_for
from wise.train import evaluate as predict
from wise.train import load_corpus as load

TINY = ["--set", "max_epochs=2", "--set", "min_epochs=1", "--set", "batch_size=2", "--quiet",
        "--workers", "1"]
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")


def _train(manifest, tmp_path, device: str, precision: str) -> dict:
    ckpt = tmp_path / f"{device}-{precision}.wise"
    assert main(["train", "--config", "wise", "--manifest", str(manifest), "--out", str(ckpt),
                 "--cache", str(tmp_path / "cache"), *TINY, "--set", f"device={device}",
                 "--set", f"precision={precision}"]) == 0
    return torch.load(ckpt, weights_only=True)


def _check_history(blob: dict, precision: str) -> None:
    assert blob["run"]["train"].get("precision", "fp32") == precision
    history = blob["extra"]["history"]
    assert len(history) == 2
    assert all(math.isfinite(h["loss"]) and 0.0 <= h["val_ua"] <= 1.0 for h in history)


def test_bf16_trains_on_the_cpu_too(mini_manifest, tmp_path):
    _check_history(_train(mini_manifest, tmp_path, "cpu", "bf16"), "bf16")


@pytest.mark.gpu
@cuda
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_cuda_training_gives_a_finite_loss_and_a_validation_ua(mini_manifest, tmp_path,
                                                                precision):
    _check_history(_train(mini_manifest, tmp_path, "cuda", precision), precision)


@pytest.mark.gpu
@cuda
def test_cuda_predicts_what_the_cpu_predicts(mini_manifest, tmp_path):
    """The same weights score the same on both; the tolerance allows for TF32 in cuDNN's
    recurrent kernels (not measured yet)."""
    _train(mini_manifest, tmp_path, "cpu", "fp32")
    model, run, normalizer, _ = load_checkpoint(tmp_path / "cpu-fp32.wise")
    d = load(run, mini_manifest, Runtime(cache=tmp_path / "cache", workers=1, progress=False))
    data = data_for(model, d.store, d.labels, d.speakers)
    rows = list(range(len(d.store)))
    cpu, cpu_alpha = predict(model, data, rows, normalizer, batch_size=4)
    cuda, cuda_alpha = predict(model.to("cuda"), data, rows, normalizer, batch_size=4)
    np.testing.assert_allclose(cuda, cpu, atol=2e-3)
    for a, b in zip(cuda_alpha, cpu_alpha, strict=True):
        np.testing.assert_allclose(a, b, atol=2e-3)


@pytest.mark.gpu
@cuda
def test_pinned_prefetched_batches_are_the_cpu_batches(mini_manifest, tmp_path):
    run = load_run_config("wise", [])
    d = load(run, mini_manifest, Runtime(cache=tmp_path / "cache", workers=1, progress=False))
    data = Batches(d.store, d.labels, d.speakers, frozenset(BatchInput))  # every field filled
    batches = [[0, 1], [2, 3, 4], [5]]
    on_cpu = list(batches_on(data, batches, None, torch.device("cpu")))
    on_gpu = list(batches_on(data, batches, None, torch.device("cuda")))
    assert len(on_gpu) == len(on_cpu) == 3
    for g, c in zip(on_gpu, on_cpu, strict=True):
        for name, t in c.__dict__.items():
            assert getattr(g, name).device.type == "cuda"
            assert torch.equal(getattr(g, name).cpu(), t), name
