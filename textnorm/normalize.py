"""English text normalisation: written forms (numbers, money, dates, times, abbreviations, addresses) into the
words a speaker would say, so that every engine reads them the same way.

Pure functions of the input: no locale, clock or configuration is consulted, so the same text always gives the
same spoken text (the synthesis cache key is computed from it). Rules run in a fixed order, most specific first
(a URL before a number inside it, a date before the numbers it is made of); each rule's output contains no digits,
so later rules never see it again.

Conventions (documented in the README):
- Numbers: US style, no "and" after hundreds ("one hundred one"); thousands separators are commas ("2,500");
  digits after a decimal point are read one by one ("three point one four"). Integers of ten or more digits
  without separators, and integers with a leading zero, are read digit by digit (phone and account numbers).
- Dates: ISO "2026-11-26"; "26/11/2026", "26.11.2026" and "26-11-2026" are read day first (the Nigerian and
  British order), so "05/06/2026" is the fifth of June; month first only when the second number cannot be a month
  ("11/26/2026"); "Nov 26, 2026", "26 November 2026", "26th of Nov". An impossible date is left as numbers.
- Fractions: only halves, thirds and quarters ("1/2", "2½"); "24/7" or "5/10" stay as written.
- Money: "₦", "NGN" and "N" before a comma-grouped amount ("N2,500") are naira, with kobo; "$" / "USD" dollars and
  cents; "£" / "GBP" pounds and pence; "€" / "EUR" euros and cents; "k", "m", "bn" and "million" magnitudes.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from . import spans
from .numbers import cardinal, digits, ordinal, year
from .rules_addresses import _DOMAIN, _EMAIL, _URL, _address_rule
from .rules_common import _INT, _NUMBER, _int, _is_one, _number_words, _sub
from .rules_dates import _dates, _times
from .rules_money import _money

# ---------------------------------------------------------------------------------------------------------------
# Percentages, units, ordinals, phone numbers, ranges, plain numbers
# ---------------------------------------------------------------------------------------------------------------
_SIGN = r"(?P<sign>(?<![\w.,])[-\u2212])?"
_PERCENT = re.compile(rf"(?<![\d.,]){_SIGN}(?P<num>{_NUMBER})\s?%")

# unit: (singular, plural)
_UNITS = {
    "km/h": ("kilometer per hour", "kilometers per hour"),
    "kmh": ("kilometer per hour", "kilometers per hour"),
    "kph": ("kilometer per hour", "kilometers per hour"),
    "mph": ("mile per hour", "miles per hour"),
    "km": ("kilometer", "kilometers"),
    "kg": ("kilogram", "kilograms"),
    "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"),
    "mg": ("milligram", "milligrams"),
    "ml": ("milliliter", "milliliters"),
    "mL": ("milliliter", "milliliters"),
    "lbs": ("pound", "pounds"),
    "lb": ("pound", "pounds"),
    "°C": ("degree Celsius", "degrees Celsius"),
    "°F": ("degree Fahrenheit", "degrees Fahrenheit"),
    "°": ("degree", "degrees"),
    "KB": ("kilobyte", "kilobytes"),
    "kB": ("kilobyte", "kilobytes"),
    "MB": ("megabyte", "megabytes"),
    "GB": ("gigabyte", "gigabytes"),
    "TB": ("terabyte", "terabytes"),
    "kHz": ("kilohertz", "kilohertz"),
    "MHz": ("megahertz", "megahertz"),
    "GHz": ("gigahertz", "gigahertz"),
    "Hz": ("hertz", "hertz"),
    "kWh": ("kilowatt-hour", "kilowatt-hours"),
    "kW": ("kilowatt", "kilowatts"),
}
_UNIT_NAMES = "|".join(re.escape(unit) for unit in sorted(_UNITS, key=len, reverse=True))
_UNIT = re.compile(rf"(?<![\d.,]){_SIGN}(?P<num>{_NUMBER})\s?(?P<unit>{_UNIT_NAMES})(?!\w)")
_ORDINAL = re.compile(rf"(?<![\w.,])(?P<num>{_INT})(?:st|nd|rd|th|ST|ND|RD|TH)(?!\w)")
# "+234 803 123 4567", "0803-123-4567", "08031234567": digit by digit, a pause between groups.
_PHONE = re.compile(r"(?<![\w+.,])(?P<plus>\+)?(?P<number>(?(plus)\d|0\d)\d*(?:[ -]\d{2,})*)(?![\w]|[.,]\d)")
# "10-20", or two numbers around an en dash: a hyphen only without spaces (with spaces it is a minus).
_RANGE = re.compile(rf"(?<![\w.,-])(?P<a>{_NUMBER})(?:-|\s?\u2013\s?)(?P<b>{_NUMBER})(?![\w]|[.,-]\d)")
_VERSION = re.compile(r"(?<![\d.])\d+(?:\.\d+){2,}(?![.]?\d)")
_PLAIN_NUMBER = re.compile(rf"(?<!\d)(?P<sign>(?<![\w-])[-\u2212])?(?P<num>{_NUMBER})(?!\d)")


def _units(text: str) -> str:
    def speak(match: re.Match) -> str:
        number = match.group("num")
        one, many = _UNITS[match.group("unit")]
        sign = "minus " if match.group("sign") else ""
        return f"{sign}{_number_words(number)} {one if _is_one(number) else many}"

    return _sub(_UNIT, speak, text)


def _phone_numbers(text: str) -> str:
    def speak(match: re.Match) -> str:
        groups = re.split(r"[ -]", match.group("number"))
        spoken = ", ".join(digits(group) for group in groups)
        return f"plus {spoken}" if match.group("plus") else spoken

    return _sub(_PHONE, speak, text)


def _ranges(text: str) -> str:
    def side(number: str, both_years: bool) -> str:
        return year(int(number)) if both_years else _number_words(number)

    def speak(match: re.Match) -> str | None:
        a, b = match.group("a"), match.group("b")
        if (a.startswith("0") and a[:2] != "0.") or (b.startswith("0") and b[:2] != "0."):
            return None
        both_years = all(re.fullmatch(r"1[1-9]\d\d|20\d\d", n) for n in (a, b))
        return f"{side(a, both_years)} to {side(b, both_years)}"

    return _sub(_RANGE, speak, text)


def _plain_numbers(text: str) -> str:
    def speak(match: re.Match) -> str:
        number = match.group("num")
        integer = number.partition(".")[0]
        sign = "minus " if match.group("sign") else ""
        if "," not in integer and (len(integer) >= 10 or (len(integer) > 1 and integer.startswith("0"))):
            spoken = digits(integer)
            if "." in number:
                spoken += f" point {digits(number.partition('.')[2])}"
            return f"{sign}{spoken}"
        return f"{sign}{_number_words(number)}"

    text = _sub(_VERSION, lambda m: " dot ".join(cardinal(int(part)) for part in m.group(0).split(".")), text)
    return _sub(_PLAIN_NUMBER, speak, text)


# "the 1990s", "the '80s": decades, read as plural years.
_DECADE = re.compile(r"(?<![\w.,])(?:'(?P<short>\d0)|(?P<long>1[1-9]\d0|20\d0|\d0))s(?!\w)")
# Only the fractions read unambiguously as fractions ("24/7" and "5/10" are not).
_FRACTIONS = {"1/2": "one half", "1/3": "one third", "2/3": "two thirds", "1/4": "one quarter", "3/4": "three quarters"}
_FRACTION = re.compile(r"(?<![\w./])(?P<fraction>[1-3]/[2-4])(?![\w/]|[.,]\d)|(?P<glyph>[½⅓⅔¼¾])")
_FRACTION_GLYPHS = {"½": "1/2", "⅓": "1/3", "⅔": "2/3", "¼": "1/4", "¾": "3/4"}
_MIXED = re.compile(r"(?<![\w.,])(?P<whole>\d+)(?: (?P<fraction>[13]/[24])|\s?(?P<glyph>[½¼¾]))(?![\w/]|[.,]\d)")
_MIXED_PARTS = {"1/2": "and a half", "1/4": "and a quarter", "3/4": "and three quarters"}


def _plural(words: str) -> str:
    return words[:-1] + "ies" if words.endswith("y") else words + "s"


def _decades_and_fractions(text: str) -> str:
    def decade(match: re.Match) -> str:
        return _plural(cardinal(int(match.group("short"))) if match.group("short") else year(int(match.group("long"))))

    def fraction(match: re.Match) -> str | None:
        written = match.group("fraction") or _FRACTION_GLYPHS[match.group("glyph")]
        return _FRACTIONS.get(written)

    def mixed(match: re.Match) -> str | None:
        part = _MIXED_PARTS.get(match.group("fraction") or _FRACTION_GLYPHS[match.group("glyph")])
        return f"{cardinal(int(match.group('whole')))} {part}" if part else None

    text = _sub(_DECADE, decade, text)
    text = _sub(_MIXED, mixed, text)
    return _sub(_FRACTION, fraction, text)


def _numbers(text: str) -> str:
    text = _decades_and_fractions(text)
    text = _sub(
        _PERCENT,
        lambda m: f"{'minus ' if m.group('sign') else ''}{_number_words(m.group('num'))} percent",
        text,
    )
    text = _units(text)
    text = _sub(_ORDINAL, lambda m: ordinal(_int(m.group("num"))), text)
    text = _phone_numbers(text)
    text = _ranges(text)
    text = spans.sub(r"(?<![\w&])#(?=\d)", "number ", text)
    return _plain_numbers(text)


# ---------------------------------------------------------------------------------------------------------------
# Abbreviations and symbols
# ---------------------------------------------------------------------------------------------------------------
# Titles: always before a name, so their period never ends a sentence.
_TITLES = {
    "Mr": "Mister",
    "Mrs": "Missus",
    "Ms": "Miz",
    "Prof": "Professor",
    "Engr": "Engineer",
    "Hon": "Honourable",
    "Gov": "Governor",
    "Sen": "Senator",
    "Rev": "Reverend",
    "Gen": "General",
    "Col": "Colonel",
    "Capt": "Captain",
    "Lt": "Lieutenant",
    "Sgt": "Sergeant",
    "Mt": "Mount",
    "Fig": "Figure",
}
# Words that may end a sentence: their period is kept when the sentence ends there.
_TRAILING_ABBREVIATIONS = {
    "Jr": "Junior",
    "Sr": "Senior",
    "Ave": "Avenue",
    "Rd": "Road",
    "Blvd": "Boulevard",
    "Dept": "Department",
    "Inc": "Incorporated",
    "Ltd": "Limited",
    "Co": "Company",
    "etc": "et cetera",
    "approx": "approximately",
}
_TITLE = re.compile(r"(?<![\w.])(?P<abbr>" + "|".join(_TITLES) + r")\.(?!\w)")
_TRAILING = re.compile(
    r"(?<![\w.])(?P<abbr>" + "|".join(_TRAILING_ABBREVIATIONS) + r")\.(?!\w)(?P<end>(?=\s*$)|(?=\s+[A-Z]))?"
)
# "Dr." and "St.": Doctor and Saint before a capitalised name ("Dr. Ade", "St. Louis"), otherwise Drive and
# Street after a word ("Allen Dr.", "Main St."); Doctor and Saint when nothing tells.
_DR_ST = re.compile(r"(?<![\w.])(?P<abbr>Dr|St)\.(?!\w)(?P<name>(?=\s+[A-Z]))?(?P<end>(?=\s*$))?")
_LATIN = [
    (re.compile(r"(?<![\w.])e\.g\.(?!\w)", re.IGNORECASE), "for example"),
    (re.compile(r"(?<![\w.])i\.e\.(?!\w)", re.IGNORECASE), "that is"),
    (re.compile(r"(?<![\w.])a\.k\.a\.(?!\w)", re.IGNORECASE), "also known as"),
    (re.compile(r"(?<![\w.])vs\.?(?!\w)", re.IGNORECASE), "versus"),
    (re.compile(r"(?<![\w.])No\.(?=\s?\d)"), "number"),
]


def _abbreviations(text: str) -> str:
    for pattern, words in _LATIN:
        text = spans.sub(pattern, words, text)
    text = spans.sub(_TITLE, lambda m: _TITLES[m.group("abbr")], text)
    text = spans.sub(
        _TRAILING,
        lambda m: _TRAILING_ABBREVIATIONS[m.group("abbr")] + ("." if m.group("end") is not None else ""),
        text,
    )

    def dr_st(match: re.Match) -> str:
        person = match.group("abbr") == "Dr"
        preceded = bool(re.search(r"\b[A-Z][\w'-]*\s+$", match.string[: match.start()]))
        if match.group("name") is not None or not preceded:
            return "Doctor" if person else "Saint"
        return ("Drive" if person else "Street") + ("." if match.group("end") is not None else "")

    text = spans.sub(_DR_ST, dr_st, text)
    return spans.sub(r"\s&\s", " and ", text)


# ---------------------------------------------------------------------------------------------------------------
_RULES: list[Callable[[str], str]] = [
    _address_rule(_URL, strip_scheme=True),
    _address_rule(_EMAIL, strip_scheme=False),
    _address_rule(_DOMAIN, strip_scheme=False),
    _money,
    _dates,
    _times,
    _abbreviations,
    _numbers,
]
_WHITESPACE = re.compile(r"\s+")
# Dia's speaker tags are instructions to the engine, not text: never read "[S1]" as "[S one]".
_SPEAKER_TAG = re.compile(r"(\[S[12]\])")


def _normalize_segment(text: str) -> str:
    for rule in _RULES:
        text = rule(text)
    return text


def normalize(text: str) -> str:
    """The spoken form of English `text`: numbers, money, dates, times, abbreviations and addresses in words."""
    parts = _SPEAKER_TAG.split(text)
    spoken = spans.join_parts(parts, lambda index, part: part if index % 2 else _normalize_segment(part))
    return spans.sub(_WHITESPACE, " ", spoken).strip()
