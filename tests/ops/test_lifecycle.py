"""The lifecycle policy: a dry run changes nothing; --apply deletes exactly what the policy says (unused voices and
their samples, audio past the plan's retention, old consent evidence of deleted voices, unused expired challenges,
old orphaned files) and nothing else; a file a live row points to is never deleted; each run stores its report."""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import timezone

from billing.services import plan_assign
from ops.lifecycle import lifecycle_run
from ops.models import LifecycleReport
from synthesis.cache import cache_lookup, cache_store
from synthesis.models import SynthesisJob
from synthesis.runner import synthesis_job_execute
from synthesis.services import synthesis_job_create
from tests.factories import (
    ActiveVoiceFactory,
    ConsentChallengeFactory,
    ConsentRecordFactory,
    SucceededJobFactory,
    UserFactory,
)
from voices.models import ConsentChallenge, ConsentRecord, VoiceProfile

DAY = timedelta(days=1)


def _store(name: str, size: int, *, age: timedelta = timedelta(0)) -> str:
    stored = default_storage.save(name, ContentFile(os.urandom(size)))
    assert stored == name
    if age:
        when = (timezone.now() - age).timestamp()
        os.utime(default_storage.path(name), (when, when))
    return name


def _age(obj, age: timedelta):
    """Backdate a row's creation (auto_now_add cannot be set at create time)."""
    type(obj).objects.filter(pk=obj.pk).update(created_at=timezone.now() - age)
    obj.refresh_from_db()
    return obj


def _job(user, *, age: timedelta, size: int = 1000, **kwargs):
    job = SucceededJobFactory(user=user, audio_bytes=size, **kwargs)
    old = timezone.now() - age
    os.utime(default_storage.path(job.audio.name), (old.timestamp(), old.timestamp()))
    return _age(job, age)


def _voice(user, *, age: timedelta, consent_age: timedelta | None = None, size: int = 3000):
    voice_id = uuid.uuid4()
    consent = ConsentRecordFactory(user=user, consent_audio=_store(f"consent/{uuid.uuid4()}.wav", 500, age=age))
    voice = ActiveVoiceFactory(
        id=voice_id, user=user, consent=consent, sample=_store(f"voices/{voice_id}.wav", size, age=age)
    )
    _age(consent, consent_age or age)
    return _age(voice, age)


def _files() -> dict[str, str]:
    root = Path(settings.MEDIA_ROOT)
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in root.rglob("*")
        if path.is_file()
    }


def _snapshot() -> dict:
    return {
        "jobs": sorted(SynthesisJob.objects.values_list("pk", "status", "audio", "audio_expired_at")),
        "voices": sorted(VoiceProfile.objects.values_list("pk", "sample")),
        "consents": sorted(ConsentRecord.objects.values_list("pk", "consent_audio", "consent_audio_deleted_at")),
        "challenges": sorted(ConsentChallenge.objects.values_list("pk", flat=True)),
        "files": _files(),
    }


@pytest.fixture
def world(db):
    """Two accounts (Free, never assigned a plan: 7 days of audio; Pro: 90 days) and one of everything the policy
    deletes or must keep."""
    free, pro = UserFactory(), UserFactory()
    plan_assign(user=pro, slug="pro")
    w = {"free": free, "pro": pro}

    # Audio
    w["free_expired"] = _job(free, age=8 * DAY, size=1100)
    w["free_fresh"] = _job(free, age=2 * DAY, size=1200)
    w["pro_within_retention"] = _job(pro, age=30 * DAY, size=1300)
    w["pro_expired"] = _job(pro, age=100 * DAY, size=1400)
    # An expired job whose file a recent cache hit still uses: the row expires, the file stays.
    w["shared_source"] = _job(free, age=10 * DAY, size=1500)
    w["cache_hit"] = _age(
        SucceededJobFactory(
            user=free,
            cached=True,
            source_job=w["shared_source"],
            audio=w["shared_source"].audio.name,
            audio_bytes=1500,
            stored=False,
        ),
        1 * DAY,
    )

    # Voices (Pro allows cloning)
    w["voice_unused"] = _voice(pro, age=200 * DAY, size=3100)
    w["voice_used"] = _voice(pro, age=200 * DAY, size=3200)
    _age(SucceededJobFactory(user=pro, voice_id=str(w["voice_used"].pk), voice_kind="cloned"), 10 * DAY)
    w["voice_recent"] = _voice(pro, age=10 * DAY, size=3300)
    # Consent evidence: a 3-year-old record whose voice is gone, and one whose voice still exists and is used.
    w["consent_orphaned"] = _age(
        ConsentRecordFactory(user=pro, consent_audio=_store("consent/old-evidence.wav", 700, age=1100 * DAY)),
        1100 * DAY,
    )
    w["voice_with_old_consent"] = _voice(pro, age=1100 * DAY, size=3400)
    _age(SucceededJobFactory(user=pro, voice_id=str(w["voice_with_old_consent"].pk), voice_kind="cloned"), 5 * DAY)

    # Consent challenges
    now = timezone.now()
    w["challenge_expired_unused"] = ConsentChallengeFactory(user=free, used_at=None, expires_at=now - DAY)
    w["challenge_valid_unused"] = ConsentChallengeFactory(user=free, used_at=None, expires_at=now + DAY)

    # Orphans: under our prefixes, old (deleted) or young (kept); and a file outside our prefixes (never ours).
    w["orphan_old"] = _store("audio/orphan-old.mp3", 800, age=timedelta(hours=2))
    w["orphan_nested"] = _store("voices/nested/deeper/orphan.wav", 900, age=timedelta(days=3))
    w["orphan_young"] = _store("audio/being-written.wav", 1000, age=timedelta(minutes=5))
    w["not_ours"] = _store("exports/keep.csv", 100, age=400 * DAY)
    return w


