"""English normalisation before synthesis: what the engine reads for the written forms customers send."""

import json
import time

import pytest

from billing.services import plan_assign
from textnorm import PronunciationEntry, normalize, spoken_text

CASES = [
    # money: naira (with kobo), dollars, pounds, euros, codes and magnitudes
    ("₦2,500", "two thousand five hundred naira"),
    ("NGN 2,500", "two thousand five hundred naira"),
    ("2,500 NGN", "two thousand five hundred naira"),
    ("N2,500 only", "two thousand five hundred naira only"),
    ("₦2,500.50", "two thousand five hundred naira and fifty kobo"),
    ("₦1,000,000.00", "one million naira"),
    ("₦3 million", "three million naira"),
    ("$3.50", "three dollars and fifty cents"),
    ("It costs $3.50.", "It costs three dollars and fifty cents."),
    ("$1", "one dollar"),
    ("$0.99", "ninety-nine cents"),
    ("$5k", "five thousand dollars"),
    ("USD 100", "one hundred dollars"),
    ("-$5", "minus five dollars"),
    ("£1.01", "one pound and one penny"),
    ("£0.50", "fifty pence"),
    ("€20", "twenty euros"),
    ("€2.5m", "two point five million euros"),
    # numbers
    ("2,500", "two thousand five hundred"),
    ("1,000,000", "one million"),
    ("1234567", "one million two hundred thirty-four thousand five hundred sixty-seven"),
    ("101", "one hundred one"),
    ("-5", "minus five"),
    ("3.14", "three point one four"),
    ("0.5", "zero point five"),
    ("1st", "first"),
    ("22nd", "twenty-second"),
    ("3rd", "third"),
    ("11th", "eleventh"),
    ("101st", "one hundred first"),
    ("40th", "fortieth"),
    ("15%", "fifteen percent"),
    ("3.5%", "three point five percent"),
    ("10-20", "ten to twenty"),
    ("the 1990s", "the nineteen nineties"),
    ("the '80s", "the eighties"),
    ("1/2 cup", "one half cup"),
    ("2½ hours", "two and a half hours"),
    ("2 1/2 hours", "two and a half hours"),
    ("24/7", "twenty-four/seven"),
    ("pages 10-20.", "pages ten to twenty."),
    ("5km", "five kilometers"),
    ("1 kg", "one kilogram"),
    ("30°C", "thirty degrees Celsius"),
    ("8 GB", "eight gigabytes"),
    ("5G", "five G"),
    ("COVID-19", "COVID-nineteen"),
    ("v1.2.3", "v one dot two dot three"),
    ("#1", "number one"),
    ("No. 5", "number five"),
    # phone and account numbers: digit by digit
    ("+234 803 123 4567", "plus two three four, eight zero three, one two three, four five six seven"),
    ("08031234567", "zero eight zero three one two three four five six seven"),
    ("0803-123-4567", "zero eight zero three, one two three, four five six seven"),
    ("1234567890", "one two three four five six seven eight nine zero"),
    # dates: ISO, day first for dd/mm (month first only when the second number cannot be a month), month names
    ("2026-11-26", "the twenty-sixth of November twenty twenty-six"),
    ("26/11/2026", "the twenty-sixth of November twenty twenty-six"),
    ("05/06/2026", "the fifth of June twenty twenty-six"),
    ("11/26/2026", "the twenty-sixth of November twenty twenty-six"),
    ("26.11.2026", "the twenty-sixth of November twenty twenty-six"),
    ("Nov 26, 2026", "November twenty-sixth, twenty twenty-six"),
    ("Nov. 5", "November fifth"),
    ("November 26th", "November twenty-sixth"),
    ("26 Nov 2026", "the twenty-sixth of November twenty twenty-six"),
    ("26th of November, 2026", "the twenty-sixth of November twenty twenty-six"),
    ("in 1999, we", "in nineteen ninety-nine, we"),
    ("since 2005", "since two thousand five"),
    ("2020-2025", "twenty twenty to twenty twenty-five"),
    # times
    ("10:30", "ten thirty"),
    ("14:05", "fourteen oh five"),
    ("14:00", "fourteen hundred"),
    ("10:00", "ten o'clock"),
    ("00:00", "midnight"),
    ("7pm", "seven p.m."),
    ("7 p.m.", "seven p.m."),
    ("10:30am", "ten thirty a.m."),
    ("12:30 PM", "twelve thirty p.m."),
    # abbreviations
    ("Dr. Ade", "Doctor Ade"),
    ("Allen Dr.", "Allen Drive."),
    ("Mr. and Mrs. Okafor", "Mister and Missus Okafor"),
    ("St. Louis", "Saint Louis"),
    ("Main St. is closed", "Main Street is closed"),
    ("Engr. Bello", "Engineer Bello"),
    ("e.g. this", "for example this"),
    ("i.e. that", "that is that"),
    ("apples vs. oranges", "apples versus oranges"),
    ("bread, eggs, etc. Then", "bread, eggs, et cetera. Then"),
    ("ODIADEV Ltd.", "ODIADEV Limited."),
    ("A & B", "A and B"),
    # addresses
    ("info@odiadev.com", "info at odiadev dot com"),
    ("Write to info@odiadev.com.", "Write to info at odiadev dot com."),
    ("user.name+tag@mail.co.uk", "user dot name plus tag at mail dot co dot uk"),
    ("https://odiadev.com/docs", "odiadev dot com slash docs"),
    ("visit www.odiadev.com.", "visit w w w dot odiadev dot com."),
    ("odiadev.com", "odiadev dot com"),
    # left alone
    ("Hello world.", "Hello world."),
    ("I May go", "I May go"),
    ("[S1] I paid $5. [S2] (laughs) Really?", "[S1] I paid five dollars. [S2] (laughs) Really?"),
    (
        "At 7pm on 26/11/2026, Dr. Ade paid ₦2,500 (15% off).",
        (
            "At seven p.m. on the twenty-sixth of November twenty twenty-six, Doctor Ade paid two thousand five "
            "hundred naira (fifteen percent off)."
        ),
    ),
]


