"""Transcript tokenisation, shared by the aligner, the word vectors and the readers.

Rule (docs/features.md, "Tokenisation"): lower-case, strip punctuation, keep contractions. A
token is a run of letters and digits, possibly joined by inner apostrophes ("don't", "o'clock",
"i'm"); every other character separates tokens. Curly apostrophes are treated as straight ones.
IEMOCAP's bracketed non-speech marks ("[LAUGHTER]", "[BREATHING]") are dropped, as are its
`++FILLER++` tokens in alignments.
"""

from __future__ import annotations

import re

_NONSPEECH = re.compile(r"\[[^\]]*\]|\+\+[^+]*\+\+|<[^>]*>")
_TOKEN = re.compile(r"[0-9a-z]+(?:'[0-9a-z]+)*")


def tokenize(text: str) -> list[str]:
    """Words of a transcript: `"Excuse me, I DON'T know [LAUGHTER]."` -> excuse me i don't know."""
    text = text.replace("\u2019", "'").replace("\u2018", "'").lower()
    text = _NONSPEECH.sub(" ", text)
    return _TOKEN.findall(text)
