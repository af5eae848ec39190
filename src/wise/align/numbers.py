"""Numbers written with digits, spelled out as they are usually said.

Whisper writes "3", "1990", "$5", "25%", "10:30", "2nd"; corpus transcripts (and the word
vectors' vocabulary, and the aligner's dictionary) have "three", "nineteen ninety", "five
dollars". `spell_numbers` rewrites every run of digits in a recognised text so that
`wise.text.tokenize` makes words of it that can be aligned and looked up:

    "$5 at 10:30 on the 2nd, 25% of 1,500 in 1990"
    -> "five dollars at ten thirty on the second, twenty five percent of one thousand five
       hundred in nineteen ninety"

Four-digit whole numbers without a thousands comma (1100-2099) are read as years.
"""

from __future__ import annotations

import re

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
         "fourteen fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINAL = {"one": "first", "two": "second", "three": "third", "five": "fifth",
            "eight": "eighth", "nine": "ninth", "twelve": "twelfth"}
_CURRENCY = {"$": "dollars", "£": "pounds", "€": "euros"}

_NUMBER = re.compile(
    r"(?<![^\W\d_])"                                # not inside a word ("mp3")
    r"(?P<cur>[$£€])?"
    r"(?P<num>\d{1,3}(?:,\d{3})+|\d+)"
    r"(?::(?P<min>\d\d))?"
    r"(?:\.(?P<dec>\d+))?"
    r"(?P<suf>%|st\b|nd\b|rd\b|th\b|'?s\b)?"
    r"(?![^\W_])",                                   # nor followed by one ("3D")
    re.IGNORECASE,
)
_DIGITS = re.compile(r"\d+")


def cardinal(n: int) -> str:
    """12 -> "twelve", 1205 -> "one thousand two hundred five" (no "and")."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (f" {_ONES[ones]}" if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return f"{_ONES[hundreds]} hundred" + (f" {cardinal(rest)}" if rest else "")
    for scale, name in _SCALES:
        if n >= scale:
            high, rest = divmod(n, scale)
            return f"{cardinal(high)} {name}" + (f" {cardinal(rest)}" if rest else "")
    raise AssertionError("unreachable")


def year(n: int) -> str:
    """1990 -> "nineteen ninety", 1905 -> "nineteen oh five", 2005 -> "two thousand five"."""
    high, low = divmod(n, 100)
    if 2000 <= n < 2010 or low == 0 and n % 1000 == 0:
        return cardinal(n)
    if low == 0:
        return f"{cardinal(high)} hundred"
    return f"{cardinal(high)} {'oh ' if low < 10 else ''}{cardinal(low)}"


def ordinal(words: str) -> str:
    """"twenty two" -> "twenty second"."""
    head, _, last = words.rpartition(" ")
    if last in _ORDINAL:
        last = _ORDINAL[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return f"{head} {last}" if head else last


def plural(words: str) -> str:
    """"nineteen ninety" -> "nineteen nineties", "six" -> "sixes"."""
    head, _, last = words.rpartition(" ")
    last = last[:-1] + "ies" if last.endswith("y") else last + ("es" if last == "six" else "s")
    return f"{head} {last}" if head else last


def _spell(m: re.Match) -> str:
    digits = m["num"].replace(",", "")
    n = int(digits)
    suffix = (m["suf"] or "").lower().lstrip("'")
    if m["min"] is not None:                         # 10:30, 7:05, 9:00
        minutes = int(m["min"])
        words = cardinal(n) + ("" if minutes == 0 else
                               f" oh {cardinal(minutes)}" if minutes < 10 else
                               f" {cardinal(minutes)}")
    elif (len(digits) == 4 and "," not in m["num"] and 1100 <= n < 2100
          and m["dec"] is None and not m["cur"]):
        words = year(n)
    else:
        words = cardinal(n)
    if m["dec"] is not None:
        if m["cur"]:
            words += f" {_CURRENCY[m['cur']]} {cardinal(int(m['dec']))}"
            return words + (" percent" if suffix == "%" else "")
        words += " point " + " ".join(_ONES[int(d)] for d in m["dec"])
    if suffix in ("st", "nd", "rd", "th"):
        words = ordinal(words)
    elif suffix == "s":
        words = plural(words)
    elif suffix == "%":
        words += " percent"
    if m["cur"]:
        words += f" {_CURRENCY[m['cur']]}"
    return words


def spell_numbers(text: str) -> str:
    """`text` with every number written in digits replaced by its words (see the module)."""
    text = _NUMBER.sub(_spell, text)
    # Digits left inside a word ("mp3", "3D"): the number as a word of its own.
    return _DIGITS.sub(lambda m: f" {cardinal(int(m[0]))} ", text)
