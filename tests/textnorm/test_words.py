"""Comparing what was said with what was heard: normalisation, a phrase heard in order, statement coverage, WER."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from textnorm.words import (
    SOUNDS_ALIKE,
    edit_distance,
    max_edits,
    phrase_heard,
    sound_key,
    statement_coverage,
    word_error_rate,
    words_of,
)

PHRASE = "purple harbor seven lantern"


@dataclass(frozen=True)
class Heard:
    text: str


def heard(text: str) -> list[Heard]:
    """Words as a recogniser returns them: one object per word, punctuation attached."""
    return [Heard(word) for word in text.split()]


@pytest.mark.parametrize(
    ("written", "words"),
    [
        ("Purple Harbor 7 Lantern.", ["purple", "harbor", "seven", "lantern"]),
        ("the 2nd of March", ["the", "second", "of", "march"]),
        ("my one-time phrase", ["my", "one", "time", "phrase"]),
        ("Don't STOP!", ["dont", "stop"]),
        ("ada.okafor@example.com", ["ada", "dot", "okafor", "at", "example", "dot", "com"]),
        ("25", ["twenty", "five"]),
        ("Café, naïve", ["cafe", "naive"]),
    ],
)
def test_words_are_normalised_for_comparison(written, words):
    assert words_of(written) == words


def test_digits_and_number_words_compare_equal():
    assert words_of("7") == words_of("seven")
    assert words_of("2nd") == words_of("second")
    assert words_of("21st") == words_of("twenty-first")


def test_tolerance_grows_with_word_length():
    assert [max_edits(word) for word in ("one", "pony", "lantern", "velveteen")] == [0, 1, 1, 2]
    assert edit_distance("lantern", "lanterns") == 1
    assert edit_distance("kitten", "sitting") == 3


def test_phrase_heard_as_a_recogniser_writes_it():
    match = phrase_heard(PHRASE, heard("My one time phrases, Purple, Harbor 7 Lantern."))

    assert match.heard
    assert match.score == 1.0
    assert match.missing == ()
    assert [m.expected for m in match.matched] == ["purple", "harbor", "seven", "lantern"]
    # Each match points at the heard word it came from (for its timing).
    assert [m.index for m in match.matched] == [4, 5, 6, 7]


def test_a_near_miss_within_tolerance_counts_but_lowers_the_score():
    match = phrase_heard(PHRASE, heard("purple harbour seven lanterns"))

    assert match.heard
    assert [m.distance for m in match.matched] == [0, 1, 0, 1]
    assert match.score == pytest.approx((1 + 5 / 6 + 1 + 6 / 7) / 4, abs=1e-4)


def test_a_word_beyond_tolerance_is_missing():
    match = phrase_heard(PHRASE, heard("purple harbor seven latter"))

    assert not match.heard
    assert match.missing == ("lantern",)
    assert match.score == 0.75


def test_short_words_must_match_exactly():
    assert phrase_heard("one two", heard("won two")).missing == ("one",)


def test_shuffled_phrase_is_not_heard():
    match = phrase_heard(PHRASE, heard("My one-time phrase is lantern seven harbor purple."))

    assert not match.heard
    assert len(match.missing) == 3
    assert match.score == 0.25


def test_swapping_two_words_is_not_heard():
    match = phrase_heard(PHRASE, heard("purple harbor lantern seven"))

    assert not match.heard
    assert match.score == 0.75


def test_phrase_must_be_heard_as_a_phrase_not_gathered_from_far_apart():
    near = phrase_heard(PHRASE, heard("purple uh um er harbor seven lantern"))
    far = phrase_heard(PHRASE, heard("purple is a colour and the harbor had seven lanterns"))

    assert near.heard
    assert not far.heard


def test_a_word_heard_split_in_two_counts_only_when_exact():
    assert phrase_heard("purple harbor seven sunset", heard("purple harbor seven sun set")).heard
    # A near miss may not swallow a neighbouring word to close a gap.
    assert not phrase_heard(PHRASE, heard("purple a b c d e harbor seven lantern")).heard


def test_a_repeated_phrase_word_must_be_heard_each_time():
    assert phrase_heard("amber amber river lantern", heard("amber amber river lantern")).heard
    assert phrase_heard("amber amber river lantern", heard("amber river lantern")).missing == ("amber",)


def test_nothing_heard():
    match = phrase_heard(PHRASE, [])
    assert (match.heard, match.score, match.missing) == (False, 0.0, tuple(PHRASE.split()))


STATEMENT = "I consent to ODIADEV-TTS creating a synthetic version of my own voice. My one-time phrase is: purple."


def test_statement_coverage_counts_words_heard_in_order():
    words = words_of(STATEMENT)

    full = statement_coverage(STATEMENT, heard(STATEMENT.replace("ODIADEV-TTS", "ODA to TTS")))
    reordered = statement_coverage(STATEMENT, heard(" ".join(reversed(words))))
    other = statement_coverage(STATEMENT, heard("The weather today is bright and clear, with a light wind."))

    assert full.total == len(words) == 19
    assert full.missing == ("odiadev",)
    assert full.share == round(18 / 19, 4)
    assert reordered.share < 0.2
    assert other.share < 0.2


def test_statement_coverage_ignores_extra_words_heard():
    assert statement_coverage("the cat sat", heard("so the big cat sat down")).share == 1.0


@pytest.mark.parametrize(
    ("reference", "hypothesis", "wer"),
    [
        ("the cat sat on the mat", "the cat sat on the mat", 0.0),
        ("the cat sat on the mat", "the cat sat on mat", 1 / 6),  # a deletion
        ("the cat sat on the mat", "the cat sat on a mat", 1 / 6),  # a substitution
        ("the cat sat on the mat", "the cat sat down on the mat", 1 / 6),  # an insertion
        ("Call me at 7.", "call me at seven", 0.0),  # normalised both sides
        ("one two", "three four five", 1.5),  # may exceed 1
        ("", "", 0.0),
        ("", "something", 1.0),
    ],
)
def test_word_error_rate(reference, hypothesis, wer):
    assert word_error_rate(reference, hypothesis) == pytest.approx(wer)


def test_word_error_rate_takes_heard_words():
    assert word_error_rate("purple harbor seven lantern", heard("Purple Harbor 7 Lantern.")) == 0.0


def test_sound_keys():
    assert sound_key("willow") == sound_key("wool")
    assert sound_key("quartz") == sound_key("courts")
    assert sound_key("harbor") == sound_key("harbour")
    assert sound_key("lantern") != sound_key("lemon")


def test_a_word_heard_by_its_sound_counts_for_less():
    # What Whisper tiny.en heard for Piper saying "garden fossil willow thunder" (bench/asr.py).
    match = phrase_heard("garden fossil willow thunder", heard("My one-time phrase is, Garden Fossil Wool Thunder."))

    assert match.heard
    assert match.matched[2].heard == "wool"
    assert match.matched[2].similarity == SOUNDS_ALIKE
    assert match.score == pytest.approx((3 + SOUNDS_ALIKE) / 4)


def test_a_word_heard_as_two_that_sound_like_it():
    match = phrase_heard("diamond carpet bishop quartz", heard("diamond carpet fish of quartz"))

    assert match.heard
    assert match.matched[2].heard == "fish of"


def test_a_phrase_word_never_stands_for_another_phrase_word():
    # "pocket" and "rocket" are one edit apart: swapped, each would pass for the other without this rule.
    match = phrase_heard("pocket river rocket lemon", heard("rocket river pocket lemon"))

    assert not match.heard
    assert match.score <= 0.75


def test_no_two_product_words_are_within_tolerance_of_each_other():
    from tests.support.media import CONSENT_PHRASE_WORDS

    close = [
        (a, b)
        for i, a in enumerate(CONSENT_PHRASE_WORDS)
        for b in CONSENT_PHRASE_WORDS[i + 1 :]
        if edit_distance(a, b) <= max_edits(a)
    ]

    # voices.consent dropped one of each pair that was (amber/ember, paddle/saddle, pillow/willow, pocket/rocket).
    assert close == []


def test_a_date_after_the_keeps_one_the():
    assert words_of("on the 2nd of March") == ["on", "the", "second", "of", "march"]


def test_sound_alone_does_not_hear_a_phrase():
    # "creating" sounds like "garden" to the key, but nothing of the phrase was heard by its spelling.
    match = phrase_heard("window thunder fossil garden", heard("a synthetic version, creating my voice"))

    assert (match.heard, match.score, match.matched) == (False, 0.0, ())
