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

import calendar
import re
from collections.abc import Callable

from .numbers import cardinal, decimal, digits, ordinal, year

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

    return pattern.sub(replace, text)


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

        return pattern.sub(replace, text)

    return rule


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


# ---------------------------------------------------------------------------------------------------------------
# Dates and times
# ---------------------------------------------------------------------------------------------------------------
_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_MONTH_NUMBERS = {name: number for number, name in enumerate(_MONTHS, start=1)}
_MONTH_NUMBERS.update({name[:3]: number for name, number in list(_MONTH_NUMBERS.items())})
_MONTH_NUMBERS["Sept"] = 9
# An abbreviated month may carry a period ("Nov."); a full name's period ends the sentence and stays.
_MONTH = (
    r"(?P<month>"
    + "|".join(sorted(_MONTH_NUMBERS, key=len, reverse=True))
    + r")(?:(?<=[JFMASOND][a-z]{2})(?<!May)\.|(?<=Sept)\.)?"
)
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>\d{4})"

_ISO_DATE = re.compile(r"(?<![\w.,/-])(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})(?![\w/-]|[.,]\d)")
_NUMERIC_DATE = re.compile(
    r"(?<![\w.,/-])(?P<a>\d{1,2})(?P<sep>[/.-])(?P<b>\d{1,2})(?P=sep)" + _YEAR + r"(?![\w/-]|[.,]\d)"
)
_MONTH_FIRST = re.compile(rf"(?<![\w.])\b{_MONTH}\s+{_DAY}(?:,?\s+{_YEAR})?(?![\w:]|[.,]\d)")
_DAY_FIRST = re.compile(rf"(?<![\w.,])\b{_DAY}\s+(?:of\s+)?{_MONTH}(?:,?\s+{_YEAR})?(?![\w:]|[.,]\d)")
_MONTH_YEAR = re.compile(rf"(?<![\w.])\b{_MONTH}\s+{_YEAR}(?![\w:]|[.,]\d)")
# A four-digit number after one of these words is read as a year ("in 1999" -> "in nineteen ninety-nine").
_YEAR_AFTER = re.compile(
    r"\b(?P<word>[Ii]n|[Ss]ince|[Uu]ntil|[Tt]ill|[Ff]rom|[Bb]y|[Yy]ear|[Bb]efore|[Aa]fter|[Dd]uring|[Cc]irca)"
    r"\s+(?P<year>1[1-9]\d\d|20\d\d)(?![\w:%]|[.,]\d)"
)


def _valid_date(year_number: int, month: int, day: int) -> bool:
    return 1 <= month <= 12 and 1 <= day <= calendar.monthrange(max(year_number, 1), month)[1]


_THE_BEFORE = re.compile(r"(?:^|\W)the\s+$", re.IGNORECASE)


def _day_first(day: int, month: int, year_text: str | None, match: re.Match | None = None) -> str:
    # "on the 2nd of March" already has its "the": never "on the the second of March".
    the = "" if match is not None and _THE_BEFORE.search(match.string, 0, match.start()) else "the "
    spoken = f"{the}{ordinal(day)} of {_MONTHS[month - 1]}"
    return f"{spoken} {year(int(year_text))}" if year_text else spoken


