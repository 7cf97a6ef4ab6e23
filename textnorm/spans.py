"""Where each word of a spoken text came from: the words of the text as sent that normalisation turned into it.

Normalisation is a chain of regular-expression substitutions (pronunciations, then the rules of `normalize`).
Inside `spans_tracked(text)` each top-level substitution made through `sub` records what it replaced, so every
character of the result traces back to a span of `text`: a replacement's characters to the whole match ("two
thousand five hundred naira" to "₦2,500"), a kept character to itself. A change made some other way (a `strip`,
Unicode NFC) is followed by a character diff, which is exact for changes that only add or drop characters.

Nothing here changes what normalisation says: `sub` outside a tracking block is `pattern.sub`.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from difflib import SequenceMatcher

Span = tuple[int, int] | None  # [start, end) in the text as sent; None: inserted from nowhere (a joining space)


class _Tracker:
    def __init__(self, text: str, origins: list[Span] | None = None) -> None:
        self.text = text
        self.origins: list[Span] = origins if origins is not None else [(i, i + 1) for i in range(len(text))]
        self.depth = 0  # > 0 while a substitution computes its replacement: nested substitutions are not steps

    def follow(self, text: str) -> None:
        """Catch up with a change made without `sub` (by a character diff)."""
        if text == self.text:
            return
        origins: list[Span] = []
        matcher = SequenceMatcher(None, self.text, text, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                origins.extend(self.origins[i1:i2])
            elif j2 > j1:
                origins.extend([_union(self.origins[i1:i2])] * (j2 - j1))
        self.text, self.origins = text, origins

    def replaced(self, before: str, edits: list[tuple[int, int, int]], after: str) -> None:
        """`before` became `after` by replacing each [start, end) of `edits` with `length` new characters."""
        self.follow(before)
        origins: list[Span] = []
        last = 0
        for start, end, length in edits:
            origins.extend(self.origins[last:start])
            origins.extend([_union(self.origins[start:end])] * length)
            last = end
        origins.extend(self.origins[last:])
        self.text, self.origins = after, origins


def _union(spans: Sequence[Span]) -> Span:
    known = [span for span in spans if span is not None]
    if not known:
        return None
    return min(span[0] for span in known), max(span[1] for span in known)


_active: ContextVar[_Tracker | None] = ContextVar("textnorm_spans", default=None)


def sub(pattern: re.Pattern | str, repl: str | Callable[[re.Match], str], text: str) -> str:
    """`pattern.sub(repl, text)`, recorded as a step when spans are tracked and this is not a nested call."""
    if isinstance(pattern, str):
        pattern = re.compile(pattern)
    tracker = _active.get()
    if tracker is None or tracker.depth:
        return pattern.sub(repl, text)
    tracker.depth += 1
    try:
        pieces: list[str] = []
        edits: list[tuple[int, int, int]] = []
        last = 0
        for match in pattern.finditer(text):
            replacement = repl(match) if callable(repl) else match.expand(repl)
            if replacement == match.group(0):
                continue
            pieces.append(text[last : match.start()])
            pieces.append(replacement)
            edits.append((match.start(), match.end(), len(replacement)))
            last = match.end()
        pieces.append(text[last:])
    finally:
        tracker.depth -= 1
    result = "".join(pieces)
    tracker.replaced(text, edits, result)
    return result


def join_parts(parts: Sequence[str], transform: Callable[[int, str], str], separator: str = " ") -> str:
    """`separator.join(transform(i, part))` over `parts`, consecutive pieces of one text (a `re.split` with a
    capturing group), each transformed with its own spans tracked."""
    tracker = _active.get()
    whole = "".join(parts)
    if tracker is None or tracker.depth:
        return separator.join(transform(index, part) for index, part in enumerate(parts))
    tracker.follow(whole)
    texts: list[str] = []
    origins: list[Span] = []
    offset = 0
    for index, part in enumerate(parts):
        child = _Tracker(part, tracker.origins[offset : offset + len(part)])
        token = _active.set(child)
        try:
            result = transform(index, part)
        finally:
            _active.reset(token)
        child.follow(result)
        if index:
            texts.append(separator)
            origins.extend([None] * len(separator))
        texts.append(result)
        origins.extend(child.origins)
        offset += len(part)
    tracker.text, tracker.origins = "".join(texts), origins
    return tracker.text


@dataclass
class Tracked:
    """The spans of a text being normalised: call `finish` with the final spoken text."""

    _tracker: _Tracker

    def finish(self, spoken: str) -> list[Span]:
        """One span of the source per character of `spoken`."""
        self._tracker.follow(spoken)
        return list(self._tracker.origins)


@contextmanager
def spans_tracked(text: str) -> Iterator[Tracked]:
    """Track the substitutions made on `text` inside the block (for `word_units`)."""
    tracker = _Tracker(text)
    token = _active.set(tracker)
    try:
        yield Tracked(tracker)
    finally:
        _active.reset(token)


_WORD = re.compile(r"\S+")


def word_units(text: str, spoken: str, origins: Sequence[Span]) -> list[tuple[str, int, int]]:
    """The words of `text` (as sent) with the spoken words that say them: (text, first, end) where spoken words
    `first` to `end - 1` (indices into `spoken.split()`) say that text.

    One unit is the smallest run of words as sent that normalisation rewrote together: "₦2,500" is one unit
    said by five spoken words, "Nov 26, 2026" (one date) one unit of three written words. A written word that
    says nothing (a lone dash) joins the unit before it (or, first in the text, the one after).
    """
    written = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    said = [(m.start(), m.end()) for m in _WORD.finditer(spoken)]
    # Per spoken word: the range of written words its characters come from.
    units: list[list[int]] = []  # [first written, last written, first spoken, end spoken]
    for index, (start, end) in enumerate(said):
        span = _union(origins[start:end])
        hits = [] if span is None else [i for i, (a, b) in enumerate(written) if a < span[1] and span[0] < b]
        if not hits:
            if units:
                units[-1][3] = index + 1
            continue
        unit = [hits[0], hits[-1], index, index + 1]
        # Merged with every earlier unit it overlaps (normalisation never reorders, so those are at the end).
        while units and units[-1][1] >= unit[0]:
            previous = units.pop()
            unit = [min(unit[0], previous[0]), max(unit[1], previous[1]), previous[2], index + 1]
        units.append(unit)
    if not units:
        return []
    # Written words no spoken word came from: into the unit before (or the first unit).
    units[0][0] = 0
    for previous, following in itertools.pairwise(units):
        previous[1] = following[0] - 1
    units[-1][1] = len(written) - 1
    return [(text[written[a][0] : written[b][1]], first, end) for a, b, first, end in units]
