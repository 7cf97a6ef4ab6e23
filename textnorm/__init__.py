"""Text into what the engines should say: English normalisation and per-account pronunciation dictionaries.

Plain Python with no Django, no engine and no third-party import, so both the web tier (which computes the spoken
text, and from it the cache key, before a job is queued) and the workers may import it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from . import spans
from .normalize import normalize
from .pronunciation import PronunciationEntry, pronunciations_apply

__all__ = ["PronunciationEntry", "normalize", "pronunciations_apply", "spoken_text"]

_WHITESPACE = re.compile(r"\s+")


def _marker_prefix(text: str) -> str:
    prefix = "zqj"
    while prefix in text.lower():
        prefix += "q"
    return prefix


def _marker_index(letters: str) -> int:
    return int("".join(str("abcdefghij".index(letter)) for letter in letters))


def spoken_text(text: str, *, normalize_text: bool = True, pronunciations: Iterable[PronunciationEntry] = ()) -> str:
    """What the engine says for `text`: the account's pronunciations first, then (unless `normalize_text` is
    false) English normalisation of the rest.

    The dictionary goes first so that a customer's entry overrides what normalisation would have said ("St." ->
    "Station", "911" -> "nine one one"); a replacement is spoken exactly as written, never normalised again.
    """
    entries = tuple(pronunciations)
    if not normalize_text:
        return spans.sub(_WHITESPACE, " ", pronunciations_apply(text, entries)).strip()
    if not entries:
        return normalize(text)
    # Each replacement waits behind a marker of plain letters that no normalisation rule touches (a letters-only
    # word inside an address or next to a number is kept as it is), and is put back afterwards.
    prefix = _marker_prefix(text)
    replacements: list[str] = []

    def hold(entry: PronunciationEntry) -> str:
        replacements.append(entry.replacement)
        index = "".join("abcdefghij"[int(d)] for d in str(len(replacements) - 1))
        return f"{prefix}{index}x"

    held = pronunciations_apply(text, entries, replace=hold)
    spoken = normalize(held)
    spoken = spans.sub(rf"{prefix}([a-j]+)x", lambda m: replacements[_marker_index(m.group(1))], spoken)
    return spans.sub(_WHITESPACE, " ", spoken).strip()
