"""WISE: word-level interaction-based multimodal fusion for speech emotion recognition."""

__version__ = "0.1.0"

LABELS = ("ang", "hap", "neu", "sad")
"""The four target classes, in the order every model output and report uses."""


def code_version() -> str:
    """The package version, plus `git describe --always --dirty` when run from a checkout, so
    every results file says exactly which code produced it."""
    import subprocess
    from pathlib import Path

    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty"],
                             cwd=Path(__file__).resolve().parent, capture_output=True,
                             text=True, timeout=10, check=True)
        return f"{__version__}+{out.stdout.strip()}"
    except (OSError, subprocess.SubprocessError):
        return __version__


def load(checkpoint, **kw):
    """A `wise.predict.Predictor` for a checkpoint from `wise train` or `wise cv`:

        m = wise.load("model.wise"); r = m.predict("clip.wav", text=None)
    """
    from wise.predict import Predictor  # imported here: `import wise` stays light

    return Predictor(checkpoint, **kw)
