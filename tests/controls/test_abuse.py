"""Abuse detection: 10x request-rate anomalies (driven with an injected clock), the optional throttle, storage
growth spikes, and consent challenges or voice profiles piling up from one address."""

import uuid
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from accounts.services import api_key_create
from controls.abuse import Subject, requests_count
from controls.models import AbuseFlag, AbuseFlagKind, AbuseSubject
from ops.abuse_checks import storage_growth_check
from tests.factories import ActiveVoiceFactory, ConsentRecordFactory, QueuedJobFactory, UserFactory
from voices.abuse import consent_activity_check

HOUR_START = 1_900_000_800.0  # 2030-03-17 17:00:00 UTC, a whole hour


def _ip() -> str:
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"


def _drive(subject, *, per_minute: int, minutes: range, start: float = HOUR_START) -> list:
    flags = []
    for minute in minutes:
        for second in range(per_minute):
            flags += requests_count([subject], now=start + minute * 60 + second * 60 / max(per_minute, 1) * 0.99)
    return flags


@pytest.fixture
def low_floor(settings):
    settings.ABUSE_RATE_FLOOR_PER_MINUTE = 3
    settings.ABUSE_RATE_FACTOR = 10
    return settings


def test_a_burst_over_ten_times_the_subjects_own_baseline_is_flagged_once_an_hour(db, low_floor):
    subject = Subject(AbuseSubject.IP, _ip())
    # an hour of steady traffic at 5 a minute (above the floor of 3): the baseline is 5, the threshold 50
    assert _drive(subject, per_minute=5, minutes=range(-60, 0)) == []

    burst = _drive(subject, per_minute=60, minutes=range(2))

    assert len(burst) == 1  # at the 51st request of minute 0; minute 1 is the same hour: no second flag
    flag = burst[0]
    assert (flag.kind, flag.subject_type, flag.subject_id) == (AbuseFlagKind.RATE_SPIKE, "ip", subject.id)
    assert flag.evidence["requests_this_minute"] == 51
    assert flag.evidence["baseline_per_minute"] == 5.0
    # the next hour, still bursting: a new flag
    assert len(_drive(subject, per_minute=60, minutes=range(60, 61))) == 1


def test_a_busy_subject_at_its_usual_rate_is_not_flagged(db, low_floor):
    subject = Subject(AbuseSubject.API_KEY, uuid.uuid4().hex[:8])

    _drive(subject, per_minute=40, minutes=range(-60, 0))  # its first minute, out of nothing, was a spike

    # a new hour (so no earlier flag masks one): 40 a minute is this key's normal
    assert _drive(subject, per_minute=40, minutes=range(3)) == []


def test_a_quiet_key_going_from_nothing_to_a_few_requests_is_not_an_anomaly(db, settings):
    settings.ABUSE_RATE_FLOOR_PER_MINUTE = 30  # the default
    subject = Subject(AbuseSubject.API_KEY, uuid.uuid4().hex[:8])

    assert _drive(subject, per_minute=3, minutes=range(1)) == []
    assert _drive(subject, per_minute=250, minutes=range(1, 2)) == []  # under 10 x the floor
    assert len(_drive(subject, per_minute=301, minutes=range(2, 3))) == 1


def test_real_requests_are_counted_per_key_and_per_address(db, settings):
    settings.ABUSE_RATE_FLOOR_PER_MINUTE = 1
    settings.ABUSE_RATE_FACTOR = 3
    user = UserFactory()
    issued = api_key_create(user=user)
    ip = _ip()
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")

    # 8 requests: even across a minute boundary one minute holds at least 4 > 3 x 1
    for _ in range(8):
        assert client.get("/v1/usage", REMOTE_ADDR=ip).status_code == 200

    flagged = set(AbuseFlag.objects.values_list("subject_type", "subject_id"))
    assert ("ip", ip) in flagged
    assert ("api_key", issued.api_key.prefix) in flagged


def test_auto_throttle_answers_429_with_retry_after_for_a_flagged_address(client, db, low_floor):
    low_floor.ABUSE_AUTO_THROTTLE = True
    low_floor.ABUSE_THROTTLE_SECONDS = 600
    ip, calm = _ip(), _ip()
    subject = Subject(AbuseSubject.IP, ip)
    _drive(subject, per_minute=5, minutes=range(-60, 0))
    assert len(_drive(subject, per_minute=60, minutes=range(1))) == 1

    response = client.get("/v1/voices", REMOTE_ADDR=ip)

    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    assert 590 <= int(response["Retry-After"]) <= 600
    assert client.get("/v1/voices", REMOTE_ADDR=calm).status_code == 401  # others are unaffected
    assert client.get("/health/live", REMOTE_ADDR=ip).status_code == 200


def test_without_auto_throttle_a_flagged_address_is_only_flagged(client, db, low_floor):
    ip = _ip()
    subject = Subject(AbuseSubject.IP, ip)
    _drive(subject, per_minute=5, minutes=range(-60, 0))
    assert len(_drive(subject, per_minute=60, minutes=range(1))) == 1

    assert client.get("/v1/voices", REMOTE_ADDR=ip).status_code == 401


