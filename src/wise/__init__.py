"""WISE: word-level interaction-based multimodal fusion for speech emotion recognition."""

from wise.labels import LABELS
from wise.version import __version__, code_version

__all__ = ["LABELS", "__version__", "code_version", "load"]


def load(checkpoint=None, **kw):
    """A `wise.predict.Predictor` for a checkpoint from `wise train` or `wise cv`, or with no
    checkpoint the bundled real-speech model (docs/models.md; its weights are CC BY-NC-SA 4.0):

        m = wise.load(); r = m.predict("clip.wav"); r.label_name, r.top_words
        m = wise.load("model.wise")
    """
    from wise.predict import Predictor  # imported here: `import wise` stays light

    return Predictor(checkpoint, **kw)
