"""GET /v1/voices/{id}/consent's `check` for records the consent gate did not write: pending, and decided before
the gate heard recordings (no audit)."""

from rest_framework.test import APIClient

from tests.factories import ActiveVoiceFactory


def _consent(voice):
    api = APIClient()
    api.force_authenticate(voice.user)
    response = api.get(f"/v1/voices/{voice.id}/consent")
    assert response.status_code == 200
    return response.json()


def test_the_check_is_null_while_pending(db):
    voice = ActiveVoiceFactory(status="verifying", embedding=None, consent__decision="pending")

    assert _consent(voice)["check"] is None


def test_a_rejection_before_the_gate_ran_names_the_recording_and_has_no_scores(db):
    voice = ActiveVoiceFactory(
        status="rejected",
        embedding=None,
        rejection_code="audio_unreadable",
        rejection_message="The sample could not be read.",
        rejection_recording="sample",
        consent__decision="rejected",
        consent__decision_reason="audio_unreadable",
    )

    check = _consent(voice)["check"]

    assert (check["outcome"], check["code"], check["recording"]) == ("rejected", "audio_unreadable", "sample")
    assert check["message"] == "The sample could not be read."
    assert check["phrase"] == {
        "text": voice.consent.nonce,
        "score": None,
        "threshold": None,
        "words": [],
        "missing": [],
    }
    assert check["speaker"] == {"similarity": None, "threshold": None}


def _verdict(outcome="accepted", code=None, **fields):
    from voices.verification import Verdict

    return Verdict(
        outcome=outcome,
        code=code,
        message="We heard your consent statement and your one-time phrase, and the voices match.",
        score=0.92,
        threshold=0.75,
        encoder="resemblyzer",
        encoder_version="0.1.4",
        embedding=[0.1] * 256,
        audit={"outcome": outcome, "code": code, "message": "heard", "recording": "consent"},
        **fields,
    )


def test_a_sample_with_no_transcript_and_no_words_heard_is_rejected_for_the_sample(db):
    from voices.verification import voice_profile_decide

    voice = ActiveVoiceFactory(
        status="verifying",
        embedding=None,
        sample_transcript="",
        sample_transcript_source="asr",
        consent__decision="pending",
    )

    decided = voice_profile_decide(profile_id=voice.id, verdict=_verdict(sample_heard=""))

    assert (decided.status, decided.rejection_code, decided.rejection_recording) == (
        "rejected",
        "sample_not_transcribed",
        "sample",
    )
    check = _consent(voice)["check"]
    assert (check["outcome"], check["code"], check["recording"]) == ("rejected", "sample_not_transcribed", "sample")
    assert "could not hear any words in your voice sample" in check["message"]


def test_a_verdict_is_recorded_once(db):
    from voices.verification import voice_profile_decide

    voice = ActiveVoiceFactory(status="verifying", embedding=None, consent__decision="pending")

    first = voice_profile_decide(
        profile_id=voice.id, verdict=_verdict("review", "consent_phrase_not_heard", sample_heard="The weather.")
    )
    again = voice_profile_decide(profile_id=voice.id, verdict=_verdict(sample_heard="The weather."))

    assert (first.status, first.consent.decision) == ("verifying", "review")
    assert first.embedding == [0.1] * 256  # kept, so approval can activate it
    assert again is None
    voice.refresh_from_db()
    assert (voice.status, voice.consent.decision) == ("verifying", "review")
