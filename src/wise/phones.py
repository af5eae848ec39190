"""The phone set: ARPAbet as the pocketsphinx en-us dictionary spells it, and phone ids."""

# The 39 phones of the pocketsphinx en-us dictionary and acoustic model (CMU without stress
# digits). Anything else in an alignment (SIL, +NSN+, +SPN+) is silence or noise, never part
# of a word.
ARPABET = frozenset(
    "AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH "
    "UH UW V W Y Z ZH".split()
)

PHONES = ("<pad>", "<unk>", *sorted(ARPABET))
"""Phone vocabulary: 0 pads, 1 is any phone outside ARPAbet (e.g. `<w>`, a word without
phones)."""
PHONE_ID = {p: i for i, p in enumerate(PHONES)}
