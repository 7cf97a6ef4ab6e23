"""Normalisation rules: dates (day first, as in Nigeria and Britain) and clock times."""

from __future__ import annotations

import calendar
import re

from . import spans
from .numbers import cardinal, ordinal, year
from .rules_common import _sub

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
    return spans.sub(_YEAR_AFTER, lambda m: f"{m.group('word')} {year(int(m.group('year')))}", text)


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
