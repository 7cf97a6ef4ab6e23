"""The cloning flow over HTTP with a real worker: challenge -> upload -> verifying -> active or rejected.

The worker hears each consent recording (Whisper tiny.en) for the challenge's statement and one-time phrase, so a
recording that should pass reads its challenge's own statement. Whisper tiny.en misses a word of about one drawn
phrase in fifteen (bench/measured/asr_2core.json); tests that need a voice to become active pin their challenge to
PHRASE, whose four words it heard in every honest recording (tests/speech/test_consent_matrix.py)."""

from __future__ import annotations

import io
import json
import os
import time
from datetime import timedelta

import httpx
import numpy as np
import pytest
import soundfile as sf
from django.conf import settings
from django.utils import timezone

from accounts.services import api_key_create
from billing.services import plan_assign
from controls.switches import switch_set
from synthesis.models import SynthesisJob
from synthesis.services import synthesis_job_enqueue
from tests.e2e.helpers import bearer, open_socket
from tests.factories import QueuedJobFactory, UserFactory
from tests.support.media import CONSENT_TEXT, SAMPLE_TEXT, encode_av, encode_sf, other_speaker, speech
from textnorm.consent_wording import consent_statement
from voices.models import ConsentChallenge, ConsentRecord, VoiceProfile

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHRASE = "spruce castle anchor walnut"
SECOND_PHRASE = "harbor lantern copper valley"
ASR_MISSES = {"consent_phrase_not_heard", "consent_statement_not_heard"}


def read_aloud(text: str, *, speaker=None) -> bytes:
    """`text` read aloud and recorded as a browser would send it (webm/opus)."""
    samples = speech(text)
    return encode_av(samples if speaker is None else speaker(samples), 16000, "webm", "libopus", 48000)


def media_files() -> list[str]:
    found = []
    for folder in ("consent", "voices"):
        root = os.path.join(settings.MEDIA_ROOT, folder)
        if os.path.isdir(root):
            found += [f"{folder}/{name}" for name in os.listdir(root)]
    return sorted(found)


class Customer:
    def __init__(self, stack, plan="pro"):
        self.stack = stack
        self.user = UserFactory()
        plan_assign(user=self.user, slug=plan)
        self.secret = api_key_create(user=self.user, name="voices").secret

    def post(self, path, **kwargs):
        return httpx.post(f"{self.stack.base_url}{path}", headers=bearer(self.secret), timeout=60, **kwargs)

    def get(self, path):
        return httpx.get(f"{self.stack.base_url}{path}", headers=bearer(self.secret), timeout=30)

    def delete(self, path):
        return httpx.delete(f"{self.stack.base_url}{path}", headers=bearer(self.secret), timeout=30)

    def patch(self, path, **kwargs):
        return httpx.patch(f"{self.stack.base_url}{path}", headers=bearer(self.secret), timeout=30, **kwargs)

    def challenge(self, phrase: str | None = PHRASE) -> dict:
        """A fresh challenge; with `phrase`, its one-time phrase replaced by that one (None: the drawn one)."""
        response = self.post("/v1/voices/consent-challenge")
        assert response.status_code == 201, response.text
        challenge = response.json()
        if phrase is not None:
            statement = consent_statement(email=self.user.email, phrase=phrase)
            ConsentChallenge.objects.filter(pk=challenge["id"]).update(nonce=phrase, statement=statement)
            challenge = self.get(f"/v1/voices/consent-challenge/{challenge['id']}").json()
            assert challenge["statement"] == statement
        return challenge

    def upload(self, *, challenge_id, consent: bytes, sample: bytes, name="My voice", transcript=SAMPLE_TEXT):
        files = {
            "consent_audio": ("consent.webm", consent, "audio/webm"),
            "sample": ("sample.wav", sample, "audio/wav"),
        }
        data = {"name": name, "sample_transcript": transcript, "challenge_id": challenge_id}
        return self.post("/v1/voices", files=files, data=data)


@pytest.fixture
def alice(stack):
    return Customer(stack)


@pytest.fixture
def bob(stack):
    return Customer(stack)


