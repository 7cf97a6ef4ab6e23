"""Comparing what was said with what was heard: word normalisation, a one-time phrase heard in order, the share of
a statement heard, and word error rate.

Both sides go through the same normalisation (`words_of`): textnorm's own reading of numbers, dates, money and
addresses ("7" -> "seven", "2nd" -> "second", "a@b.com" -> "a at b dot com"), then lower case, no punctuation and
hyphens split ("one-time" -> "one time"), so a recogniser that writes "Purple Harbor 7 Lantern." matches the
phrase "purple harbor seven lantern".

Word equality tolerates a few character edits (`max_edits`), because a recogniser hears "tablets" for "tablet" or
"quarts" for "quartz": words of four to seven letters may differ by one edit, longer words by two, words of three
letters or fewer not at all (one edit turns "one" into "won" or "on"). Measured with Whisper tiny.en on Piper
speech (bench/asr.py, bench/measured/asr_2core.json): of 576 phrase words said in honest recordings, 86% came back
exact, 3% one edit away, 3% two edits and 8% further ("wool" for "willow", "fish of" for "bishop"); of 1728 phrase
words checked against recordings that did not contain them, none had a heard word within one edit, 70 (4%) within
two. So one edit, not two. Only 4 pairs of the product's 136 phrase words are one edit apart (amber/ember,
paddle/saddle, pillow/willow, pocket/rocket).
Words heard wrongly but sounding alike are matched by a coarse sound key (`sound_key`) and count for less
(SOUNDS_ALIKE): 41 of the 576 honest phrase words were heard only that way.

Plain Python: no Django, no engine, no third-party import.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from .normalize import normalize
from .numbers import cardinal, ordinal


class HasText(Protocol):
    text: str


WordLike = str | HasText

_TOKEN = re.compile(r"[a-z0-9]+")
# Whisper writes times as "9.30am": the clock reading "9:30 am" that normalize() knows.
_DOTTED_TIME = re.compile(r"\b(\d{1,2})\.(\d{2})\s?([AaPp])\.?[Mm]\b\.?")
_ORDINAL_LEFT = re.compile(r"^(\d+)(?:st|nd|rd|th)$")
_NUMBER_LEFT = re.compile(r"^\d+$")


def max_edits(word: str) -> int:
    """Character edits allowed between an expected word and the word heard (see the module docstring)."""
    if len(word) <= 3:
        return 0
    if len(word) <= 7:
        return 1
    return 2


def edit_distance(a: Sequence, b: Sequence) -> int:
    """Levenshtein distance (insertions, deletions and substitutions each cost 1) between two sequences."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, item_a in enumerate(a, start=1):
        current = [i]
        for j, item_b in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (item_a != item_b)))
        previous = current
    return previous[-1]


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char)).lower()


def words_of(text: str) -> list[str]:
    """`text` as comparable words: numbers read as words, lower case, no punctuation, hyphenated words split.

    "Purple Harbor 7 Lantern." -> ["purple", "harbor", "seven", "lantern"]; "my 2nd one-time" -> ["my", "second",
    "one", "time"]; "don't" -> ["dont"] (an apostrophe joins, so "don't" and "dont" compare equal).
    """
    text = _DOTTED_TIME.sub(lambda m: f"{m.group(1)}:{m.group(2)} {m.group(3)}m", text)
    spoken = _fold(normalize(text)).replace("'", "").replace("\u2019", "")
    words: list[str] = []
    for token in _TOKEN.findall(spoken):
        # normalize() reads numbers in context; a digit left over (inside "24/7", say) is read here.
        if match := _ORDINAL_LEFT.match(token):
            words += _TOKEN.findall(ordinal(int(match.group(1))))
        elif _NUMBER_LEFT.match(token):
            words += _TOKEN.findall(cardinal(int(token)))
        else:
            words.append(token)
    return words


def _text(word: WordLike) -> str:
    return word if isinstance(word, str) else word.text


def _heard_tokens(words: Iterable[WordLike]) -> list[tuple[str, int]]:
    """Each heard word normalised on its own (one may become several: "25" -> "twenty", "five"), with the index of
    the word it came from, so a match can be traced back to its timing."""
    return [(token, index) for index, word in enumerate(words) for token in words_of(_text(word))]


def _close(expected: str, heard: str) -> int | None:
    """The edit distance between the words when within tolerance, else None."""
    if expected == heard:
        return 0
    allowed = max_edits(expected)
    if abs(len(expected) - len(heard)) > allowed:
        return None
    distance = edit_distance(expected, heard)
    return distance if distance <= allowed else None


# How much a word heard only by its sound ("willow" heard as "wool", "bishop" as "fish of": the same sound key)
# counts towards a phrase score: one such word in four leaves 0.9375, two leave 0.875.
SOUNDS_ALIKE = 0.75

