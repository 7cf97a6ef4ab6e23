"""The database itself forbids a voice without consent, and a second consent record from one challenge."""

import pytest
from django.db import IntegrityError, transaction

from tests.factories import ActiveVoiceFactory, ConsentRecordFactory
from voices.models import VoiceProfile


def test_a_profile_without_a_consent_record_cannot_be_saved(user):
    with pytest.raises(IntegrityError), transaction.atomic():
        VoiceProfile.objects.create(
            user=user,
            name="No consent",
            sample="voices/x.wav",
            sample_sha256="0" * 64,
            sample_transcript="Hello.",
            sample_duration_seconds=6.0,
        )


def test_one_challenge_yields_one_consent_record(db):
    first = ConsentRecordFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        ConsentRecordFactory(user=first.user, challenge=first.challenge)


def test_one_consent_record_backs_one_profile(db):
    voice = ActiveVoiceFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        ActiveVoiceFactory(user=voice.user, consent=voice.consent)


def test_an_active_profile_needs_an_embedding(db):
    with pytest.raises(IntegrityError), transaction.atomic():
        ActiveVoiceFactory(embedding=None)
