"""Word timings: from an engine's phoneme alignments to the words it was asked to say, and from the pieces of an
utterance to the seconds of the audio delivered.

Plain functions over lists and numbers. An engine with alignments (Piper) reports, on each `PcmChunk`, which words
of its request that chunk says and where (`WordTiming`, in the chunk's samples); `spoken_word_times` places them
on the stitched utterance (after the crossfades at the seams, which `speech.audio.stitch_offsets` measures). Speed
is inside the engine's alignments already (Piper's length scale stretches each phoneme), and resampling keeps
time, so the seconds hold for every format and sample rate.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from difflib import SequenceMatcher

from speech.engines.base import PcmChunk, WordTiming
from textnorm.words import words_of

# Piper's own markers: sentence start and end, and the pad after each phoneme.
_MARKERS = {"^", "$", "_"}


def is_spoken_phoneme(phoneme: str) -> bool:
    """A phoneme that is part of a word: not a word gap (space), punctuation (a pause) or a marker."""
    if not phoneme or phoneme in _MARKERS or phoneme.isspace():
        return False
    return not all(unicodedata.category(char).startswith("P") for char in phoneme)


def phoneme_words(word_phonemes: Sequence[Sequence[str]], sentences: Sequence[Sequence[str]]) -> list[list[int | None]]:
    """For each phoneme of each sentence (as the engine phonemized the whole text), the index of the word it says,
    or None for gaps and punctuation.

    `word_phonemes[i]` is word i phonemized alone. The whole text is not always the words' concatenation: the
    phonemizer joins some words ("of the" -> one phoneme word "ʌvðə") and reads a word differently in context (a
    stress mark, "the" before a vowel), so the two are aligned (a diff over phoneme symbols): matched phonemes take
    their word, mismatched runs share the words across them in order, and what is left takes the word before.
    """
    tagged = [(symbol, index) for index, phonemes in enumerate(word_phonemes) for symbol in phonemes]
    tagged = [(symbol, index) for symbol, index in tagged if is_spoken_phoneme(symbol)]
    positions = [
        (s, p) for s, sentence in enumerate(sentences) for p, ph in enumerate(sentence) if is_spoken_phoneme(ph)
    ]
    result: list[list[int | None]] = [[None] * len(sentence) for sentence in sentences]
    heard = [sentences[s][p] for s, p in positions]
    matcher = SequenceMatcher(None, [symbol for symbol, _ in tagged], heard, autojunk=False)
    assigned: list[int | None] = [None] * len(positions)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for offset in range(j2 - j1):
                assigned[j1 + offset] = tagged[i1 + offset][1]
        elif tag == "replace":
            for offset in range(j2 - j1):
                assigned[j1 + offset] = tagged[i1 + offset * (i2 - i1) // (j2 - j1)][1]
    previous: int | None = None
    for k, word in enumerate(assigned):
        if word is None:
            word = previous if previous is not None else next((w for w in assigned[k:] if w is not None), 0)
        # Never back in time: the words come in order.
        word = max(word, previous) if previous is not None else word
        assigned[k] = previous = word
    for (s, p), word in zip(positions, assigned, strict=True):
        result[s][p] = word
    return result


def chunk_word_timings(words: Sequence[int | None], samples_per_phoneme: Sequence[int]) -> tuple[WordTiming, ...]:
    """Where in one chunk each word is said: `words` gives the word of each phoneme (None: none), and
    `samples_per_phoneme` the audio each phoneme takes, with the sentence-start marker first (as Piper reports
    them: its marker, the phonemes, its end marker)."""
    bounds: dict[int, list[int]] = {}
    position = int(samples_per_phoneme[0]) if samples_per_phoneme else 0
    for word, count in zip(words, samples_per_phoneme[1:], strict=False):
        count = int(count)
        if word is not None and count > 0:
            span = bounds.setdefault(word, [position, position + count])
            span[1] = position + count
        position += count
    return tuple(WordTiming(index=word, start=start, end=end) for word, (start, end) in sorted(bounds.items()))


def spoken_word_times(
    pieces: Sequence[tuple[int, PcmChunk]], offsets: Sequence[int], rate: int, words_per_segment: Sequence[int]
) -> list[list[float] | None]:
    """[start, end] in seconds of the stitched audio for each word of the whole spoken text (the segments' words
    one after another), or None for a word no piece timed. `offsets[i]`: where piece i starts in the stitched
    samples (`stitch_offsets`); a piece's word indices count from its segment's first word."""
    first_word = [0]
    for count in words_per_segment:
        first_word.append(first_word[-1] + count)
    times: list[list[float] | None] = [None] * first_word[-1]
    for (segment, piece), offset in zip(pieces, offsets, strict=True):
        for timing in piece.words or ():
            if timing.index >= words_per_segment[segment]:
                continue
            index = first_word[segment] + timing.index
            start, end = (offset + timing.start) / rate, (offset + timing.end) / rate
            known = times[index]
            times[index] = [min(known[0], start), max(known[1], end)] if known else [start, end]
    return [[round(t[0], 3), round(t[1], 3)] if t else None for t in times]


# Dia's instructions to itself: a speaker tag or a nonverbal in brackets is no word a recogniser hears.
_NOT_HEARD = re.compile(r"^(\[S[12]\]|\(.*\))$")


def heard_word_times(
    spoken_words: Sequence[str], heard: Sequence[tuple[str, float, float]], duration: float
) -> list[list[float] | None]:
    """Spoken-word times for an engine without alignments, from a speech recogniser's words on its output
    ((text, start, end) in seconds). Spoken and heard words are compared as plain words (numbers in words, lower
    case: `textnorm.words.words_of`) and aligned in order; a spoken word takes the times of the heard words it
    matches. One the recogniser did not hear (or heard differently) is placed between its heard neighbours, its
    share of the gap in proportion to its length; speaker tags and nonverbals (`[S1]`, `(laughs)`) get none."""
    expected = [
        (token, index)
        for index, word in enumerate(spoken_words)
        if not _NOT_HEARD.match(word)
        for token in words_of(word)
    ]
    tokens = [(token, index) for index, (text, _, _) in enumerate(heard) for token in words_of(text)]
    times: list[list[float] | None] = [None] * len(spoken_words)
    matcher = SequenceMatcher(None, [t for t, _ in expected], [t for t, _ in tokens], autojunk=False)
    for block in matcher.get_matching_blocks():
        for offset in range(block.size):
            word = expected[block.a + offset][1]
            _, start, end = heard[tokens[block.b + offset][1]]
            known = times[word]
            times[word] = [min(known[0], start), max(known[1], end)] if known else [start, end]
    said = sorted({index for _, index in expected})
    # Runs of words not heard, between the heard ones (or the ends of the audio).
    run: list[int] = []
    previous_end = 0.0
    for index in [*said, None]:
        if index is not None and times[index] is None:
            run.append(index)
            continue
        next_start = times[index][0] if index is not None else duration
        if run:
            lengths = [max(len(spoken_words[i]), 1) for i in run]
            step = max(next_start - previous_end, 0.0) / sum(lengths)
            position = previous_end
            for i, length in zip(run, lengths, strict=True):
                times[i] = [position, position + step * length]
                position += step * length
            run = []
        if index is not None:
            previous_end = times[index][1]
    return [[round(t[0], 3), round(t[1], 3)] if t else None for t in times]
