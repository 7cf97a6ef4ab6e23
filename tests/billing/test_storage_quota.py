"""Storage quota: each plan's quota against the bytes an account keeps (its own audio and voice samples); at or over
it, new synthesis and voice uploads are refused with `storage_quota_exceeded` (402), and the figures show in
GET /v1/usage and on the Billing page."""

from django.core.files.uploadedfile import SimpleUploadedFile

from billing.models import Plan
from billing.services import plan_assign
from billing.storage import storage_used_for
from synthesis.models import SynthesisJob
from tests.factories import ActiveVoiceFactory, SucceededJobFactory
from voices.models import VoiceProfile

MB = 1024 * 1024


def test_plans_carry_retention_and_quota(db):
    plans = {plan.slug: (plan.audio_retention_days, plan.storage_quota_mb) for plan in Plan.objects.all()}

    assert plans == {"free": (7, 100), "starter": (30, 1000), "pro": (90, 5000), "business": (365, 20000)}


def test_storage_used_counts_own_audio_and_samples_only(user, other_user):
    source = SucceededJobFactory(user=user, audio_bytes=5000)
    SucceededJobFactory(
        user=user, audio_bytes=5000, cached=True, source_job=source, audio=source.audio.name, stored=False
    )
    SucceededJobFactory(user=other_user, audio_bytes=7000)
    ActiveVoiceFactory(user=user, sample_bytes=3000)
    expired = SucceededJobFactory(user=user, audio_bytes=9000)
    SynthesisJob.objects.filter(pk=expired.pk).update(audio="", audio_expired_at=expired.created_at)

    assert storage_used_for(user=user) == 5000 + 3000
    assert storage_used_for(user=other_user) == 7000


def test_synthesis_is_refused_at_the_quota_with_what_to_do(api, user):
    SucceededJobFactory(user=user, audio_bytes=100 * MB, stored=False)  # Free: 100 MB
    jobs_before = SynthesisJob.objects.count()

    response = api.post("/v1/tts", {"text": "One more, please.", "voice_id": "joe"}, format="json")

    assert response.status_code == 402
    error = response.json()["error"]
    assert error["code"] == "storage_quota_exceeded"
    assert "100 MB" in error["message"]
    assert "Billing page" in error["message"]
    assert error["detail"] == {"used_bytes": 100 * MB, "quota_bytes": 100 * MB}
    assert SynthesisJob.objects.count() == jobs_before


def test_synthesis_below_the_quota_is_accepted(api, user):
    SucceededJobFactory(user=user, audio_bytes=100 * MB - 1, stored=False)

    response = api.post("/v1/tts", {"text": "Still room.", "voice_id": "joe"}, format="json")

    assert response.status_code == 202
    assert response.json()["status"] == "queued"


def test_a_voice_upload_is_refused_at_the_quota(api, user):
    plan_assign(user=user, slug="starter")  # cloning allowed, 1000 MB
    SucceededJobFactory(user=user, audio_bytes=1000 * MB + 1, stored=False)
    challenge = api.post("/v1/voices/consent-challenge").json()

    response = api.post(
        "/v1/voices",
        {
            "name": "Mine",
            "sample": SimpleUploadedFile("sample.wav", b"RIFF" + b"\0" * 1000),
            "sample_transcript": "Hello there.",
            "consent_audio": SimpleUploadedFile("consent.wav", b"RIFF" + b"\0" * 1000),
            "challenge_id": challenge["id"],
        },
        format="multipart",
    )

    assert response.status_code == 402
    assert response.json()["error"]["code"] == "storage_quota_exceeded"
    assert VoiceProfile.objects.filter(user=user).count() == 0


def test_usage_and_the_billing_page_show_storage(api, client, user):
    plan_assign(user=user, slug="pro")
    SucceededJobFactory(user=user, audio_bytes=3 * MB, stored=False)

    usage = api.get("/v1/usage").json()
    client.force_login(user)
    page = client.get("/billing/").content.decode()

    assert usage["storage"] == {"used_bytes": 3 * MB, "quota_bytes": 5000 * MB}
    assert 'data-testid="storage-used">3.0 MB<' in page
    assert 'data-testid="storage-quota">5 GB<' in page  # the unit the plan table uses too
    assert "Audio is kept 90 days" in page