# A coarse English sound key: spellings of one sound become one letter, voiced and voiceless pairs merge (b/p/f/v,
# d/t, g/k, s/z), vowels go except a leading one, doubled letters collapse. Rules apply in order.
_SOUND_RULES = [
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"^(?:kn|gn|pn)", "n"),
        (r"^wr", "r"),
        (r"^wh", "w"),
        (r"^x", "s"),
        (r"^ps", "s"),
        (r"^h(?=[aeiouy])", "H"),
        (r"tch|ch|sh|dge|j", "X"),
        (r"th", "0"),
        (r"ph", "P"),
        (r"ck|qu|q", "K"),
        (r"x", "KS"),
        (r"c(?=[eiy])", "S"),
        (r"c", "K"),
        (r"gh(?![aeiou])", ""),
        (r"mb$", "m"),
        (r"ng$", "n"),
        (r"[bpfv]", "P"),
        (r"[dt]", "T"),
        (r"[gk]", "K"),
        (r"[sz]", "S"),
        (r"(?<=.)[wyh](?![aeiou])", ""),
        (r"^[aeiouy]", "A"),
        (r"[aeiouyh]", ""),
        (r"(.)\1+", r"\1"),
    )
]


def sound_key(word: str) -> str:
    """A coarse key of how an English word sounds: "willow" and "wool" -> "WL"; "quartz" and "courts" -> "KRTS"."""
    key = word.lower()
    for pattern, replacement in _SOUND_RULES:
        key = pattern.sub(replacement, key)
    return key.upper()


def word_similarity(expected: str, heard: str) -> tuple[float, int] | None:
    """How well `heard` stands for `expected`, in (0, 1], with the character edits between them; None when it
    does not. Exact: 1. Within the spelling tolerance (`max_edits`): 1 - edits / len. The same sound key:
    SOUNDS_ALIKE. (Keys one edit apart were tried and dropped: "phrases" then stands for "spruce", and a phrase
    with two words swapped scores 0.84, too close to the review band.)"""
    if expected == heard:
        return 1.0, 0
    distance = edit_distance(expected, heard)
    scores = [1.0 - distance / len(expected)] if distance <= max_edits(expected) else []
    if sound_key(expected) == sound_key(heard):
        scores.append(SOUNDS_ALIKE)
    return (max(scores), distance) if scores else None


@dataclass(frozen=True)
class WordMatch:
    expected: str
    heard: str  # the heard token(s), normalised; two joined by a space when a word was heard split ("sun set")
    index: int  # position, in the `words` given, of the (first) heard word
    distance: int  # character edits between `expected` and `heard` (spaces removed)
    similarity: float  # see word_similarity
    # Set when no listen wrote the word and it was listened for instead (speech.consent): the probability the
    # recogniser gave it at its place.
    listened: float | None = None


@dataclass(frozen=True)
class PhraseMatch:
    """How much of a phrase was heard, in order. `score` is the mean over the phrase's words of each one's
    similarity (word_similarity; 0 for a word not heard): 1.0 when every word came back exact."""

    heard: bool  # every phrase word heard, in order
    score: float
    matched: tuple[WordMatch, ...]
    missing: tuple[str, ...]


@dataclass(frozen=True)
class Coverage:
    """The share of a text's words heard in order (a longest common subsequence with tolerant word equality)."""

    share: float
    matched: int
    total: int
    missing: tuple[str, ...]


def _split_merged(tokens: list[tuple[str, int]], expected: list[str]) -> list[tuple[str, int]]:
    """Heard tokens, with one that is two consecutive phrase words run together ("hazel bridge" written
    "Hazelbridge", "hammer berry" as "hammerberry") split back into those two. Only an exact join of the two
    expected words, in the phrase's order, is split: the split never makes a word that was not said."""
    joins = {a + b: (a, b) for a, b in itertools.pairwise(expected)}
    out: list[tuple[str, int]] = []
    for token, index in tokens:
        pair = joins.get(token)
        out.extend([(pair[0], index), (pair[1], index)] if pair and token not in expected else [(token, index)])
    return out


