"""The training loop: plain PyTorch, nothing hidden.

Paper (Sec. 4.2) and docs/training.md: cross-entropy, Adam with lr 1e-3 and a decay of 1e-3 per
update in the Keras sense (lr_t = lr / (1 + decay * t)), L2 1e-4 applied as weight decay,
dropout 0.3. The paper gives no epochs, batch size or stopping rule: we train at most
`max_epochs`, keep the weights of the epoch with the best validation UA, and stop after
`patience` epochs without improvement. The validation rows are carved from the training rows,
never from the test fold: a stratified tenth of them, or with `validation: speakers` whole
training speakers (`validation_split`).

On CUDA the next batch is collated in a background thread into pinned memory while the GPU
runs this one (`batches_on`); `precision: bf16` runs the forward pass and the loss under
autocast. Under torchrun several processes train one model (`wise.distributed`): each takes
its shard of every global batch, and the loss is scaled so that DDP's average of their
gradients is the single-process gradient of the whole batch.

`train_final` (`wise train`) trains one model on a whole manifest and writes its checkpoint;
cross-validation (`wise.crossval`) trains one per (seed, fold) with the same pieces:
`load_corpus`, `new_model`, `init_seed`, `deterministic`.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from wise.batching import Batch, BatchInput, collate, prefetch
from wise.checkpoint import save_checkpoint
from wise.config import RunConfig, TrainConfig
from wise.corpora.synthetic import from_synthetic_corpus
from wise.distributed import SINGLE, World, process_group
from wise.errors import Skips, WiseError
from wise.features.cache import FeatureBuild, FeatureStore, build_features, cache_dir
from wise.labels import LABELS
from wise.metrics import unweighted_accuracy
from wise.models.build import build_model, is_classic
from wise.models.protocol import TorchModel
from wise.models.wise import Wise, n_params
from wise.normalize import Normalizer
from wise.progress import progress_bar
from wise.runtime import DEFAULT_RUNTIME, Runtime
from wise.utterance import read_manifest
from wise.version import code_version


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    """`TrainConfig.device` as a torch device: "auto" is CUDA when available. A CUDA device
    without an index is GPU `local_rank` (under torchrun, each process's own GPU)."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank)
    return device


@dataclass
class Batches:
    """What the training loop makes its batches from: a feature store, each store row's label
    and speaker, and the batch fields the model reads."""

    store: FeatureStore
    labels: list[int]       # class index per store row
    speakers: list[str]     # speaker per store row
    inputs: frozenset[BatchInput]  # the optional batch fields the model reads

    def batch(self, rows: list[int], normalizer: Normalizer | None) -> Batch:
        return collate(self.store, rows, [self.labels[i] for i in rows], normalizer,
                       self.speakers, inputs=self.inputs,
                       max_word_frames=self.store.config.max_word_frames)


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


def split_validation_speakers(rows: list[int], speakers: list[str], fraction: float,
                              seed: int) -> tuple[list[int], list[int]] | None:
    """Split training rows into (train, validation) by whole speakers: in an order shuffled by
    `seed`, each speaker joins the validation part when that brings its rows closer to
    `fraction` of all; at least one speaker, never all. None when `rows` have fewer than two
    speakers (nobody to hold out)."""
    by_speaker: dict[str, list[int]] = {}
    for i in rows:
        by_speaker.setdefault(speakers[i], []).append(i)
    if len(by_speaker) < 2:
        return None
    names = sorted(by_speaker)           # the order rows come in does not matter
    order = [names[j] for j in np.random.default_rng(seed).permutation(len(names))]
    target = fraction * len(rows)
    held, n_held = [], 0
    for name in order:
        n = len(by_speaker[name])
        if abs(n_held + n - target) < abs(n_held - target):
            held.append(name)
            n_held += n
    if not held:         # every speaker alone overshoots by more than `target`: the nearest one
        held = [min(order, key=lambda name: abs(len(by_speaker[name]) - target))]
    # A speaker joins only below 2 x target, and fraction < 0.5: someone is always left.
    val = sorted(i for name in held for i in by_speaker[name])
    held_set = set(held)
    return sorted(i for i in rows if speakers[i] not in held_set), val


def validation_split(rows: list[int], labels: list[int], speakers: list[str],
                     cfg: TrainConfig) -> tuple[list[int], list[int], dict | None]:
    """(train, validation, note) for `cfg.validation`: "rows", a stratified `val_fraction` of
    the rows (note None); "speakers", whole speakers held out (`split_validation_speakers`;
    note: which), or, when the rows have fewer than two speakers, the rows split with a note
    that says so. "auto" left unresolved (a TrainConfig used without a RunConfig, which knows
    no protocol) is "speakers": the safe choice when the test speakers may be unseen.
    Deterministic: every rank under torchrun makes the same split."""
    if cfg.validation in ("speakers", "auto"):
        split = split_validation_speakers(rows, speakers, cfg.val_fraction, cfg.seed)
        if split is not None:
            fit, val = split
            return fit, val, {"split": "speakers", "n_val": len(val),
                              "speakers": sorted({speakers[i] for i in val})}
        fit, val = split_validation(rows, labels, cfg.val_fraction, cfg.seed)
        return fit, val, {"split": "rows", "n_val": len(val),
                          "why": f"validation={cfg.validation}, but the training rows have "
                                 "fewer than 2 speakers: rows held out instead"}
    fit, val = split_validation(rows, labels, cfg.val_fraction, cfg.seed)
    return fit, val, None


@dataclass
class Trained:
    """What `train` hands back (the model itself is trained in place)."""

    history: list[dict]         # per epoch: {"epoch", "loss", "val_ua", "val_wa", "seconds"}
    best_epoch: int             # the epoch whose weights the model was left with
    best_val_ua: float          # its validation UA (-1.0 with no rows held out)
    normalizer: Normalizer      # the statistics it was trained with: saved beside it
    n_fit: int                  # rows trained on
    n_val: int                  # rows held out for early stopping
    world_size: int             # processes that trained it together
    validation: dict | None     # which speakers were held out (validation: speakers), or None

    def validation_note(self) -> dict:
        """The validation note for a results file: absent under the default (`validation:
        rows`), so that results files keep their form under it."""
        return {} if self.validation is None else {"validation": self.validation}


@dataclass(frozen=True)
class Saved:
    """What `train_final` hands back: the checkpoint it wrote and how the training went."""

    out: str
    n_params: int
    main: bool                  # this process is rank 0 (it alone wrote and reports)
    n_fit: int
    n_val: int
    best_epoch: int
    best_val_ua: float
    world_size: int


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


def batches_on(data: Batches, batches: list[list[int]], normalizer: Normalizer | None,
               device: torch.device) -> Iterator[Batch]:
    """The collated `batches` on `device`, in order. On CUDA each is collated in a background
    thread into pinned memory while the GPU works on the one before, and copied without
    blocking; elsewhere one after the other (the same tensors either way)."""
    if device.type != "cuda":
        for rows in batches:
            yield data.batch(rows, normalizer).to(device)
        return

    def pinned(rows: list[int]) -> Batch:
        torch.cuda.set_device(device)    # a thread's current GPU is its own (else GPU 0's)
        return data.batch(rows, normalizer).pin_memory()

    for b in prefetch(pinned, batches):
        yield b.to(device, non_blocking=True)


UNKNOWN_SPEAKER = "<unknown>"
"""A speaker key no normaliser holds: normalised with the training speakers' average."""


def as_unknown(data: Batches) -> Batches:
    """`data` with every row an unknown speaker's."""
    return replace(data, speakers=[UNKNOWN_SPEAKER] * len(data.speakers))


def start_from_readout(model: nn.Module, data: Batches, rows: list[int], normalizer: Normalizer,
                       cfg: TrainConfig, n_classes: int, device: torch.device) -> None:
    """TrainConfig.readout_first: the model's utterance read-out fitted alone on `rows`, with
    balanced class weights n / (k n_c) as the probe row's (`Wise.start_from_readout`). With
    `readout_mix`, on each row twice: with its speaker's statistics (weight 1 - f) and as an
    unknown speaker's (weight f = unadapted_fraction), the mix training then draws from."""
    if not (isinstance(model, Wise) and model.cfg.utterance_logits):
        raise WiseError(None, "readout_first needs a WISE model with utterance_logits: true")
    stats_only = replace(data, inputs=frozenset({BatchInput.UTTERANCE_STATS}))
    views = [(stats_only, 1.0)]
    if cfg.readout_mix:
        f = cfg.unadapted_fraction
        views = [(stats_only, 1.0 - f), (as_unknown(stats_only), f)]
    batches = [(d.batch(rows, normalizer), w) for d, w in views]
    labels = batches[0][0].labels
    class_weight = balanced_weights(labels.numpy(), n_classes)
    model.start_from_readout(
        torch.cat([b.utt_stats for b, _ in batches]).to(device),
        torch.cat([b.labels for b, _ in batches]).to(device),
        torch.tensor(class_weight, dtype=torch.float32, device=device),
        cfg.readout_C,
        torch.cat([torch.full((len(rows),), w) for _, w in batches]).to(device))


def balanced_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    """(n_classes,) float64 class weights n / (k n_c) of labels `y` (scikit-learn's
    "balanced"); a class absent from `y` counts as one row."""
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    return counts.sum() / np.maximum(counts, 1) / n_classes


def unadapted(data: Batches, rows: list[int], fraction: float, rng: np.random.Generator) -> Batches:
    """`data` with about `fraction` of `rows` made an unknown speaker's (TrainConfig.
    unadapted_fraction); `data` itself, and no draw from `rng`, when `fraction` is 0."""
    if fraction <= 0:
        return data
    speakers = list(data.speakers)
    for i in np.asarray(rows)[rng.random(len(rows)) < fraction]:
        speakers[i] = UNKNOWN_SPEAKER
    return replace(data, speakers=speakers)


def should_stop(epoch: int, best_epoch: int, cfg: TrainConfig) -> bool:
    """Early stopping: `patience` epochs without a better validation UA, never before
    `min_epochs`."""
    return epoch >= cfg.min_epochs and epoch - best_epoch >= cfg.patience


@torch.no_grad()
def evaluate(model: nn.Module, data: Batches, rows: list[int], normalizer: Normalizer | None,
             batch_size: int = 64) -> tuple[np.ndarray, list[np.ndarray]]:
    """Class probabilities (len(rows), C) and each utterance's attention weights."""
    model.eval()
    device = next(model.parameters()).device
    probs, alphas = [], []
    for b in batches_on(data, _batches(rows, np.zeros(0), batch_size, None), normalizer,
                        device):
        logits, alpha = model(b)
        probs.append(torch.softmax(logits, -1).cpu().numpy())
        lens = b.utt_len.cpu().numpy()
        alphas += [a[:n] for a, n in zip(alpha.cpu().numpy(), lens, strict=True)]
    return np.concatenate(probs), alphas


def optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Adam:
    """Adam with the paper's L2 penalty as its coupled weight decay: on every parameter, or
    with `l2_on_biases: false` on every parameter but the biases (of the linear layers and of
    the recurrent cells: `bias`, `bias_ih`, `bias_hh_l0`, ...), which get none."""
    if cfg.l2_on_biases:
        return torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    named = list(model.named_parameters())
    biases = [p for name, p in named if name.rpartition(".")[2].startswith("bias")]
    weights = [p for name, p in named if not name.rpartition(".")[2].startswith("bias")]
    return torch.optim.Adam([{"params": weights}, {"params": biases, "weight_decay": 0.0}],
                            lr=cfg.lr, weight_decay=cfg.weight_decay)


def train(model: nn.Module, data: Batches, rows: list[int], cfg: TrainConfig, *,
          n_classes: int, progress: bool = True, desc: str = "train",
          world: World = SINGLE, on_epoch: Callable[[dict], object] | None = None) -> Trained:
    """Train `model` in place on `rows` (a validation part is carved from them); leave it with
    the weights of the best validation epoch. Returns the history and the normalizer.
    `on_epoch(entry)` hears of every finished epoch (its history entry), e.g. to report
    progress; it must leave the training alone (no random numbers, no torch settings).

    Under torchrun (`world` of several ranks) every rank calls this with the same arguments
    and the same initial weights; each trains on its shard of every batch, rank 0 alone
    scores the validation rows and every rank follows its decision. "validation" in the result
    says which speakers were held out under `validation: speakers` (None under "rows")."""
    torch.manual_seed(cfg.seed + world.rank)          # dropout masks: each rank its own
    rng = np.random.default_rng(cfg.seed)             # batch order: the same on every rank
    device = pick_device(cfg.device, world.local_rank)
    model.to(device)
    fit_rows, val_rows, split = validation_split(rows, data.labels, data.speakers, cfg)
    normalizer = Normalizer.fit(data.store, fit_rows, data.speakers, cfg.normalize)
    normalizer.prior_clips = cfg.adapt_prior_clips
    # Held-out validation speakers are normalised as test speakers are (`adapt`, frames only);
    # with rows held out every validation speaker is known, and this is the normalizer itself.
    val_normalizer = normalizer.adapt(data.store, val_rows, data.speakers)
    n_words = np.array([data.store.n_words(i) for i in range(len(data.store))])
    y_fit = np.array([data.labels[i] for i in fit_rows])
    weight = None
    if cfg.class_weights:
        weight = torch.tensor(balanced_weights(y_fit, n_classes), dtype=torch.float32,
                              device=device)
    loss_fn = nn.CrossEntropyLoss(weight=weight)
    loss_sum = nn.CrossEntropyLoss(weight=weight, reduction="sum")
    class_weight = np.ones(n_classes) if weight is None else weight.cpu().numpy()
    if cfg.readout_first:            # before DDP wraps it: the read-out is then fixed
        # "all": every training speaker, as the probe row hears them; the validation
        # speakers standardised as early stopping sees them (and counted in the average an
        # unknown speaker is read through, under readout_mix).
        rows_r, norm_r = ((fit_rows + val_rows, val_normalizer) if cfg.readout_rows == "all"
                          else (fit_rows, normalizer))
        start_from_readout(model, data, rows_r, norm_r, cfg, n_classes, device)
    net = world.wrap(model, device)
    opt = optimizer(model, cfg)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 1.0 / (1.0 + cfg.lr_decay * t))
    y_val = np.array([data.labels[i] for i in val_rows])

    def validate() -> tuple[float | None, float | None]:
        """(UA, WA) of the model on the validation rows, rank 0 scoring for every rank;
        (None, None) when none are held out (too few rows: the last epoch is kept)."""
        if not val_rows:
            return None, None
        scored = torch.zeros(2, dtype=torch.float64, device=device)
        if world.main:
            views = [evaluate(model, data, val_rows, val_normalizer)[0]]
            if cfg.val_unadapted:        # the same speakers, as unknown ones
                views.append(evaluate(model, as_unknown(data), val_rows, normalizer)[0])
            scored[0] = np.mean([unweighted_accuracy(y_val, p.argmax(1), n_classes)
                                 for p in views])
            scored[1] = np.mean([float((p.argmax(1) == y_val).mean()) for p in views])
        ua, wa = world.from_main(scored).tolist()
        return ua, wa

    best = {"ua": -1.0, "epoch": 0, "state": None}
    history = []
    for epoch in range(1, cfg.max_epochs + 1):
        t0 = time.perf_counter()
        net.train()
        total = torch.zeros((), dtype=torch.float64, device=device)  # sum of loss x rows
        batches = _batches(fit_rows, n_words, cfg.batch_size, rng)     # global batches
        shards = [world.shard(rows_b) for rows_b in batches]
        # A rank whose shard is empty still steps with the others (DDP's all-reduce needs
        # every rank): on the batch's first row, with a loss of zero.
        local = [s or rows_b[:1] for s, rows_b in zip(shards, batches, strict=True)]
        on_device = batches_on(unadapted(data, fit_rows, cfg.unadapted_fraction, rng),
                               local, normalizer, device)
        for rows_b, shard, b in progress_bar(zip(batches, shards, on_device, strict=True),
                                             total=len(batches), desc=f"{desc} epoch {epoch}",
                                             unit="batch", leave=False, disable=not progress):
            with torch.autocast(device.type, dtype=torch.bfloat16,
                                enabled=cfg.precision == "bf16"):
                logits, _ = net(b)
                if world.size == 1:
                    loss = loss_fn(logits, b.labels)             # the batch mean
                else:
                    # DDP averages the ranks' gradients: the shard's summed loss over the
                    # whole batch's weight, times the ranks, averages to the batch mean's.
                    denom = float(class_weight[[data.labels[i] for i in rows_b]].sum())
                    loss = loss_sum(logits, b.labels) * (world.size / denom * bool(shard))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            # Summed on the device: no wait for the GPU at every batch.
            total += loss.detach().double() * (len(rows_b) / world.size)
        epoch_loss = world.sum(total).item() / len(fit_rows)
        val_ua, val_wa = validate()
        history.append({"epoch": epoch, "loss": epoch_loss, "val_ua": val_ua,
                        "val_wa": val_wa, "seconds": round(time.perf_counter() - t0, 2)})
        if on_epoch is not None:
            on_epoch(history[-1])
        if val_ua is None or val_ua > best["ua"]:
            best = {"ua": val_ua if val_ua is not None else -1.0, "epoch": epoch,
                    "state": copy.deepcopy(model.state_dict())}
        elif should_stop(epoch, best["epoch"], cfg):
            break
    model.load_state_dict(best["state"])
    return Trained(history, best["epoch"], best["ua"], normalizer, len(fit_rows), len(val_rows),
                   world.size, split)


