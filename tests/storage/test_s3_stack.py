"""Through the live S3 stack (Daphne and a worker with no shared disk, one private bucket on moto's S3 server):
synthesized audio is stored in the bucket and on no disk, downloads through the API (with Range too), is refused to
an unsigned direct GET, counts in the storage quota and is deleted by the lifecycle policy; voice recordings are
stored in the bucket, checked by the worker from there, served back and deleted with their voice.

The voice test comes last: its consent check keeps the stack's one worker busy for a while."""

from __future__ import annotations

import hashlib
import time
import uuid
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from accounts.services import api_key_create
from billing.services import plan_assign
from billing.storage import storage_used_for
from ops.models import LifecycleReport
from synthesis.models import SynthesisJob
from tests.e2e.helpers import bearer
from tests.factories import UserFactory
from tests.support.media import CONSENT_TEXT, SAMPLE_TEXT, encode_av, encode_sf, speech
from voices.models import ConsentRecord, VoiceProfile

from .conftest import BUCKET

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


class Customer:
    def __init__(self, stack, plan: str = "free"):
        self.stack = stack
        self.user = UserFactory()
        plan_assign(user=self.user, slug=plan)
        self.headers = bearer(api_key_create(user=self.user, name="s3").secret)

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return httpx.request(method, f"{self.stack.base_url}{path}", headers=headers, timeout=60, **kwargs)

    def synthesize(self, text: str, **options) -> dict:
        """Submit and wait for the job to succeed; its final representation."""
        response = self.request("POST", "/v1/tts", json={"text": text, "voice_id": "joe", **options})
        assert response.status_code == 202, response.text
        job_id = response.json()["id"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            job = self.request("GET", f"/v1/tts/{job_id}").json()
            if job["status"] in ("succeeded", "failed", "cancelled"):
                assert job["status"] == "succeeded", (job, self.stack.logs())
                return job
            time.sleep(0.2)
        raise AssertionError(f"job {job_id} not finished in 60 s\n{self.stack.logs()}")


def _unique(text: str) -> str:
    """A text no earlier run has synthesized (the stack's Redis cache outlives a test's database)."""
    return f"{text} Reference {uuid.uuid4().int % 10**6}."


def test_synthesized_audio_lives_in_the_bucket_and_downloads_through_the_api(s3_stack):
    customer = Customer(s3_stack)

    job = customer.synthesize(_unique("Audio in a bucket, with no shared disk."), output_format="wav")

    key = f"audio/{job['id']}.wav"
    objects = s3_stack.s3.objects("audio/")
    assert key in objects
    stored = s3_stack.s3.read(key)
    assert stored[:4] == b"RIFF"
    assert len(stored) == objects[key] > 1000
    assert s3_stack.local_files() == []  # the worker wrote to the bucket, not to its folder
    assert SynthesisJob.objects.get(pk=job["id"]).audio.name == key

    whole = customer.request("GET", f"/v1/tts/{job['id']}/audio")
    assert whole.status_code == 200
    assert whole.content == stored

    part = customer.request("GET", f"/v1/tts/{job['id']}/audio", headers={"Range": "bytes=100-1099"})
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes 100-1099/{len(stored)}"
    assert part.content == stored[100:1100]

    tail = customer.request("GET", f"/v1/tts/{job['id']}/audio", headers={"Range": "bytes=-64"})
    assert tail.status_code == 206
    assert tail.content == stored[-64:]

    # The object is private: straight from the store, without a signature, it is refused.
    direct = httpx.get(f"{s3_stack.s3.endpoint_url}/{BUCKET}/{key}")
    assert direct.status_code == 403
    assert stored not in direct.content
    # Another customer cannot have it through the API either.
    assert Customer(s3_stack).request("GET", f"/v1/tts/{job['id']}/audio").status_code == 404

    # The storage quota counts the bytes the bucket holds for the account.
    assert storage_used_for(user=customer.user) == len(stored)

    health = httpx.get(f"{s3_stack.base_url}/health", timeout=10).json()
    assert health["checks"]["storage"]["backend"] == "S3Storage", health["checks"]["storage"]


def test_openai_compatible_speech_is_read_back_from_the_bucket(s3_stack):
    customer = Customer(s3_stack)

    # wav: a format that cannot stream is answered from the stored file (mp3, opus and pcm stream from the worker)
    body = {"model": "tts-1", "voice": "alloy", "input": _unique("Read back from S3."), "response_format": "wav"}
    response = customer.request("POST", "/v1/audio/speech", json=body)

    assert response.status_code == 200, response.text
    key = next(k for k in s3_stack.s3.objects("audio/") if k.startswith(f"audio/{response.headers['X-Job-Id']}."))
    assert response.content == s3_stack.s3.read(key)
    assert s3_stack.local_files() == []


def test_the_lifecycle_policy_deletes_expired_audio_from_the_bucket(s3_stack):
    customer = Customer(s3_stack)  # Free: audio kept 7 days
    kept = customer.synthesize(_unique("Still within the retention period."))
    expired = customer.synthesize(_unique("Past the retention period."))
    kept_key, expired_key = (SynthesisJob.objects.get(pk=job["id"]).audio.name for job in (kept, expired))
    assert {kept_key, expired_key} <= set(s3_stack.s3.objects("audio/"))
    used = storage_used_for(user=customer.user)
    expired_size = s3_stack.s3.objects("audio/")[expired_key]
    SynthesisJob.objects.filter(pk=expired["id"]).update(created_at=timezone.now() - timedelta(days=8))

    # As an operator (or beat's task) runs it: a third process, with its own empty media folder.
    result = s3_stack.manage("lifecycle_policy", "--apply", media_root=s3_stack.media_roots["ops"])

    assert result.returncode == 0, result.stderr[-3000:]
    report = LifecycleReport.objects.latest("started_at")
    assert report.error == ""
    assert report.results["audio"]["items"] == 1
    assert report.results["audio"]["bytes"] == expired_size
    objects = s3_stack.s3.objects("audio/")
    assert expired_key not in objects
    assert kept_key in objects
    assert customer.request("GET", f"/v1/tts/{expired['id']}/audio").json()["error"]["code"] == "audio_expired"
    assert customer.request("GET", f"/v1/tts/{kept['id']}/audio").status_code == 200
    assert storage_used_for(user=customer.user) == used - expired_size
    assert s3_stack.local_files() == []


def test_voice_recordings_are_stored_in_the_bucket_and_checked_there_by_the_worker(s3_stack):
    customer = Customer(s3_stack, plan="pro")
    consent = encode_av(speech(CONSENT_TEXT), 16000, "webm", "libopus", 48000)
    sample = encode_sf(speech(SAMPLE_TEXT), 16000, "WAV", "PCM_16")
    challenge = customer.request("POST", "/v1/voices/consent-challenge").json()

    response = customer.request(
        "POST",
        "/v1/voices",
        files={"consent_audio": ("consent.webm", consent, "audio/webm"), "sample": ("sample.wav", sample, "audio/wav")},
        data={"name": "Bucket voice", "sample_transcript": SAMPLE_TEXT, "challenge_id": challenge["id"]},
    )

    # The worker validated both recordings (their lengths are its measure), reading them from the bucket: it
    # shares no folder with the web process that received them.
    assert response.status_code in (201, 202), response.text
    voice = response.json()
    profile = VoiceProfile.objects.select_related("consent").get(pk=voice["id"])
    assert profile.sample_duration_seconds > 1
    assert profile.consent.consent_duration_seconds > 1
    sample_key, consent_key = profile.sample.name, profile.consent.consent_audio.name
    assert (sample_key, consent_key) == (f"voices/{profile.id}.wav", f"consent/{profile.consent.id}.webm")
    assert hashlib.sha256(s3_stack.s3.read(sample_key)).hexdigest() == profile.sample_sha256
    assert s3_stack.s3.read(consent_key) == consent
    assert s3_stack.local_files() == []
    assert httpx.get(f"{s3_stack.s3.endpoint_url}/{BUCKET}/{sample_key}").status_code == 403
    assert storage_used_for(user=customer.user) == len(sample)  # the sample counts; consent evidence does not

    served = customer.request("GET", f"/v1/voices/{profile.id}/sample")
    assert served.status_code == 200
    assert served.content == sample

    assert customer.request("DELETE", f"/v1/voices/{profile.id}").status_code == 204
    objects = s3_stack.s3.objects()
    assert sample_key not in objects
    assert consent_key in objects  # the consent recording stays: audit evidence
    assert ConsentRecord.objects.filter(pk=profile.consent.id).exists()
    assert storage_used_for(user=customer.user) == 0
