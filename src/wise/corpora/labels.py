"""The 4-class label set and how corpus labels map onto it (SPEC §4)."""

from __future__ import annotations

from wise import LABELS

# IEMOCAP codes and the full names user manifests tend to use. `exc` (excited) is merged into
# happy, as in the paper and most work on 4-class IEMOCAP.
_ALIASES = {
    "ang": "ang", "angry": "ang", "anger": "ang",
    "hap": "hap", "happy": "hap", "happiness": "hap", "joy": "hap",
    "exc": "hap", "excited": "hap", "excitement": "hap",
    "neu": "neu", "neutral": "neu",
    "sad": "sad", "sadness": "sad",
}
assert set(_ALIASES.values()) == set(LABELS)


def map_label(raw: str) -> str | None:
    """The target class for a corpus label, or None when the label is not one of the four."""
    return _ALIASES.get(raw.strip().lower())
