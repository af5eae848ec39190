"""Numbers in digits, as Whisper writes them, spelled out for alignment and word vectors."""

import pytest

from wise.align.numbers import cardinal, spell_numbers
from wise.text import tokenize


@pytest.mark.parametrize("n,words", [
    (0, "zero"), (7, "seven"), (13, "thirteen"), (40, "forty"), (42, "forty two"),
    (100, "one hundred"), (115, "one hundred fifteen"), (1000, "one thousand"),
    (21_000_005, "twenty one million five"),
])
def test_cardinal(n, words):
    assert cardinal(n) == words


@pytest.mark.parametrize("text,spelled", [
    ("I have 3 dogs.", "I have three dogs."),
    ("$5 at 10:30", "five dollars at ten thirty"),
    ("at 7:05 or 9:00", "at seven oh five or nine"),
    ("25% of 1,500", "twenty five percent of one thousand five hundred"),
    ("in 1990, 1905, 2005 and 2019", "in nineteen ninety, nineteen oh five, two thousand five "
                                     "and twenty nineteen"),
    ("the 1st, 2nd, 3rd, 12th and 21st", "the first, second, third, twelfth and twenty first"),
    ("the 1990s and the 60s", "the nineteen nineties and the sixties"),
    ("3.14 and $2.50", "three point one four and two dollars fifty"),
    ("£20", "twenty pounds"),
])
def test_spell_numbers(text, spelled):
    assert spell_numbers(text) == spelled


def test_digits_inside_words_become_words_of_their_own():
    assert tokenize(spell_numbers("an mp3 in 3D")) == ["an", "mp", "three", "in", "three", "d"]


def test_text_without_digits_is_unchanged():
    text = "Don't you dare, O'Brien!"
    assert spell_numbers(text) == text