def _stored_job(user, *, days_ago: float, size: int):
    job = QueuedJobFactory(user=user, status="succeeded", audio=f"audio/{uuid.uuid4()}.wav", audio_bytes=size)
    type(job).objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    return job


def test_storage_growth_spike_is_flagged_once_per_account_and_day(db, settings):
    settings.ABUSE_STORAGE_FACTOR = 10
    settings.ABUSE_STORAGE_FLOOR_BYTES = 1_000_000
    spiky, steady = UserFactory(), UserFactory()
    for day in range(1, 8):
        _stored_job(spiky, days_ago=day + 0.5, size=1_000_000)
        _stored_job(steady, days_ago=day + 0.5, size=3_000_000)
    for _ in range(4):
        _stored_job(spiky, days_ago=0.1, size=3_000_000)  # 12 MB today against 1 MB a day
    _stored_job(steady, days_ago=0.1, size=9_000_000)  # 9 MB against 3 MB a day: busy, not a spike
    # a cache hit shares its source's file: it stores nothing new
    hit = QueuedJobFactory(user=steady, cached=True, status="succeeded", audio="audio/x.wav", audio_bytes=10**9)
    assert hit.cached

    flags = storage_growth_check()

    assert [(flag.subject_type, flag.subject_id) for flag in flags] == [("user", str(spiky.public_id))]
    assert flags[0].evidence["bytes_24h"] == 12_000_000
    assert flags[0].evidence["daily_mean_bytes_previous_7d"] == 1_000_000
    assert storage_growth_check() == []  # once a day


def test_voice_recordings_count_toward_storage(db, settings):
    settings.ABUSE_STORAGE_FACTOR = 2
    settings.ABUSE_STORAGE_FLOOR_BYTES = 1000
    voice = ActiveVoiceFactory(sample="voices/spiky.wav", consent__consent_audio="consent/spiky.wav")
    default_storage.save("voices/spiky.wav", ContentFile(b"x" * 1500))
    default_storage.save("consent/spiky.wav", ContentFile(b"x" * 600))

    flags = storage_growth_check()

    assert [flag.subject_id for flag in flags] == [str(voice.user.public_id)]
    assert flags[0].evidence["bytes_24h"] == 2100


def test_many_consent_challenges_from_one_address_are_flagged(db, settings, django_capture_on_commit_callbacks):
    settings.ABUSE_CONSENT_ATTEMPTS_PER_DAY = 3
    ip = _ip()
    from rest_framework.test import APIClient

    for _ in range(4):
        client = APIClient()
        client.force_authenticate(UserFactory())  # even spread over many accounts
        with django_capture_on_commit_callbacks(execute=True):
            assert client.post("/v1/voices/consent-challenge", REMOTE_ADDR=ip).status_code == 201

    flag = AbuseFlag.objects.get(subject_id=ip)
    assert flag.kind == AbuseFlagKind.CONSENT_ATTEMPTS
    assert flag.evidence["challenges_24h"] == 4


def test_many_voice_profiles_from_one_address_are_flagged(db, settings):
    settings.ABUSE_PROFILES_PER_IP = 5
    ip = _ip()
    for _ in range(5):
        ConsentRecordFactory(ip_address=ip)
    assert consent_activity_check(ip=ip) == []

    ConsentRecordFactory(ip_address=ip)
    flags = consent_activity_check(ip=ip)

    assert [(flag.kind, flag.subject_id, flag.evidence["profiles_24h"]) for flag in flags] == [
        (AbuseFlagKind.PROFILES_PER_IP, ip, 6)
    ]
    assert consent_activity_check(ip=ip) == []  # once a day


def test_flag_actions_in_the_admin_block_the_address_or_the_account_and_record_the_reviewer(
    client, db, admin_client, admin_user
):
    from controls.abuse import abuse_flag_raise

    ip = _ip()
    issued = api_key_create(user=UserFactory())
    on_ip = abuse_flag_raise(kind=AbuseFlagKind.RATE_SPIKE, subject=Subject("ip", ip), window="h", evidence={})
    on_key = abuse_flag_raise(
        kind=AbuseFlagKind.RATE_SPIKE, subject=Subject("api_key", issued.api_key.prefix), window="h", evidence={}
    )
    noise = abuse_flag_raise(kind=AbuseFlagKind.RATE_SPIKE, subject=Subject("ip", _ip()), window="h", evidence={})
    changelist = "/admin/ops/abuseflag/"

    admin_client.post(changelist, {"action": "block_ip", "_selected_action": [on_ip.pk]})
    admin_client.post(changelist, {"action": "block_user", "_selected_action": [on_key.pk]})
    admin_client.post(changelist, {"action": "dismiss", "_selected_action": [noise.pk]})

    assert client.get("/v1/voices", REMOTE_ADDR=ip).status_code == 403
    issued.api_key.user.refresh_from_db()
    assert issued.api_key.user.is_active is False
    statuses = dict(AbuseFlag.objects.values_list("pk", "status"))
    assert statuses == {on_ip.pk: "actioned", on_key.pk: "actioned", noise.pk: "dismissed"}
    assert set(AbuseFlag.objects.values_list("reviewed_by", flat=True)) == {admin_user.pk}
