"""How corpus labels map onto the four classes (`wise.labels.LABELS`, docs/evaluation.md);
speakers' sex too."""

from __future__ import annotations

from wise.labels import LABELS

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


# A corpus's sex/gender field -> "F" or "M"; anything else (blank, "unknown", ...) -> None.
_GENDERS = {"f": "F", "female": "F", "woman": "F", "m": "M", "male": "M", "man": "M"}


def map_gender(raw: object) -> str | None:
    """The speaker's sex as "F" or "M"; None when the value is missing or neither."""
    return _GENDERS.get(str(raw).strip().lower()) if raw is not None else None