@pytest.fixture(scope="module")
def consent_webm():
    return encode_av(speech(CONSENT_TEXT), 16000, "webm", "libopus", 48000)


@pytest.fixture(scope="module")
def sample_wav():
    return encode_sf(speech(SAMPLE_TEXT), 16000, "WAV", "PCM_16")


def _settled(voice: dict) -> bool:
    return voice["status"] != "verifying" or voice["consent_outcome"] == "review"


def _poll_for_voice(customer, voice_id: str, timeout: float = 300) -> dict:
    """The profile once settled, read from the API. The consent check transcribes two recordings (tens of seconds
    on a loaded machine): tests that only need the outcome poll rather than hold a socket open that long."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        voice = customer.get(f"/v1/voices/{voice_id}").json()
        if _settled(voice):
            return voice
        time.sleep(0.5)
    raise AssertionError(f"voice {voice_id} still {voice['status']} after {timeout} s")


def _wait_for_voice(ws, voice_id: str) -> dict:
    """The first `voice.updated` event that settles the profile (active or rejected, or sent to review)."""
    while True:
        message = json.loads(ws.recv(timeout=120))
        voice = message.get("voice") or {}
        if message["type"] == "voice.updated" and voice.get("id") == voice_id and _settled(voice):
            return voice


def test_challenge_names_the_account_and_ends_with_a_one_time_phrase(alice):
    first, second = alice.challenge(phrase=None), alice.challenge(phrase=None)

    assert alice.user.email in first["statement"]
    assert first["statement"].rstrip(".").split(": ")[-1] != second["statement"].rstrip(".").split(": ")[-1]
    expires = timezone.datetime.fromisoformat(first["expires_at"])
    assert timedelta(minutes=9) < expires - timezone.now() <= timedelta(minutes=10)


def test_consent_and_sample_of_one_speaker_make_an_active_voice(alice, sample_wav):
    challenge = alice.challenge()
    with open_socket(alice.stack, api_key=alice.secret) as ws:
        response = alice.upload(
            challenge_id=challenge["id"], consent=read_aloud(challenge["statement"]), sample=sample_wav
        )
        assert response.status_code == 202, response.text
        profile = response.json()
        assert profile["status"] == "verifying"
        assert profile["kind"] == "cloned"

        update = _wait_for_voice(ws, profile["id"])

    assert update["status"] == "active"
    assert update["speaker_score"] >= settings.SPEAKER_MATCH_THRESHOLDS["resemblyzer"]
    voices = alice.get("/v1/voices").json()["voices"]
    cloned = [v for v in voices if v["kind"] == "cloned"]
    assert [(v["id"], v["status"]) for v in cloned] == [(profile["id"], "active")]
    assert any(v["kind"] == "builtin" for v in voices)
    assert update["consent_outcome"] == "accepted"
    assert (update["sample_transcript_source"], update["transcript_warning"]) == ("owner", None)
    consent = alice.get(f"/v1/voices/{profile['id']}/consent").json()
    assert consent["decision"] == "accepted"
    assert consent["encoder"] == "resemblyzer"
    assert consent["statement"] == challenge["statement"]
    check = consent["check"]
    assert (check["outcome"], check["code"], check["recording"]) == ("accepted", None, None)
    assert [w["word"] for w in check["phrase"]["words"]] == PHRASE.split()
    assert all(w["ok"] and w["heard"] for w in check["phrase"]["words"]), check["phrase"]
    assert check["phrase"]["missing"] == []
    assert check["phrase"]["score"] >= check["phrase"]["threshold"] == settings.CONSENT_PHRASE_THRESHOLD
    assert check["statement"]["share"] >= check["statement"]["threshold"] == settings.CONSENT_STATEMENT_THRESHOLD
    assert check["speaker"]["similarity"] == update["speaker_score"]
    assert all(w["heard"].lower() in check["transcript"].lower() for w in check["phrase"]["words"])
    assert check["asr"]["model_id"] == "whisper-tiny.en"
    assert check["review_margin"] == settings.CONSENT_REVIEW_MARGIN
    record = ConsentRecord.objects.get(pk=consent["id"])
    assert record.ip_address == "127.0.0.1"
    assert record.challenge.used_at is not None
    assert alice.get(f"/v1/voices/{profile['id']}/sample").content == sample_wav


def test_a_different_speaker_in_the_sample_is_rejected(alice):
    impostor = encode_sf(other_speaker(speech(SAMPLE_TEXT)), 16000, "FLAC")
    challenge = alice.challenge()
    consent = read_aloud(challenge["statement"])
    with open_socket(alice.stack, api_key=alice.secret) as ws:
        profile = alice.upload(challenge_id=challenge["id"], consent=consent, sample=impostor).json()
        update = _wait_for_voice(ws, profile["id"])

    assert update["status"] == "rejected"
    assert update["rejection"]["code"] == "consent_speaker_mismatch"
    assert update["rejection"]["recording"] == "consent"
    consent = alice.get(f"/v1/voices/{profile['id']}/consent").json()
    assert consent["decision"] == "rejected"
    assert consent["check"]["speaker"]["similarity"] < consent["check"]["speaker"]["threshold"]


def test_a_replayed_challenge_is_refused_and_leaves_nothing(alice, consent_webm, sample_wav):
    challenge = alice.challenge()
    assert alice.upload(challenge_id=challenge["id"], consent=consent_webm, sample=sample_wav).status_code == 202
    files_before = media_files()

    replay = alice.upload(challenge_id=challenge["id"], consent=consent_webm, sample=sample_wav)

    assert replay.status_code == 400
    assert replay.json()["error"]["code"] == "consent_challenge_invalid"
    assert VoiceProfile.objects.count() == 1
    assert media_files() == files_before


def test_an_expired_challenge_is_refused(alice, consent_webm, sample_wav):
    challenge = alice.challenge()
    ConsentChallenge.objects.filter(pk=challenge["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = alice.upload(challenge_id=challenge["id"], consent=consent_webm, sample=sample_wav)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "consent_challenge_invalid"
    assert VoiceProfile.objects.count() == ConsentRecord.objects.count() == 0
    assert media_files() == []


def test_another_accounts_challenge_is_refused(alice, bob, consent_webm, sample_wav):
    challenge = alice.challenge()

    response = bob.upload(challenge_id=challenge["id"], consent=consent_webm, sample=sample_wav)

    assert response.json()["error"]["code"] == "consent_challenge_invalid"
    assert ConsentChallenge.objects.get(pk=challenge["id"]).used_at is None


def _noise(seconds):
    return (np.random.default_rng(1).standard_normal(int(seconds * 16000)) * 0.1).astype(np.float32)


def _lying_header_wav():
    import struct

    data = bytearray(encode_sf(speech(SAMPLE_TEXT)[: 2 * 16000], 16000, "WAV", "PCM_16"))
    struct.pack_into("<I", data, data.index(b"data") + 4, 60 * 16000 * 2)
    return bytes(data)


SAMPLE_PROBLEMS = {
    "zero bytes": (lambda: b"", "audio_unreadable"),
    "text renamed .wav": (lambda: b"not audio at all\n" * 200, "audio_unreadable"),
    "truncated": (lambda: encode_sf(speech(SAMPLE_TEXT), 16000, "MP3")[:50], "audio_unreadable"),
    "header lies about length": (_lying_header_wav, "audio_too_short"),
    "too short": (lambda: encode_sf(speech(SAMPLE_TEXT)[: 3 * 16000], 16000, "WAV"), "audio_too_short"),
    "too long": (lambda: encode_sf(np.tile(speech(SAMPLE_TEXT), 8), 16000, "FLAC"), "audio_too_long"),
    "noise": (lambda: encode_sf(_noise(8), 16000, "WAV"), "audio_no_speech"),
    "clipped": (lambda: encode_sf(np.clip(speech(SAMPLE_TEXT) * 20, -1, 1), 16000, "WAV", "FLOAT"), "audio_clipped"),
    "too quiet": (lambda: encode_sf(speech(SAMPLE_TEXT) * 0.002, 16000, "WAV", "FLOAT"), "audio_too_quiet"),
}


@pytest.mark.parametrize("problem", list(SAMPLE_PROBLEMS))
def test_a_bad_sample_is_refused_with_its_code_and_leaves_nothing(alice, consent_webm, problem):
    make, code = SAMPLE_PROBLEMS[problem]
    challenge = alice.challenge()

    response = alice.upload(challenge_id=challenge["id"], consent=consent_webm, sample=make())

    assert 400 <= response.status_code < 500, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["detail"]["field"] == "sample"
    assert VoiceProfile.objects.count() == ConsentRecord.objects.count() == 0
    assert media_files() == []
    # the challenge was not spent: the customer can fix the recording and try again
    assert ConsentChallenge.objects.get(pk=challenge["id"]).used_at is None


def test_a_consent_recording_shorter_than_3_seconds_is_refused(alice, sample_wav):
    short = encode_sf(speech(CONSENT_TEXT)[: int(2.5 * 16000)], 16000, "WAV")

    response = alice.upload(challenge_id=alice.challenge()["id"], consent=short, sample=sample_wav)

    assert response.json()["error"]["code"] == "audio_too_short"
    assert response.json()["error"]["detail"]["field"] == "consent_audio"
    assert media_files() == []


def test_a_file_over_the_size_limit_is_413(alice, consent_webm):
    too_big = b"\0" * (settings.VOICE_UPLOAD_MAX_BYTES + 1)

    response = alice.upload(challenge_id=alice.challenge()["id"], consent=consent_webm, sample=too_big)

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "audio_too_large"
    assert media_files() == []


def test_missing_fields_are_400(alice):
    response = alice.post("/v1/voices", data={"name": "x"}, files={"sample": ("a.wav", b"123", "audio/wav")})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_other_users_voices_consent_and_challenges_are_not_found(alice, bob, consent_webm, sample_wav):
    challenge = alice.challenge()
    profile = alice.upload(challenge_id=challenge["id"], consent=consent_webm, sample=sample_wav).json()

    for path in (
        f"/v1/voices/{profile['id']}",
        f"/v1/voices/{profile['id']}/sample",
        f"/v1/voices/{profile['id']}/consent",
        f"/v1/voices/consent-challenge/{challenge['id']}",
    ):
        assert bob.get(path).status_code == 404, path
        assert alice.get(path).status_code == 200, path
    assert bob.delete(f"/v1/voices/{profile['id']}").status_code == 404
    assert [v for v in bob.get("/v1/voices").json()["voices"] if v["kind"] == "cloned"] == []
    tts = bob.post("/v1/tts", json={"text": "Hello", "voice_id": profile["id"]})
    assert tts.status_code == 404
    assert tts.json()["error"]["code"] == "voice_not_found"


def test_deleting_a_voice_removes_profile_and_sample_but_keeps_consent(alice, consent_webm, sample_wav):
    challenge = alice.challenge()
    profile = alice.upload(challenge_id=challenge["id"], consent=consent_webm, sample=sample_wav).json()
    record = ConsentRecord.objects.get(voice_profile__id=profile["id"])

    assert alice.delete(f"/v1/voices/{profile['id']}").status_code == 204

    assert alice.get(f"/v1/voices/{profile['id']}").status_code == 404
    assert not VoiceProfile.objects.exists()
    assert media_files() == [record.consent_audio.name]
    assert ConsentRecord.objects.filter(pk=record.pk).exists()


def _active_voice(customer, sample) -> dict:
    """A voice made active through the worker: the consent recording reads the challenge's statement."""
    # Set-up for tests about other things: a word Whisper tiny.en missed (about one honest recording in thirty
    # with PHRASE) is retried once with another phrase; the gate itself is tested without retries.
    for phrase in (PHRASE, SECOND_PHRASE):
        challenge = customer.challenge(phrase=phrase)
        consent = read_aloud(challenge["statement"])
        profile = customer.upload(challenge_id=challenge["id"], consent=consent, sample=sample).json()
        voice = _poll_for_voice(customer, profile["id"])
        if (voice["rejection"] or {}).get("code") not in ASR_MISSES:
            break
    assert voice["status"] == "active", voice
    return profile


