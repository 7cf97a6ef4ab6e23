"""Normalisation rules: URLs, domains and email addresses, spelled as a speaker reads them."""

from __future__ import annotations

import re
from collections.abc import Callable

from . import spans
from .numbers import digits

# ---------------------------------------------------------------------------------------------------------------
# URLs and email addresses
# ---------------------------------------------------------------------------------------------------------------
_TLDS = "com|org|net|ng|io|dev|ai|co|uk|gov|edu|info|app|africa|biz|me|tv|us|ca|za|ke|gh"
_URL = re.compile(r"(?<![\w@])(?:https?://|www\.)[^\s<>\"']+", re.IGNORECASE)
_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_DOMAIN = re.compile(
    rf"(?<![\w@./-])(?:[A-Za-z0-9][A-Za-z0-9-]*\.)+(?:{_TLDS})(?![\w-]|\.\w)(?:/[^\s<>\"']*)?", re.IGNORECASE
)
_TRAILING_PUNCTUATION = ".,;:!?)]}'\""
_ADDRESS_SYMBOLS = {
    ".": "dot",
    "/": "slash",
    "-": "dash",
    "_": "underscore",
    "@": "at",
    ":": "colon",
    "?": "question mark",
    "=": "equals",
    "&": "and",
    "#": "hash",
    "~": "tilde",
    "%": "percent",
    "+": "plus",
}
_ADDRESS_PARTS = re.compile(r"[A-Za-z]+|\d+|.")


def _speak_address(address: str) -> str:
    words = []
    for part in _ADDRESS_PARTS.findall(address):
        if part.isdigit():
            words.append(digits(part))
        elif part.lower() == "www":
            words.append("w w w")
        elif part.isalpha():
            words.append(part)
        elif part in _ADDRESS_SYMBOLS:
            words.append(_ADDRESS_SYMBOLS[part])
    return " ".join(words)


def _address_rule(pattern: re.Pattern, strip_scheme: bool) -> Callable[[str], str]:
    def rule(text: str) -> str:
        def replace(match: re.Match) -> str:
            address = match.group(0)
            trailing = ""
            while address and address[-1] in _TRAILING_PUNCTUATION:
                trailing = address[-1] + trailing
                address = address[:-1]
            if strip_scheme:
                address = re.sub(r"^https?://", "", address, flags=re.IGNORECASE)
            address = address.rstrip("/")
            return f"{_speak_address(address)}{trailing}"

        return spans.sub(pattern, replace, text)

    return rule