# One model on a whole manifest: `wise train`. The pieces before it are shared with
# cross-validation (`wise.crossval`), which trains one such model per (seed, fold).


@dataclass
class LoadedCorpus:
    """What `load_corpus` hands back: a manifest's features and each store row's facts."""

    store: FeatureStore
    feats: FeatureBuild
    labels: list[int]
    speakers: list[str]
    sessions: list[str]
    improvised: list[bool]
    genders: list[str | None]

    def data(self, model: TorchModel) -> Batches:
        return data_for(model, self.store, self.labels, self.speakers)


def data_for(model: TorchModel, store: FeatureStore, labels: list[int],
             speakers: list[str]) -> Batches:
    """Batches carrying what `model` reads (its `batch_inputs()`)."""
    return Batches(store, labels, speakers, model.batch_inputs())


def load_corpus(run: RunConfig, manifest: str | Path, runtime: Runtime) -> LoadedCorpus:
    """Build (or reuse) the feature cache of `manifest` and line its rows up with the store."""
    feats = build_features(manifest, cache_dir(manifest, runtime.cache), run.features, Skips(),
                           workers=runtime.workers, progress=runtime.progress, ray=runtime.ray)
    store = FeatureStore(feats.pack)
    meta = {u.id: u for u in read_manifest(manifest)}
    rows = [meta[i] for i in store.ids]
    return LoadedCorpus(store, feats, [LABELS.index(u.label) for u in rows],
                  [u.speaker for u in rows], [u.session for u in rows],
                  [bool(u.improvised) for u in rows], [u.gender for u in rows])