def test_synthesis_with_the_cloned_voice_runs_on_the_cloning_engine(alice, sample_wav):
    profile = _active_voice(alice, sample_wav)

    response = alice.post("/v1/tts", json={"text": "Now in my own voice.", "voice_id": profile["id"], "wait": True})

    assert response.status_code == 200, response.text
    job = response.json()
    assert job["status"] == "succeeded", job
    assert job["engine"] == "dia"
    assert job["sample_rate"] == 44100
    audio = httpx.get(job["audio_url"], timeout=30)
    samples, rate = sf.read(io.BytesIO(audio.content))
    assert rate == 44100
    assert len(samples) > 0
    stored = SynthesisJob.objects.get(pk=job["id"])
    assert stored.voice_kind == "cloned"
    assert stored.clone_similarity is not None
    assert -1.0 <= stored.clone_similarity <= 1.0


def test_cloned_voices_refuse_other_speeds(alice, sample_wav):
    profile = _active_voice(alice, sample_wav)

    response = alice.post("/v1/tts", json={"text": "Faster please.", "voice_id": profile["id"], "speed": 1.5})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_speed"


def test_kill_switch_refuses_new_voices_and_cloned_synthesis_and_queued_jobs(alice, consent_webm, sample_wav):
    profile = _active_voice(alice, sample_wav)
    # A clone job already queued when the switch flips (written directly: no message reaches the worker yet).
    queued = QueuedJobFactory(
        user=alice.user, voice_id=profile["id"], voice_kind="cloned", engine="dia", engine_voice=profile["id"]
    )

    switch_set(name="voice_cloning", enabled=False, reason="test: GPU pool drained")

    challenge = alice.challenge()
    refused = alice.upload(challenge_id=challenge["id"], consent=consent_webm, sample=sample_wav)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "cloning_disabled"
    tts = alice.post("/v1/tts", json={"text": "Still me?", "voice_id": profile["id"]})
    assert tts.status_code == 403
    assert tts.json()["error"]["code"] == "cloning_disabled"
    # built-in voices are unaffected
    assert alice.post("/v1/tts", json={"text": "Built in.", "voice_id": "joe"}).status_code == 202

    synthesis_job_enqueue(job_id=queued.id, engine="dia")
    deadline = time.monotonic() + 30
    while SynthesisJob.objects.get(pk=queued.pk).status in {"queued", "running"} and time.monotonic() < deadline:
        time.sleep(0.1)  # the worker claims it (running), then refuses it
    queued.refresh_from_db()
    assert queued.status == "failed"
    assert queued.error_code == "cloning_disabled"

    switch_set(name="voice_cloning", enabled=True, reason="test: back on")
    assert alice.post("/v1/tts", json={"text": "Me again.", "voice_id": profile["id"]}).status_code == 202


def test_free_plan_cannot_clone(stack, consent_webm, sample_wav):
    free = Customer(stack, plan="free")

    response = free.upload(challenge_id=free.challenge()["id"], consent=consent_webm, sample=sample_wav)

    assert response.status_code == 402
    assert response.json()["error"]["code"] == "plan_forbids_cloning"
    assert media_files() == []


def test_a_downgraded_account_cannot_use_its_cloned_voice(alice, sample_wav):
    profile = _active_voice(alice, sample_wav)
    plan_assign(user=alice.user, slug="free")

    response = alice.post("/v1/tts", json={"text": "Hello", "voice_id": profile["id"]})

    assert response.status_code == 402
    assert response.json()["error"]["code"] == "plan_forbids_cloning"


def test_voice_slots_of_the_plan_are_enforced(stack, consent_webm, sample_wav):
    starter = Customer(stack, plan="starter")  # one cloned voice
    _active_voice(starter, sample_wav)

    response = starter.upload(challenge_id=starter.challenge()["id"], consent=consent_webm, sample=sample_wav)

    assert response.status_code == 402
    assert response.json()["error"]["code"] == "plan_forbids_more_voices"
