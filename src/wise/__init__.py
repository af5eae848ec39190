"""WISE: word-level interaction-based multimodal fusion for speech emotion recognition."""

__version__ = "0.1.0"

LABELS = ("ang", "hap", "neu", "sad")
"""The four target classes, in the order every model output and report uses."""