def init_seed(seed: int, fold: int) -> int:
    """The seed of the initial weights of fold `fold` (0: a model trained on every row) under
    training seed `seed`: a function of the two only, so two seeds start from different weights
    and a fold starts from the same ones whichever process builds it."""
    return int(np.random.SeedSequence([seed, fold]).generate_state(1)[0])


def new_model(run: RunConfig, store: FeatureStore, seed: int | None = None) -> TorchModel:
    """The row's model for `store`'s dimensions; with `seed`, its initial weights come from a
    generator seeded with it (torch's global generator is left as it was)."""
    def build() -> TorchModel:
        return build_model(run.model, run.model_args, text_dim=store.text_dim,
                           frame_dim=store.frame_dim, n_functionals=store.n_functionals)
    if seed is None:
        return build()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def deterministic(threads: int | None = 1) -> None:
    """Make this process's training reproducible to the bit: `threads` torch threads (None
    leaves the number alone) and deterministic kernels (on CUDA too, where cuBLAS needs its
    workspace fixed before the first call)."""
    if threads:
        torch.set_num_threads(threads)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False


def subset_rows(run: RunConfig, d: LoadedCorpus, manifest: str | Path) -> list[int]:
    """The store rows `run` trains and tests on: all, or the improvised ones
    (`cv.subset`)."""
    rows = list(range(len(d.store)))
    if run.cv.subset == "improvised":
        rows = [i for i in rows if d.improvised[i]]
        if not rows:
            raise WiseError(manifest, "no improvised utterances (subset=improvised)")
    return rows


