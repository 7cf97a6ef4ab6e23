"""The consent review queue in the admin: which records need a person, the staff-only audio players, and the
approve / reject actions."""

import json
from datetime import timedelta

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from billing.services import plan_assign
from tests.factories import ActiveVoiceFactory, ConsentChallengeFactory, UserFactory
from voices.models import ConsentRecord, VoiceProfile
from voices.selectors import consent_review_queue

QUEUE = "/admin/voices/consentreview/"


def _voice(score: float, threshold: float = 0.75, **consent):
    return ActiveVoiceFactory(consent__speaker_score=score, consent__threshold=threshold, **consent)


def test_queue_holds_scores_near_the_threshold_and_repeated_attempts(db, settings):
    settings.CONSENT_REVIEW_MARGIN = 0.05
    settings.CONSENT_REVIEW_REPEATS = 3
    near_above, near_below, clear = _voice(0.78), _voice(0.71), _voice(0.93)
    persistent = _voice(0.95)
    for _ in range(2):  # with its own: 3 challenges from this account in 24 h
        ConsentChallengeFactory(user=persistent.user)
    from_one_address = [_voice(0.95, consent__ip_address="192.0.2.77") for _ in range(7)]

    queued = set(consent_review_queue().values_list("pk", flat=True))

    assert near_above.consent_id in queued
    assert near_below.consent_id in queued
    assert clear.consent_id not in queued
    assert persistent.consent_id in queued
    assert {voice.consent_id for voice in from_one_address} <= queued  # 7 voices > ABUSE_PROFILES_PER_IP (5)


def test_attempts_long_ago_do_not_count(db, settings):
    settings.CONSENT_REVIEW_REPEATS = 3
    voice = _voice(0.95)
    for challenge in [ConsentChallengeFactory(user=voice.user) for _ in range(3)]:
        type(challenge).objects.filter(pk=challenge.pk).update(created_at=timezone.now() - timedelta(days=3))

    assert not consent_review_queue().filter(pk=voice.consent_id).exists()


