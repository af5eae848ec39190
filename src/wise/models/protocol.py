"""What a torch row's model is to the code that trains, saves and uses it.

Every neural row (WISE and the three published baselines of Table 1) implements `TorchModel`:
it names the batch fields it reads, maps a batch to logits and per-word weights, says which
input widths it was built for (`ModelDims`, which the checkpoint stores, as whisper's
checkpoint stores its `ModelDimensions`), and whether its word weights are learned attention.
Nothing outside a model reads its config to find these out.

The scikit-learn rows (`wise.models.build.CLASSIC`) are another kind, `ClassicModel`: fitted
per fold on one vector per utterance, with no parameters before fitting and no checkpoint
(`wise.models.build.is_classic` tells the two apart by a row's model name).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Protocol

import numpy as np
import torch

from wise.batching import Batch, BatchInput

DIM_NAMES = ("frame_dim", "text_dim", "utterance_dim")


@dataclass(frozen=True)
class ModelDims:
    """The input widths a model was built for, set from its feature pack; None for an input it
    does not read."""

    frame_dim: int | None = None        # features per frame (39 MFCC, 384 Whisper tiny.en)
    text_dim: int | None = None         # word-vector width
    utterance_dim: int | None = None    # utterance statistics: 2 * frame_dim + functionals

    def given(self) -> dict[str, int]:
        """The widths it has, by name: what a checkpoint stores."""
        return {k: v for k, v in asdict(self).items() if v is not None}


class TorchModel(Protocol):
    INPUT_DIMS: ClassVar[tuple[str, ...]]     # the DIM_NAMES its config has, in that order
    cfg: Any                                  # its config dataclass (WiseConfig, MdreConfig, ...)

    def batch_inputs(self) -> frozenset[BatchInput]:
        """The optional `Batch` fields it reads (`wise.batching.collate` builds only those)."""
        ...

    def __call__(self, b: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (B, C) and one weight per word (B, N), summing to 1 over each utterance's
        words."""
        ...

    @property
    def dims(self) -> ModelDims: ...

    @property
    def word_attention(self) -> bool:
        """True when the word weights are learned attention (WISE's alpha, eq 8); False when
        they are uniform (the model has no word attention to show)."""
        ...


class DimsFromConfig:
    """A model's `dims`: its config's width fields named by INPUT_DIMS (a mixin, first among a
    model's bases)."""

    INPUT_DIMS: ClassVar[tuple[str, ...]]
    cfg: Any

    @property
    def dims(self) -> ModelDims:
        return ModelDims(**{k: getattr(self.cfg, k) for k in self.INPUT_DIMS})


class ClassicModel(Protocol):
    inputs: ClassVar[str]    # the vector it reads per utterance: "egemaps" or "frame_stats"

    def fit(self, x: np.ndarray, y: np.ndarray) -> ClassicModel:
        """Fitted on x (N, K), labels y (N,); returns itself."""
        ...

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(class indices (N,), class probabilities (N, C))."""
        ...

    def n_params(self) -> int:
        """Numbers fitted, counted as a table's parameters column counts them."""
        ...
