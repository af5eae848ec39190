"""A controlled check of WISE's interaction mechanism (IM): a tiny task whose label is, by
construction, a function of one word's identity *and* an acoustic property of that same word,
built directly as the model's inputs (frames, phone and word spans, word vectors; no audio,
no synthesiser), small enough to train in seconds on one core.

The task (docs/synthetic-results.md, "A controlled check of the mechanism"):

- an utterance has `n_words` words; one of them, at a random place, is the *pivot*: one of
  `k` pivot words; the others are distractors, drawn from a vocabulary of their own;
- every word is spoken with one of `k` acoustic *patterns*, a shift of the mean of one frame
  dimension up or down over all the word's frames (noise N(0, 1) on every value); each
  pattern is on exactly `n_words / k` words of every utterance, so which patterns are present,
  and how often, says nothing of the one on the pivot;
- the label is a function of (pivot word, pattern on the pivot), by one of two rules:
  "latin", (word + pattern) mod k: an exclusive or for k = 2, for k = 4 the Latin square of
  the synthetic corpus's interaction third; neither factor alone says anything of the label.
  "product", word * k + pattern (k = 2: the four classes): the words alone give the word
  factor, and with it which word is the pivot; the pattern factor still needs the pivot's own
  frames. A foothold for the learner, as the interaction third does not have.

Neither modality alone tells the pattern on the pivot, nor the frames the pivot word, exactly,
on every finite sample and not only on average: utterances come in *minimal sets* of k x k.
One draw of words and frames is made into every (pivot word, pivot pattern) pair by renaming
the pivot (its frames stay) and by swapping the pivot's frames with those of a word that
carries the wanted pattern (the words stay). In a set, every word sequence so occurs once with
each pivot pattern, and every frame sequence once with each pivot word; under "latin" both
so occur once with each label. `check_balanced` verifies it on the data.

`fit_and_score` trains a shipped row's model (`wise`, `hr_dmf`, ...) on it, built through the
project's config path with tiny widths (`TINY`) and fed through `wise.batching.collate`, and
scores it on held-out minimal sets; `told_the_pivot` is the oracle: a small network given the
pivot's word vector and mean frame. tests/unit/test_interaction_mechanism.py and
benchmarks/studies/mechanism_check.py use them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from wise.batching import Batch, collate
from wise.features.cache import UtteranceFeatures
from wise.models.build import build_model
from wise.rows import load_run_config
from wise.train import optimizer

RULES = ("latin", "product")

# Tiny widths for every row (`--set` items): the task needs a few bits per word, and small
# recurrent cells keep one training to seconds on one core.
TINY = ("phone_hidden=8", "word_hidden=8", "audio_hidden=8", "text_hidden=8",
        "fusion_dim=16", "fc_dims=[16, 16]")


@dataclass(frozen=True)
class MechanismSpec:
    """The task's shape. `k` pivot words and `k` patterns; `n_words` a multiple of `k`, or 1:
    the pivot alone, a control with nothing to find (only the two modalities to combine)."""

    k: int = 2
    n_words: int = 4
    rule: str = "latin"
    n_distractors: int = 6          # distractor vocabulary
    frame_dim: int = 4
    text_dim: int = 8
    phones_per_word: tuple[int, int] = (1, 3)    # inclusive range, drawn per word
    frames_per_phone: tuple[int, int] = (2, 4)   # inclusive range, drawn per phone
    shift: float = 1.0              # a pattern's shift of its frame dimension, in noise stds
    vocab_seed: int = 0             # the word vectors: one vocabulary for train and test

    def __post_init__(self) -> None:
        if self.k < 2 or (self.n_words % self.k and self.n_words != 1):
            raise ValueError("k must be 2 or more and divide n_words (or n_words be 1)")
        if self.frame_dim < (self.k + 1) // 2:
            raise ValueError("each pair of patterns needs a frame dimension of its own")
        if self.rule not in RULES:
            raise ValueError(f"rule must be one of {', '.join(RULES)}, not {self.rule!r}")
        if self.n_classes > 4:
            raise ValueError("the model has four classes: the product rule needs k = 2")

    @property
    def n_classes(self) -> int:
        return self.k if self.rule == "latin" else self.k * self.k

    def label(self, word: int, pattern: int) -> int:
        """The rule: a class from the pivot word and the pattern on its frames."""
        return (word + pattern) % self.k if self.rule == "latin" else word * self.k + pattern

    def pattern_offset(self, pattern: int) -> np.ndarray:
        """(frame_dim,) the mean shift of `pattern`: dimension pattern // 2, up for an even
        pattern, down for an odd one."""
        out = np.zeros(self.frame_dim, np.float32)
        out[pattern // 2] = self.shift if pattern % 2 == 0 else -self.shift
        return out


@dataclass
class MechanismData:
    """Utterances of the task, as a feature store's rows are, with what made each one."""

    utterances: list[UtteranceFeatures]
    labels: list[int]
    pivot_word: list[int]             # 0..k-1
    pivot_pattern: list[int]          # 0..k-1, the pattern on the pivot's frames
    pivot_position: list[int]
    word_patterns: list[list[int]]    # the pattern on each word's frames
    minimal_set: list[int]

    def __len__(self) -> int:
        return len(self.labels)


