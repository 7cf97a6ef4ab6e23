"""Shared pieces of the normalisation rules: number patterns and the substitution helper."""

from __future__ import annotations

import re
from collections.abc import Callable

from . import spans
from .numbers import cardinal, decimal

_INT = r"\d{1,3}(?:,\d{3})+(?!\d)|\d+"
_NUMBER = rf"(?:{_INT})(?:\.\d+)?"


def _int(text: str) -> int:
    return int(text.replace(",", ""))


def _number_words(text: str) -> str:
    """A written number (maybe with commas and a fraction) as words."""
    integer, _, fraction = text.partition(".")
    if fraction:
        return decimal(integer.replace(",", ""), fraction)
    return cardinal(_int(integer))


def _is_one(text: str) -> bool:
    return text in {"1", "1.0", "1.00"}


def _spaced(match: re.Match, words: str) -> str:
    """`words` in place of the match, with a space where it would otherwise touch a letter or digit."""
    string, start, end = match.string, match.start(), match.end()
    before = " " if start > 0 and string[start - 1].isalnum() else ""
    after = " " if end < len(string) and string[end].isalnum() else ""
    return f"{before}{words}{after}"


def _sub(pattern: re.Pattern, speak: Callable[[re.Match], str | None], text: str) -> str:
    """Replace each match by what `speak` says; None leaves the match as written."""

    def replace(match: re.Match) -> str:
        words = speak(match)
        return match.group(0) if words is None else _spaced(match, words)

    return spans.sub(pattern, replace, text)
