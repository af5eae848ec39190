"""Word and phone alignment of speech: forced alignment of a known transcript (pocketsphinx's
bundled en-us model), and free recognition for speech without one (Whisper by default, or
pocketsphinx)."""

from wise.align.asr import RECOGNIZERS, SphinxRecognizer, make_recognizer, recognize
from wise.align.forced import Alignment, ForcedAligner
from wise.align.recognition import Recognition, Recognizer

__all__ = ["RECOGNIZERS", "Alignment", "ForcedAligner", "Recognition", "Recognizer",
           "SphinxRecognizer", "make_recognizer", "recognize"]