def test_a_dry_run_changes_nothing(world):
    before = _snapshot()

    report = lifecycle_run(apply=False)

    assert _snapshot() == before
    assert report.dry_run is True
    assert report.items_total > 0  # it did find work


def test_apply_deletes_exactly_what_the_policy_says(world):
    w = world
    before = _snapshot()

    lifecycle_run(apply=True)

    after = _snapshot()
    # Audio: the expired rows stay, without audio; their files are gone, except the one a cache hit still uses.
    expired = {w["free_expired"].pk, w["pro_expired"].pk, w["shared_source"].pk}
    for job in SynthesisJob.objects.all():
        if job.pk in expired:
            assert (job.audio.name, job.status) == ("", "succeeded"), job
            assert job.audio_expired_at is not None, job
        else:
            assert job.audio.name, job
            assert job.audio_expired_at is None, job
    assert len(after["jobs"]) == len(before["jobs"])
    # Voices: only the unused old one; its consent record and recording stay.
    assert set(VoiceProfile.objects.values_list("pk", flat=True)) == {
        w["voice_used"].pk,
        w["voice_recent"].pk,
        w["voice_with_old_consent"].pk,
    }
    unused_consent = ConsentRecord.objects.get(pk=w["voice_unused"].consent_id)
    assert unused_consent.consent_audio.name
    assert unused_consent.consent_audio_deleted_at is None
    # Consent evidence: the old recording of a deleted voice goes, the row and its hash stay; a live voice's stays.
    orphaned = ConsentRecord.objects.get(pk=w["consent_orphaned"].pk)
    assert orphaned.consent_audio == ""
    assert orphaned.consent_audio_deleted_at is not None
    assert orphaned.consent_audio_sha256 == w["consent_orphaned"].consent_audio_sha256
    live_consent = ConsentRecord.objects.get(pk=w["voice_with_old_consent"].consent_id)
    assert live_consent.consent_audio.name
    assert live_consent.consent_audio_deleted_at is None
    assert ConsentRecord.objects.count() == len(before["consents"])
    # Challenges: the expired unused one only.
    assert set(ConsentChallenge.objects.values_list("pk", flat=True)) == set(before["challenges"]) - {
        w["challenge_expired_unused"].pk
    }
    # Files: exactly these are gone, every other file is byte-for-byte what it was.
    gone = {
        w["free_expired"].audio.name,
        w["pro_expired"].audio.name,
        w["voice_unused"].sample.name,
        w["consent_orphaned"].consent_audio.name,
        w["orphan_old"],
        w["orphan_nested"],
    }
    assert gone <= set(before["files"])
    assert after["files"] == {name: digest for name, digest in before["files"].items() if name not in gone}


def test_a_file_a_live_row_points_to_is_never_deleted_even_if_old(world):
    w = world
    shared = w["shared_source"].audio.name

    report = lifecycle_run(apply=True)

    assert default_storage.exists(shared)
    assert SynthesisJob.objects.get(pk=w["cache_hit"].pk).audio.name == shared
    assert report.results["audio"]["kept_referenced"] == 1
    # Old files of live rows: a job within its plan's retention, a voice still in use, a live voice's consent.
    for name in (
        w["pro_within_retention"].audio.name,
        w["voice_used"].sample.name,
        w["voice_with_old_consent"].sample.name,
        w["voice_with_old_consent"].consent.consent_audio.name,
    ):
        assert default_storage.exists(name), name


def test_a_file_a_row_points_to_is_not_an_orphan_however_old(db):
    job = _job(UserFactory(), age=2 * DAY)  # within Free's 7 days, its file two days old
    _store("audio/orphan.wav", 10, age=2 * DAY)

    report = lifecycle_run(apply=True)

    assert default_storage.exists(job.audio.name)
    assert not default_storage.exists("audio/orphan.wav")
    assert report.results["orphans"] == {"items": 1, "bytes": 10, "kept_referenced": 0}