def corpus_kind(manifest: str | Path) -> str:
    """"synthetic" when the manifest's audio is a corpus made by `wise synth` (a model trained
    on it has heard no human voice, and `wise.predict` says so), else "speech"."""
    first = next(iter(read_manifest(manifest)), None)
    return "synthetic" if first is not None and from_synthetic_corpus(first.audio) else "speech"


def train_final(run: RunConfig, manifest: str | Path, out: str | Path, *,
                runtime: Runtime = DEFAULT_RUNTIME) -> Saved:
    """Train one model on every row of `manifest` (validation carved from them) and write a
    self-contained checkpoint to `out`, with the per-epoch history in its `extra`.

    Under torchrun, every process runs this: they train the one model together
    (`wise.distributed`); rank 0 alone builds the feature cache (the others wait, then read
    it), shows progress and writes the checkpoint. "main" in the result says which rank."""
    if is_classic(run.model):
        raise WiseError(None, f"{run.name}: `wise train` makes checkpoints of the neural rows "
                              f"only; cross-validate this row with `wise cv --config {run.name}`")
    with process_group(pick_device(run.train.device)) as world:
        if not world.main:
            world.barrier()                  # until rank 0 has built the feature cache
        runtime = replace(runtime, progress=runtime.progress and world.main)  # rank 0 shows it
        d = load_corpus(run, manifest, runtime)
        if world.main:
            world.barrier()
        rows = subset_rows(run, d, manifest)
        deterministic(threads=None)
        model = new_model(run, d.store, init_seed(run.train.seed, 0))
        t = train(model, d.data(model), rows, run.train, n_classes=len(LABELS),
                  progress=runtime.progress, desc=run.name, world=world)
        if world.main:
            save_checkpoint(out, model, run, t.normalizer,
                            word_vectors=d.feats.word_vectors,
                            extra={"trained_on": str(manifest), "corpus": corpus_kind(manifest),
                                   "n_train": t.n_fit, "n_val": t.n_val,
                                   "best_epoch": t.best_epoch, "best_val_ua": t.best_val_ua,
                                   "history": t.history, "world_size": world.size,
                                   "code_version": code_version(), **t.validation_note()})
    return Saved(str(out), n_params(model), world.main, t.n_fit, t.n_val, t.best_epoch,
                 t.best_val_ua, t.world_size)
