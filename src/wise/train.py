"""The training loop: plain PyTorch, nothing hidden.

Paper (Sec. 4.2) and SPEC §2: cross-entropy, Adam with lr 1e-3 and a decay of 1e-3 per update
in the Keras sense (lr_t = lr / (1 + decay * t)), L2 1e-4 applied as weight decay, dropout 0.3.
The paper gives no epochs, batch size or stopping rule: we train at most `max_epochs`, keep the
weights of the epoch with the best validation UA, and stop after `patience` epochs without
improvement. The validation rows are carved from the training rows (stratified by class), never
from the test fold.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from wise.batching import Normalizer, collate
from wise.config import TrainConfig
from wise.features.cache import FeatureStore
from wise.metrics import unweighted_accuracy


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@dataclass
class Data:
    """What the loop needs about each row of a feature store."""

    store: FeatureStore
    labels: list[int]       # class index per store row
    speakers: list[str]     # speaker per store row
    word_frames: bool       # whether batches need per-word frames (HR- / mean variants)
    utterance: bool = False  # whether batches need whole-utterance frames and phone ids
    utterance_stats: bool = False  # whether batches need utterance statistics

    def batch(self, rows: list[int], normalizer: Normalizer | None):
        return collate(self.store, rows, [self.labels[i] for i in rows], normalizer,
                       self.speakers, with_word_frames=self.word_frames,
                       with_utterance=self.utterance,
                       with_utterance_stats=self.utterance_stats)


def split_validation(rows: list[int], labels: list[int], fraction: float,
                     seed: int) -> tuple[list[int], list[int]]:
    """Stratified split of training rows into (train, validation)."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for c in sorted({labels[i] for i in rows}):
        idx = np.array([i for i in rows if labels[i] == c])
        rng.shuffle(idx)
        k = max(1, int(round(len(idx) * fraction))) if len(idx) > 1 else 0
        val += idx[:k].tolist()
        train += idx[k:].tolist()
    return sorted(train), sorted(val)


def _batches(rows: list[int], n_words: np.ndarray, size: int,
             rng: np.random.Generator | None) -> list[list[int]]:
    """Batches of similar length (less padding): shuffle, sort within windows of 50 batches,
    then shuffle the batches. Without `rng`: in order, for evaluation."""
    rows = list(rows)
    if rng is None:
        return [rows[i:i + size] for i in range(0, len(rows), size)]
    rng.shuffle(rows)
    window = size * 50
    out = []
    for s in range(0, len(rows), window):
        chunk = sorted(rows[s:s + window], key=lambda i: n_words[i])
        out += [chunk[i:i + size] for i in range(0, len(chunk), size)]
    rng.shuffle(out)
    return out


def should_stop(epoch: int, best_epoch: int, cfg: TrainConfig) -> bool:
    """Early stopping: `patience` epochs without a better validation UA, never before
    `min_epochs`."""
    return epoch >= cfg.min_epochs and epoch - best_epoch >= cfg.patience


@torch.no_grad()
def predict(model: nn.Module, data: Data, rows: list[int], normalizer: Normalizer | None,
            batch_size: int = 64) -> tuple[np.ndarray, list[np.ndarray]]:
    """Class probabilities (len(rows), C) and each utterance's attention weights."""
    model.eval()
    device = next(model.parameters()).device
    probs, alphas = [], []
    for rows_b in _batches(rows, np.zeros(0), batch_size, None):
        b = data.batch(rows_b, normalizer).to(device)
        logits, alpha = model(b)
        probs.append(torch.softmax(logits, -1).cpu().numpy())
        lens = b.utt_len.cpu().numpy()
        alphas += [a[:n] for a, n in zip(alpha.cpu().numpy(), lens, strict=True)]
    return np.concatenate(probs), alphas


def train(model: nn.Module, data: Data, rows: list[int], cfg: TrainConfig, *,
          n_classes: int, progress: bool = True, desc: str = "train") -> dict:
    """Train `model` in place on `rows` (a validation part is carved from them); leave it with
    the weights of the best validation epoch. Returns the history and the normalizer."""
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    device = pick_device(cfg.device)
    model.to(device)
    fit_rows, val_rows = split_validation(rows, data.labels, cfg.val_fraction, cfg.seed)
    normalizer = Normalizer.fit(data.store, fit_rows, data.speakers, cfg.normalize)
    n_words = np.array([data.store.n_words(i) for i in range(len(data.store))])
    y_fit = np.array([data.labels[i] for i in fit_rows])
    weight = None
    if cfg.class_weights:
        counts = np.bincount(y_fit, minlength=n_classes).astype(np.float64)
        weight = torch.tensor(counts.sum() / np.maximum(counts, 1) / n_classes,
                              dtype=torch.float32, device=device)
    loss_fn = nn.CrossEntropyLoss(weight=weight)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 1.0 / (1.0 + cfg.lr_decay * t))
    y_val = np.array([data.labels[i] for i in val_rows])
    best = {"ua": -1.0, "epoch": 0, "state": None}
    history = []
    for epoch in range(1, cfg.max_epochs + 1):
        t0 = time.perf_counter()
        model.train()
        total, seen = 0.0, 0
        batches = _batches(fit_rows, n_words, cfg.batch_size, rng)
        for rows_b in tqdm(batches, desc=f"{desc} epoch {epoch}", unit="batch", leave=False,
                           disable=not progress):
            b = data.batch(rows_b, normalizer).to(device)
            logits, _ = model(b)
            loss = loss_fn(logits, b.labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(rows_b)
            seen += len(rows_b)
        if val_rows:
            probs, _ = predict(model, data, val_rows, normalizer)
            val_ua = unweighted_accuracy(y_val, probs.argmax(1), n_classes)
            val_wa = float((probs.argmax(1) == y_val).mean())
        else:  # too few rows to hold any out: no model selection, the last epoch is kept
            val_ua = val_wa = None
        history.append({"epoch": epoch, "loss": total / seen, "val_ua": val_ua,
                        "val_wa": val_wa, "seconds": round(time.perf_counter() - t0, 2)})
        if val_ua is None or val_ua > best["ua"]:
            best = {"ua": val_ua if val_ua is not None else -1.0, "epoch": epoch,
                    "state": copy.deepcopy(model.state_dict())}
        elif should_stop(epoch, best["epoch"], cfg):
            break
    model.load_state_dict(best["state"])
    return {"history": history, "best_epoch": best["epoch"], "best_val_ua": best["ua"],
            "normalizer": normalizer, "n_fit": len(fit_rows), "n_val": len(val_rows)}
