"""The consent gate through the real app: uploads over HTTP, a real worker hears the consent recording (Whisper
tiny.en) and scores the speakers (Resemblyzer). One case per way through the gate proves the wiring; the
speech-level matrix (speeds, noise, every wrong-words recording) is tests/speech/test_consent_matrix.py.
Also: automatic sample transcripts and the owner's correction, and the review band."""

from __future__ import annotations

import pytest
from django.conf import settings

from tests.factories import UserFactory
from tests.support.media import SAMPLE_TEXT, encode_sf, other_speaker, speech
from tests.voices.test_cloning_flow import ASR_MISSES, PHRASE, SECOND_PHRASE, Customer, _poll_for_voice, read_aloud
from textnorm.consent_wording import consent_statement
from textnorm.words import word_error_rate, words_of
from voices.models import ConsentRecord, VoiceProfile
from voices.selectors import consent_review_queue
from voices.verification import consent_review_decide

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Another challenge's phrase: a recording made for that challenge, uploaded with this one.
OTHER_PHRASE = "copper valley autumn basket"


@pytest.fixture
def alice(stack):
    return Customer(stack)


@pytest.fixture
def bob(stack):
    return Customer(stack)


@pytest.fixture(scope="module")
def sample_wav():
    return encode_sf(speech(SAMPLE_TEXT), 16000, "WAV", "PCM_16")


def _clone(customer, *, consent: bytes, sample: bytes, challenge=None, **upload) -> tuple[dict, dict]:
    """Upload through the API and wait for the worker's verdict: (the settled profile, its consent record)."""
    challenge = challenge or customer.challenge()
    response = customer.upload(challenge_id=challenge["id"], consent=consent, sample=sample, **upload)
    assert response.status_code == 202, response.text
    voice = _poll_for_voice(customer, response.json()["id"])
    consent_record = customer.get(f"/v1/voices/{voice['id']}/consent")
    assert consent_record.status_code == 200
    return voice, consent_record.json()


def test_the_sample_script_read_instead_of_the_statement_is_rejected(alice, sample_wav):
    voice, consent = _clone(alice, consent=read_aloud(SAMPLE_TEXT), sample=sample_wav)

    assert voice["status"] == "rejected"
    assert voice["rejection"] == {
        "code": "consent_statement_not_heard",
        "message": consent["check"]["message"],
        "recording": "consent",
    }
    check = consent["check"]
    assert (check["outcome"], check["code"], check["recording"]) == (
        "rejected",
        "consent_statement_not_heard",
        "consent",
    )
    assert "did not hear the consent statement" in check["message"]
    assert check["statement"]["share"] < check["statement"]["threshold"] - check["review_margin"]
    assert check["statement"]["missing"]
    assert word_error_rate(SAMPLE_TEXT, check["transcript"]) < 0.5  # what was heard is shown
    record = ConsentRecord.objects.get(pk=consent["id"])
    assert record.audit["statement"]["share"] == record.statement_share
    assert [w["start"] <= w["end"] for w in record.audit["transcript"]["words"]]


def test_a_recording_made_for_another_challenge_is_rejected(alice, sample_wav):
    replayed = read_aloud(consent_statement(email=alice.user.email, phrase=OTHER_PHRASE))

    voice, consent = _clone(alice, consent=replayed, sample=sample_wav)

    assert voice["status"] == "rejected"
    assert voice["rejection"]["code"] == "consent_phrase_not_heard"
    assert voice["rejection"]["recording"] == "consent"
    check = consent["check"]
    assert check["phrase"]["text"] == PHRASE
    assert check["phrase"]["score"] < check["phrase"]["threshold"]
    missing = check["phrase"]["missing"]
    assert missing
    assert [w["word"] for w in check["phrase"]["words"] if not w["ok"]] == missing
    assert all(w["heard"] is None for w in check["phrase"]["words"] if not w["ok"])
    assert f"We did not hear the words '{' '.join(missing)}' in your consent recording" in check["message"]
    # what was heard is shown: the other challenge's phrase (Whisper may punctuate it, or miss a word of it)
    assert len(set(OTHER_PHRASE.split()) & set(words_of(check["transcript"]))) >= 3, check["transcript"]


def test_another_speaker_reading_the_statement_correctly_is_rejected(alice, sample_wav):
    # Whisper tiny.en sometimes misses a word of the other speaker's synthetic reading: this case is about the
    # speaker check, so a reading it did not hear is read again with the second phrase (as _active_voice does).
    for phrase in (PHRASE, SECOND_PHRASE):
        challenge = alice.challenge(phrase=phrase)
        someone_else = read_aloud(challenge["statement"], speaker=other_speaker)
        voice, consent = _clone(alice, consent=someone_else, sample=sample_wav, challenge=challenge)
        if (voice["rejection"] or {}).get("code") not in ASR_MISSES:
            break

    assert voice["status"] == "rejected"
    assert (voice["rejection"]["code"], voice["rejection"]["recording"]) == ("consent_speaker_mismatch", "consent")
    check = consent["check"]
    # the words were heard: only the speaker failed
    assert check["statement"]["share"] >= check["statement"]["threshold"]
    assert check["phrase"]["score"] >= check["phrase"]["threshold"]
    assert check["speaker"]["similarity"] < check["speaker"]["threshold"] - check["review_margin"]
    assert check["speaker"]["threshold"] == settings.SPEAKER_MATCH_THRESHOLDS["resemblyzer"]


