"""Training and inference speed of WISE on IEMOCAP-sized input, and the memory of a full CV.

    python benchmarks/timing/bench_train.py [--utterances 4400] [--epochs 1]
        [--cv-utterances 5531] [--device auto] [--precision fp32] [--out FILE]

IEMOCAP cannot ship, so the benchmark writes a feature pack of random frames whose hierarchy
has IEMOCAP-like sizes (words per utterance lognormal with mean ~11, 1-14 phones per word,
frames per phone around 6 at the 15 ms hop; about 4.5 s per utterance) and times the real
code on it: `collate` + forward + backward + Adam for one epoch, the model alone per utterance
at inference, and the peak memory of the cross-validation loop (5 folds of training and
prediction, 1 epoch each; memory does not grow with more epochs). Writes
benchmarks/results/train.json (or `--out`). `--device cuda --precision bf16` times the GPU path
(benchmarks/gpu_check.sh); timings on CUDA wait for the GPU to finish.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import torch

from wise import LABELS, code_version
from wise.config import FeatureConfig, TrainConfig
from wise.crossval import make_folds
from wise.features.cache import PACK_ARRAYS, FeatureStore
from wise.models.build import build_model
from wise.models.wise import Wise, n_params
from wise.rows import load_run_config
from wise.train import data_for, evaluate, pick_device, train

RESULTS = Path(__file__).resolve().parents[1] / "results"


def wise_model(text_dim: int) -> Wise:
    """The wise row (configs/wise.yaml) for `text_dim`-d word vectors."""
    run = load_run_config("wise")
    return build_model(run.model, run.model_args, text_dim=text_dim)


def fake_pack(folder: Path, n: int, text_dim: int, seed: int = 0) -> FeatureStore:
    """A feature pack with random frames and an IEMOCAP-like hierarchy."""
    rng = np.random.default_rng(seed)
    n_words = np.clip(np.rint(rng.lognormal(np.log(9.0), 0.7, n)), 1, 128).astype(int)
    frames, phone_frames, word_phones, word_frames, vectors = [], [], [], [], []
    offsets = np.zeros((n + 1, 3), np.int64)
    for u in range(n):
        f = p = 0
        ph_rows, wp_rows, wf_rows = [], [], []
        for _ in range(n_words[u]):
            k = int(np.clip(rng.poisson(2.6) + 1, 1, 14))
            wp_rows.append((p, p + k))
            f_start = f
            for _ in range(k):
                length = int(np.clip(rng.poisson(5) + 1, 1, 64))
                ph_rows.append((f, f + length))
                f += length
            p += k
            wf_rows.append((f_start, f))
            f += int(rng.integers(0, 8))            # pauses between words
        frames.append(rng.standard_normal((f + 10, 39), dtype=np.float32))
        phone_frames += ph_rows
        word_phones += wp_rows
        word_frames += wf_rows
        vectors.append(rng.standard_normal((n_words[u], text_dim), dtype=np.float32))
        offsets[u + 1] = offsets[u] + (f + 10, p, n_words[u])
    arrays = {
        "frames": np.concatenate(frames), "phone_frames": np.array(phone_frames, np.int32),
        "word_phones": np.array(word_phones, np.int32),
        "word_frames": np.array(word_frames, np.int32),
        "word_vectors": np.concatenate(vectors), "offsets": offsets,
        "word_oov": np.zeros(int(offsets[-1, 2]), bool),
    }
    assert set(arrays) == set(PACK_ARRAYS)
    for name, a in arrays.items():
        np.save(folder / f"{name}.npy", a)
    ids = [f"utt{u:05d}" for u in range(n)]
    index = {"ids": ids, "entry_keys": ids, "config": FeatureConfig().__dict__,
             "word_tokens": [["w"] * int(k) for k in n_words],
             "phone_tokens": [["AH"] * int(offsets[u + 1, 1] - offsets[u, 1]) for u in range(n)],
             "stats": {}}
    (folder / "index.json").write_text(json.dumps(index))
    return FeatureStore(folder)


class PeakRSS(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak, self.running = 0, True

    def run(self) -> None:
        me = psutil.Process()
        while self.running:
            self.peak = max(self.peak, me.memory_info().rss)
            time.sleep(0.05)

    def stop(self) -> float:
        self.running = False
        self.join()
        return round(self.peak / 2**20, 1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--utterances", type=int, default=4400)
    ap.add_argument("--cv-utterances", type=int, default=5531)
    ap.add_argument("--text-dim", type=int, default=300)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--skip-cv", action="store_true")
    ap.add_argument("--device", default="auto", help="TrainConfig.device (default auto)")
    ap.add_argument("--precision", default="fp32", help="TrainConfig.precision: fp32 or bf16")
    ap.add_argument("--out", type=Path, default=RESULTS / "train.json")
    args = ap.parse_args()
    device = pick_device(args.device)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    result: dict = {"torch_threads": torch.get_num_threads(), "cores": psutil.cpu_count(),
                    "cpu": platform.processor() or platform.machine(),
                    "code_version": code_version(), "text_dim": args.text_dim,
                    "device": str(device), "precision": args.precision,
                    "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
                    "load_average_at_start": list(psutil.getloadavg())}
    with tempfile.TemporaryDirectory() as tmp:
        store = fake_pack(Path(tmp), args.utterances, args.text_dim)
        labels = rng.integers(0, len(LABELS), len(store)).tolist()
        speakers = [f"s{i % 10}" for i in range(len(store))]
        model = wise_model(args.text_dim)
        data = data_for(model, store, labels, speakers)
        cfg = TrainConfig(max_epochs=args.epochs, patience=99, val_fraction=0.01,
                          device=args.device, precision=args.precision)
        t0 = time.perf_counter()
        info = train(model, data, list(range(len(store))), cfg, n_classes=len(LABELS),
                     progress=False)
        result.update({
            "train_utterances": info.n_fit, "n_params": n_params(model),
            "epoch_seconds": [h["seconds"] for h in info.history],
            "train_seconds_total": round(time.perf_counter() - t0, 1),
            "mean_words": round(float(np.mean([store.n_words(i) for i in range(len(store))])),
                                2),
            "mean_audio_seconds": round(float(store.arrays["frames"].shape[0]) * 0.015
                                        / len(store), 2),
        })
        # Inference, model only: batch of one, features already collated.
        model.eval()
        times = []
        with torch.no_grad():
            for i in rng.choice(len(store), 200, replace=False):
                b = data.batch([int(i)], info.normalizer).to(device)
                sync()
                t = time.perf_counter()
                model(b)
                sync()
                times.append(time.perf_counter() - t)
        result["inference_ms_per_utterance_median"] = round(1000 * float(np.median(times)), 2)
        result["inference_ms_per_utterance_p90"] = round(1000 * float(np.percentile(times, 90)),
                                                         2)
        t = time.perf_counter()
        evaluate(model, data, list(range(len(store))), info.normalizer)
        result["batched_inference_ms_per_utterance"] = round(
            1000 * (time.perf_counter() - t) / len(store), 3)
    if not args.skip_cv:
        with tempfile.TemporaryDirectory() as tmp:
            sampler = PeakRSS()
            sampler.start()
            store = fake_pack(Path(tmp), args.cv_utterances, args.text_dim, seed=1)
            labels = rng.integers(0, len(LABELS), len(store)).tolist()
            speakers = [f"Ses0{i % 5 + 1}{'FM'[i % 2]}" for i in range(len(store))]
            sessions = [s[:5] for s in speakers]
            rows = list(range(len(store)))
            for _, test in make_folds(rows, labels, sessions, "session", 5, 0):
                test_set = set(test)
                m = wise_model(args.text_dim)
                data = data_for(m, store, labels, speakers)
                info = train(m, data, [i for i in rows if i not in test_set],
                             TrainConfig(max_epochs=1, device=args.device,
                                         precision=args.precision),
                             n_classes=len(LABELS), progress=False)
                evaluate(m, data, test, info.normalizer)
            result["cv_utterances"] = len(store)
            result["cv_peak_rss_mib"] = sampler.stop()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