def phrase_heard(phrase: str, words: Iterable[WordLike], *, max_gap: int = 3) -> PhraseMatch:
    """Whether every word of `phrase` was heard, in order, within `words` (strings, or objects with `.text` such as
    speech.asr.Word), allowing near misses of spelling or sound (word_similarity).

    Consecutive phrase words may be separated by at most `max_gap` other heard words (plus two for each phrase
    word between them that was not heard): the phrase must be heard as a phrase, not gathered word by word from a
    long recording. A word heard split in two ("sunset" as "sun set", "bishop" as "fish of") counts. A heard word
    that is itself another word of the phrase only ever stands for that word: with the words shuffled, "pocket"
    heard where "rocket" belongs is not a near miss. Words matched by sound alone, with none by spelling, are not
    a phrase heard.
    """
    expected = words_of(phrase)
    tokens = _split_merged(_heard_tokens(words), expected)
    if not expected:
        return PhraseMatch(heard=True, score=1.0, matched=(), missing=())
    own = set(expected)
    # Candidate matches of each phrase word: (start token, end token exclusive, similarity, distance, heard text).
    candidates: list[list[tuple[int, int, float, int, str]]] = []
    for word in expected:
        options = []
        for start, (token, _) in enumerate(tokens):
            if token in own and token != word:
                continue
            if found := word_similarity(word, token):
                options.append((start, start + 1, *found, token))
            # Heard split in two. Both parts must be words (two letters or more), or a near miss could swallow a
            # neighbouring "a" to close a gap.
            if start + 1 < len(tokens):
                following = tokens[start + 1][0]
                if len(token) >= 2 and len(following) >= 2 and following not in own:
                    joined = word_similarity(word, token + following)
                    if joined and (not found or joined[0] > found[0]):
                        options.append((start, start + 2, *joined, f"{token} {following}"))
        candidates.append(options)

    # best[i][c]: the best alignment of phrase words 0..i whose last matched word is phrase word i, candidate c.
    # Quality is the sum of similarities; `back` points at the previous matched word.
    best: list[list[float]] = [[0.0] * len(options) for options in candidates]
    back: list[list[tuple[int, int] | None]] = [[None] * len(options) for options in candidates]
    for i, options in enumerate(candidates):
        for c, (start, _, similarity, _, _) in enumerate(options):
            best[i][c], back[i][c] = similarity, None
            for p in range(i):
                skipped = i - p - 1
                for pc, (_, p_end, _, _, _) in enumerate(candidates[p]):
                    if p_end <= start and start - p_end <= max_gap + 2 * skipped:
                        total = best[p][pc] + similarity
                        if total > best[i][c]:
                            best[i][c], back[i][c] = total, (p, pc)
    end: tuple[int, int] | None = None
    top = 0.0
    for i, options in enumerate(candidates):
        for c in range(len(options)):
            if best[i][c] > top:
                top, end = best[i][c], (i, c)
    chosen: dict[int, WordMatch] = {}
    while end is not None:
        i, c = end
        start, _, similarity, distance, heard = candidates[i][c]
        chosen[i] = WordMatch(
            expected=expected[i], heard=heard, index=tokens[start][1], distance=distance, similarity=similarity
        )
        end = back[i][c]
    if chosen and all(match.similarity == SOUNDS_ALIKE for match in chosen.values()):
        # Sound alone hears a phrase anywhere ("creating" sounds like "garden"): at least one word must be spelt.
        chosen, top = {}, 0.0
    missing = tuple(word for i, word in enumerate(expected) if i not in chosen)
    return PhraseMatch(
        heard=not missing,
        score=round(top / len(expected), 4),
        matched=tuple(chosen[i] for i in sorted(chosen)),
        missing=missing,
    )


def statement_coverage(statement: str, words: Iterable[WordLike]) -> Coverage:
    """The share of `statement`'s words heard in order within `words` (longest common subsequence, tolerant word
    equality). Words heard that the statement lacks do not lower it; words of the statement not heard do."""
    expected = words_of(statement)
    heard = [token for token, _ in _heard_tokens(words)]
    if not expected:
        return Coverage(share=1.0, matched=0, total=0, missing=())
    rows, cols = len(expected), len(heard)
    table = [[0] * (cols + 1) for _ in range(rows + 1)]
    for i in range(rows - 1, -1, -1):
        for j in range(cols - 1, -1, -1):
            if _close(expected[i], heard[j]) is not None:
                table[i][j] = table[i + 1][j + 1] + 1
            else:
                table[i][j] = max(table[i + 1][j], table[i][j + 1])
    missing: list[str] = []
    i = j = 0
    while i < rows:
        if j < cols and _close(expected[i], heard[j]) is not None and table[i][j] == table[i + 1][j + 1] + 1:
            i, j = i + 1, j + 1
        elif j < cols and table[i][j + 1] >= table[i + 1][j]:
            j += 1
        else:
            missing.append(expected[i])
            i += 1
    matched = table[0][0]
    return Coverage(share=round(matched / rows, 4), matched=matched, total=rows, missing=tuple(missing))


def word_error_rate(reference: str | Iterable[WordLike], hypothesis: str | Iterable[WordLike]) -> float:
    """(substitutions + deletions + insertions) / reference words, on normalised words with exact equality.

    Either side is a text or a sequence of words. An empty reference gives 0.0 for an empty hypothesis, else 1.0.
    """

    def normalised(side) -> list[str]:
        return words_of(side) if isinstance(side, str) else [token for token, _ in _heard_tokens(side)]

    ref, hyp = normalised(reference), normalised(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return edit_distance(ref, hyp) / len(ref)
