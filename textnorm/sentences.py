"""Sentences of text that arrives in pieces (text-in streaming): which are complete, and long ones cut. Plain
Python: the web tier cuts streamed text, and the engines' chunking shares `split_long`."""

from __future__ import annotations

import re


def split_long(sentence: str, max_chars: int) -> list[str]:
    """A sentence longer than max_chars, cut at commas, then at spaces, then anywhere."""
    pieces: list[str] = []
    current = ""
    for word in re.split(r"(?<=[,;:])\s+|\s+", sentence):
        candidate = f"{current} {word}".strip()
        if len(candidate) <= max_chars:
            current = candidate
            continue
        if current:
            pieces.append(current)
        while len(word) > max_chars:
            pieces.append(word[:max_chars])
            word = word[max_chars:]
        current = word
    if current:
        pieces.append(current)
    return pieces


# A sentence ends at . ! ? or … (closing quotes or brackets may follow) and is complete once whitespace follows: the
# next piece of streamed text may still continue "3." into "3.5", but not "3. " into anything else.
_SENTENCE_DONE = re.compile("(?<=[.!?\u2026])[\"'\u201d\u2019)\\]]*\\s+")


def sentences_cut(buffer: str, *, max_chars: int, flush: bool = False) -> tuple[list[str], str]:
    """The complete sentences at the start of streamed text, and the rest still to come: `(sentences, rest)`.

    Text arrives in arbitrary pieces (an LLM's tokens): a sentence is complete once its end mark is followed by
    whitespace. `flush` takes the rest too (the caller has no more to add now). A sentence longer than `max_chars`
    is cut at commas, then spaces; so is a rest that grew past `max_chars` without a sentence end. Whitespace inside
    a sentence is collapsed; empty sentences are dropped."""
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_DONE.finditer(buffer):
        sentences.append(buffer[start : match.start()] + match.group().rstrip())
        start = match.end()
    rest = buffer[start:]
    pieces: list[str] = []
    for sentence in sentences:
        sentence = " ".join(sentence.split())
        if sentence:
            pieces.extend([sentence] if len(sentence) <= max_chars else split_long(sentence, max_chars))
    if flush:
        tail = " ".join(rest.split())
        if tail:
            pieces.extend([tail] if len(tail) <= max_chars else split_long(tail, max_chars))
        return pieces, ""
    if len(rest) > max_chars:
        # No sentence end in sight: speak what fills a piece, keep the last (maybe unfinished) word for later.
        parts = split_long(" ".join(rest.split()), max_chars)
        if len(parts) > 1:
            pieces.extend(parts[:-1])
            rest = parts[-1] + (" " if rest[-1:].isspace() else "")
    return pieces, rest
