"""The model that ships inside the package, and the clips to try it on.

`wise predict`, `wise serve` and `wise.load()` use it when no checkpoint is given. It is the
`wise_whisper` row trained on 14 RAVDESS actors (Actor_09 … Actor_22): Actor_23 (male) and
Actor_24 (female) were kept out of its training, so the example clips, one per class from each
of them, are voices it never heard. `tools/bundled_model.py` rebuilds it from the RAVDESS
folders; docs/models.md is its model card.

RAVDESS is shared under CC BY-NC-SA 4.0, so the weights trained on it and the example clips
are too (LICENSE.txt beside them); the code of `wise` is MIT.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from wise.corpora.label_map import map_label
from wise.corpora.ravdess import parse_name
from wise.fsutil import atomic_write_text, user_cache_dir
from wise.labels import LABEL_NAMES

BUNDLED_NAME = "wise_whisper-ravdess.wise"
LICENCE_FILE = "LICENSE.txt"
HELD_OUT = ("Actor_23", "Actor_24")
"""The two dev actors kept out of the bundled model's training: the highest-numbered man
(odd) and woman (even), fixed before it was trained."""

LICENCE_LINE = ("The bundled model was trained on RAVDESS (Livingstone & Russo 2018) and is "
                "shared, like its example clips, under CC BY-NC-SA 4.0: non-commercial use, "
                "with attribution, derivatives under the same terms; the wise code is MIT.")
"""What the README, the model card and the first `wise predict` with it say of its licence."""

_SHOWN = "bundled-model-licence-shown"


def folder() -> Path:
    """The package folder holding the bundled checkpoint, its licence and the examples."""
    return Path(str(resources.files("wise") / "pretrained"))


def bundled_checkpoint() -> Path:
    return folder() / BUNDLED_NAME


def is_bundled(path: str | Path) -> bool:
    p = Path(path)
    return p.is_file() and p.resolve() == bundled_checkpoint().resolve()


def resolve_checkpoint(path: str | Path | None) -> Path:
    """The checkpoint to use: the one given, else the bundled model."""
    return bundled_checkpoint() if path is None else Path(path)


@dataclass(frozen=True)
class Example:
    path: Path
    actor: str           # "Actor_23"
    gender: str          # "M" | "F"
    label: str           # one of wise.labels.LABELS
    intensity: str       # RAVDESS's "normal" | "strong"

    @property
    def label_name(self) -> str:
        return LABEL_NAMES[self.label]


def example_clips() -> list[Example]:
    """The held-out actors' example clips, described by their RAVDESS file names, in file-name
    order (class, then actor)."""
    out = []
    for p in sorted((folder() / "examples").glob("*.flac")):
        n = parse_name(p.stem)
        out.append(Example(p, f"Actor_{n.actor:02d}", n.gender, map_label(n.emotion),
                           n.intensity))
    return out


def show_licence_once(say=print) -> None:
    """Say `LICENCE_LINE` the first time the bundled model is used on this machine (a marker
    in the user cache records it; a cache that cannot be written just means saying it
    again next time)."""
    marker = user_cache_dir() / _SHOWN
    if marker.is_file():
        return
    say(LICENCE_LINE)
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(marker, LICENCE_LINE + "\n")
    except OSError:
        pass
