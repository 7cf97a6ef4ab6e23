"""Media files are readable by the server's user and group only: consent recordings, voice samples and synthesized
audio are written 0640 in 0750 folders (FILE_UPLOAD_PERMISSIONS, FILE_UPLOAD_DIRECTORY_PERMISSIONS), whatever the
process umask, so another account on the machine cannot read a customer's voice."""

from __future__ import annotations

import os
import stat
import uuid
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from synthesis.services import synthesis_job_create
from synthesis.tasks import synthesis_job_run_task
from voices.models import ConsentRecord, VoiceProfile, consent_audio_path, sample_audio_path

pytestmark = pytest.mark.django_db


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask():
    """The most permissive umask a process could run with: the modes must not depend on it."""
    previous = os.umask(0)
    yield
    os.umask(previous)


def test_consent_recordings_samples_and_synthesized_audio_are_not_world_readable(user, permissive_umask):
    # The recordings are stored exactly as voices.services stores an upload.
    consent_name = default_storage.save(
        consent_audio_path(ConsentRecord(id=uuid.uuid4()), "consent.webm"), ContentFile(b"consent recording")
    )
    sample_name = default_storage.save(
        sample_audio_path(VoiceProfile(id=uuid.uuid4()), "sample.wav"), ContentFile(b"voice sample")
    )
    # The audio is written by the worker's runner (the real engine, in this process).
    job = synthesis_job_create(user=user, text="Private audio, for its owner only.", voice_id="joe")
    assert synthesis_job_run_task.apply(args=[str(job.id)]).get() == "succeeded"
    job.refresh_from_db()

    for name in (consent_name, sample_name, job.audio.name):
        path = Path(default_storage.path(name))
        assert _mode(path) == 0o640, (name, oct(_mode(path)))
        assert _mode(path.parent) == 0o750, (name, oct(_mode(path.parent)))
        assert not _mode(path) & stat.S_IROTH
