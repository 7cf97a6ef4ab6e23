"""A pronunciation dictionary: the customer's own words replaced by how they should be said.

Entries are literal text (never regular expressions, so no entry can be slow to match). At any position the
longest entry wins; between entries of the same length a case-sensitive one wins over a case-insensitive one.
Matching is one pass over the text: a replacement is never matched again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

from . import spans


@dataclass(frozen=True)
class PronunciationEntry:
    word: str
    replacement: str
    case_sensitive: bool = False
    whole_word: bool = True


@lru_cache(maxsize=256)
def _compiled(entries: tuple[PronunciationEntry, ...]) -> tuple[re.Pattern, tuple[PronunciationEntry, ...]]:
    ordered = tuple(
        sorted(entries, key=lambda e: (-len(e.word), not e.case_sensitive, not e.whole_word, e.word, e.replacement))
    )
    alternatives = []
    for entry in ordered:
        body = re.escape(entry.word)
        if not entry.case_sensitive:
            body = f"(?i:{body})"
        if entry.whole_word:
            # Not \b: an entry may begin or end with a symbol ("C++", "Dr.").
            body = rf"(?<!\w){body}(?!\w)"
        alternatives.append(f"({body})")
    return re.compile("|".join(alternatives)), ordered


def pronunciations_apply(
    text: str, entries: Iterable[PronunciationEntry], replace: Callable[[PronunciationEntry], str] | None = None
) -> str:
    """`text` with every match of an entry replaced by its replacement (or by what `replace` makes of it)."""
    # Only the entries that occur in the text go into the pattern: a 500-entry alternation tried at every position
    # costs ~45 ms per 200 characters, a substring test per entry well under one.
    folded, lowered = text.casefold(), text.lower()
    candidates = tuple(
        e
        for e in entries
        if e.word
        and (e.word in text if e.case_sensitive else (e.word.casefold() in folded or e.word.lower() in lowered))
    )
    if not candidates:
        return text
    pattern, ordered = _compiled(candidates)

    def substitute(match: re.Match) -> str:
        entry = ordered[match.lastindex - 1]
        return replace(entry) if replace else entry.replacement

    return spans.sub(pattern, substitute, text)