@pytest.mark.parametrize(("written", "spoken"), CASES)
def test_written_forms_are_spoken_as_words(written, spoken):
    assert normalize(written) == spoken


def test_normalisation_is_deterministic_and_fast():
    text = ("At 7pm on 26/11/2026, Dr. Ade paid ₦2,500 (15% off) at info@odiadev.com; see the 3rd item. " * 3)[:200]
    first = normalize(text)

    started = time.perf_counter()
    for _ in range(200):
        assert normalize(text) == first
    per_call = (time.perf_counter() - started) / 200

    assert per_call < 0.002  # ~0.5 ms here; the budget is 1 ms, doubled for a busy shared CI machine


def test_pronunciations_apply_before_normalisation_and_are_spoken_as_written():
    entries = [
        PronunciationEntry("ODIADEV", "oh dee ah dev"),
        PronunciationEntry("St.", "Station", case_sensitive=True),
        PronunciationEntry("911", "nine one one"),
    ]

    assert spoken_text("Write to info@odiadev.com", pronunciations=entries) == (
        "Write to info at oh dee ah dev dot com"
    )
    assert spoken_text("Meet at Main St. at 7pm", pronunciations=entries) == "Meet at Main Station at seven p.m."
    assert spoken_text("Call 911 or 112", pronunciations=entries) == "Call nine one one or one hundred twelve"


def test_longest_entry_wins_and_whole_words_only_by_default():
    entries = [
        PronunciationEntry("Ade", "Ah-day"),
        PronunciationEntry("Adebayo", "Ah-day-bah-yo"),
        PronunciationEntry("ph", "f", whole_word=False),
    ]

    assert spoken_text("Adebayo and Ade met an elephant", pronunciations=entries) == (
        "Ah-day-bah-yo and Ah-day met an elefant"
    )
    assert spoken_text("Adeola", pronunciations=entries) == "Adeola"


def test_case_sensitive_entries_only_match_their_case():
    entries = [PronunciationEntry("US", "United States", case_sensitive=True), PronunciationEntry("lol", "L O L")]

    assert spoken_text("Tell us about the US. LOL, lol.", pronunciations=entries) == (
        "Tell us about the United States. L O L, L O L."
    )


def test_a_full_dictionary_stays_fast():
    entries = [PronunciationEntry(f"name{i}", f"spoken {i}", case_sensitive=i % 2 == 0) for i in range(500)]
    text = ("Hello name17 and Name499, you paid ₦2,500 on 26/11/2026 at 7pm. " * 4)[:200]
    assert spoken_text(text, pronunciations=entries).startswith("Hello spoken 17 and spoken 499, you paid two")

    started = time.perf_counter()
    for _ in range(100):
        spoken_text(text, pronunciations=entries)

    assert (time.perf_counter() - started) / 100 < 0.005


def test_without_normalisation_only_the_dictionary_applies():
    entries = [PronunciationEntry("ODIADEV", "oh dee ah dev")]

    assert spoken_text("ODIADEV costs ₦2,500", normalize_text=False, pronunciations=entries) == (
        "oh dee ah dev costs ₦2,500"
    )


# ---------------------------------------------------------------------------------------------------------------
# Through the API
# ---------------------------------------------------------------------------------------------------------------
def _submit(api, **body):
    return api.post("/v1/tts", data=json.dumps(body), content_type="application/json")


def test_the_job_keeps_the_text_as_sent_and_bills_it(api):
    response = _submit(api, text="Pay  ₦2,500 by 26/11/2026.")

    assert response.status_code == 202, response.content
    job = response.json()
    assert job["text"] == "Pay ₦2,500 by 26/11/2026."
    assert job["spoken_text"] == (
        "Pay two thousand five hundred naira by the twenty-sixth of November twenty twenty-six."
    )
    assert job["characters"] == len("Pay ₦2,500 by 26/11/2026.")
    usage = api.get("/v1/usage").json()
    assert usage["characters"]["used"] == len("Pay ₦2,500 by 26/11/2026.")


def test_normalize_false_reads_the_text_as_sent(api, user):
    plan_assign(user=user, slug="pro")  # two jobs in flight
    normalized = _submit(api, text="₦2,500 please.").json()
    raw = _submit(api, text="₦2,500 please.", normalize=False).json()

    assert normalized["spoken_text"] == "two thousand five hundred naira please."
    assert raw["spoken_text"] == "₦2,500 please."
    assert raw["text"] == normalized["text"] == "₦2,500 please."


def test_normalize_must_be_a_boolean(api):
    response = _submit(api, text="Hello", normalize="sometimes")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"