def test_a_sample_without_transcript_is_transcribed_and_the_owner_can_correct_it(alice, bob, sample_wav):
    challenge = alice.challenge()

    voice, _ = _clone(
        alice, consent=read_aloud(challenge["statement"]), sample=sample_wav, challenge=challenge, transcript=""
    )

    assert voice["status"] == "active"
    assert voice["sample_transcript_source"] == "asr"
    assert word_error_rate(SAMPLE_TEXT, voice["sample_transcript"]) < 0.25, voice["sample_transcript"]
    assert voice["transcript_warning"] is None
    assert voice["version"] == 1
    path = f"/v1/voices/{voice['id']}"

    corrected = alice.patch(path, json={"sample_transcript": SAMPLE_TEXT})

    assert corrected.status_code == 200, corrected.text
    body = corrected.json()
    assert (body["sample_transcript"], body["sample_transcript_source"]) == (SAMPLE_TEXT, "owner")
    assert body["version"] == 2  # the prompt changed: cached audio of the old one no longer answers
    assert body["transcript_warning"] is None
    assert alice.get(path).json()["sample_transcript"] == SAMPLE_TEXT

    wrong = alice.patch(path, json={"sample_transcript": "Completely different words about a purple elephant."})
    warning = wrong.json()["transcript_warning"]
    assert warning["code"] == "transcript_disagrees"
    assert warning["wer"] > settings.VOICE_TRANSCRIPT_WARN_WER
    assert warning["heard"] == voice["sample_transcript"]
    assert wrong.json()["version"] == 3

    # another account cannot see or change it; a blank transcript is refused
    assert bob.patch(path, json={"sample_transcript": "mine now"}).status_code == 404
    blank = alice.patch(path, json={"sample_transcript": "  "})
    assert blank.status_code == 400
    assert blank.json()["error"]["code"] == "invalid_request"
    assert VoiceProfile.objects.get(pk=voice["id"]).sample_transcript.startswith("Completely different")


def test_a_transcript_that_disagrees_with_the_sample_is_flagged_at_verification(alice, sample_wav):
    challenge = alice.challenge()
    consent = read_aloud(challenge["statement"])

    voice, _ = _clone(alice, consent=consent, sample=sample_wav, challenge=challenge, transcript="Hello world.")

    assert voice["status"] == "active"
    assert voice["sample_transcript"] == "Hello world."
    assert voice["transcript_warning"]["code"] == "transcript_disagrees"


# Phrases read with two words a little off ("drums" for drum, "harbors" for harbor): heard so, the phrase scores
# 0.896, inside the review band [0.85, 0.9). The recogniser sometimes hears a plural's "s" as nothing (then the
# phrase is accepted, 0.948) and Piper's speech differs on every run, so the test reads up to three such phrases
# (other words around the same near misses) until one is heard as read; it fails if none is.
NEAR_MISSES = [
    ("anchor drum castle harbor", "anchor drums castle harbors"),
    ("zebra drum river harbor", "zebra drums river harbors"),
    ("silver drum window harbor", "silver drums window harbors"),
]


def test_a_phrase_heard_just_below_the_threshold_goes_to_review_and_approval_activates_it(alice, sample_wav):
    outcomes = []
    for phrase, read in NEAR_MISSES:
        challenge = alice.challenge(phrase=phrase)
        said = read_aloud(consent_statement(email=alice.user.email, phrase=read))
        voice, consent = _clone(alice, consent=said, sample=sample_wav, challenge=challenge)
        if voice["consent_outcome"] == "review":
            break
        outcomes.append((read, voice["consent_outcome"], (consent["check"].get("phrase") or {}).get("score")))
    else:
        pytest.fail(f"no near-miss reading went to review (read, outcome, phrase score): {outcomes}")

    assert voice["status"] == "verifying"
    assert voice["consent_outcome"] == "review"
    check = consent["check"]
    assert (check["outcome"], check["code"], check["recording"]) == ("review", "consent_phrase_not_heard", None)
    assert check["phrase"]["threshold"] - check["review_margin"] <= check["phrase"]["score"]
    assert check["phrase"]["score"] < check["phrase"]["threshold"]
    assert "by hand" in check["message"]
    record = ConsentRecord.objects.get(pk=consent["id"])
    assert consent_review_queue().filter(pk=record.pk).exists()
    assert VoiceProfile.objects.get(pk=voice["id"]).embedding is not None
    tts = alice.post("/v1/tts", json={"text": "Not yet.", "voice_id": voice["id"]})
    assert tts.status_code == 404  # not usable while a person decides

    consent_review_decide(record_id=record.pk, approve=True, reviewer=UserFactory(is_staff=True))

    after = alice.get(f"/v1/voices/{voice['id']}").json()
    assert (after["status"], after["consent_outcome"]) == ("active", "accepted")
    approved = alice.get(f"/v1/voices/{voice['id']}/consent").json()["check"]
    assert approved["outcome"] == "accepted"
    assert "confirmed" in approved["message"]
    assert not consent_review_queue().filter(pk=record.pk).exists()