def test_an_orphan_younger_than_the_grace_period_is_kept(db, settings):
    settings.LIFECYCLE_ORPHAN_GRACE_SECONDS = 3600
    _store("audio/young.wav", 10, age=timedelta(minutes=59))
    _store("consent/old.wav", 20, age=timedelta(minutes=61))

    report = lifecycle_run(apply=True)

    assert default_storage.exists("audio/young.wav")
    assert not default_storage.exists("consent/old.wav")
    assert report.results["orphans"]["items"] == 1


def test_the_report_records_counts_and_bytes_and_the_dry_run_predicts_them(world):
    w = world

    dry = lifecycle_run(apply=False)
    applied = lifecycle_run(apply=True)

    expected = {
        "voice_profiles": {"items": 1, "bytes": 3100, "kept_referenced": 0},
        "audio": {"items": 3, "bytes": 1100 + 1400, "kept_referenced": 1},
        "consent_evidence": {"items": 1, "bytes": 700, "kept_referenced": 0},
        "consent_challenges": {"items": 1, "bytes": 0, "kept_referenced": 0},
        "orphans": {"items": 2, "bytes": 800 + 900, "kept_referenced": 0},
    }
    assert applied.results == expected
    assert dry.results == expected
    assert applied.items_total == 8
    assert applied.bytes_total == 3100 + 2500 + 700 + 1700
    assert applied.dry_run is False
    assert applied.finished_at >= applied.started_at
    assert applied.policy["audio_retention_days"] == {"free": 7, "starter": 30, "pro": 90, "business": 365}
    assert LifecycleReport.objects.count() == 2
    # A second run finds nothing left to do.
    again = lifecycle_run(apply=True)
    assert again.items_total == 0
    assert again.bytes_total == 0
    assert w["cache_hit"].audio.name  # still there for the cache hit


def test_expired_audio_answers_410_audio_expired(api, user):
    job = synthesis_job_create(user=user, text="Keep me for a week.", voice_id="joe")
    synthesis_job_execute(job_id=job.id)
    signed_url = api.get(f"/v1/tts/{job.id}").json()["audio_url"]
    _age(job, 8 * DAY)

    lifecycle_run(apply=True)

    response = api.get(f"/v1/tts/{job.id}/audio")
    assert response.status_code == 410
    assert response.json()["error"]["code"] == "audio_expired"
    assert "Submit the text again" in response.json()["error"]["message"]
    assert api.__class__().get(signed_url).status_code == 410  # the signed link, with no credentials
    detail = api.get(f"/v1/tts/{job.id}").json()
    assert detail["status"] == "succeeded"
    assert detail["audio_url"] is None
    assert detail["audio_expired_at"] is not None


def test_the_cache_never_answers_from_expired_audio(user):
    first = synthesis_job_create(user=user, text="Say this twice.", voice_id="joe")
    synthesis_job_execute(job_id=first.id)
    assert synthesis_job_create(user=user, text="Say this twice.", voice_id="joe").cached is True
    SynthesisJob.objects.filter(user=user).update(created_at=timezone.now() - 8 * DAY)

    lifecycle_run(apply=True)
    # Even an index entry that survived (written back by a process that had read it before) is skipped.
    cache_store(first.cache_key, first.id)

    again = synthesis_job_create(user=user, text="Say this twice.", voice_id="joe")
    assert again.cached is False
    assert again.status == "queued"
    assert cache_lookup(first.cache_key) is None  # the stale entry was dropped


def test_the_management_command_reports_a_dry_run_and_an_applied_run(world):
    out = io.StringIO()
    call_command("lifecycle_policy", stdout=out)
    dry = out.getvalue()

    assert "DRY RUN: nothing was changed" in dry
    assert "audio" in dry
    assert "orphans" in dry
    lines = {line.split()[0]: line.split() for line in dry.splitlines() if line.split()}
    assert lines["voice_profiles"][1] == "1"
    assert lines["audio"][1] == "3"
    assert lines["total"][1] == "8"
    assert default_storage.exists(world["orphan_old"])

    out = io.StringIO()
    call_command("lifecycle_policy", "--apply", stdout=out)

    assert "Lifecycle policy applied." in out.getvalue()
    assert not default_storage.exists(world["orphan_old"])
    assert LifecycleReport.objects.filter(dry_run=False).count() == 1


def test_the_weekly_task_is_scheduled_on_the_default_queue():
    entry = settings.CELERY_BEAT_SCHEDULE["lifecycle-policy"]

    assert entry["task"] == "ops.lifecycle_policy"
    assert entry["options"]["queue"] == "default"