def vocabulary(spec: MechanismSpec) -> dict[str, np.ndarray]:
    """Word -> vector: the k pivots `p0..`, then the distractors `d0..`, random unit vectors."""
    rng = np.random.default_rng(spec.vocab_seed)
    names = [f"p{i}" for i in range(spec.k)] + [f"d{i}" for i in range(spec.n_distractors)]
    vectors = rng.standard_normal((len(names), spec.text_dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return dict(zip(names, vectors, strict=True))


def _spoken_word(spec: MechanismSpec, pattern: int,
                 rng: np.random.Generator) -> list[np.ndarray]:
    """One spoken word: its phones, each (frames, frame_dim), noise plus the pattern's shift."""
    lo, hi = spec.phones_per_word
    flo, fhi = spec.frames_per_phone
    offset = spec.pattern_offset(pattern)
    return [rng.standard_normal((int(rng.integers(flo, fhi + 1)), spec.frame_dim))
            .astype(np.float32) + offset for _ in range(int(rng.integers(lo, hi + 1)))]


def _utterance(uid: str, words: list[str], spoken: list[list[np.ndarray]],
               vocab: dict[str, np.ndarray]) -> UtteranceFeatures:
    """Words and their phones' frames as a feature pack's row (`wise.features.cache`)."""
    phones = [p for word in spoken for p in word]
    n_frames = np.array([len(p) for p in phones])
    f_end = np.cumsum(n_frames)
    phone_frames = np.stack([f_end - n_frames, f_end], 1)
    n_phones = np.array([len(word) for word in spoken])
    p_end = np.cumsum(n_phones)
    word_phones = np.stack([p_end - n_phones, p_end], 1)
    word_frames = np.stack([phone_frames[word_phones[:, 0], 0],
                            phone_frames[word_phones[:, 1] - 1, 1]], 1)
    return UtteranceFeatures(
        id=uid, frames=np.concatenate(phones), phone_frames=phone_frames,
        word_phones=word_phones, word_frames=word_frames,
        word_vectors=np.stack([vocab[w] for w in words]),
        word_oov=np.zeros(len(words), bool), words=words, phones=["x"] * len(phones))


def make_task(spec: MechanismSpec, n_sets: int, seed: int) -> MechanismData:
    """`n_sets` minimal sets of k x k utterances each (see the module's docstring)."""
    rng = np.random.default_rng(seed)
    vocab = vocabulary(spec)
    k, n = spec.k, spec.n_words
    data = MechanismData([], [], [], [], [], [], [])
    for s in range(n_sets):
        position = int(rng.integers(n))
        distractors = [f"d{int(i)}" for i in rng.integers(spec.n_distractors, size=n - 1)]
        if n == 1:                        # the pivot alone: one draw of frames per pattern
            spoken = [_spoken_word(spec, c, rng) for c in range(k)]
        else:                             # each pattern on n / k words, in a random order
            patterns = rng.permutation(np.repeat(np.arange(k), n // k))
            spoken = [_spoken_word(spec, int(c), rng) for c in patterns]
        for pattern in range(k):
            if n == 1:
                audio, word_patterns = [spoken[pattern]], [pattern]
            else:
                # The pivot's frames swapped with those of a word carrying `pattern` (itself
                # when it already does): the frames as a whole, their phones with them.
                carriers = np.flatnonzero(patterns == pattern)
                j = position if patterns[position] == pattern else int(rng.choice(carriers))
                order = list(range(n))
                order[position], order[j] = j, position
                audio = [spoken[i] for i in order]
                word_patterns = [int(patterns[i]) for i in order]
            for word in range(k):
                words = list(distractors)
                words.insert(position, f"p{word}")
                data.utterances.append(_utterance(f"m{seed}-{s}-{pattern}-{word}", words,
                                                  audio, vocab))
                data.labels.append(spec.label(word, pattern))
                data.pivot_word.append(word)
                data.pivot_pattern.append(pattern)
                data.pivot_position.append(position)
                data.word_patterns.append(word_patterns)
                data.minimal_set.append(s)
    return data


def check_balanced(spec: MechanismSpec, data: MechanismData) -> None:
    """Raise ValueError unless the label needs the pivot bound to its own frames: it is the
    rule applied to the pivot and the pattern on the pivot's frames; every utterance has one
    pivot and the same count of each pattern (so the patterns present say nothing); every word
    sequence occurs equally often with each pivot pattern and every frame sequence with each
    pivot word (so neither modality tells the other's factor); and under "latin" each
    occurs equally often with each label (so neither modality alone beats chance)."""
    by_text: dict[tuple, Counter] = defaultdict(Counter)
    by_audio: dict[bytes, Counter] = defaultdict(Counter)
    text_labels: dict[tuple, Counter] = defaultdict(Counter)
    audio_labels: dict[bytes, Counter] = defaultdict(Counter)
    bag = Counter({c: spec.n_words // spec.k for c in range(spec.k)})
    for i, u in enumerate(data.utterances):
        pos = data.pivot_position[i]
        if data.labels[i] != spec.label(data.pivot_word[i], data.pivot_pattern[i]):
            raise ValueError(f"{u.id}: label is not the rule's")
        if u.words[pos] != f"p{data.pivot_word[i]}" or sum(w.startswith("p")
                                                             for w in u.words) != 1:
            raise ValueError(f"{u.id}: not exactly one pivot, at its place")
        patterns = data.word_patterns[i]
        if patterns[pos] != data.pivot_pattern[i]:
            raise ValueError(f"{u.id}: the pivot's frames do not carry its pattern")
        if spec.n_words > 1 and Counter(patterns) != bag:
            raise ValueError(f"{u.id}: the patterns present say something: {patterns}")
        text = tuple(u.words)
        audio = u.frames.tobytes() + u.word_frames.tobytes() + u.phone_frames.tobytes()
        by_text[text][data.pivot_pattern[i]] += 1
        by_audio[audio][data.pivot_word[i]] += 1
        text_labels[text][data.labels[i]] += 1
        audio_labels[audio][data.labels[i]] += 1
    checks = [("word sequence", "pivot pattern", by_text, spec.k),
              ("frame sequence", "pivot word", by_audio, spec.k)]
    if spec.rule == "latin":
        checks += [("word sequence", "label", text_labels, spec.n_classes),
                   ("frame sequence", "label", audio_labels, spec.n_classes)]
    for modality, factor, groups, n_values in checks:
        for counts in groups.values():
            if len(counts) != n_values or len(set(counts.values())) != 1:
                raise ValueError(f"a {modality} tells the {factor}: {dict(counts)}")


def batch_of(model: nn.Module, data: MechanismData, rows: Sequence[int]) -> Batch:
    """Rows of `data` as the model's batch, through the project's own collate (the frames are
    standardised already: no normaliser)."""
    longest = max(int(np.diff(u.word_frames, axis=1).max()) for u in data.utterances)
    return collate(data.utterances, list(rows), [data.labels[i] for i in rows], None,
                   [""] * len(data), inputs=model.batch_inputs(), max_word_frames=longest)


@dataclass(frozen=True)
class Score:
    train_accuracy: float
    test_accuracy: float


def fit_and_score(row: str, train: MechanismData, test: MechanismData, *, spec: MechanismSpec,
                  seed: int, epochs: int, sets: Sequence[str] = (), lr: float = 3e-3,
                  batch_size: int = 32) -> Score:
    """Train the shipped row `row` (with `TINY` widths and `sets`) on `train` for `epochs`
    with the project's optimiser (Adam, the row's weight decay) at a constant learning rate
    `lr`, and score it on `train` and `test`. Deterministic for a seed (on one thread): the
    weights, the dropout masks and the batch order come from it; torch's global generator is
    left as it was."""
    run = load_run_config(row, [*TINY, *sets, f"train.lr={lr}"])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_model(run.model, run.model_args, text_dim=spec.text_dim,
                            frame_dim=spec.frame_dim)
        opt = optimizer(model, run.train)
        rng = np.random.default_rng(seed)
        loss_fn = nn.CrossEntropyLoss()
        for _ in range(epochs):
            model.train()
            order = rng.permutation(len(train))
            for s in range(0, len(order), batch_size):
                b = batch_of(model, train, order[s:s + batch_size].tolist())
                logits, _ = model(b)
                loss = loss_fn(logits, b.labels)
                opt.zero_grad()
                loss.backward()
                opt.step()
    return Score(accuracy(model, train), accuracy(model, test))


@torch.no_grad()
def accuracy(model: nn.Module, data: MechanismData) -> float:
    model.eval()
    b = batch_of(model, data, range(len(data)))
    logits, _ = model(b)
    return float((logits.argmax(1) == b.labels).float().mean())


def pivot_inputs(data: MechanismData) -> torch.Tensor:
    """(N, text_dim + frame_dim): the pivot's word vector and the mean of its frames."""
    rows = []
    for u, pos in zip(data.utterances, data.pivot_position, strict=True):
        f0, f1 = u.word_frames[pos]
        rows.append(np.concatenate([u.word_vectors[pos], u.frames[f0:f1].mean(0)]))
    return torch.from_numpy(np.stack(rows))


def told_the_pivot(train: MechanismData, test: MechanismData, *, seed: int,
                   epochs: int = 60, hidden: int = 16) -> Score:
    """The oracle: a two-layer ReLU network given which word is the pivot (its word vector
    and mean frame) and nothing else. It needs no finding and no binding: how learnable the
    rule itself is from these inputs."""
    x, x_test = pivot_inputs(train), pivot_inputs(test)
    y, y_test = torch.tensor(train.labels), torch.tensor(test.labels)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = nn.Sequential(nn.Linear(x.shape[1], hidden), nn.ReLU(),
                            nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 4))
        opt = torch.optim.Adam(net.parameters(), lr=3e-3)
        rng = np.random.default_rng(seed)
        for _ in range(epochs):
            order = torch.from_numpy(rng.permutation(len(y)))
            for s in range(0, len(order), 32):
                i = order[s:s + 32]
                loss = nn.functional.cross_entropy(net(x[i]), y[i])
                opt.zero_grad()
                loss.backward()
                opt.step()
    with torch.no_grad():
        return Score(float((net(x).argmax(1) == y).float().mean()),
                     float((net(x_test).argmax(1) == y_test).float().mean()))