def _dates(text: str) -> str:
    def iso(match: re.Match) -> str | None:
        y, m, d = int(match.group("year")), int(match.group("month")), int(match.group("day"))
        return _day_first(d, m, match.group("year")) if _valid_date(y, m, d) else None

    def numeric(match: re.Match) -> str | None:
        a, b, y = int(match.group("a")), int(match.group("b")), int(match.group("year"))
        # Day first (dd/mm/yyyy, as written in Nigeria and Britain) unless only month first is a real date.
        day, month = (b, a) if b > 12 and a <= 12 else (a, b)
        return _day_first(day, month, match.group("year")) if _valid_date(y, month, day) else None

    def month_first(match: re.Match) -> str | None:
        month, day = _MONTH_NUMBERS[match.group("month")], int(match.group("day"))
        y = match.group("year")
        if not _valid_date(int(y) if y else 2000, month, day):
            return None
        spoken = f"{_MONTHS[month - 1]} {ordinal(day)}"
        return f"{spoken}, {year(int(y))}" if y else spoken

    def day_first(match: re.Match) -> str | None:
        month, day = _MONTH_NUMBERS[match.group("month")], int(match.group("day"))
        y = match.group("year")
        if not _valid_date(int(y) if y else 2000, month, day):
            return None
        return _day_first(day, month, y, match)

    text = _sub(_ISO_DATE, iso, text)
    text = _sub(_NUMERIC_DATE, numeric, text)
    text = _sub(_MONTH_FIRST, month_first, text)
    text = _sub(_DAY_FIRST, day_first, text)
    text = _sub(_MONTH_YEAR, lambda m: f"{_MONTHS[_MONTH_NUMBERS[m.group('month')] - 1]} {year(int(m['year']))}", text)
    return _YEAR_AFTER.sub(lambda m: f"{m.group('word')} {year(int(m.group('year')))}", text)


_AMPM = r"(?:\s?(?P<ampm>[AaPp])\.?\s?[Mm]\.?(?!\w))"
_CLOCK = re.compile(rf"(?<![\w:.,])(?P<h>\d{{1,2}}):(?P<m>\d{{2}})(?::(?P<s>\d{{2}}))?{_AMPM}?(?![\w:]|[.,]\d)")
_HOUR_AMPM = re.compile(r"(?<![\w:.,])(?P<h>\d{1,2})\s?(?P<ampm>[AaPp])\.?[Mm]\.?(?!\w)")


def _times(text: str) -> str:
    def clock(match: re.Match) -> str | None:
        hour, minute = int(match.group("h")), int(match.group("m"))
        second = int(match.group("s") or 0)
        ampm = match.group("ampm")
        if minute > 59 or second > 59 or hour > (12 if ampm else 23) or (ampm and hour == 0):
            return None
        suffix = f" {ampm.lower()}.m." if ampm else ""
        if hour == 0 and minute == 0 and not second:
            return "midnight"
        if hour == 0:
            hour_words, suffix = "twelve", " a.m."
        else:
            hour_words = cardinal(hour)
        if minute == 0:
            if ampm:
                minute_words = ""
            elif hour >= 13:
                minute_words = " hundred"
            else:
                minute_words = " o'clock"
        elif minute < 10:
            minute_words = f" oh {cardinal(minute)}"
        else:
            minute_words = f" {cardinal(minute)}"
        seconds_words = f" and {cardinal(second)} second{'s' if second != 1 else ''}" if second else ""
        return f"{hour_words}{minute_words}{suffix}{seconds_words}"

    def hour_ampm(match: re.Match) -> str | None:
        hour = int(match.group("h"))
        if not 1 <= hour <= 12:
            return None
        return f"{cardinal(hour)} {match.group('ampm').lower()}.m."

    text = _sub(_CLOCK, clock, text)
    return _sub(_HOUR_AMPM, hour_ampm, text)


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
    text = re.sub(r"(?<![\w&])#(?=\d)", "number ", text)
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
        text = pattern.sub(words, text)
    text = _TITLE.sub(lambda m: _TITLES[m.group("abbr")], text)
    text = _TRAILING.sub(
        lambda m: _TRAILING_ABBREVIATIONS[m.group("abbr")] + ("." if m.group("end") is not None else ""), text
    )

    def dr_st(match: re.Match) -> str:
        person = match.group("abbr") == "Dr"
        preceded = bool(re.search(r"\b[A-Z][\w'-]*\s+$", match.string[: match.start()]))
        if match.group("name") is not None or not preceded:
            return "Doctor" if person else "Saint"
        return ("Drive" if person else "Street") + ("." if match.group("end") is not None else "")

    text = _DR_ST.sub(dr_st, text)
    return re.sub(r"\s&\s", " and ", text)


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
    spoken = " ".join(part if index % 2 else _normalize_segment(part) for index, part in enumerate(parts))
    return _WHITESPACE.sub(" ", spoken).strip()
