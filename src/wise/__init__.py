"""WISE: word-level interaction-based multimodal fusion for speech emotion recognition."""

from wise.labels import LABELS
from wise.version import __version__, code_version

__all__ = ["LABELS", "__version__", "code_version", "load"]


def load(checkpoint, **kw):
    """A `wise.predict.Predictor` for a checkpoint from `wise train` or `wise cv`:

        m = wise.load("model.wise"); r = m.predict("clip.wav", text=None)
    """
    from wise.predict import Predictor  # imported here: `import wise` stays light

    return Predictor(checkpoint, **kw)
