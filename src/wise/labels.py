"""The four target classes (docs/evaluation.md) and their names in words."""

LABELS = ("ang", "hap", "neu", "sad")
"""The four target classes, in the order every model output and report uses."""

LABEL_NAMES = dict(zip(LABELS, ("angry", "happy", "neutral", "sad"), strict=True))
"""Each class's name in words, as `wise predict` prints it."""
