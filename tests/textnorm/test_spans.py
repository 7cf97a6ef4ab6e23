"""Span tracking: the words of the text as sent, each with the spoken words normalisation made of it."""

import itertools

import pytest

from textnorm import PronunciationEntry, spoken_text
from textnorm.spans import spans_tracked, word_units


def _units(text: str, **options) -> tuple[str, list[tuple[str, int, int]]]:
    with spans_tracked(text) as tracked:
        spoken = spoken_text(text, **options)
        origins = tracked.finish(spoken)
    return spoken, word_units(text, spoken, origins)


def test_naira_amount_is_one_word_of_the_original_spanning_its_spoken_words():
    spoken, units = _units("I paid ₦2,500 today.")
    words = spoken.split()
    naira = next(unit for unit in units if unit[0] == "₦2,500")
    assert words[naira[1] : naira[2]] == ["two", "thousand", "five", "hundred", "naira"]
    assert [unit[0] for unit in units] == ["I", "paid", "₦2,500", "today."]


TEXTS = [
    "Dr. Ade lives at 12 Main St. since Nov 26, 2026 — really!",
    "[S1] Hi 5 times. [S2] Call +234 803 123 4567 #3 & go www.example.com/x",
    "It is 3:30pm, 50% off, 10kg  and e.g. 2.5km, the 1990s, 1/2 of it.",
    "   spaced    out\ttext   ",
]


@pytest.mark.parametrize("text", TEXTS)
def test_tracking_changes_nothing_and_covers_every_word(text):
    spoken, units = _units(text)
    # The same spoken text as without tracking (the cache key is computed from it).
    assert spoken == spoken_text(text)
    # Every written word is in exactly one unit, in order; every spoken word in exactly one unit, in order.
    assert " ".join(unit[0] for unit in units).split() == text.split()
    assert units[0][1] == 0
    assert units[-1][2] == len(spoken.split())
    assert all(a[2] == b[1] for a, b in itertools.pairwise(units))


def test_a_date_is_one_unit_and_plain_words_map_one_to_one():
    _, units = _units("Since Nov 26, 2026 we won.")
    assert [unit[0] for unit in units] == ["Since", "Nov 26, 2026", "we", "won."]
    assert [unit[2] - unit[1] for unit in units] == [1, 4, 1, 1]


def test_a_pronunciation_is_the_word_it_replaced():
    entry = PronunciationEntry(word="ODIADEV", replacement="oh dee ah dev")
    spoken, units = _units("Use ODIADEV for $5", pronunciations=[entry])
    assert spoken == "Use oh dee ah dev for five dollars"
    assert units == [("Use", 0, 1), ("ODIADEV", 1, 5), ("for", 5, 6), ("$5", 6, 8)]
