"""Cutting text that arrives in pieces into complete sentences (text-in streaming)."""

import random

from textnorm.sentences import sentences_cut

TEXT = 'Pi is 3.14, roughly. "Is it?" she asked! Yes… it is. And then'


def test_a_sentence_is_complete_once_whitespace_follows_its_end():
    assert sentences_cut("Hello there.", max_chars=400) == ([], "Hello there.")
    assert sentences_cut("Hello there. ", max_chars=400) == (["Hello there."], "")
    assert sentences_cut("It costs 3.", max_chars=400) == ([], "It costs 3.")  # maybe "3.5" next
    assert sentences_cut(TEXT, max_chars=400) == (
        (["Pi is 3.14, roughly.", '"Is it?"', "she asked!", "Yes…", "it is."], "And then")
    )


def test_flush_takes_the_rest_and_empty_text_gives_nothing():
    assert sentences_cut("One. Two and", max_chars=400, flush=True) == (["One.", "Two and"], "")
    assert sentences_cut("   ", max_chars=400, flush=True) == ([], "")


def test_long_text_without_an_end_is_cut_at_words():
    pieces, rest = sentences_cut("word " * 30, max_chars=40)
    assert all(len(p) <= 40 for p in pieces)
    assert pieces
    assert " ".join([*pieces, rest]).split() == ["word"] * 30


def test_any_split_of_a_text_into_pieces_gives_the_same_sentences():
    rng = random.Random(3)
    whole, _ = sentences_cut(TEXT, max_chars=400, flush=True)
    for _ in range(200):
        cuts = sorted(rng.sample(range(1, len(TEXT)), 10))
        buffer, got = "", []
        for a, b in zip([0, *cuts], [*cuts, len(TEXT)], strict=True):
            buffer += TEXT[a:b]
            done, buffer = sentences_cut(buffer, max_chars=400)
            got += done
        got += sentences_cut(buffer, max_chars=400, flush=True)[0]
        assert got == whole
