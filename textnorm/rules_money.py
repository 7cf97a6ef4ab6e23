"""Normalisation rules: money in naira, dollars, pounds and euros, with minor units and magnitudes."""

from __future__ import annotations

import re

from .numbers import cardinal
from .rules_common import _NUMBER, _int, _number_words, _sub

# ---------------------------------------------------------------------------------------------------------------
# Money
# ---------------------------------------------------------------------------------------------------------------
# major singular, major plural, minor singular, minor plural
_CURRENCIES = {
    "naira": ("naira", "naira", "kobo", "kobo"),
    "dollar": ("dollar", "dollars", "cent", "cents"),
    "pound": ("pound", "pounds", "penny", "pence"),
    "euro": ("euro", "euros", "cent", "cents"),
}
_CURRENCY_SIGNS = {
    "₦": "naira",
    "NGN": "naira",
    "N": "naira",
    "$": "dollar",
    "USD": "dollar",
    "£": "pound",
    "GBP": "pound",
    "€": "euro",
    "EUR": "euro",
}
_MAGNITUDES = {
    "k": "thousand",
    "m": "million",
    "bn": "billion",
    "b": "billion",
    "thousand": "thousand",
    "million": "million",
    "billion": "billion",
    "trillion": "trillion",
}
_MAGNITUDE = r"(?:(?P<mag>[kKmMbB]|bn|BN)|\s(?P<magword>thousand|million|billion|trillion))(?!\w)"
_MONEY_BEFORE = re.compile(
    r"(?<![\w.,])(?P<sign>[-\u2212])?"
    r"(?P<cur>₦|\$|£|€|(?:NGN|USD|GBP|EUR)\s?|N(?=\d{1,3}(?:,\d{3})+(?!\d)))"
    rf"(?P<num>{_NUMBER})(?!\.\d)(?:{_MAGNITUDE})?"
)
_MONEY_AFTER = re.compile(rf"(?<![\w.,])(?P<num>{_NUMBER})\s?(?P<cur>NGN|USD|GBP|EUR)(?!\w)")


def _speak_money(number: str, currency: str, magnitude: str | None = None, negative: bool = False) -> str:
    one, many, minor_one, minor_many = _CURRENCIES[currency]
    sign = "minus " if negative else ""
    if magnitude:
        return f"{sign}{_number_words(number)} {magnitude} {many}"
    integer, _, fraction = number.partition(".")
    if len(fraction) > 2:
        return f"{sign}{_number_words(number)} {many}"
    major = _int(integer)
    minor = int(fraction.ljust(2, "0")) if fraction else 0
    major_words = f"{cardinal(major)} {one if major == 1 else many}"
    minor_words = f"{cardinal(minor)} {minor_one if minor == 1 else minor_many}"
    if minor and major:
        return f"{sign}{major_words} and {minor_words}"
    if minor:
        return f"{sign}{minor_words}"
    return f"{sign}{major_words}"


def _money(text: str) -> str:
    def before(match: re.Match) -> str:
        magnitude = match.group("mag") or match.group("magword")
        return _speak_money(
            match.group("num"),
            _CURRENCY_SIGNS[match.group("cur").strip()],
            _MAGNITUDES[magnitude.lower()] if magnitude else None,
            negative=bool(match.group("sign")),
        )

    text = _sub(_MONEY_BEFORE, before, text)
    return _sub(_MONEY_AFTER, lambda m: _speak_money(m.group("num"), _CURRENCY_SIGNS[m.group("cur")]), text)
