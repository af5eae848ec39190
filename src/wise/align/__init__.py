"""Word and phone alignment of speech: forced alignment of a known transcript, and free
recognition for speech without one (both with pocketsphinx's bundled en-us model)."""

from wise.align.asr import Recognition, Recognizer, recognize
from wise.align.forced import Alignment, ForcedAligner

__all__ = ["Alignment", "ForcedAligner", "Recognition", "Recognizer", "recognize"]