def _staff_client(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


def test_queue_page_plays_both_recordings_through_a_staff_only_view(db, admin_user):
    voice = _voice(0.76)
    default_storage.save(voice.consent.consent_audio.name, ContentFile(b"RIFF-consent-audio"))
    default_storage.save(voice.sample.name, ContentFile(b"RIFF-sample-audio"))
    staff = _staff_client(admin_user)

    page = staff.get(QUEUE)

    assert page.status_code == 200
    html = page.content.decode()
    consent_url = f"/admin/voices/consentrecord/{voice.consent_id}/audio/consent/"
    sample_url = f"/admin/voices/consentrecord/{voice.consent_id}/audio/sample/"
    assert f'<audio controls preload="none" src="{consent_url}">' in html
    assert f'src="{sample_url}"' in html
    assert "score 0.760 near threshold 0.750" in html
    consent = staff.get(consent_url)
    assert consent.status_code == 200
    assert consent["Content-Type"] == "audio/x-wav"
    assert b"".join(consent.streaming_content) == b"RIFF-consent-audio"
    assert staff.get(sample_url, HTTP_RANGE="bytes=0-3").status_code == 206
    # audio is never public: customers (even the owner) and anonymous visitors get the login page
    owner = Client()
    owner.force_login(voice.user)
    for outsider in (owner, Client()):
        response = outsider.get(consent_url)
        assert response.status_code == 302
        assert "/admin/login/" in response["Location"]


def _act(staff, action, *records):
    return staff.post(QUEUE, {"action": action, "_selected_action": [str(r.pk) for r in records]}, follow=True)


def test_reject_disables_the_voice_and_records_the_reviewer(db, admin_user):
    voice = _voice(0.77)
    plan_assign(user=voice.user, slug="pro")
    staff = _staff_client(admin_user)

    assert _act(staff, "reject", voice.consent).status_code == 200

    voice.refresh_from_db()
    record = ConsentRecord.objects.get(pk=voice.consent_id)
    assert (voice.status, voice.rejection_code) == ("rejected", "consent_rejected_in_review")
    assert (record.decision, record.review_outcome, record.reviewed_by) == ("rejected", "rejected", admin_user)
    assert record.reviewed_at is not None
    assert not consent_review_queue().filter(pk=record.pk).exists()  # reviewed: out of the queue
    api = APIClient()
    api.force_authenticate(voice.user)
    response = api.post(
        "/v1/tts", data=json.dumps({"text": "Hello", "voice_id": str(voice.id)}), content_type="application/json"
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "voice_not_found"


def test_approve_keeps_the_voice_and_records_the_reviewer(db, admin_user):
    voice = _voice(0.73)
    staff = _staff_client(admin_user)

    _act(staff, "approve", voice.consent)

    record = ConsentRecord.objects.get(pk=voice.consent_id)
    assert VoiceProfile.objects.get(pk=voice.pk).status == "active"
    assert (record.review_outcome, record.reviewed_by, record.decision) == ("approved", admin_user, "accepted")


def test_a_record_still_being_verified_cannot_be_reviewed_yet(db, admin_user, settings):
    settings.CONSENT_REVIEW_REPEATS = 1
    voice = ActiveVoiceFactory(status="verifying", embedding=None, consent__decision="pending")

    page = _act(_staff_client(admin_user), "reject", voice.consent)

    assert "has not finished yet" in page.content.decode()
    voice.refresh_from_db()
    assert voice.status == "verifying"
    assert ConsentRecord.objects.get(pk=voice.consent_id).reviewed_at is None


def test_staff_without_review_permission_cannot_act(db):
    viewer = UserFactory(is_staff=True)
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(*Permission.objects.filter(codename__in=["view_consentreview", "view_consentrecord"]))
    voice = _voice(0.76)
    staff = _staff_client(viewer)

    assert staff.get(QUEUE).status_code == 200
    _act(staff, "reject", voice.consent)

    voice.refresh_from_db()
    assert voice.status == "active"


def _sent_to_review(**profile):
    """A voice the consent gate sent to review: still verifying, its sample embedding kept for approval."""
    return ActiveVoiceFactory(
        status="verifying",
        consent__decision="review",
        consent__decision_reason="consent_phrase_not_heard",
        consent__phrase_score=0.875,
        consent__phrase_threshold=0.9,
        consent__speaker_score=0.93,
        consent__threshold=0.75,
        **profile,
    )


def test_a_consent_the_gate_sent_to_review_is_queued_with_its_reason(db, admin_user):
    voice = _sent_to_review()

    assert consent_review_queue().filter(pk=voice.consent_id).exists()
    html = _staff_client(admin_user).get(QUEUE).content.decode()
    assert "sent to review by the consent check: consent_phrase_not_heard (phrase 0.88/0.90, speaker 0.93/0.75)" in html


def test_approving_a_consent_sent_to_review_activates_its_voice(db, admin_user):
    voice = _sent_to_review()

    _act(_staff_client(admin_user), "approve", voice.consent)

    voice.refresh_from_db()
    record = ConsentRecord.objects.get(pk=voice.consent_id)
    assert voice.status == "active"
    assert voice.verified_at is not None
    assert (record.decision, record.decision_reason, record.review_outcome) == ("accepted", "", "approved")


def test_rejecting_a_consent_sent_to_review_rejects_its_voice(db, admin_user):
    voice = _sent_to_review()

    _act(_staff_client(admin_user), "reject", voice.consent)

    voice.refresh_from_db()
    record = ConsentRecord.objects.get(pk=voice.consent_id)
    assert (voice.status, voice.rejection_code, voice.rejection_recording) == (
        "rejected",
        "consent_rejected_in_review",
        "consent",
    )
    assert (record.decision, record.decision_reason) == ("rejected", "consent_rejected_in_review")


def test_a_review_without_a_kept_embedding_cannot_activate(db, admin_user):
    voice = _sent_to_review(embedding=None)

    page = _act(_staff_client(admin_user), "approve", voice.consent)

    assert "no verified sample" in page.content.decode()
    voice.refresh_from_db()
    assert voice.status == "verifying"
    assert ConsentRecord.objects.get(pk=voice.consent_id).reviewed_at is None


def test_the_sweeper_leaves_a_voice_waiting_for_review_alone(db):
    from voices.services import voice_verifications_sweep

    voice = _sent_to_review()
    VoiceProfile.objects.filter(pk=voice.pk).update(updated_at=timezone.now() - timedelta(hours=1))

    assert voice_verifications_sweep() == 0
