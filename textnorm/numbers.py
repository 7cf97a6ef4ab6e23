"""English number words: cardinals, ordinals, years, digit strings. US style (no "and" after hundreds)."""

from __future__ import annotations

ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
SCALES = [
    (10**15, "quadrillion"),
    (10**12, "trillion"),
    (10**9, "billion"),
    (10**6, "million"),
    (10**3, "thousand"),
]
# Beyond this a number is read digit by digit: nobody says "one quintillion ..." aloud.
MAX_CARDINAL = 10**18 - 1

_IRREGULAR_ORDINALS = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}


def _below_thousand(n: int) -> list[str]:
    words: list[str] = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        words += [ONES[hundreds], "hundred"]
    if rest:
        if rest < 20:
            words.append(ONES[rest])
        else:
            tens, units = divmod(rest, 10)
            words.append(TENS[tens] + (f"-{ONES[units]}" if units else ""))
    return words


def digits(text: str) -> str:
    """Each digit as a word: "0803" -> "zero eight zero three"."""
    return " ".join(ONES[int(char)] for char in text if char.isdigit())


def cardinal(n: int) -> str:
    """2500 -> "two thousand five hundred"; -3 -> "minus three"."""
    if n < 0:
        return f"minus {cardinal(-n)}"
    if n == 0:
        return "zero"
    if n > MAX_CARDINAL:
        return digits(str(n))
    words: list[str] = []
    for value, name in SCALES:
        count, n = divmod(n, value)
        if count:
            words += [*_below_thousand(count), name]
    words += _below_thousand(n)
    return " ".join(words)


def ordinal(n: int) -> str:
    """22 -> "twenty-second"."""
    words = cardinal(n)
    head, sep, last = words.rpartition(" ")
    stem, hyphen, unit = last.rpartition("-")
    if unit in _IRREGULAR_ORDINALS:
        unit = _IRREGULAR_ORDINALS[unit]
    elif unit.endswith("y"):
        unit = unit[:-1] + "ieth"
    else:
        unit += "th"
    return f"{head}{sep}{stem}{hyphen}{unit}"


def year(n: int) -> str:
    """A year as people say it: 2026 -> "twenty twenty-six", 2005 -> "two thousand five", 1900 -> "nineteen
    hundred", 1905 -> "nineteen oh five". Outside 1000-9999, the cardinal."""
    if not 1000 <= n <= 9999:
        return cardinal(n)
    high, low = divmod(n, 100)
    if high % 10 == 0 and low < 10:  # 2000-2009, 1000-1009
        return cardinal(n)
    if low == 0:
        return f"{cardinal(high)} hundred"
    if low < 10:
        return f"{cardinal(high)} oh {ONES[low]}"
    return f"{cardinal(high)} {cardinal(low)}"


def decimal(integer: str, fraction: str) -> str:
    """("3", "14") -> "three point one four": digits after the point are read one by one."""
    return f"{cardinal(int(integer))} point {digits(fraction)}"
